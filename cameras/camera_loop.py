"""One camera's per-frame loop, the only one: frames → detections → embeddings → tracker → sinks.

``mtmct track``, :func:`mtmct.track`, ``mtmct detect``, ``mot_predict`` and every camera actor of a multi-camera
run go through :func:`run_camera_loop`; they differ only in where detections come from and which sinks they
attach. Each frame becomes one :class:`~cameras.tracked_frame.TrackedFrame` that every sink sees. Wall time is
booked per stage (decode, detect, embed, track, and each sink's own stage) so benchmarks can say where a frame's
milliseconds go.

With a tracker whose ``embed_interval`` is set, ReID runs where the tracker's decision needs it
(:meth:`cameras.deepsort.DeepSort.update` given ``embed``): boxes that motion alone matches unambiguously are not
embedded, except every ``embed_interval`` frames per track. Otherwise, or with ``embed_every_frame``, every box of
every frame is embedded first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from threadpoolctl import threadpool_limits
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
    detections: int = 0  # boxes the detector gave
    embedded: int = 0  # of those, how many the ReID model embedded
    dropped: int = 0  # source frames skipped to keep up with real time (cameras.realtime_frames)

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
    embed_every_frame: bool = False,
) -> LoopResult:
    """Run every frame through detection, ReID (when ``embedder`` is given and the frame has pixels), the tracker
    (None: detection only, every frame's tracks are empty) and then each sink in order.

    ``frames`` yields :class:`~mtmct.core.frame.Frame`\\ s (``image`` None when tracking a det file without
    footage); ``total`` is the frame count for the progress bar (None for live sources); ``max_frames`` stops
    early; ``on_frame`` is told the count of source frames passed after each one, processed or dropped (a camera
    actor's progress); ``frames`` that count their drops (:class:`~cameras.realtime_frames.RealtimeFrames`'s
    ``dropped``) have them in the result and on the progress bar;
    ``embed_every_frame`` embeds every box before tracking instead of only those the tracker asks for. A
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
    # numpy's small matrices (Kalman filter, costs) gain nothing from BLAS threads, and right after a model's
    # inference those threads wait for cores the runtime's workers still hold (measured: Mahalanobis solves 3 ms
    # each instead of microseconds); models keep their own thread settings
    blas = threadpool_limits(limits={"libopenblas": 1})
    try:
        for frame in _timed(iter(frames), seconds):
            t0 = time.perf_counter()
            dets = detect(frame)
            t1 = time.perf_counter()
            result.detections += len(dets)
            lazy = None
            if embedder is not None and frame.image is not None and len(dets):
                if embed_every_frame or tracker is None or tracker.embed_interval is None:
                    dets = dets.with_embeddings(embedder.embed_boxes(frame.image, dets.xyxy))
                    result.embedded += len(dets)
                else:
                    lazy = _LazyEmbed(embedder, frame.image, dets.xyxy)
            t2 = time.perf_counter()
            tracks = TrackRows.empty() if tracker is None else tracker.update(dets, embed=lazy)
            t3 = time.perf_counter()
            asked = 0.0 if lazy is None else lazy.seconds  # ReID the tracker asked for, inside its update
            if lazy is not None:
                result.embedded += lazy.count
            seconds["detect"] += t1 - t0
            seconds["embed"] += t2 - t1 + asked
            seconds["track"] += t3 - t2 - asked
            tracked = TrackedFrame(frame.index, frame.timestamp, frame.image, dets, tracks)
            for sink in sinks:
                start = time.perf_counter()
                sink.update(tracked)
                seconds[sink.stage] += time.perf_counter() - start
            result.frames += 1
            dropped = getattr(frames, "dropped", 0)
            if dropped != result.dropped:
                result.dropped = dropped
                bar.set_postfix_str(f"{dropped} dropped", refresh=False)
            bar.update(result.frames + dropped - bar.n)
            if on_frame is not None:
                on_frame(result.frames + dropped)
            if max_frames is not None and result.frames + dropped >= max_frames:  # the first N of the source
                break
    except SourceError as exc:
        result.error = str(exc)
        log.warning("%s", exc)
    finally:
        result.dropped = getattr(frames, "dropped", 0)
        blas.restore_original_limits()
        bar.close()
        for sink in sinks:
            start = time.perf_counter()
            sink.close()
            seconds[sink.stage] += time.perf_counter() - start
    return result


class _LazyEmbed:
    """The tracker's ``embed`` callable for one frame: embeds the rows it is asked for and books the time and count."""

    def __init__(self, embedder: Embedder, image, xyxy) -> None:
        self.embedder, self.image, self.xyxy = embedder, image, xyxy
        self.seconds, self.count = 0.0, 0

    def __call__(self, rows):
        start = time.perf_counter()
        try:
            return self.embedder.embed_boxes(self.image, self.xyxy[rows])
        finally:
            self.seconds += time.perf_counter() - start
            self.count += len(rows)


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
