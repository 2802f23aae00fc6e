"""Market-1501-style ReID crops cut from a video and its MOTChallenge ground truth.

A labelled tracking sequence becomes a retrieval set: every annotated box of the chosen frames is written as
``PPPP_cCs1_FFFFFF_00.jpg`` (gt id, camera number, frame), so ``mtmct eval reid`` can score a ReID model on
the footage it will run on. Two frame ranges of one video given different camera numbers make a query and a
gallery set that the Market protocol compares across "cameras".
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import cv2
import numpy as np

from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)


def parse_camera_id(text: str | int) -> int:
    """``2`` or ``c2`` -> 2; anything else is an error (the number goes into every file name)."""
    m = re.fullmatch(r"[cC]?(\d+)", str(text).strip())
    if not m:
        raise MtmctError(f"camera id must be a number like 2 or c2, got {text!r}")
    return int(m.group(1))


def parse_frames(text: str) -> tuple[int, int | None]:
    """``A:B`` (inclusive, 1-based), ``A:`` (to the end) -> (A, B or None)."""
    m = re.fullmatch(r"\s*(\d+)\s*:\s*(\d*)\s*", text)
    if not m:
        raise MtmctError(f"frame range must be A:B with 1-based frame numbers, got {text!r}")
    first, last = int(m.group(1)), int(m.group(2)) if m.group(2) else None
    if first < 1 or (last is not None and last < first):
        raise MtmctError(f"frame range {text!r} is empty or starts before frame 1")
    return first, last


def clip_box(x: float, y: float, w: float, h: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer (x0, y0, x1, y1) of a MOT box clipped to the image; x1 <= x0 or y1 <= y0 when nothing is left."""
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    return x0, y0, min(width, int(round(x + w))), min(height, int(round(y + h)))


def reid_from_mot(video: str | Path, gt: str | Path, camera_id: int, out: str | Path,
                  frames: tuple[int, int | None] = (1, None), every: int = 1, min_height: float = 0.0) -> dict:
    """Write one crop per gt box (conf flag != 0) of frames ``A, A+every, ... <= B``; returns ``crops``, ``ids``.

    ``min_height`` (pixels, after clipping) drops boxes too small to identify anyone; raising it leaves fewer,
    cleaner crops, and fewer identities when people are far away.
    """
    from cameras.open_source import open_source
    from mtmct.core.mot_io import read_mot, rows_by_frame

    video, gt, out = Path(video), Path(gt), Path(out)
    if every < 1:
        raise MtmctError(f"--every must be at least 1, got {every}")
    if min_height < 0:
        raise MtmctError(f"--min-height must not be negative, got {min_height}")
    for label, path in (("video", video), ("ground truth", gt)):
        if not path.exists():
            raise MtmctError(f"{label} {path} does not exist")
    first, last = frames
    rows = read_mot(gt)
    rows = rows[(rows[:, 6] != 0) & (rows[:, 1] > 0)]
    by_frame = rows_by_frame(rows)
    out.mkdir(parents=True, exist_ok=True)
    crops, ids, seen = 0, set(), 0
    with open_source(video) as source:
        if source.frame_count is not None and first > source.frame_count:
            raise MtmctError(f"frame range {_range(first, last)} starts after the end of {video} "
                             f"({source.frame_count} frames)")
        for frame in source:
            if last is not None and frame.index > last:
                break
            if frame.index < first or (frame.index - first) % every:
                continue
            seen += 1
            height, width = frame.image.shape[:2]
            for row in by_frame.get(frame.index, ()):
                x0, y0, x1, y1 = clip_box(*row[2:6], width, height)
                if x1 <= x0 or y1 - y0 < max(min_height, 1):
                    continue
                pid = int(row[1])
                name = out / f"{pid:04d}_c{camera_id}s1_{frame.index:06d}_00.jpg"
                if not cv2.imwrite(str(name), frame.image[y0:y1, x0:x1]):
                    raise MtmctError(f"cannot write {name}")
                crops += 1
                ids.add(pid)
    if not seen:
        raise MtmctError(f"{video} has no frames in the range {_range(first, last)}")
    log.info("%s: %d crops of %d ids from %d frames", out, crops, len(ids), seen)
    return {"crops": crops, "ids": len(ids), "frames": seen}


def _range(first: int, last: int | None) -> str:
    return f"{first}:{'' if last is None else last}"
