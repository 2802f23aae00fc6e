"""How cameras connect, and the time rules fusion applies between them (``fusion.topology.Topology``).

``topology:`` in a camera set is a mapping with ``links`` and the rules' knobs, or just the list of links. The
:class:`Link` declared here is the only declaration of a link: fusion builds its topology from it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mtmct.core.config.base import NonNegative, Positive, StrictModel, Text, require_unique
from mtmct.core.config.fusion import or_auto

Bound = or_auto(NonNegative | None, {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]})


class Link(StrictModel):
    """A camera pair people pass between (undirected): overlapping views, or a transit window in seconds."""

    a: Annotated[Text, Field(description="One camera of the link.")]
    b: Annotated[Text, Field(description="The other camera (either order).")]
    overlap: Annotated[bool, Field(strict=True, description=(
        "The views overlap: the same person is seen in both at the same time."))] = False
    min_s: Annotated[Bound, Field(description=(
        "Windowed links: fewest seconds from leaving one camera to entering the other. Left out (or 'auto'): "
        "learned from the run's confident matches (fusion/calibration.py), 0 when too few. A number fixes it: "
        "raising it rules out implausibly fast hand-overs (and look-alikes seen too soon)."))] = None
    max_s: Annotated[Bound, Field(description=(
        "Windowed links: most seconds. Left out (or 'auto'): learned from the run's confident matches "
        "(searched up to topology.auto_max_s), no upper bound when too few (overlap links: "
        "topology.overlap_gap_s). A number fixes it: lowering it rules out people who come much later, but "
        "splits those who linger."))] = None

    @model_validator(mode="after")
    def _consistent(self) -> Link:
        if self.a == self.b:
            raise ValueError(f"a link joins two different cameras, got {self.a!r} twice "
                             "(same-camera re-entry: topology.reentry_max_s)")
        if self.overlap and (self.min_s is not None or self.max_s is not None):
            raise ValueError("a link is either overlap: true or a min_s/max_s window, not both")
        if isinstance(self.min_s, float) and isinstance(self.max_s, float) and self.min_s > self.max_s:
            raise ValueError(f"min_s {self.min_s:g} > max_s {self.max_s:g}")
        return self

    @property
    def fixed_min_s(self) -> float | None:
        """min_s when the config fixes it, else None (learned)."""
        return None if self.min_s in (None, "auto") else float(self.min_s)

    @property
    def fixed_max_s(self) -> float | None:
        """max_s when the config fixes it, else None (learned)."""
        return None if self.max_s in (None, "auto") else float(self.max_s)

    @property
    def learned(self) -> bool:
        """A transit link with a bound left to fusion to learn."""
        return not self.overlap and (self.fixed_min_s is None or self.fixed_max_s is None)


LinkConfig = Link
"""The name camera-set code has used for a link."""


class TopologyConfig(StrictModel):
    """Links between cameras and the time rules' knobs; the geometry (zones, homographies) sits on each camera."""

    links: Annotated[tuple[Link, ...], Field(description=(
        "Which camera pairs a person can pass between (unlisted pairs: see unlisted)."))] = ()
    overlap_gap_s: Annotated[NonNegative, Field(description=(
        "Longest gap in seconds between tracklets of overlap-linked cameras that do not share time (when the "
        "link gives no max_s). Raising it forgives tracker latency at the hand-over but lets two people who "
        "cross the shared area one after the other be joined."))] = 2.0
    reentry_max_s: Annotated[NonNegative | None, Field(description=(
        "Longest gap in seconds for a direct link within one camera (null: any). Lowering it stops joining a "
        "person with a look-alike returning hours later, but splits people who really come back."))] = None
    max_ground_distance: Annotated[Positive, Field(description=(
        "With homographies on both cameras of an overlap link: largest median distance (ground units, e.g. "
        "metres) between simultaneous foot points of one person. Raising it forgives calibration error but "
        "joins neighbours."))] = 1.5
    max_ground_speed: Annotated[Positive, Field(description=(
        "Calibrated cameras: fastest straight-line speed (m/s) from where one tracklet leaves the ground to where "
        "the next appears, beyond max_ground_distance of slack; a pair that would need more is two people. "
        "Lowering it stops long-distance false links but splits runners."))] = 3.0
    sync_tolerance_s: Annotated[NonNegative, Field(description=(
        "How close in seconds two cameras' samples must be to compare positions; raise it for cameras whose "
        "clocks or frame rates differ."))] = 0.2

    unlisted: Annotated[Literal["auto", "never"], Field(description=(
        "Camera pairs with no link. 'auto' (default): linked like a link without a window when this run's "
        "evidence is strong (at least fusion.transit_matches confident matches between them; the window is "
        "learned from them), else never; a new site can start with no topology at all. 'never': only listed "
        "pairs share people (no look-alike across unconnected buildings, but a forgotten link splits "
        "everyone who takes it)."))] = "auto"
    auto_max_s: Annotated[NonNegative, Field(description=(
        "Longest transit in seconds searched for confident matches when a window is learned (links without "
        "max_s, and unlisted pairs). Raising it finds slow walkers' transits but lets more look-alikes into "
        "the evidence."))] = 60.0

    @field_validator("links")
    @classmethod
    def _no_duplicate_links(cls, links: tuple[Link, ...]) -> tuple[Link, ...]:
        require_unique(["-".join(sorted((link.a, link.b))) for link in links], "link")
        return links
