"""Annotated videos: boxes, labels and trajectory tails drawn on frames, written with OpenCV.

Drawing is a sink of the camera loop (:class:`Annotator`), not a step of it: the loop computes, the annotator
draws on a copy of the frame, so the tracklet builder's crops never show a box or a label. Colours come from
:func:`mtmct.core.colors.id_color`, so a person has the same colour here and in the dashboard.

OpenCV's wheels here write ``mp4v`` (MPEG-4 Part 2) and ``MJPG``, not H.264, so ``.mp4`` files use mp4v.
"""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path

import cv2
import numpy as np

from cameras.tracked_frame import TrackedFrame
from mtmct.core.boxes import foot_points
from mtmct.core.colors import id_color
from mtmct.core.errors import MtmctError

_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
DETECTION_COLOR = (0, 220, 0)  # BGR; detections have no id, so one colour for all


def draw_boxes(
    frame: np.ndarray,
    xyxy: np.ndarray,
    labels: list[str] | None = None,
    keys: list[int] | None = None,
) -> np.ndarray:
    """Draw boxes (coloured by ``keys``, e.g. track ids) with optional text labels; returns the frame."""
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(xyxy).reshape(-1, 4).astype(int)):
        color = id_color(keys[i]) if keys is not None else DETECTION_COLOR
        cv2.rectangle(frame, (x0, y0), (x1, y1), color, 2)
        if labels is not None:
            text = labels[i]
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
            y_text = max(y0, th + 4)
            cv2.rectangle(frame, (x0, y_text - th - 4), (x0 + tw + 2, y_text), color, -1)
            cv2.putText(frame, text, (x0 + 1, y_text - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return frame


def draw_tails(frame: np.ndarray, tails: dict[int, list[tuple[int, int]]]) -> np.ndarray:
    """Draw each id's recent foot points as a polyline (the trajectory tail)."""
    for key, points in tails.items():
        if len(points) > 1:
            cv2.polylines(frame, [np.asarray(points, np.int32)], False, id_color(key), 2, cv2.LINE_AA)
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


class Annotator:
    """Sink that writes an annotated video of the tracked frames to ``path`` at ``fps``.

    With ``show="tracks"`` it draws every track whose score is at least ``draw_threshold``, labelled and coloured
    by id, with a tail of its last ``tail_length`` foot points (longer tails show more of the path but clutter
    crowded scenes); with ``show="detections"`` it draws the detector's boxes labelled by score.
    """

    stage = "write"

    def __init__(self, path: str | Path, fps: float, show: str = "tracks", draw_threshold: float = 0.0,
                 tail_length: int = 30) -> None:
        if show not in ("tracks", "detections"):
            raise ValueError(f"Annotator: show must be 'tracks' or 'detections', got {show!r}")
        self.video = VideoWriter(path, fps)
        self.show, self.draw_threshold = show, draw_threshold
        self._tails: dict[int, deque] = defaultdict(lambda: deque(maxlen=tail_length))

    @property
    def path(self) -> Path:
        return self.video.path

    def update(self, frame: TrackedFrame) -> None:
        if frame.image is None:
            raise MtmctError("cannot draw a video without images: tracking from a det file alone has none")
        image = frame.image.copy()
        if self.show == "detections":
            dets = frame.detections
            draw_boxes(image, dets.xyxy, [f"{s:.2f}" for s in dets.scores])
        else:
            shown = frame.tracks[frame.tracks.scores >= self.draw_threshold]
            ids = [int(i) for i in shown.ids]
            for key, point in zip(ids, foot_points(shown.xyxy).astype(int)):
                self._tails[key].append(tuple(int(v) for v in point))
            draw_tails(image, {k: list(self._tails[k]) for k in ids})
            draw_boxes(image, shown.xyxy, [str(k) for k in ids], ids)
        self.video.write(image)

    def close(self) -> None:
        self.video.close()
