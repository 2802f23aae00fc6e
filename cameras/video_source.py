"""Frames from anything OpenCV's FFmpeg/V4L2 backends open: video files, camera devices, RTSP/HTTP streams."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from cameras.source import Source, SourceError, is_url, resolve_fps
from mtmct.core.secrets import mask_secrets

log = logging.getLogger(__name__)

# FFmpeg and OpenCV print their own warnings ("moov atom not found") to stderr; our SourceError already says
# what went wrong in one line. Read at the first capture, so setting them here is early enough; users may override.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# RTSP over TCP (interleaved), not FFmpeg's UDP first: over UDP a stream loses packets, and with them whole frames
# or smeared ones (the RTSP tests lost up to 8 of 40 frames on 127.0.0.1). OpenCV reads the variable at each open;
# a user's own value (e.g. "rtsp_transport;udp") wins. Other protocols ignore the option.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
if "OPENCV_LOG_LEVEL" not in os.environ:
    cv2.setLogLevel(2)  # errors only; cv2 read the variable at its own import, which may already have happened


class VideoSource(Source):
    """A video file, a camera device index, or a stream URL, read through ``cv2.VideoCapture``.

    Files end normally at their last frame, but stopping well short of the container's frame count raises
    SourceError after the good frames (a truncated file must not pass for a short one). Live sources
    (devices, streams without a frame count) never end on their own: a drop is reopened up to ``retries``
    times, ``retry_delay`` seconds apart, with numbering continuing; then SourceError. A failed first open
    is not retried, so a wrong address fails fast.
    """

    def __init__(self, target: str | int | os.PathLike[str], fps: float | None = None, retries: int = 3,
                 retry_delay: float = 1.0, timeout: float = 10.0) -> None:
        """``timeout`` bounds each open and read of a stream: shorter notices a dead camera sooner but
        can cut off a slow link."""
        if retries < 0 or retry_delay < 0 or timeout <= 0:
            raise ValueError(f"need retries >= 0, retry_delay >= 0, timeout > 0; got {retries}, {retry_delay}, "
                             f"{timeout}")
        self.retries, self.retry_delay, self.timeout = retries, retry_delay, timeout
        self.spec = target if isinstance(target, int) else os.fspath(target)
        if isinstance(target, int):
            self.kind, self._target, self.name = "device", target, f"camera device {target}"
        elif is_url(str(target)):
            self.kind, self._target, self.name = "stream", str(target), mask_secrets(str(target))
        else:
            self.kind, self._target = "file", os.fspath(target)
            self.name = self._target
            if not Path(self._target).is_file():
                raise SourceError(f"{self.name}: no such video file")
        self._cap: cv2.VideoCapture | None = None
        self._pending: np.ndarray | None = None
        cap, first = self._open()
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._count = count if count > 0 and self.kind != "device" else None
        self.fps = resolve_fps(self.name, fps, cap.get(cv2.CAP_PROP_FPS), "the video")
        height, width = first.shape[:2]
        self.size = (width, height)
        log.info("%s: opened %s, %dx%d at %g fps, %s frames", self.name, self.kind, width, height, self.fps,
                 self._count if self._count is not None else "unknown")

    @property
    def frame_count(self) -> int | None:
        return self._count

    @property
    def live(self) -> bool:
        """Live sources reconnect on a drop; a finite one (file, or a served file with a length) must not,
        since reopening would replay it from the start."""
        return self.kind != "file" and self._count is None

    def _connect(self) -> tuple[cv2.VideoCapture, np.ndarray] | None:
        """A capture and its first frame, or None: opening is not enough, a source must also decode."""
        if self.kind == "device":
            cap = cv2.VideoCapture(self._target)
        else:
            ms = int(self.timeout * 1000)
            cap = cv2.VideoCapture(self._target, cv2.CAP_FFMPEG,
                                   [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        if cap.isOpened():
            ok, image = cap.read()
            if ok and image is not None:
                return cap, image
        cap.release()
        return None

    def _open(self) -> tuple[cv2.VideoCapture, np.ndarray]:
        opened = self._connect()
        if opened is None:
            why = {
                "file": "cannot decode it as a video (not a video, corrupt, or a codec OpenCV's FFmpeg lacks)",
                "device": "cannot open it (no such device, no permission, or busy)",
                "stream": f"cannot read a video stream from it within {self.timeout:g} s (unreachable, "
                          "refused, or not a format FFmpeg reads)",
            }[self.kind]
            raise SourceError(f"{self.name}: {why}")
        self._cap, self._pending = opened
        return opened

    def _reconnect(self, read: int) -> None:
        self.close()
        for attempt in range(1, self.retries + 1):
            log.warning("%s: stream dropped after %d frames; reconnect %d/%d in %g s", self.name, read, attempt,
                        self.retries, self.retry_delay)
            time.sleep(self.retry_delay)
            opened = self._connect()
            if opened is not None:
                self._cap, self._pending = opened
                log.warning("%s: reconnected; numbering continues at frame %d", self.name, read + 1)
                return
        raise SourceError(f"{self.name}: stream lost after {read} frames; {self.retries} reconnects failed")

    def _images(self) -> Iterator[np.ndarray]:
        if self._cap is None:  # a second pass, or after close(): start again
            self._open()
        read = 0
        try:
            while True:
                if self._pending is not None:
                    image, self._pending = self._pending, None
                else:
                    assert self._cap is not None
                    ok, image = self._cap.read()
                    if not ok or image is None:
                        if self.live:
                            self._reconnect(read)
                            continue
                        self._check_complete(read)
                        return
                read += 1
                yield image
        finally:
            self.close()

    def _check_complete(self, read: int) -> None:
        """Raise when a finite source stopped well short of its container's frame count.

        CAP_PROP_FRAME_COUNT comes from the header or from duration x fps, so it may be off by a frame or
        two (or ~1% for variable frame rate); only a larger shortfall counts as truncation.
        """
        expected = self._count
        if expected is not None and read < expected - max(2, expected // 100):
            raise SourceError(f"{self.name}: decoding stopped after frame {read} of the {expected} the container "
                              "declares; the file looks truncated or corrupt")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._cap, self._pending = None, None
