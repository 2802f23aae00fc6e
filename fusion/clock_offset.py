"""Clock offsets between calibrated cameras, estimated from where their people stand on the ground.

A person seen by two calibrated views stands at one ground point at one moment. If camera B's clock runs ``d``
seconds behind, B shows that point ``d`` seconds late, and a walking person (~1.4 m/s) appears ~1.4 d metres
apart in the two views: fusion's ground evidence (:mod:`fusion.ground`) weakens and, beyond a few tenths of a
second, breaks. The shift that best superimposes the two cameras' ground detections is the offset.

Method, per pair of calibrated cameras (A, B):

1. **Samples, not tracks.** Each camera's ground samples (time, X, Y) are pooled over its tracklets; ids are not
   used, so a tracker's id switches or fragments cost nothing, and people standing still (who carry no timing
   information) only add a constant.
2. **Score per candidate shift** ``s`` (added to B's times; candidates ``-max_offset_s .. +max_offset_s`` by
   ``step_s``): every sample of A takes B's frame nearest to its time on B's shifted clock (within half a B frame)
   and, in that frame, B's nearest ground point (one :class:`scipy.spatial.cKDTree` per camera over
   ``(X, Y, frame index x a separation larger than the scene)``, so one vectorised query answers "nearest point
   in that frame" for every sample and every shift). The score is the mean of the distance truncated at
   ``inlier_distance`` (a missing frame or point counts as the truncation): a robust loss in which people only
   one camera sees, and detections far from anyone, weigh the same at every shift, so only the people both
   see decide. The camera with fewer samples queries the other (its samples are the likelier to be seen).
3. **Best shift, refined**: the minimum, moved by the vertex of the parabola through it and its two neighbours
   (at most half a step), since the true offset rarely falls on the grid.
4. **Evidence**: samples matched (within ``inlier_distance``) at the chosen shift, and their median distance
   there and at shift 0 (the gain is what the estimate buys). Fewer than ``min_matched``, or a minimum on the
   edge of the search range (the offset may lie beyond it), marks the pair untrusted.

Pairwise shifts become per-camera offsets by weighted least squares (weight = matched samples) over the
trusted pairs, relative to the reference camera (offset 0: the one with most ground samples among the largest
group of cameras that trusted pairs connect, so one odd camera is flagged rather than the ones that agree): on
three or more views a pair's error is averaged with the loop through the others. A camera not connected to the
reference by trusted pairs (no overlap, thin evidence, an offset beyond the range, no calibration) keeps offset 0
and is flagged with the reason.

Offsets follow the config's ``clock_offset`` convention: seconds **added** to a camera's times to reach the shared
clock (:func:`apply_clock_offsets`); a camera whose clock runs 0.4 s ahead gets -0.4.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from mtmct.core.tracklet import Tracklet

log = logging.getLogger(__name__)

DEFAULT_STEP_S = 0.04  # one frame at 25 fps: the step when no camera's frame rate can be read from its tracklets


@dataclass(frozen=True)
class PairEvidence:
    """What one camera pair says: ``shift_s`` is the best offset of ``b`` minus that of ``a`` (seconds added to
    b's times to meet a's), ``matched`` the samples within ``inlier_distance`` there, ``median_at_shift`` /
    ``median_at_zero`` their median ground distance (metres) at that shift and without one; ``trusted`` False
    with ``reason`` when the pair does not enter the estimate."""

    a: str
    b: str
    shift_s: float
    matched: int
    median_at_shift: float
    median_at_zero: float
    trusted: bool
    reason: str = ""


@dataclass(frozen=True)
class ClockOffsets:
    """Per camera, seconds to add to its times (relative to ``reference``, offset 0); ``flagged`` names the
    cameras left at 0 for want of evidence, with why; ``pairs`` holds the evidence of every pair compared."""

    reference: str | None
    offsets: Mapping[str, float]
    flagged: Mapping[str, str] = field(default_factory=dict)
    pairs: tuple[PairEvidence, ...] = ()
    step_s: float = DEFAULT_STEP_S

    def to_dict(self) -> dict:
        """JSON-able form (for a run report)."""
        return {"reference": self.reference, "offsets": dict(self.offsets), "flagged": dict(self.flagged),
                "step_s": self.step_s, "pairs": [asdict(p) for p in self.pairs]}


@dataclass(frozen=True)
class _Samples:
    """One camera's pooled ground samples, with a tree answering "nearest point in frame j"."""

    times: np.ndarray  # (N,) shared-clock seconds
    points: np.ndarray  # (N, 2) metres
    frame_times: np.ndarray  # (F,) sorted distinct sample times
    period: float  # median frame interval (s), nan when unknown
    tree: cKDTree
    separation: float  # distance between consecutive frames' layers in the tree

    @classmethod
    def of(cls, tracklets: Sequence[Tracklet], separation: float) -> _Samples | None:
        with_ground = [t for t in tracklets if t.world is not None]
        if not with_ground:
            return None
        times = np.concatenate([t.times for t in with_ground])
        points = np.concatenate([t.world for t in with_ground]).astype(np.float64)
        ok = ~np.isnan(points).any(axis=1)
        if not ok.any():
            return None
        times, points = times[ok], points[ok]
        frame_times, frame = np.unique(times, return_inverse=True)
        period = float(np.median(np.diff(frame_times))) if len(frame_times) > 1 else float("nan")
        tree = cKDTree(np.column_stack([points, frame * separation]))
        return cls(times, points, frame_times, period, tree, separation)

    def nearest(self, times: np.ndarray, points: np.ndarray, bound: float) -> np.ndarray:
        """Distance from each point (shape (..., 2)) at each time (shape (...)) to this camera's nearest ground
        point in its frame nearest that time, within half a frame; inf when there is none within ``bound``."""
        flat_t = times.reshape(-1)
        right = np.clip(np.searchsorted(self.frame_times, flat_t), 0, len(self.frame_times) - 1)
        left = np.clip(right - 1, 0, None)
        frame = np.where(np.abs(self.frame_times[left] - flat_t) < np.abs(self.frame_times[right] - flat_t),
                         left, right)
        half = 0.5 * self.period if np.isfinite(self.period) else DEFAULT_STEP_S / 2
        in_time = np.abs(self.frame_times[frame] - flat_t) <= half + 1e-9
        query = np.column_stack([np.broadcast_to(points, times.shape + (2,)).reshape(-1, 2),
                                 frame * self.separation])
        dist = np.full(len(flat_t), np.inf)
        if in_time.any():
            dist[in_time] = self.tree.query(query[in_time], distance_upper_bound=bound, workers=-1)[0]
        return dist.reshape(times.shape)


def estimate_clock_offsets(tracklets: Sequence[Tracklet], max_offset_s: float = 1.0, step_s: float | None = None,
                           *, inlier_distance: float = 1.0, min_matched: int = 30,
                           pairs: Iterable[tuple[str, str]] | None = None,
                           max_samples: int = 20_000) -> ClockOffsets:
    """Per-camera clock offsets from the ground positions of simultaneous detections (module docstring).

    ``max_offset_s`` bounds the search (cost and false minima grow with it); ``step_s`` None: one frame of the
    fastest calibrated camera (its median sample interval), else 0.04 s. ``inlier_distance`` (metres) truncates the
    loss: about the views' calibration error plus a step of walking; larger tolerates worse calibration but lets
    neighbours vote. ``min_matched`` matched samples make a pair trustworthy (fewer: a brief glimpse, or people
    merely passing near each other). ``pairs`` restricts the pairs compared (None: every pair of calibrated
    cameras). ``max_samples`` bounds each query side (an even stride over longer runs) so the cost stays fixed.
    """
    if max_offset_s < 0 or (step_s is not None and step_s <= 0) or inlier_distance <= 0 or min_matched < 1:
        raise ValueError("estimate_clock_offsets: needs max_offset_s >= 0, step_s > 0, inlier_distance > 0 and "
                         f"min_matched >= 1 (got {max_offset_s}, {step_s}, {inlier_distance}, {min_matched})")
    by_camera: dict[str, list[Tracklet]] = {}
    for t in tracklets:
        by_camera.setdefault(t.camera_id, []).append(t)
    cameras = list(by_camera)
    extent = [np.nanmax(np.abs(t.world)) for t in tracklets if t.world is not None]
    separation = 4.0 * (max(extent, default=0.0) + inlier_distance) + 1.0  # frames never reach into each other
    samples = {c: _Samples.of(by_camera[c], separation) for c in cameras}
    flagged = {c: "no ground positions (uncalibrated)" for c in cameras if samples[c] is None}
    ground = [c for c in cameras if samples[c] is not None]
    if step_s is None:
        periods = [samples[c].period for c in ground if np.isfinite(samples[c].period)]
        step_s = min(periods, default=DEFAULT_STEP_S)
    if not ground:
        return ClockOffsets(None, {c: 0.0 for c in cameras}, flagged, (), step_s)
    n_steps = int(np.floor(max_offset_s / step_s + 1e-9))
    shifts = np.arange(-n_steps, n_steps + 1) * step_s
    wanted = None if pairs is None else {frozenset(p) for p in pairs}
    evidence = [_compare(a, b, samples[a], samples[b], shifts, step_s, inlier_distance, min_matched, max_samples)
                for i, a in enumerate(ground) for b in ground[i + 1:]
                if wanted is None or frozenset((a, b)) in wanted]
    sizes = [len(samples[c].times) for c in ground]
    reference, offsets, unconnected = _combine(ground, sizes, [e for e in evidence if e.trusted])
    for c in unconnected:
        flagged[c] = "no trusted pair connects it to the reference " + reference
    result = ClockOffsets(reference, {c: offsets.get(c, 0.0) for c in cameras}, flagged, tuple(evidence), step_s)
    log.info("clock offsets (s, reference %s): %s%s", reference,
             ", ".join(f"{c} {v:+.3f}" for c, v in result.offsets.items()),
             "; flagged: " + "; ".join(f"{c}: {r}" for c, r in flagged.items()) if flagged else "")
    return result


def _compare(a: str, b: str, sa: _Samples, sb: _Samples, shifts: np.ndarray, step_s: float, inlier: float,
             min_matched: int, max_samples: int) -> PairEvidence:
    """The best shift of ``b`` against ``a`` over ``shifts`` with its evidence (step 2-4 of the module docstring)."""
    flip = len(sb.times) < len(sa.times)  # the smaller camera queries the larger one
    query, target, sign = (sb, sa, -1.0) if flip else (sa, sb, 1.0)
    stride = max(1, -(-len(query.times) // max_samples))
    times, points = query.times[::stride], query.points[::stride]
    # the query's sample at t sits, on the target's clock shifted by s (target + s = query), at t - s; with the
    # query being b (flip), b's shift against a is -s
    dist = target.nearest(times[None, :] - sign * shifts[:, None], points[None, :], inlier)
    score = np.minimum(dist, inlier).mean(axis=1)
    best = int(np.argmin(score))
    shift = float(shifts[best])
    if 0 < best < len(shifts) - 1:
        lo, mid, hi = score[best - 1], score[best], score[best + 1]
        curvature = lo - 2 * mid + hi
        if curvature > 0:
            shift += float(np.clip(0.5 * (lo - hi) / curvature, -0.5, 0.5)) * step_s
    close = dist[best] < inlier
    matched = int(close.sum()) * stride
    zero = target.nearest(times[close], points[close], np.inf)
    at_shift = float(np.median(dist[best][close])) if close.any() else float("nan")
    at_zero = float(np.median(zero)) if close.any() else float("nan")
    reason = ""
    if matched < min_matched:
        reason = f"thin evidence: {matched} matched samples < {min_matched}"
    elif best in (0, len(shifts) - 1) and len(shifts) > 1:
        reason = f"best shift at the edge of the search range (+-{shifts[-1]:.2f} s): the offset may lie beyond"
    return PairEvidence(a, b, round(shift, 6), matched, at_shift, at_zero, not reason, reason)


def _combine(cameras: list[str], sizes: list[int], trusted: list[PairEvidence]
             ) -> tuple[str, dict[str, float], list[str]]:
    """Per-camera offsets from pairwise shifts (offset[b] - offset[a] = shift) by least squares weighted by the
    matched samples: (the reference, fixed at 0: the camera with most samples in the largest group that trusted
    pairs connect, so one odd camera is flagged rather than the ones that agree; the offsets; the cameras no
    trusted pair connects to the reference)."""
    index = {c: i for i, c in enumerate(cameras)}
    rows = np.array([(index[e.a], index[e.b]) for e in trusted], np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(rows)), (rows[:, 0], rows[:, 1])), shape=(len(cameras),) * 2)
    _, label = connected_components(graph, directed=False)
    members = np.bincount(label)
    ref = max(range(len(cameras)), key=lambda i: (members[label[i]], sizes[i]))
    reference = cameras[ref]
    group = [i for i in range(len(cameras)) if label[i] == label[ref] and i != ref]
    offsets = {reference: 0.0}
    if group:
        column = {i: k for k, i in enumerate(group)}
        design = np.zeros((len(trusted), len(group)))
        for k, (i, j) in enumerate(rows.tolist()):
            if j in column:
                design[k, column[j]] += 1.0
            if i in column:
                design[k, column[i]] -= 1.0
        weight = np.sqrt([e.matched for e in trusted])
        shift = np.array([e.shift_s for e in trusted])
        solution = np.linalg.lstsq(design * weight[:, None], shift * weight, rcond=None)[0]
        offsets.update({cameras[i]: round(float(v), 6) for i, v in zip(group, solution)})
    return reference, offsets, [c for c in cameras if c not in offsets]


def apply_clock_offsets(tracklets: Sequence[Tracklet], offsets: ClockOffsets | Mapping[str, float]) -> list[Tracklet]:
    """Copies of ``tracklets`` (every one a new object, so setting ``global_id`` on them never reaches the inputs)
    with each camera's offset added to its times; a camera not named keeps its times."""
    table = offsets.offsets if isinstance(offsets, ClockOffsets) else offsets
    return [replace(t, times=t.times + table.get(t.camera_id, 0.0)) for t in tracklets]
