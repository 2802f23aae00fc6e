"""Live id history: each tracklet's first global id and every later change to it, as online fusion decides them
(:mod:`fusion.online_fusion`) and storage keeps them (``id_decisions``). :func:`replay` turns the history back into
the current ids, so an id never changes without a record saying when and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Key = tuple[str, int]  # (camera_id, track_id)

MERGE, SPLIT = "merge", "split"


@dataclass(frozen=True)
class IdChange:
    """One decision that changed an id given before. ``tracklet`` is None for a merge (the whole of ``old_id`` now
    carries ``new_id``) and names the moved tracklet for a split."""

    time: float  # stream time (s) of the step that decided it
    old_id: int
    new_id: int
    reason: str  # MERGE or SPLIT
    tracklet: Key | None = None


@dataclass(frozen=True)
class Assignment:
    """A tracklet's first id: given at stream time ``time``, ``delay`` seconds after the tracklet closed."""

    tracklet: Key
    global_id: int
    time: float
    delay: float


def replay(first: Sequence[Assignment], history: Sequence[IdChange]) -> dict[Key, int]:
    """The ids that the first assignments and the recorded changes add up to, in time order: what a reader of the
    stored history computes, and what :attr:`fusion.online_fusion.OnlineFusion.ids` must equal."""
    ids: dict[Key, int] = {}
    events = sorted([(a.time, 0, i, a) for i, a in enumerate(first)] + [(c.time, 1, i, c) for i, c in enumerate(history)],
                    key=lambda e: e[:3])
    for _, kind, _, event in events:
        if kind == 0:
            ids[event.tracklet] = event.global_id
        elif event.reason == MERGE:
            for key, gid in ids.items():
                if gid == event.old_id:
                    ids[key] = event.new_id
        else:
            ids[event.tracklet] = event.new_id
    return ids
