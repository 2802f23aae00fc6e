"""Camera frames for the pages, read through the pipeline's own sources and drawn server-side as JPEG.

Frames come from :func:`cameras.open_source.open_source`, the function ``mtmct run`` used, so MOT frame ``k`` is
exactly the frame the tracker numbered ``k`` (MOTChallenge folders through ``seqinfo.ini``'s ``imDir``, images in
natural order so ``frame2`` comes before ``frame10``) and the fps is the one the run's timestamps were made with
(the camera's configured override, else ``seqinfo.ini`` or the container).

Sources iterate; they do not seek. A frame folder is indexed directly (its sorted image paths are public). A
video stays open at its position, one per camera being watched: frame k+1 after k costs one decode; a jump
forward decodes the frames in between, and a jump back reopens the video and decodes from the start, so a
far seek into a long video costs time in proportion to the frame number.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Generator

import cv2
import numpy as np

from cameras.frame_folder_source import FrameFolderSource
from cameras.open_source import open_source
from cameras.source import Source, SourceError
from mtmct.core.boxes import foot_points, tlwh_to_xyxy
from mtmct.core.colors import id_color
from mtmct.core.frame import Frame

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
MAX_OPEN = 8  # open sources kept (one per camera being watched); the least recently used is closed
UNFUSED = (160, 160, 160)  # the colour of a local track fusion gave no global id


def jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class _Open:
    """One open source and, for a video, the iterator at its current position."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.frames: Generator[Frame, None, None] | None = None
        self.next = 1  # the MOT number of the frame ``frames`` yields next
        self.lock = threading.Lock()

    def read(self, frame: int) -> np.ndarray | None:
        with self.lock:
            if isinstance(self.source, FrameFolderSource):
                paths = self.source.paths
                return cv2.imread(str(paths[frame - 1]), cv2.IMREAD_COLOR) if frame <= len(paths) else None
            if self.frames is None or frame < self.next:  # first read, or a seek backwards: from the start
                self._stop()
                self.frames, self.next = iter(self.source), 1
            try:
                for got in self.frames:
                    self.next = got.index + 1
                    if got.index == frame:
                        return got.image
            except SourceError as error:  # a truncated file ends with an error after its good frames
                log.warning("%s", error)
            self.frames = None
            return None

    def _stop(self) -> None:
        if self.frames is not None:
            self.frames.close()  # the source's own iterator releases its capture when closed
            self.frames = None

    def close(self) -> None:
        with self.lock:
            self._stop()
            self.source.close()


class FrameReader:
    """Frame ``k`` and the fps of camera sources, with a few sources kept open (see module docstring)."""

    def __init__(self, max_open: int = MAX_OPEN) -> None:
        self.max_open = max_open
        self._open: OrderedDict[tuple[str, float | None], _Open] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, source: str | None, frame: int, fps: float | None = None) -> np.ndarray | None:
        """The image of MOT frame ``frame``; None when the source cannot be opened or has no such frame."""
        opened = self._get(source, fps) if frame >= 1 else None
        return None if opened is None else opened.read(frame)

    def fps(self, source: str | None, fps: float | None = None) -> float | None:
        """The frame rate the pipeline read ``source`` at (``fps`` is the camera's configured override)."""
        opened = self._get(source, fps)
        return None if opened is None else opened.source.fps

    def _get(self, source: str | None, fps: float | None) -> _Open | None:
        if not source or source.isdigit() or "://" in source:  # devices and streams cannot be replayed
            return None
        key = (source, fps)
        with self._lock:
            opened = self._open.pop(key, None)
            if opened is None:
                try:
                    opened = _Open(open_source(source, fps=fps))
                except (SourceError, ValueError) as error:
                    log.info("camera source unreadable: %s", error)
                    return None
            self._open[key] = opened
            while len(self._open) > self.max_open:
                self._open.popitem(last=False)[1].close()
            return opened

    def close(self) -> None:
        with self._lock:
            for opened in self._open.values():
                opened.close()
            self._open.clear()


def blank(boxes_tlwh: np.ndarray, note: str) -> np.ndarray:
    """A grey canvas large enough for ``boxes_tlwh``, for cameras whose source is gone."""
    far = boxes_tlwh[:, :2] + boxes_tlwh[:, 2:] if len(boxes_tlwh) else np.zeros((1, 2))
    w, h = (int(v) + 20 for v in np.maximum(far.max(0), [320, 240]))
    image = np.full((h, w, 3), 60, np.uint8)
    cv2.putText(image, note, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (230, 230, 230), 1, cv2.LINE_AA)
    return image


def draw_trajectory(image: np.ndarray, boxes_tlwh: np.ndarray, key: int, current: int | None = None) -> np.ndarray:
    """The foot-point polyline (bottom centre of each box) with start and end marks; ``current`` outlines the
    box of that row (the frame the background was taken from)."""
    out = image.copy()
    feet = foot_points(tlwh_to_xyxy(boxes_tlwh))
    pts = np.round(feet).astype(np.int32)
    c = id_color(key)
    cv2.polylines(out, [pts.reshape(-1, 1, 2)], False, c, 2, cv2.LINE_AA)
    cv2.circle(out, tuple(map(int, pts[0])), 5, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(out, tuple(map(int, pts[0])), 5, c, 2, cv2.LINE_AA)
    cv2.drawMarker(out, tuple(map(int, pts[-1])), c, cv2.MARKER_TILTED_CROSS, 12, 2, cv2.LINE_AA)
    if current is not None:
        x, y, w, h = (int(round(v)) for v in boxes_tlwh[current])
        cv2.rectangle(out, (x, y), (x + w, y + h), c, 1, cv2.LINE_AA)
    return out


def draw_boxes(image: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Boxes of one frame (:data:`storage.repository.CAMERA_BOX_DTYPE` rows) labelled with their global id
    (``g12``, in that id's colour everywhere), or the local track (``t7``, grey) when fusion gave none."""
    out = image.copy()
    for r in rows:
        gid, x, y, w, h = int(r["global_id"]), int(r["x"]), int(r["y"]), int(r["w"]), int(r["h"])
        label, c = (f"g{gid}", id_color(gid)) if gid >= 0 else (f"t{int(r['track_id'])}", UNFUSED)
        cv2.rectangle(out, (x, y), (x + w, y + h), c, 2)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        top = max(y - th - 4, 0)
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + 4), c, -1)
        cv2.putText(out, label, (x + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out
