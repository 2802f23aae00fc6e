"""Camera sources: one numbered, timestamped stream of BGR frames, whatever the camera is.

Frame numbers start at 1 (MOTChallenge) and timestamps are ``(index - 1) / fps``, so every later stage
(tracks, tracklets, fusion time windows) can rely on both without knowing where the frames came from.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
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


class SourceError(MtmctError):
    """A camera source that cannot be opened or stopped early; the message names the source."""


class Source(ABC):
    """An iterable of Frames with a ``name`` (for messages), ``fps`` and ``size`` (width, height).

    Subclasses only produce images; numbering lives here so every source numbers frames the same way,
    including across a stream's reconnects.
    """

    name: str
    fps: float
    size: tuple[int, int]

    @property
    def frame_count(self) -> int | None:
        """How many frames a finite source holds; None for live sources (devices, streams)."""
        return None

    @abstractmethod
    def _images(self) -> Iterator[np.ndarray]:
        """The BGR images in order; raise SourceError instead of ending early."""

    def __iter__(self) -> Iterator[Frame]:
        for index, image in enumerate(self._images(), start=1):
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
