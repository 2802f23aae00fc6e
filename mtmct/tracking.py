"""Single-camera tracking for people: ``mtmct track`` and the Python API :func:`mtmct.track`.

This module only resolves what the user gave (paths, registry names, flags) into a source, a detection source,
models, a tracker and sinks; the per-frame work is :func:`cameras.camera_loop.run_camera_loop`, the same loop
every camera actor of a multi-camera run uses.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cameras.annotate import Annotator
from cameras.camera_loop import LoopResult, run_camera_loop
from cameras.tracker_registry import Tracker, load_tracker
from cameras.det_file import DetFile
from cameras.detector import Detector, load_detector
from cameras.embedder import Embedder, load_embedder
from cameras.mot_writer import MotWriter
from cameras.open_source import open_source
from cameras.realtime_frames import RealtimeFrames
from cameras.sink import Sink
from cameras.source import DEFAULT_FPS, Source
from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_CONF", "DEFAULT_DETECTOR", "DEFAULT_REID", "TrackResult", "load_tracker", "track"]

DEFAULT_DETECTOR = "picodet_s_192_lcnet_pedestrian"  # PaddleDetection's own, pulled on first use
DEFAULT_REID = "reid_model"
DEFAULT_CONF = 0.3  # detector threshold; DeepSORT splits high/low scores above it


@dataclass
class TrackResult(LoopResult):
    """What one camera's tracking produced: the loop's frames, per-stage ``seconds`` and ``error``, plus ``rows``
    (MOT rows ``frame,id,x,y,w,h,score,-1,-1,-1``) and the files written."""

    camera_id: str = ""
    rows: np.ndarray = field(default_factory=lambda: np.zeros((0, 10)))
    mot_file: Path | None = None
    video_file: Path | None = None

    @property
    def track_ids(self) -> list[int]:
        return sorted(set(self.rows[:, 1].astype(int))) if len(self.rows) else []


def track(
    source: str | os.PathLike[str] | int | Source | None = None,
    out: str | Path | None = None,
    camera_id: str | None = None,
    detector: str | Detector | None = None,
    reid: str | Embedder | None = None,
    det_file: str | Path | None = None,
    motion_only: bool = False,
    conf: float = DEFAULT_CONF,
    classes: list[int] | None = None,
    save_video: bool = False,
    draw_threshold: float = 0.0,
    device: str = "cpu",
    tracker: str | Path | dict | Tracker | None = None,
    fps: float | None = None,
    progress: bool = True,
    max_frames: int | None = None,
    sinks: tuple[Sink, ...] = (),
    embed_every_frame: bool = False,
    realtime: bool = False,
) -> TrackResult:
    """Track one camera. Returns the MOT rows, and writes ``out/<camera_id>.txt`` when ``out`` is given.

    ``source`` is a video file, frame folder, device index, stream URL or an opened :class:`Source` (closed
    here). Detections come from ``detector`` (registry name, path or instance) or, like PaddleDetection's
    DeepSORT, from a MOT ``det_file``; with a source the ReID model ``reid`` embeds the crops, without one (or
    with ``motion_only``) tracking uses motion only. ``camera_id`` names the output files (default: the source's
    or det file's id, never a path, so every file lands inside ``out``); ``save_video`` also writes
    ``<camera_id>.mp4`` there with boxes scored at least ``draw_threshold``. ``tracker`` is a tracker (any of
    :mod:`cameras.tracker_registry`), its type, YAML or a mapping of its arguments. ``max_frames`` stops early;
    ``sinks`` are extra sinks that see every frame. A one-shot ``detector`` (a FairMOT / JDE export) gives each box
    its embedding, so no ``reid`` model runs, and with no ``tracker`` it tracks with JDE association
    (:mod:`cameras.jde`) at the export's own thresholds.
    ReID embeds only the boxes the tracker's decision needs (see :mod:`cameras.deepsort`); ``embed_every_frame``
    embeds every box of every frame instead (slower; the behaviour before that policy). ``realtime`` reads the
    source at its own pace and drops the frames tracking cannot keep up with (:mod:`cameras.realtime_frames`;
    counted in ``dropped``).
    """
    if source is None and det_file is None:
        raise MtmctError("nothing to track: give a SOURCE, a --det-file, or both")
    if save_video and source is None:
        raise MtmctError("--save-video needs a SOURCE to draw on")
    if realtime and source is None:
        raise MtmctError("--realtime needs a SOURCE to pace (a det file alone has no clock)")
    dets = DetFile(det_file, conf) if det_file is not None else None
    motion_only = motion_only or source is None
    src = source if isinstance(source, Source) else None  # an opened source is closed here, whatever fails
    try:
        det = None
        if dets is None:
            det = detector if isinstance(detector, Detector) else load_detector(
                detector or DEFAULT_DETECTOR, device=device, conf=conf, classes=classes)
        one_shot = getattr(det, "one_shot", False)  # FairMOT / JDE: the boxes carry their embeddings
        if tracker is None and one_shot and not motion_only:
            tracker = det.tracker_config()
        loadable = tracker is None or isinstance(tracker, (str, os.PathLike, Mapping))  # a dict has .update too
        trk = load_tracker(tracker, motion_only=motion_only) if loadable else tracker
        if src is None and source is not None:
            src = open_source(source, fps=fps)
        emb = None
        if not motion_only and not one_shot:
            emb = reid if isinstance(reid, Embedder) else load_embedder(reid or DEFAULT_REID, device=device)
        camera_id = camera_id or (src.camera_id if src is not None else dets.camera_id)
        writer = MotWriter(None if out is None else Path(out) / f"{camera_id}.txt")
        video = Annotator(Path(out or ".") / f"{camera_id}.mp4", src.fps, draw_threshold=draw_threshold) \
            if save_video else None
        if src is not None:
            frames, total = (RealtimeFrames(src, limit=max_frames) if realtime else src), src.frame_count
        else:
            frames, total = dets.frames(fps or DEFAULT_FPS), dets.last_frame
        loop = run_camera_loop(frames, dets.detect if dets is not None else lambda frame: det.detect(frame.image),
                               trk, [writer, *([video] if video else []), *sinks], embedder=emb, total=total,
                               max_frames=max_frames, name=camera_id, progress=progress,
                               embed_every_frame=embed_every_frame)
    finally:
        if src is not None:
            src.close()
    return TrackResult(loop.frames, loop.seconds, loop.error, loop.detections, loop.embedded, loop.dropped,
                       camera_id=camera_id, rows=writer.rows, mot_file=writer.path,
                       video_file=video.path if video else None)
