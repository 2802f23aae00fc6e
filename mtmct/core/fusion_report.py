"""What fusion decided beyond the ids: the thresholds it linked with and the transit windows it applied, and why.

Fusion calibrates itself on each run's own evidence (see :mod:`fusion.calibration`), so the values differ from run
to run; this report is how a user sees them (the run summary), how they are kept (storage, with the run) and how
the dashboard shows them (the camera graph). Plain data, JSON-able both ways, no wall times (a resumed run must
store the same report as an uninterrupted one).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Source = Literal["calibrated", "config", "default"]
"""Where a value came from: measured on this run's evidence, fixed in the config, or the library default (too little
evidence to calibrate)."""


@dataclass(frozen=True)
class Threshold:
    """One linking threshold: ``value`` and where it came from; ``same``/``different`` count the evidence pairs it
    was chosen from (0 when not calibrated); ``rule`` says how, in words."""

    name: str
    value: float
    source: Source
    same: int = 0
    different: int = 0
    rule: str = ""


@dataclass(frozen=True)
class LinkWindow:
    """The transit window applied to one camera pair: ``min_s``/``max_s`` seconds (None: unbounded), ``overlap``
    for views that see shared ground, ``matches`` the confident cross-camera matches it was learned from."""

    a: str
    b: str
    source: Source
    overlap: bool = False
    min_s: float | None = None
    max_s: float | None = None
    matches: int = 0


@dataclass(frozen=True)
class FusionReport:
    """Thresholds and windows of one fusion, plus its size (tracklets in, identities out)."""

    thresholds: tuple[Threshold, ...] = ()
    links: tuple[LinkWindow, ...] = ()
    tracklets: int = 0
    identities: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # seconds added to each calibrated camera's times, estimated from the ground (fusion's estimate_clock_offset);
    # empty when not asked
    clock_offsets: dict[str, float] = field(default_factory=dict)

    def threshold(self, name: str) -> Threshold | None:
        return next((t for t in self.thresholds if t.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionReport:
        return cls(
            thresholds=tuple(Threshold(**t) for t in data.get("thresholds", ())),
            links=tuple(LinkWindow(**w) for w in data.get("links", ())),
            tracklets=int(data.get("tracklets", 0)),
            identities=int(data.get("identities", 0)),
            notes=tuple(data.get("notes", ())),
            clock_offsets={str(k): float(v) for k, v in data.get("clock_offsets", {}).items()},
        )
