"""`mtmct detect`: run a detector over a source and write MOTChallenge det text (and optionally a video)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from cameras.annotate import Annotator
from cameras.camera_loop import run_camera_loop
from cameras.detector import Detector, load_detector
from cameras.mot_writer import DetWriter
from cameras.open_source import open_source

log = logging.getLogger(__name__)


@dataclass
class DetectResult:
    det_file: Path
    video_file: Path | None
    frames: int
    detections: int
    seconds: float
    error: str | None = None  # set when the source failed part-way; what was processed is kept

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def run_detect(
    source: str,
    detector: str | Detector,
    out_dir: str | Path,
    save_video: bool = False,
    conf: float = 0.3,
    device: str = "cpu",
    fps: float | None = None,
    progress: bool = True,
) -> DetectResult:
    """Detect on every frame of ``source`` through the camera loop with no tracker; the det writer flushes each
    frame, so an interrupted run keeps its output."""
    det = detector if isinstance(detector, Detector) else load_detector(detector, device=device, conf=conf)
    src = open_source(source, fps=fps)
    try:
        out_dir = Path(out_dir)
        writer = DetWriter(out_dir / f"{src.camera_id}.txt")
        video = Annotator(out_dir / f"{src.camera_id}.mp4", src.fps, show="detections") if save_video else None
        start = time.perf_counter()
        loop = run_camera_loop(src, lambda frame: det.detect(frame.image), None, [writer, *([video] if video else [])],
                               total=src.frame_count, name=src.camera_id, progress=progress)
        seconds = time.perf_counter() - start
    finally:
        src.close()
    return DetectResult(writer.path, video.path if video else None, loop.frames, writer.count, seconds, loop.error)
