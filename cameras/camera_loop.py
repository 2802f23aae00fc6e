"""One camera's per-frame loop, the only one: frames → detections → embeddings → tracker → sinks.

``mtmct track``, :func:`mtmct.track`, ``mtmct detect``, ``mot_predict`` and every camera actor of a multi-camera
run go through :func:`run_camera_loop`; they differ only in where detections come from and which sinks they
attach. Each frame becomes one :class:`~cameras.tracked_frame.TrackedFrame` that every sink sees. Wall time is
booked per stage (decode, detect, embed, track, and each sink's own stage) so benchmarks can say where a frame's
milliseconds go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from cameras.deepsort import DeepSort
from cameras.embedder import Embedder
from cameras.sink import Sink
from cameras.source import SourceError
from cameras.track_rows import TrackRows
from cameras.tracked_frame import TrackedFrame
from mtmct.core.detections import Detections
from mtmct.core.frame import Frame

log = logging.getLogger(__name__)

STAGES = ("decode", "detect", "embed", "track", "write")
"""Stages every loop reports (zero when unused); sinks may add their own (the tracklet builder's ``tracklets``)."""

Detect = Callable[[Frame], Detections]
"""Where a frame's detections come from: ``lambda f: detector.detect(f.image)`` or a det file's lookup."""


@dataclass
class LoopResult:
    """How far the loop got: ``frames`` processed, ``seconds`` of wall time per stage, and ``error`` when the source
    failed part-way (what came before it went through every sink)."""

    frames: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    error: str | None = None

    @property
    def fps(self) -> float:
        total = sum(self.seconds.values())
        return self.frames / total if total > 0 else 0.0

    def ms_per_frame(self) -> dict[str, float]:
        return {k: 1000.0 * v / max(self.frames, 1) for k, v in self.seconds.items()}


def run_camera_loop(
    frames: Iterable[Frame],
    detect: Detect,
    tracker: DeepSort | None,
    sinks: Sequence[Sink] = (),
    embedder: Embedder | None = None,
    total: int | None = None,
    max_frames: int | None = None,
    name: str = "",
    progress: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> LoopResult:
    """Run every frame through detection, ReID (when ``embedder`` is given and the frame has pixels), the tracker
    (None: detection only, every frame's tracks are empty) and then each sink in order.

    ``frames`` yields :class:`~mtmct.core.frame.Frame`\\ s (``image`` None when tracking a det file without
    footage); ``total`` is the frame count for the progress bar (None for live sources); ``max_frames`` stops
    early; ``on_frame`` is told the count of frames done after each one (a camera actor's progress). A
    :class:`~cameras.source.SourceError` ends the loop with ``error`` set; any other error propagates. Sinks are
    closed either way, so their files hold every frame that was processed.
    """
    result = LoopResult()
    seconds = result.seconds
    for sink in sinks:
        seconds.setdefault(sink.stage, 0.0)
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    bar = tqdm(total=total, unit="frame", desc=name or None, disable=not progress, dynamic_ncols=True)
    try:
        for frame in _timed(iter(frames), seconds):
            t0 = time.perf_counter()
            dets = detect(frame)
            t1 = time.perf_counter()
            if embedder is not None and frame.image is not None and len(dets):
                dets = dets.with_embeddings(embedder.embed_boxes(frame.image, dets.xyxy))
            t2 = time.perf_counter()
            tracks = tracker.update(dets) if tracker is not None else TrackRows.empty()
            t3 = time.perf_counter()
            seconds["detect"] += t1 - t0
            seconds["embed"] += t2 - t1
            seconds["track"] += t3 - t2
            tracked = TrackedFrame(frame.index, frame.timestamp, frame.image, dets, tracks)
            for sink in sinks:
                start = time.perf_counter()
                sink.update(tracked)
                seconds[sink.stage] += time.perf_counter() - start
            result.frames += 1
            bar.update(1)
            if on_frame is not None:
                on_frame(result.frames)
            if max_frames is not None and result.frames >= max_frames:
                break
    except SourceError as exc:
        result.error = str(exc)
        log.warning("%s", exc)
    finally:
        bar.close()
        for sink in sinks:
            start = time.perf_counter()
            sink.close()
            seconds[sink.stage] += time.perf_counter() - start
    return result


def _timed(iterator: Iterator[Frame], seconds: dict[str, float]) -> Iterator[Frame]:
    """Yield from ``iterator``, adding the time spent producing each item to ``seconds['decode']``."""
    while True:
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            return
        finally:
            seconds["decode"] += time.perf_counter() - start
        yield item
