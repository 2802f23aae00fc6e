"""One camera's whole job, as a plain class and as a Ray actor: decode → detect → embed → DeepSORT → tracklets.

The per-frame loop is :func:`cameras.camera_loop.run_camera_loop` (the same loop ``mtmct track`` runs); the
worker attaches a MOT writer and the tracklet builder as its sinks. A camera that fails (missing file, dropped stream, a model that
will not load) reports the error in its :class:`CameraResult` instead of raising, so one bad camera never
takes the other cameras' results down with it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cameras.tracklet_builder import TrackletBuilder, TrackletSink
from mtmct.core.camera_config import CameraConfig, ModelsConfig
from mtmct.core.errors import MtmctError
from mtmct.core.tracklet import Tracklet

log = logging.getLogger(__name__)


@dataclass
class CameraResult:
    """What one camera produced. ``seconds`` holds per-stage wall time (decode, detect, embed, track, write,
    tracklets); ``wall_s`` the whole run including model loading; ``error`` is set when the camera failed
    (what came before the failure is kept)."""

    camera_id: str
    frames: int = 0
    wall_s: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    tracklets: list[Tracklet] = field(default_factory=list)
    mot_file: Path | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class CameraWorker:
    """Track one camera of a camera set and build its tracklets.

    ``tracker_cfg`` is a DeepSort YAML path, a mapping of DeepSort arguments, or None (the shipped preset: the
    motion-only one when the models have no ReID); its ``max_age`` is the
    tracklet builder's ``max_gap``. ``threads`` caps the CPU threads of each model so several cameras can
    share a machine. ``max_frames`` stops early (tests, previews). ``builder`` holds extra
    :class:`TrackletBuilder` arguments (min_frames, min_height, n_crops ...).
    """

    def __init__(self, camera_cfg: CameraConfig, models_cfg: ModelsConfig, tracker_cfg: str | dict | None,
                 out_dir: str | Path, threads: int | None = 1, max_frames: int | None = None,
                 builder: dict[str, Any] | None = None) -> None:
        self.camera, self.models, self.tracker_cfg = camera_cfg, models_cfg, tracker_cfg
        self.out_dir, self.threads, self.max_frames = Path(out_dir), threads, max_frames
        self.builder_args = dict(builder or {})
        self._lock = threading.Lock()
        self._done, self._total = 0, None

    def progress(self) -> tuple[int, int | None]:
        """(frames done, frames expected; None for live sources); safe to call while ``run`` works."""
        with self._lock:
            return self._done, self._total

    def run(self) -> CameraResult:
        """Process the whole source; never raises (errors are reported in the result)."""
        if not self.threads:
            return self._run()
        import cv2
        from threadpoolctl import threadpool_limits

        # OpenCV's resize/decode and numpy's BLAS would otherwise use every core beside the capped models.
        before = cv2.getNumThreads()
        cv2.setNumThreads(self.threads)
        try:
            with threadpool_limits(limits=self.threads):
                return self._run()
        finally:
            cv2.setNumThreads(before)

    def _run(self) -> CameraResult:
        from cameras.camera_loop import run_camera_loop
        from cameras.deepsort import load_tracker
        from cameras.detector import load_detector
        from cameras.embedder import load_embedder
        from cameras.mot_writer import MotWriter
        from cameras.open_source import open_source

        start = time.perf_counter()
        result = CameraResult(self.camera.id)
        source, tracklet_sink = None, None
        try:
            source = open_source(self.camera.source, fps=self.camera.fps)  # first: a missing source fails fast
            with self._lock:
                total = source.frame_count
                self._total = total if self.max_frames is None else min(total or self.max_frames, self.max_frames)
            m = self.models
            motion_only = m.reid is None
            tracker = load_tracker(self.tracker_cfg, motion_only=motion_only)
            builder = TrackletBuilder(self.camera.id, max_gap=tracker.max_age, clock_offset=self.camera.clock_offset,
                                      **self.builder_args)
            detector = load_detector(m.detector, device=m.device, conf=m.conf,
                                     classes=None if m.classes is None else list(m.classes), threads=self.threads)
            reid = None if motion_only else load_embedder(m.reid, device=m.device, threads=self.threads)
            mot = MotWriter(self.out_dir / f"{self.camera.id}.txt", keep_rows=False)
            tracklet_sink = TrackletSink(builder)
            loop = run_camera_loop(source, lambda frame: detector.detect(frame.image), tracker, [mot, tracklet_sink],
                                   embedder=reid, total=source.frame_count, max_frames=self.max_frames,
                                   name=self.camera.id, progress=False, on_frame=self._frame_done)
            result.frames, result.mot_file, result.error = loop.frames, mot.path, loop.error
            result.seconds = loop.seconds
        except Exception as exc:  # noqa: BLE001 - reported, so the other cameras finish
            user_error = isinstance(exc, MtmctError)
            log.warning("camera %s failed: %s", self.camera.id, exc, exc_info=not user_error)
            result.frames = self.progress()[0]
            result.error = f"{self.camera.id}: {exc if user_error else f'{type(exc).__name__}: {exc}'}"
        finally:
            if source is not None:
                source.close()
        result.tracklets = tracklet_sink.tracklets if tracklet_sink is not None else []
        result.wall_s = time.perf_counter() - start
        log.info("camera %s: %d frames, %d tracklets in %.1f s%s", self.camera.id, result.frames,
                 len(result.tracklets), result.wall_s, f" ({result.error})" if result.error else "")
        return result

    def _frame_done(self, done: int) -> None:
        with self._lock:
            self._done = done


@functools.cache
def camera_actor_class(num_cpus: float = 1):
    """The Ray actor class of :class:`CameraWorker`. Two concurrency slots so ``progress()`` answers while
    ``run()`` works; Ray is imported only here."""
    import ray

    return ray.remote(num_cpus=num_cpus, max_concurrency=2)(CameraWorker)


def run_camera_actors(actors: Sequence[Any], names: Sequence[str], progress: bool = True,
                      poll_s: float = 0.5, on_result: Callable[[CameraResult], None] | None = None,
                      ) -> list[CameraResult]:
    """Run ``actors`` (handles of :func:`camera_actor_class`) to the end, one tqdm bar per camera; results in
    the actors' order. ``on_result`` sees each camera's result as soon as it finishes (e.g. to store it, so a
    run killed later keeps the cameras already done)."""
    import ray
    from tqdm import tqdm

    refs = [actor.run.remote() for actor in actors]
    bars = [tqdm(total=None, desc=name, unit="frame", position=i, disable=not progress, dynamic_ncols=True)
            for i, name in enumerate(names)]
    pending = list(refs)
    results: dict[int, CameraResult] = {}
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=poll_s)
            for bar, actor in zip(bars, actors):
                if progress:
                    _update_bar(bar, actor)
            for ref in ready:
                i = refs.index(ref)
                results[i] = _result(ref, names[i])
                if on_result is not None:
                    on_result(results[i])
    finally:
        for bar in bars:
            bar.close()
        for actor in actors:  # free each actor's CPU now: Ray would release it only when the handle is collected
            ray.kill(actor)
    return [results[i] for i in range(len(refs))]


def _update_bar(bar: Any, actor: Any) -> None:
    import ray

    try:
        done, total = ray.get(actor.progress.remote(), timeout=5)
    except ray.exceptions.RayError:  # the actor died; its run() result says so
        return
    if total is not None and bar.total != total:
        bar.total = total
        bar.refresh()
    bar.update(done - bar.n)


def _result(ref: Any, name: str) -> CameraResult:
    """The actor's result; an actor that died (killed, out of memory) becomes a result with the error."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CameraResult(name, error=f"{name}: camera actor failed: {first}")
