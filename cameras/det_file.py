"""A MOTChallenge det file as the camera loop's detection source, as PaddleDetection's DeepSORT reads them.

Tracking public detections (MOT15/16/17 ``det/det.txt``) needs no detector, and without footage no pixels at
all: :meth:`DetFile.frames` then numbers the frames itself, so the loop runs motion-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.core.frame import Frame
from mtmct.core.mot_io import read_mot, rows_by_frame


class DetFile:
    """The rows of ``path`` scored at least ``conf``, looked up by frame (a frame with no row has no detections)."""

    def __init__(self, path: str | Path, conf: float = 0.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise MtmctError(f"det file {self.path} does not exist")
        rows = read_mot(self.path)
        rows = rows[rows[:, 6] >= conf]
        self._by_frame = {frame: Detections.from_tlwh(sel[:, 2:6], sel[:, 6])
                          for frame, sel in rows_by_frame(rows).items()}

    @property
    def last_frame(self) -> int:
        return max(self._by_frame, default=0)

    @property
    def camera_id(self) -> str:
        """``SEQ/det/det.txt`` (MOTChallenge layout) names its sequence; any other file its stem."""
        seq = self.path.parent.parent.name
        return seq if self.path.parent.name == "det" and seq else self.path.stem

    def detect(self, frame: Frame) -> Detections:
        return self._by_frame.get(frame.index, Detections.empty())

    def frames(self, fps: float) -> Iterator[Frame]:
        """Frames 1 to the last one with a row, timed at ``fps``, without images (there is no footage)."""
        for index in range(1, self.last_frame + 1):
            yield Frame(index, (index - 1) / fps, None)
