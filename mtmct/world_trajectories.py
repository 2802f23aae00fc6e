"""Global trajectories on the ground plane: one position per identity and frame, fusing the calibrated views.

Every tracklet of a calibrated camera carries its foot points on the ground (``Tracklet.world``, metres). Once
fusion has given tracklets their global ids, the positions of one identity at one moment (seen by one view, or by
several at once) become one row: their mean. Moments are counted in frames of one reference clock, the first
calibrated camera's (its fps and clock offset are read back from its tracklets' frame numbers and times), so the
rows line up with a ground truth numbered like that camera; views with another fps or offset land on the nearest
frame of it. :func:`world_table` also gives each row's time on that clock (seconds), what the dashboard's map, which
draws time, stores and reads back instead of recomputing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fusion.clock_offset import apply_clock_offsets
from mtmct.core.atomic_file import atomic_write
from mtmct.core.tracklet import Tracklet

WORLD_FILE = "mtmct_world.txt"


@dataclass(frozen=True)
class GroundFilter:
    """How one identity's sightings become one trajectory: a constant-velocity Kalman filter in metres over the
    reference camera's frames, fed at each frame with the views that see the identity then.

    Views disagree (clocks a frame or two apart, feet hidden, a calibration off by decimetres), and now and then one
    view's tracklet joined to the identity is someone else for a while; the plain mean then lands between two
    people. The filter keeps the sightings within ``gate`` metres of where the identity is expected and fuses them
    (their mean, trusted in proportion to their number); when none is, it takes the nearest to the prediction
    within ``jump`` metres, else restarts at the views' median (a genuine jump: the identity was lost a while).
    Defaults are physical, not fitted: people walk about 1.5 m/s, a frame at 7-10 fps is ~0.2 m, foot points in one
    view are good to ~0.3 m. ``noise`` is that measurement error (m), ``accel`` the walking acceleration (m/s^2).
    """

    gate: float = 1.0
    jump: float = 2.0
    noise: float = 0.3
    accel: float = 1.0
    max_gap_s: float = 2.0  # a longer gap restarts the filter
    # two identities this close at one moment are one person unless some view sees both of them there (that view
    # tells them apart: two people walking side by side); 0: keep both
    same_place: float = 1.0


def _clock(tracklets: Sequence[Tracklet]) -> tuple[float, float] | None:
    """(fps, time of frame 1) of the camera of ``tracklets``, from its longest tracklet's frames and times."""
    longest = max(tracklets, key=lambda t: t.end_frame - t.start_frame)
    if longest.end_frame == longest.start_frame:
        return None
    fps = (longest.end_frame - longest.start_frame) / (longest.end_time - longest.start_time)
    return fps, longest.start_time - (longest.start_frame - 1) / fps


def _sightings(tracklets: Sequence[Tracklet]) -> tuple[np.ndarray, tuple[float, float]]:
    """``(N, 5)`` rows ``frame, global_id, X, Y, view`` of every ground sighting on the reference clock (``view``:
    the camera's bit, 2**k for the k-th camera), and that clock: (fps, time of frame 1). A reference camera whose
    tracklets are all one frame long shows no fps: every view keeps its frame numbers, read at 10 fps."""
    ref = tracklets[0].camera_id
    own = [t for t in tracklets if t.camera_id == ref]
    clock = _clock(own)
    bit = {cam: float(2 ** k) for k, cam in enumerate(dict.fromkeys(t.camera_id for t in tracklets))}
    parts = []
    for t in tracklets:
        ok = ~np.isnan(t.world).any(axis=1)
        if ok.any():
            frames = (np.rint((t.times[ok] - clock[1]) * clock[0]) + 1 if clock and t.camera_id != ref
                      else t.frames[ok].astype(np.float64))
            parts.append(np.column_stack([frames, np.full(ok.sum(), t.global_id), t.world[ok],
                                          np.full(ok.sum(), bit[t.camera_id])]))
    rows = np.concatenate(parts) if parts else np.zeros((0, 5))
    return rows, clock or (10.0, own[0].start_time - (own[0].start_frame - 1) / 10.0)


def _filter(frames: np.ndarray, groups: list[np.ndarray], fps: float, f: GroundFilter) -> np.ndarray:
    """One identity: its position at each of ``frames`` from that frame's sightings ``groups`` (see GroundFilter)."""
    kf = cv2.KalmanFilter(4, 2)
    kf.measurementMatrix = np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32)
    out = np.zeros((len(frames), 2))
    last = None
    for i, (frame, seen) in enumerate(zip(frames, groups)):
        dt = 0.0 if last is None else (frame - last) / fps
        if last is None or dt > f.max_gap_s:
            start = np.median(seen, axis=0)
            kf.statePost = np.array([[start[0]], [start[1]], [0], [0]], np.float32)
            kf.errorCovPost = np.diag([f.noise ** 2, f.noise ** 2, 1.0, 1.0]).astype(np.float32)
            out[i], last = start, frame
            continue
        kf.transitionMatrix = np.array([[1, 0, dt, 0], [0, 1, 0, dt], [0, 0, 1, 0], [0, 0, 0, 1]], np.float32)
        q = f.accel ** 2
        kf.processNoiseCov = np.array([[dt ** 4 / 4, 0, dt ** 3 / 2, 0], [0, dt ** 4 / 4, 0, dt ** 3 / 2],
                                       [dt ** 3 / 2, 0, dt ** 2, 0], [0, dt ** 3 / 2, 0, dt ** 2]], np.float32) * q
        predicted = kf.predict()[:2, 0].astype(np.float64)
        dist = np.linalg.norm(seen - predicted, axis=1)
        near = seen[dist <= f.gate]
        if not len(near) and dist.min() <= f.jump:
            near = seen[[int(dist.argmin())]]
        if not len(near):  # a genuine jump: start again where the views are
            start = np.median(seen, axis=0)
            kf.statePost = np.array([[start[0]], [start[1]], [0], [0]], np.float32)
            out[i], last = start, frame
            continue
        kf.measurementNoiseCov = np.eye(2, dtype=np.float32) * (f.noise ** 2 / len(near))
        out[i] = kf.correct(near.mean(axis=0).astype(np.float32).reshape(2, 1))[:2, 0]
        last = frame
    return out


def world_rows(tracklets: Sequence[Tracklet], ground_filter: GroundFilter | None = GroundFilter()) -> np.ndarray:
    """``(N, 4)`` rows ``frame, global_id, X, Y`` (metres), one per identity and frame, sorted by frame then id,
    from the views that see the identity then (``ground_filter`` None: their plain mean). Empty when no fused
    tracklet has ground positions."""
    return world_table(tracklets, ground_filter)[0]


def world_table(tracklets: Sequence[Tracklet], ground_filter: GroundFilter | None = GroundFilter(),
                clock_offsets: Mapping[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`world_rows` and each row's time in seconds, so a reader that draws time (the dashboard's map) shows
    these very rows instead of re-deriving positions. ``clock_offsets`` (fusion's estimate, seconds added to each
    camera's times) puts the views on one clock before they meet, as :func:`world_rows` of the shifted tracklets;
    the times stay on the reference camera's own clock (the one its frames count), so they match the times the
    run stored for its boxes."""
    offsets = dict(clock_offsets or {})
    placed = [t for t in tracklets if t.world is not None and t.global_id is not None]
    if not placed:
        return np.zeros((0, 4)), np.zeros(0)
    rows, (fps, start) = _sightings(apply_clock_offsets(placed, offsets) if offsets else placed)
    if not len(rows):
        return np.zeros((0, 4)), np.zeros(0)
    out = _fuse(rows, fps, ground_filter)
    return out, start - offsets.get(placed[0].camera_id, 0.0) + (out[:, 0] - 1) / fps


def _fuse(rows: np.ndarray, fps: float, ground_filter: GroundFilter | None) -> np.ndarray:
    """The sightings ``rows`` (see :func:`_sightings`) as one row ``frame, global_id, X, Y`` per identity and frame."""
    keys, inverse, counts = np.unique(rows[:, :2], axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    if ground_filter is None:
        xy = np.column_stack([np.bincount(inverse, rows[:, 2]), np.bincount(inverse, rows[:, 3])]) / counts[:, None]
        return np.column_stack([keys, xy])  # np.unique sorts by frame, then id
    order = np.argsort(inverse, kind="stable")
    groups = np.split(rows[order, 2:4], np.cumsum(counts)[:-1])  # the sightings of each (frame, id) key
    views = np.bitwise_or.reduceat(rows[order, 4].astype(np.int64), np.r_[0, np.cumsum(counts)[:-1]])
    out = np.zeros((len(keys), 4))
    out[:, :2] = keys
    by_id = np.lexsort((keys[:, 0], keys[:, 1]))  # each identity's keys in frame order
    bounds = np.flatnonzero(np.diff(keys[by_id, 1])) + 1
    for member in np.split(by_id, bounds):
        out[member, 2:] = _filter(keys[member, 0], [groups[k] for k in member], fps, ground_filter)
    return _one_per_place(out, views, ground_filter.same_place)


def _one_per_place(rows: np.ndarray, views: np.ndarray, radius: float) -> np.ndarray:
    """Ground-plane non-maximum suppression: at each frame, of identities standing within ``radius`` metres of
    each other that no single view sees both of (``views``: each row's bit set of cameras), keep the one with the
    longest trajectory. Two identities at one place at one moment, each from other views, are one person whose
    views fusion did not join (e.g. a view's track that spans two fragments of another view's); keeping both would
    count the person twice. A view that sees both has told two people apart: both stay."""
    if radius <= 0 or not len(rows):
        return rows
    ids, length = np.unique(rows[:, 1], return_counts=True)
    size = dict(zip(ids.tolist(), length.tolist()))
    keep = np.ones(len(rows), bool)
    starts = np.flatnonzero(np.r_[True, np.diff(rows[:, 0]) != 0])
    for lo, hi in zip(starts, np.r_[starts[1:], len(rows)]):
        if hi - lo < 2:
            continue
        frame = rows[lo:hi]
        order = sorted(range(hi - lo), key=lambda i: -size[frame[i, 1]])
        kept: list[int] = []
        for i in order:
            if any(np.linalg.norm(frame[i, 2:] - frame[j, 2:]) < radius and not views[lo + i] & views[lo + j]
                   for j in kept):
                keep[lo + i] = False
            else:
                kept.append(i)
    return rows[keep]


def write_world(path: str | Path, rows: np.ndarray) -> int:
    """Write :func:`world_rows`' ``rows`` as ``frame,global_id,X,Y`` text (atomically); returns the row count. The
    caller computes the rows once and stores the same ones (the dashboard's map). Without any row (no camera
    calibrated) there is no file (an earlier run's in the same folder is removed)."""
    if not len(rows):
        Path(path).unlink(missing_ok=True)
        return 0
    with atomic_write(path) as fh:
        fh.writelines(f"{int(f)},{int(g)},{x:.3f},{y:.3f}\n" for f, g, x, y in rows)
    return len(rows)
