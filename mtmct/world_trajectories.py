"""Global trajectories on the ground plane: one position per identity and frame, fusing the calibrated views.

Every tracklet of a calibrated camera carries its foot points on the ground (``Tracklet.world``, metres). Once
fusion has given tracklets their global ids, the positions of one identity at one moment (seen by one view, or by
several at once) become one row: their mean. Moments are counted in frames of one reference clock, the first
calibrated camera's (its fps and clock offset are read back from its tracklets' frame numbers and times), so the
rows line up with a ground truth numbered like that camera; views with another fps or offset land on the nearest
frame of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mtmct.core.atomic_file import atomic_write
from mtmct.core.tracklet import Tracklet

WORLD_FILE = "mtmct_world.txt"


def _clock(tracklets: Sequence[Tracklet]) -> tuple[float, float] | None:
    """(fps, time of frame 1) of the camera of ``tracklets``, from its longest tracklet's frames and times."""
    longest = max(tracklets, key=lambda t: t.end_frame - t.start_frame)
    if longest.end_frame == longest.start_frame:
        return None
    fps = (longest.end_frame - longest.start_frame) / (longest.end_time - longest.start_time)
    return fps, longest.start_time - (longest.start_frame - 1) / fps


def world_rows(tracklets: Sequence[Tracklet]) -> np.ndarray:
    """``(N, 4)`` rows ``frame, global_id, X, Y`` (metres), one per identity and frame, sorted by frame then id:
    the mean position over the views that see the identity then. Empty when no fused tracklet has ground positions.
    """
    placed = [t for t in tracklets if t.world is not None and t.global_id is not None]
    if not placed:
        return np.zeros((0, 4))
    ref = placed[0].camera_id
    clock = _clock([t for t in placed if t.camera_id == ref])
    parts = []
    for t in placed:
        ok = ~np.isnan(t.world).any(axis=1)
        if not ok.any():
            continue
        frames = (np.rint((t.times[ok] - clock[1]) * clock[0]) + 1 if clock and t.camera_id != ref
                  else t.frames[ok].astype(np.float64))
        parts.append(np.column_stack([frames, np.full(ok.sum(), t.global_id), t.world[ok]]))
    if not parts:
        return np.zeros((0, 4))
    rows = np.concatenate(parts)
    keys, inverse, counts = np.unique(rows[:, :2], axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    xy = np.column_stack([np.bincount(inverse, rows[:, 2]), np.bincount(inverse, rows[:, 3])]) / counts[:, None]
    return np.column_stack([keys, xy])  # np.unique sorts by frame, then id


def write_world(path: str | Path, tracklets: Sequence[Tracklet]) -> int:
    """Write :func:`world_rows` as ``frame,global_id,X,Y`` text (atomically); returns the row count. Without any
    ground position (no camera calibrated) there is no file (an earlier run's in the same folder is removed)."""
    rows = world_rows(tracklets)
    if not len(rows):
        Path(path).unlink(missing_ok=True)
        return 0
    with atomic_write(path) as fh:
        fh.writelines(f"{int(f)},{int(g)},{x:.3f},{y:.3f}\n" for f, g, x, y in rows)
    return len(rows)
