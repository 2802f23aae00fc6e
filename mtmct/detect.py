"""`mtmct detect`: run a detector over a source and write MOTChallenge det text (and optionally a video)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from cameras.detector import Detector, load_detector
from cameras.source import SourceError
from cameras.open_source import camera_id_for, open_source
from cameras.annotate import VideoWriter, draw_boxes
from mtmct.core.mot_io import format_det_rows

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
    """Detect on every frame of ``source``; rows are flushed per frame so an interrupted run keeps its output."""
    det = detector if isinstance(detector, Detector) else load_detector(detector, device=device, conf=conf)
    src = open_source(source, fps=fps)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    camera_id = camera_id_for(source)
    det_file = out_dir / f"{camera_id}.txt"
    video = VideoWriter(out_dir / f"{camera_id}.mp4", src.fps) if save_video else None
    frames = boxes = 0
    error = None
    start = time.perf_counter()
    bar = tqdm(total=src.frame_count, unit="frame", desc=camera_id, disable=not progress, dynamic_ncols=True)
    try:
        with open(det_file, "w") as out:
            try:
                for frame in src:
                    dets = det.detect(frame.image)
                    out.write(format_det_rows(frame.index, dets))
                    out.flush()
                    if video is not None:
                        labels = [f"{s:.2f}" for s in dets.scores]
                        video.write(draw_boxes(frame.image.copy(), dets.xyxy, labels))
                    frames += 1
                    boxes += len(dets)
                    bar.update(1)
            except SourceError as exc:
                error = str(exc)
                log.warning("%s", exc)
    finally:
        bar.close()
        src.close()
        if video is not None:
            video.close()
    seconds = time.perf_counter() - start
    return DetectResult(det_file, video.path if video else None, frames, boxes, seconds, error)
