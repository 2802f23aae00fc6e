"""MOTChallenge text files: ``frame,id,x,y,w,h,conf[,class,visibility | ,wx,wy,wz]``, frames from 1.

Readers of other tools' files must cope with 6 to 10 columns and rows in any order (MOT17 det.txt is not
sorted by frame), and a bad line must name the file and line so a user can fix it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from mtmct.core.atomic_file import atomic_write
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

MIN_COLUMNS, MAX_COLUMNS = 6, 10
# Bounds that keep a typo from breaking things later: a tracker steps through every frame up to the last one (a row
# at frame 10^9 would mean 10^9 empty frames), and boxes of 1e300 overflow the Kalman filter's squares. 10^6 frames
# is 9 hours at 30 fps (MOTChallenge sequences have a few thousand); 10^6 pixels is 60 times a 16K frame's width.
MAX_FRAME = 1_000_000
MAX_COORD = 1e6


def read_mot(path: str | Path) -> np.ndarray:
    """(N, C) float64 rows sorted by (frame, id), C = the file's column count but at least 7.

    A 6-column file (no confidence) gets conf = 1. Blank lines are skipped; an empty file gives (0, 7).
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MtmctError(f"cannot read MOT file {path}: {exc}") from exc
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        rows.append(_parse_line(line, path, lineno, len(rows[0]) if rows else None))
    if not rows:
        return np.zeros((0, 7))
    data = np.asarray(rows, np.float64)
    if data.shape[1] == MIN_COLUMNS:
        data = np.hstack([data, np.ones((len(data), 1))])
    return data[np.lexsort((data[:, 1], data[:, 0]))]


def _parse_line(line: str, path: Path, lineno: int, expected: int | None) -> list[float]:
    where = f"{path}:{lineno}"
    fields = [f.strip() for f in line.split(",")]
    if not MIN_COLUMNS <= len(fields) <= MAX_COLUMNS:
        raise MtmctError(f"{where}: {len(fields)} columns, MOT rows have {MIN_COLUMNS} to {MAX_COLUMNS}: '{line[:80]}'")
    if expected is not None and len(fields) != expected:
        raise MtmctError(f"{where}: {len(fields)} columns but earlier rows have {expected}")
    try:
        values = [float(f) for f in fields]
    except ValueError:
        raise MtmctError(f"{where}: not a number in '{line[:80]}'") from None
    if not all(math.isfinite(v) for v in values):
        raise MtmctError(f"{where}: non-finite value in '{line[:80]}'")
    frame, _, _, _, w, h = values[:6]
    if frame < 1 or frame != int(frame):
        raise MtmctError(f"{where}: frame must be a whole number from 1, got {fields[0]}")
    if frame > MAX_FRAME:
        raise MtmctError(f"{where}: frame {fields[0]} is beyond the last frame a MOT file may hold ({MAX_FRAME:,})")
    if any(abs(v) > MAX_COORD for v in values[2:6]):
        raise MtmctError(f"{where}: box {','.join(fields[2:6])} is beyond {MAX_COORD:.0e} pixels")
    if w < 0 or h < 0:
        raise MtmctError(f"{where}: negative box size {fields[4]}x{fields[5]}")
    return values


def rows_by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    """Rows grouped by frame (column 0), keeping their order within a frame: one sort instead of a scan per frame."""
    if not len(rows):
        return {}
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    frames, starts = np.unique(rows[:, 0], return_index=True)
    return {int(f): part for f, part in zip(frames, np.split(rows, starts[1:]))}


def format_mot_rows(frame: int, ids, tlwh: np.ndarray, scores: np.ndarray) -> str:
    """One frame's boxes as MOT lines ``frame,id,x,y,w,h,score,-1,-1,-1`` (boxes to 2 decimals)."""
    if int(frame) < 1:
        raise ValueError(f"MOT frames count from 1, got {frame}")
    return "".join(
        f"{int(frame)},{int(i)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},{score:.4f},-1,-1,-1\n"
        for i, (x, y, w, h), score in zip(ids, tlwh, scores)
    )


def format_det_rows(frame: int, dets: Detections) -> str:
    """One frame's detections as MOT det lines ``frame,-1,x,y,w,h,score,-1,-1,-1``."""
    return format_mot_rows(frame, [-1] * len(dets), dets.tlwh, dets.scores)


def write_mot_dets(path: str | Path, frames_and_dets: Iterable[tuple[int, Detections]]) -> int:
    """Write ``(frame, detections)`` pairs as a MOT detection file; returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic_write(path) as fh:
        for frame, dets in frames_and_dets:
            fh.write(format_det_rows(frame, dets))
            count += len(dets)
    log.debug("wrote %d detections to %s", count, path)
    return count
