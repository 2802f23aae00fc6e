"""Ground-plane evidence: calibrated views that see someone at the same place at the same moment.

Tracklets of calibrated cameras carry their foot points on the ground in metres (``Tracklet.world``). Two such
tracklets on different cameras that overlap in time are compared at their common moments (samples within the
topology's ``sync_tolerance_s``): the median distance says whether they stand at the same place. That is strong
evidence of one person even when appearance is weak or missing (a camera known only by its detections has no
embeddings at all): a pair within ``ground_distance`` metres over at least ``ground_min_samples`` common moments,
and each side's closest on the other camera (two people walking side by side are told apart by who is closer),
becomes a strong edge. The topology's ``max_ground_distance`` is the other side of it: simultaneous tracklets
further apart than that never join (:meth:`fusion.topology.Topology.positions_agree`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mtmct.core.tracklet import Tracklet

GROUND_WEIGHT = 100.0  # ground edges merge before appearance-backed strong edges (their weights stay below 100)


def common_distances(x: Tracklet, y: Tracklet, sync_tolerance_s: float) -> np.ndarray:
    """Ground distances (metres) between ``x`` and ``y`` at their common moments: each sample of ``x`` with the
    nearest-in-time sample of ``y`` within ``sync_tolerance_s``, both on the ground. Empty when there is none."""
    if x.world is None or y.world is None:
        return np.zeros(0)
    same, near = common_samples(x, y, sync_tolerance_s)
    dist = np.linalg.norm(x.world[same] - y.world[near], axis=1)
    return dist[~np.isnan(dist)]


def common_samples(x: Tracklet, y: Tracklet, sync_tolerance_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The samples of ``x`` and ``y`` at (nearly) the same moments: a mask over ``x``'s samples and, for those,
    the index of ``y``'s nearest-in-time sample (within ``sync_tolerance_s``)."""
    right = np.clip(np.searchsorted(y.times, x.times), 0, len(y.times) - 1)
    left = np.clip(right - 1, 0, None)
    near = np.where(np.abs(y.times[left] - x.times) < np.abs(y.times[right] - x.times), left, right)
    same = np.abs(y.times[near] - x.times) <= sync_tolerance_s
    return same, near[same]


def ground_edges(tracklets: Sequence[Tracklet], pairs: np.ndarray, cam: np.ndarray, sync_tolerance_s: float,
                 ground_distance: float, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Of candidate ``pairs`` (tracklet rows, simultaneous, on different cameras), those that stand together:
    median common distance <= ``ground_distance`` over >= ``min_samples`` moments, and mutually closest (no rival
    on the same camera at the same time stands closer to either side). Returns (pairs (E, 2), medians (E,))."""
    if not len(pairs):
        return np.zeros((0, 2), np.int64), np.zeros(0)
    median = np.full(len(pairs), np.inf)
    for k, (a, b) in enumerate(pairs.tolist()):
        dist = common_distances(tracklets[a], tracklets[b], sync_tolerance_s)
        if len(dist) >= min_samples:
            median[k] = float(np.median(dist))
    close = median <= ground_distance
    pairs, median = pairs[close], median[close]
    if not len(pairs):
        return pairs, median
    # each side's closest: no rival of the same camera seen at the same time stands closer (a long track in one
    # view may pair with several fragments of the person in another, one after the other)
    by_row: dict[int, list[int]] = {}
    for k, (a, b) in enumerate(pairs.tolist()):
        by_row.setdefault(a, []).append(k)
        by_row.setdefault(b, []).append(k)
    keep = np.ones(len(pairs), bool)
    for k, (a, b) in enumerate(pairs.tolist()):
        for me, other in ((a, b), (b, a)):
            for j in by_row[me]:
                rival = pairs[j, 1] if pairs[j, 0] == me else pairs[j, 0]
                if j != k and cam[rival] == cam[other] and median[j] < median[k] \
                        and tracklets[rival].overlaps_in_time(tracklets[other]):
                    keep[k] = False
    return pairs[keep], median[keep]


def _ends(t: Tracklet, window: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float] | None:
    """(first position, last position, velocity m/s at the end, first time, last time) over the tracklet's ground
    samples (the velocity: a line fit to the last ``window``); None without two ground samples."""
    if t.world is None:
        return None
    ok = ~np.isnan(t.world).any(axis=1)
    if ok.sum() < 2:
        return None
    times, world = t.times[ok], t.world[ok].astype(np.float64)
    tail_t, tail = times[-window:], world[-window:]
    span = tail_t - tail_t.mean()
    denom = float((span ** 2).sum())
    velocity = (span[:, None] * (tail - tail.mean(axis=0))).sum(axis=0) / denom if denom > 0 else np.zeros(2)
    return world[0], world[-1], velocity, float(times[0]), float(times[-1])


def transit_errors(tracklets: Sequence[Tracklet], pairs: np.ndarray) -> np.ndarray:
    """For sequential pairs (rows; either order): metres between where the earlier one, carried on at its last
    velocity through the gap, would be and where the later one appears; ``inf`` where a side has no ground track.
    (Whether the walk is possible at all is :meth:`fusion.topology.Topology.transit_possible`.)"""
    error = np.full(len(pairs), np.inf)
    ends = {}
    for k, (a, b) in enumerate(pairs.tolist()):
        for r in (a, b):
            if r not in ends:
                ends[r] = _ends(tracklets[r])
        first, second = (a, b) if tracklets[a].end_time <= tracklets[b].start_time else (b, a)
        x, y = ends[first], ends[second]
        if x is None or y is None:
            continue
        gap = max(y[3] - x[4], 1e-3)
        error[k] = float(np.linalg.norm(x[1] + x[2] * gap - y[0]))
    return error
