"""Global trajectories from tracklet spans: camera visits, transitions between cameras, and entry flows.

Pure functions over :class:`storage.repository.TrackletSpan` rows, so the pages, the JSON API and the tests share
one definition of a visit and of a transition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from storage.repository import TrackletSpan

VISIT_GAP_S = 2.0  # a person lost for less than this in one camera (occlusion, a missed detection) stays one visit


@dataclass
class Visit:
    """One identity's uninterrupted stay in one camera: its tracklets there closer than the gap, merged."""

    global_id: int
    camera_id: str
    start_time: float
    end_time: float
    start_frame: int
    end_frame: int
    track_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Transition:
    """Observed moves from camera ``a`` to camera ``b``: consecutive visits of the same identity.

    ``median_s`` is the median of (entry into b) - (exit from a); negative when the views overlap.
    """

    a: str
    b: str
    count: int
    median_s: float


def visits(spans: Iterable[TrackletSpan], gap_s: float = VISIT_GAP_S) -> dict[int, list[Visit]]:
    """Each identity's visits in time order (tracklets without a global id are left out)."""
    by_key: dict[tuple[int, str], list[TrackletSpan]] = defaultdict(list)
    for s in spans:
        if s.global_id is not None:
            by_key[(s.global_id, s.camera_id)].append(s)
    out: dict[int, list[Visit]] = defaultdict(list)
    for (gid, cam), group in by_key.items():
        group.sort(key=lambda s: s.start_time)
        current: Visit | None = None
        for s in group:
            if current is not None and s.start_time - current.end_time <= gap_s:
                current.end_time = max(current.end_time, s.end_time)
                current.end_frame = max(current.end_frame, s.end_frame)
                current.track_ids.append(s.track_id)
                continue
            current = Visit(gid, cam, s.start_time, s.end_time, s.start_frame, s.end_frame, [s.track_id])
            out[gid].append(current)
    for vs in out.values():
        vs.sort(key=lambda v: (v.start_time, v.camera_id))
    return dict(sorted(out.items(), key=lambda kv: (kv[1][0].start_time, kv[0])))


def transitions(by_identity: dict[int, list[Visit]]) -> list[Transition]:
    """Moves between different cameras in each identity's visit sequence, counted per ordered camera pair."""
    gaps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for vs in by_identity.values():
        for prev, nxt in zip(vs, vs[1:]):
            if prev.camera_id != nxt.camera_id:
                gaps[(prev.camera_id, nxt.camera_id)].append(nxt.start_time - prev.end_time)
    return [Transition(a, b, len(g), round(float(np.median(g)), 3)) for (a, b), g in sorted(gaps.items())]


def flows(by_identity: dict[int, list[Visit]], cameras: Sequence[str], bin_s: float, max_bins: int | None = None,
          ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(bin_starts, {camera: counts})``: distinct identities entering each camera in each ``bin_s`` interval;
    ValueError when the entries span more than ``max_bins`` intervals (checked before any array is built)."""
    if bin_s <= 0:
        raise ValueError(f"bin_s must be positive, got {bin_s}")
    entries = [(v.camera_id, v.global_id, v.start_time) for vs in by_identity.values() for v in vs]
    if not entries:
        return np.zeros(0), {c: np.zeros(0, np.int64) for c in cameras}
    times = np.array([t for _, _, t in entries])
    first = np.floor(times.min() / bin_s)
    if max_bins is not None and np.floor(times.max() / bin_s) - first + 1 > max_bins:
        raise ValueError(f"bin_s={bin_s:g} s cuts the run's {times.max() - times.min():.1f} s into more than "
                         f"{max_bins} intervals: use bin_s >= {(times.max() - times.min()) / (max_bins - 1):.3g}")
    bins = (np.floor(times / bin_s) - first).astype(np.int64)
    n = int(bins.max()) + 1
    counts = {c: np.zeros(n, np.int64) for c in cameras}
    seen: set[tuple[str, int, int]] = set()
    for (cam, gid, _), b in zip(entries, bins.tolist()):
        if (cam, gid, b) not in seen and cam in counts:
            seen.add((cam, gid, b))
            counts[cam][b] += 1
    return (first + np.arange(n)) * bin_s, counts
