"""Annotated videos: boxes, labels and trajectory tails drawn on frames, written with OpenCV.

OpenCV's wheels here write ``mp4v`` (MPEG-4 Part 2) and ``MJPG``, not H.264, so ``.mp4`` files use mp4v.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mtmct.core.errors import MtmctError

_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def color_for(key: int) -> tuple[int, int, int]:
    """A stable, well-spread BGR colour per id (golden-ratio hue steps)."""
    hue = int((key * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 200, 255]]])
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def draw_boxes(
    frame: np.ndarray,
    xyxy: np.ndarray,
    labels: list[str] | None = None,
    keys: list[int] | None = None,
) -> np.ndarray:
    """Draw boxes (coloured by ``keys``, e.g. track ids) with optional text labels; returns the frame."""
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(xyxy).reshape(-1, 4).astype(int)):
        color = color_for(keys[i]) if keys is not None else (0, 220, 0)
        cv2.rectangle(frame, (x0, y0), (x1, y1), color, 2)
        if labels is not None:
            text = labels[i]
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
            y_text = max(y0, th + 4)
            cv2.rectangle(frame, (x0, y_text - th - 4), (x0 + tw + 2, y_text), color, -1)
            cv2.putText(frame, text, (x0 + 1, y_text - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return frame


def draw_tails(frame: np.ndarray, tails: dict[int, list[tuple[int, int]]]) -> np.ndarray:
    """Draw each id's recent centre points as a polyline (the trajectory tail)."""
    for key, points in tails.items():
        if len(points) > 1:
            cv2.polylines(frame, [np.asarray(points, np.int32)], False, color_for(key), 2, cv2.LINE_AA)
    return frame


class VideoWriter:
    """Writes frames to a video file, opened lazily at the first frame's size."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() not in _FOURCC:
            raise MtmctError(f"cannot write video {self.path}: use one of {', '.join(_FOURCC)}")
        self.fps = fps if fps and fps > 0 else 25.0
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*_FOURCC[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise MtmctError(f"cannot open {self.path} for writing")
        self._writer.write(frame)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
