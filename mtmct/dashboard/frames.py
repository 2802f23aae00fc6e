"""Camera frames for the pages, drawn server-side with OpenCV and served as JPEG.

Frames are read from the camera's stored source (a video file or a folder of images). MOT frame ``k`` is the
source's ``k``-th decoded frame (cameras/source.py numbers them that way whatever the fps), so seeking is by
index. Readers stay open and remember their position: a player asking for frame k+1 after k costs one decode,
not a seek from the previous key frame.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
JPEG_QUALITY = 85
MAX_OPEN = 8  # open video readers kept (one per camera being watched)


def colour(key: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per global id (golden-angle hues)."""
    hue = int((key * 137.508) % 180)
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 230]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class _Video:
    def __init__(self, path: str) -> None:
        self.cap = cv2.VideoCapture(path)
        self.next = 1  # MOT number of the frame the next read() returns
        self.lock = threading.Lock()

    def read(self, frame: int) -> np.ndarray | None:
        with self.lock:
            if frame != self.next:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
            ok, image = self.cap.read()
            self.next = frame + 1 if ok else -1
            return image if ok else None


class FrameReader:
    """Frame ``k`` of a camera source, or None when the source or the frame is not there."""

    def __init__(self) -> None:
        self._videos: OrderedDict[str, _Video] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, source: str | None, frame: int) -> np.ndarray | None:
        if not source or frame < 1:
            return None
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            return cv2.imread(str(files[frame - 1])) if frame <= len(files) else None
        if not path.is_file():
            return None
        return self._video(source).read(frame)

    def _video(self, source: str) -> _Video:
        with self._lock:
            video = self._videos.pop(source, None) or _Video(source)
            self._videos[source] = video
            while len(self._videos) > MAX_OPEN:
                self._videos.popitem(last=False)[1].cap.release()
            return video

    def close(self) -> None:
        with self._lock:
            for video in self._videos.values():
                video.cap.release()
            self._videos.clear()


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
    feet = np.stack([boxes_tlwh[:, 0] + boxes_tlwh[:, 2] / 2, boxes_tlwh[:, 1] + boxes_tlwh[:, 3]], 1)
    pts = np.round(feet).astype(np.int32)
    c = colour(key)
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
    (``g12``), or the local track (``t7``) when fusion gave none."""
    out = image.copy()
    for r in rows:
        gid, x, y, w, h = int(r["global_id"]), int(r["x"]), int(r["y"]), int(r["w"]), int(r["h"])
        label, c = (f"g{gid}", colour(gid)) if gid >= 0 else (f"t{int(r['track_id'])}", (160, 160, 160))
        cv2.rectangle(out, (x, y), (x + w, y + h), c, 2)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        top = max(y - th - 4, 0)
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + 4), c, -1)
        cv2.putText(out, label, (x + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return out
