"""MOTChallenge text sinks: tracks as ``frame,id,x,y,w,h,score,-1,-1,-1`` and detections with id -1.

Boxes become tlwh here and only here (the file format needs it). Each frame's lines are flushed as they come into
a hidden ``.<name>.part`` file next to the target, renamed over it on :meth:`close` (``os.replace``, atomic): a run
killed half-way keeps everything up to its last frame in the ``.part`` file, and a file under the final name is
always whole.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from cameras.tracked_frame import TrackedFrame
from mtmct.core.mot_io import format_det_rows, format_mot_rows

log = logging.getLogger(__name__)


def _part(path: Path) -> Path:
    """Where ``path`` is written until it is complete (same folder, so the rename is atomic)."""
    return path.with_name(f".{path.name}.part")


class MotWriter:
    """Writes every frame's tracks to ``path`` (when given) and keeps them as ``rows`` (when ``keep_rows``).

    ``rows`` is ``(N, 10)`` float64 in the file's layout, for callers that score or show tracks without reading
    the file back; a camera actor that runs for hours turns ``keep_rows`` off.
    """

    stage = "write"

    def __init__(self, path: str | Path | None = None, keep_rows: bool = True) -> None:
        self.path = None if path is None else Path(path)
        self.keep_rows = keep_rows
        self._parts: list[np.ndarray] = []
        self._file = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = _part(self.path).open("w")

    def update(self, frame: TrackedFrame) -> None:
        tracks = frame.tracks
        tlwh = tracks.tlwh
        if self._file is not None:
            self._file.write(format_mot_rows(frame.index, tracks.ids, tlwh, tracks.scores))
            self._file.flush()
        if self.keep_rows and len(tracks):
            n = len(tracks)
            self._parts.append(np.column_stack([np.full(n, frame.index), tracks.ids, tlwh, tracks.scores,
                                                np.full((n, 3), -1.0)]))

    @property
    def rows(self) -> np.ndarray:
        return np.concatenate(self._parts) if self._parts else np.zeros((0, 10))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            os.replace(_part(self.path), self.path)
            log.debug("wrote %s", self.path)


class DetWriter:
    """Writes every frame's detections to ``path`` as MOT det rows (what ``mtmct detect`` produces and
    ``mtmct track --det-file`` reads back); ``count`` is the rows written."""

    stage = "write"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self._file = _part(self.path).open("w")

    def update(self, frame: TrackedFrame) -> None:
        self._file.write(format_det_rows(frame.index, frame.detections))
        self._file.flush()
        self.count += len(frame.detections)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
            os.replace(_part(self.path), self.path)
