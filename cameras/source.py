"""Camera sources: one numbered, timestamped stream of BGR frames, whatever the camera is.

Frame numbers start at 1 (MOTChallenge) and timestamps are ``(index - 1) / fps``, so every later stage
(tracks, tracklets, fusion time windows) can rely on both without knowing where the frames came from.
"""

from __future__ import annotations

import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from mtmct.core.errors import MtmctError
from mtmct.core.frame import Frame

log = logging.getLogger(__name__)

# Used when neither the caller, the container nor seqinfo.ini knows the frame rate (logged when it happens).
DEFAULT_FPS = 25.0

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(text: str) -> bool:
    """``scheme://...`` (rtsp, http, https, rtmp, udp...): handed to FFmpeg as a network stream."""
    return bool(_URL.match(text))


def camera_id_for(spec: str | int | os.PathLike[str]) -> str:
    """A short id for output file names: a file's stem, a folder's name, ``cam<N>`` for a device, a URL's last
    path part (or host). Never a path, so ``out_dir / f"{camera_id}.txt"`` stays inside ``out_dir``."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return f"cam{spec}"
    text = os.fspath(spec).rstrip("/")
    if text.isdigit() and not Path(text).exists():
        return f"cam{text}"
    if is_url(text):
        rest = text.split("://", 1)[1].split("?", 1)[0]
        host, _, path = rest.partition("/")
        stem = Path(path).stem if path else host.rsplit("@", 1)[-1].split(":")[0]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "stream"
    path = Path(text)
    return path.name if path.is_dir() else path.stem


class SourceError(MtmctError):
    """A camera source that cannot be opened or stopped early; the message names the source."""


class Source(ABC):
    """An iterable of Frames with a ``name`` (for messages), ``fps`` and ``size`` (width, height).

    Subclasses only produce images; numbering lives here so every source numbers frames the same way,
    including across a stream's reconnects.
    """

    name: str
    spec: str | int  # what the source was opened from: a path, a URL or a device index
    fps: float
    size: tuple[int, int]
    after = 0  # frames a resumed camera already did (:meth:`continue_after`)

    def continue_after(self, frames: int) -> None:
        """Go on where an interrupted run of this camera stopped, ``frames`` frames in: a finite source skips its
        first ``frames`` frames (they are still decoded: seeking is not frame exact in every container), a live one
        numbers its frames on from there, so frame numbers and timestamps never repeat a stored one."""
        if frames < 0:
            raise ValueError(f"continue_after needs 0 or more frames, got {frames}")
        self.after = frames

    @property
    def camera_id(self) -> str:
        """The short id output files are named by (:func:`camera_id_for` of :attr:`spec`), never a path."""
        return camera_id_for(self.spec)

    @property
    def frame_count(self) -> int | None:
        """How many frames a finite source holds; None for live sources (devices, streams)."""
        return None

    @abstractmethod
    def _images(self) -> Iterator[np.ndarray]:
        """The BGR images in order; raise SourceError instead of ending early."""

    def __iter__(self) -> Iterator[Frame]:
        live = self.frame_count is None
        for index, image in enumerate(self._images(), start=1):
            if live:
                index += self.after
            elif index <= self.after:
                continue
            yield Frame(index, (index - 1) / self.fps, image)

    def __len__(self) -> int:
        if self.frame_count is None:
            raise TypeError(f"{self.name} is a live source: it has no length")
        return self.frame_count

    def __bool__(self) -> bool:  # without this, bool() of a live source would call __len__ and fail
        return True

    def close(self) -> None:
        """Release the device, file or connection; the default has nothing to release."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, fps={self.fps:g}, size={self.size}, frames={self.frame_count})"


def resolve_fps(name: str, override: float | None, known: float | None, what: str) -> float:
    """The caller's fps, else the source's own (``what`` says where it came from), else DEFAULT_FPS, logged."""
    if override is not None:
        if not override > 0:
            raise ValueError(f"fps must be positive, got {override}")
        return float(override)
    if known is not None and 0 < known < 1000:  # FFmpeg reports 0, nan or 90000-ish when it does not know
        return float(known)
    log.warning("%s: no frame rate in %s; assuming %g fps (pass fps= to override)", name, what, DEFAULT_FPS)
    return DEFAULT_FPS
