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
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cameras.tracklet_builder import TrackletBuilder, TrackletSink
from mtmct.core.calibration import GroundCalibration
from mtmct.core.camera_config import CameraConfig, ModelsConfig
from mtmct.core.errors import MtmctError
from mtmct.core.secrets import mask_secrets
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
    detections: int = 0  # boxes the detector gave
    embedded: int = 0  # of those, how many the ReID model embedded
    dropped: int = 0  # source frames skipped to keep up with real time (``realtime``)

    @property
    def ok(self) -> bool:
        return self.error is None


def ground_calibration(camera: CameraConfig) -> GroundCalibration | None:
    """The camera's ground calibration: ``calibration:``, else the plain ``homography:`` (metres), else None."""
    if camera.calibration is not None:
        return camera.calibration.build()
    if camera.homography is not None:
        return GroundCalibration.from_homography(np.asarray(camera.homography, np.float64))
    return None


class CameraWorker:
    """Track one camera of a camera set and build its tracklets.

    ``tracker_cfg`` is a DeepSort YAML path, a mapping of DeepSort arguments, or None (the shipped preset: the
    motion-only one when the models have no ReID); its ``max_age`` is the
    tracklet builder's ``max_gap``. ``threads`` caps the CPU threads of each model so several cameras can
    share a machine. ``max_frames`` stops early (tests, previews). ``builder`` holds extra
    :class:`TrackletBuilder` arguments (min_frames, min_height, n_crops ...). ``realtime`` reads the source at its
    own pace and drops the frames the camera cannot keep up with (:mod:`cameras.realtime_frames`); a camera of
    detections only (``det_file``) has no clock and is not paced. ``resume_after`` (frames) and ``track_ids_after``
    continue a camera a live run stored part of: it goes on after that frame
    (:meth:`cameras.source.Source.continue_after`) with track ids above the stored ones; ``max_frames`` still counts
    from the footage's start. ``piece_s``: hand tracks still open over in pieces every ``piece_s`` seconds of
    footage too (:meth:`take_tracklets`, a live run).
    """

    def __init__(self, camera_cfg: CameraConfig, models_cfg: ModelsConfig, tracker_cfg: str | dict | None,
                 out_dir: str | Path, threads: int | None = 1, max_frames: int | None = None,
                 builder: dict[str, Any] | None = None, realtime: bool = False, resume_after: int = 0,
                 track_ids_after: int = 0, piece_s: float | None = None) -> None:
        self.camera, self.models, self.tracker_cfg = camera_cfg, models_cfg, tracker_cfg
        self.piece_s = piece_s
        self.realtime, self.resume_after, self.track_ids_after = realtime, resume_after, track_ids_after
        self.out_dir, self.threads, self.max_frames = Path(out_dir), threads, max_frames
        self.builder_args = dict(builder or {})
        self._lock = threading.Lock()
        self._done, self._total = 0, None
        self._paced: Any = None  # the RealtimeFrames being read, for its drop count
        self._sink: TrackletSink | None = None
        self._taken = self._pieces_taken = 0  # the sink's tracklets and pieces take_tracklets() handed out
        self._fps: float | None = None

    def progress(self) -> tuple[int, int | None, int]:
        """(source frames passed, processed or dropped; frames expected, None for live sources; frames dropped to
        keep up with real time); safe to call while ``run`` works."""
        with self._lock:
            return self._done, self._total, 0 if self._paced is None else self._paced.dropped

    def take_tracklets(self) -> tuple[list[Tracklet], float | None]:
        """(tracklets closed since the last call, after pieces of the tracks still open since then (``piece_s``), so
        a key's closed tracklet comes after its pieces; the camera's present in seconds on the shared clock, None
        before its first frame): what a live run fuses while the camera works. Safe to call while ``run`` works."""
        with self._lock:
            sink, done, fps = self._sink, self._done, self._fps
            if sink is None:
                return [], None
            # closed first: a piece made after this read is of a track still open, so it never follows its close
            closed = sink.tracklets[self._taken:]
            pieces = sink.pieces[self._pieces_taken:]
            self._taken += len(closed)
            self._pieces_taken += len(pieces)
            new = pieces + closed
        now = None if not done or not fps else self.camera.clock_offset + (self.resume_after + done - 1) / fps
        return new, now

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
        from cameras.tracker_registry import load_tracker
        from cameras.det_file import DetFile
        from cameras.detector import load_detector
        from cameras.embedder import load_embedder
        from cameras.mot_writer import MotWriter
        from cameras.open_source import open_source
        from cameras.realtime_frames import RealtimeFrames

        start = time.perf_counter()
        result = CameraResult(self.camera.id)
        source, tracklet_sink = None, None
        try:
            m, after = self.models, self.resume_after
            limit = None if self.max_frames is None else max(self.max_frames - after, 0)
            det = None
            if self.camera.det_file:
                det = DetFile(self.camera.det_file, conf=m.conf if self.camera.det_conf is None else self.camera.det_conf)
            if det is not None:  # a camera without footage: its detections, numbered frames, motion only
                frames, total, detect = det.frames(self.camera.fps), det.last_frame, det.detect
                frames = (f for f in frames if f.index > after)
            else:
                source = open_source(self.camera.source, fps=self.camera.fps)  # first: a missing source fails fast
                source.continue_after(after)
                frames, total = source, source.frame_count
                self._fps = source.fps
                if self.realtime and limit != 0:
                    frames = self._paced = RealtimeFrames(source, limit=limit)
            if limit == 0:  # a resumed camera that had done its first max_frames already
                frames = iter(())
            if total is not None:
                total = max(total - after, 0)
            with self._lock:
                self._total = total if limit is None else min(total or limit, limit)
            if det is None:
                detector = load_detector(m.detector, device=m.device, conf=m.conf,
                                         classes=None if m.classes is None else list(m.classes), threads=self.threads)
                detect = lambda frame: detector.detect(frame.image)  # noqa: E731 - the loop's detect callable
            one_shot = det is None and getattr(detector, "one_shot", False)  # FairMOT / JDE: boxes carry embeddings
            motion_only = not one_shot and (m.reid is None or det is not None)
            tracker = load_tracker(self.tracker_cfg, motion_only=motion_only)
            tracker.continue_ids(self.track_ids_after)
            builder = TrackletBuilder(self.camera.id, max_gap=tracker.max_age, clock_offset=self.camera.clock_offset,
                                      calibration=ground_calibration(self.camera), **self.builder_args)
            reid = None if motion_only or one_shot else load_embedder(m.reid, device=m.device, threads=self.threads)
            mot = MotWriter(self.out_dir / f"{self.camera.id}.txt", keep_rows=False)
            tracklet_sink = TrackletSink(builder, self.piece_s)
            with self._lock:
                self._sink = tracklet_sink
            loop = run_camera_loop(frames, detect, tracker, [mot, tracklet_sink],
                                   embedder=reid, total=total, max_frames=limit,
                                   name=self.camera.id, progress=False, on_frame=self._frame_done,
                                   embed_every_frame=m.embed_every_frame)
            result.frames, result.mot_file, result.error = loop.frames, mot.path, loop.error
            result.seconds, result.detections, result.embedded = loop.seconds, loop.detections, loop.embedded
            result.dropped = loop.dropped
        except Exception as exc:  # noqa: BLE001 - reported, so the other cameras finish
            user_error = isinstance(exc, MtmctError)
            message = mask_secrets(str(exc))  # a source URL in the message keeps its password out of logs and rows
            log.warning("camera %s failed: %s", self.camera.id, message, exc_info=not user_error)
            passed, _, dropped = self.progress()
            result.frames, result.dropped = passed - dropped, dropped
            result.error = f"{self.camera.id}: {message if user_error else f'{type(exc).__name__}: {message}'}"
        finally:
            if source is not None:
                source.close()
        result.tracklets = tracklet_sink.tracklets if tracklet_sink is not None else []
        result.wall_s = time.perf_counter() - start
        log.info("camera %s: %d frames%s, %d tracklets in %.1f s%s", self.camera.id, result.frames,
                 f" ({result.dropped} dropped)" if result.dropped else "", len(result.tracklets), result.wall_s,
                 f" ({result.error})" if result.error else "")
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


def pool_slots(num_cpus: float = 1) -> int:
    """How many camera actors of ``num_cpus`` CPUs the connected Ray cluster runs at once (at least 1).

    Counted from the cluster's CPUs, not the free ones: the pool is the only user it plans for, and a cluster
    that is busy elsewhere just makes a created actor wait for its CPU."""
    import ray

    if num_cpus <= 0:
        raise ValueError(f"num_cpus must be positive, got {num_cpus}")
    return max(1, int(ray.cluster_resources().get("CPU", 0) // num_cpus))


def run_camera_actors(workers: Sequence[dict[str, Any]], slots: int | None = None, num_cpus: float = 1,
                      progress: bool = True, poll_s: float = 0.25,
                      on_result: Callable[[CameraResult], None] | None = None,
                      stop: threading.Event | None = None,
                      on_tracklets: Callable[[str, list[Tracklet], float | None], None] | None = None,
                      ) -> list[CameraResult]:
    """Run one camera per item of ``workers`` (:class:`CameraWorker` arguments) as Ray actors, at most ``slots``
    at a time (default :func:`pool_slots`); results in the workers' order.

    Why a pool: a Ray actor holds its CPU until it is killed, so creating every camera's actor up front left the
    cameras beyond the cluster's CPUs waiting forever for CPUs the finished ones never gave back. Here an actor is
    created only when a slot is free and killed as soon as its result is in, and the next queued camera starts.

    ``on_result`` sees each camera's result as soon as it finishes (e.g. to store it, so a run killed later keeps
    the cameras already done). When ``stop`` is set the pool kills its running actors within ``poll_s`` and
    returns the results it has (the cameras not finished are left out); an exception (KeyboardInterrupt) kills
    them too. Progress: one tqdm line for the pool ("2 running, 5 queued, 1 done") and, up to
    :data:`MAX_BARS` cameras, one bar per camera that says "queued" until the camera starts. ``on_tracklets``
    (a live run) sees each running camera's newly closed tracklets and its present, every poll (camera id,
    tracklets, seconds); a camera's last ones come with its result.
    """
    import ray

    cameras = [w["camera_cfg"].id for w in workers]
    slots = pool_slots(num_cpus) if slots is None else slots
    if slots < 1:
        raise ValueError(f"slots must be at least 1, got {slots}")
    actor_cls = camera_actor_class(num_cpus)
    view = _PoolProgress(cameras, enabled=progress)
    queue = deque(range(len(workers)))
    running: dict[Any, tuple[int, Any]] = {}  # run() ref -> (camera index, actor)
    polls: dict[int, Any] = {}  # camera index -> pending progress() ref
    takes: dict[int, Any] = {}  # camera index -> pending take_tracklets() ref
    results: dict[int, CameraResult] = {}
    try:
        while queue or running:
            if stop is not None and stop.is_set():
                log.info("camera pool stopped: killed %d running, %d queued not started",
                         len(running), len(queue))
                break
            while queue and len(running) < slots:
                i = queue.popleft()
                actor = actor_cls.remote(**workers[i])
                running[actor.run.remote()] = (i, actor)
                view.started(i)
                log.info("camera %s started (%d running, %d queued)", cameras[i], len(running), len(queue))
            ready, _ = ray.wait(list(running), num_returns=1, timeout=poll_s)
            if stop is not None and stop.is_set():
                continue  # a result that lands with the stop (an actor the same Ctrl-C hit) is not stored
            for ref in ready:
                i, actor = running.pop(ref)
                results[i] = _result(ref, cameras[i])
                polls.pop(i, None)
                takes.pop(i, None)
                ray.kill(actor, no_restart=True)  # its CPU is free now, for the next queued camera
                view.finished(i, results[i].frames + results[i].dropped)
                if on_result is not None:
                    on_result(results[i])
            if progress:
                _poll_progress(running, polls, view)
            if on_tracklets is not None:
                _poll_tracklets(running, takes, cameras, on_tracklets)
    finally:
        for _, actor in running.values():
            ray.kill(actor, no_restart=True)
        view.close()
    return [results[i] for i in sorted(results)]


MAX_BARS = 16  # more cameras than this show only the pool's line: a bar per camera would fill the terminal


class _PoolProgress:
    """The pool's tqdm line and the per-camera bars; every method is a no-op when progress is off."""

    def __init__(self, cameras: Sequence[str], enabled: bool) -> None:
        from tqdm import tqdm

        self.cameras, self.enabled = cameras, enabled
        self.state = ["queued"] * len(cameras)
        self.pool = tqdm(total=len(cameras), desc="cameras", unit="camera", position=0, disable=not enabled,
                         dynamic_ncols=True, bar_format="{desc}: {n_fmt}/{total_fmt} done{postfix}")
        per_camera = enabled and len(cameras) <= MAX_BARS
        self.bars = [tqdm(total=None, desc=f"{cam} (queued)", unit="frame", position=i + 1,
                          disable=not per_camera, dynamic_ncols=True) for i, cam in enumerate(cameras)]
        self._postfix()

    def _postfix(self) -> None:
        counts = {s: self.state.count(s) for s in ("running", "queued")}
        self.pool.set_postfix_str(f"{counts['running']} running, {counts['queued']} queued")

    def started(self, i: int) -> None:
        self.state[i] = "running"
        self.bars[i].reset()  # its clock (elapsed, rate) starts now, not when it was queued
        self.bars[i].set_description(self.cameras[i])
        self._postfix()

    def finished(self, i: int, frames: int) -> None:
        self.state[i] = "done"
        bar = self.bars[i]
        if bar.total is None:
            bar.total = frames
        bar.update(frames - bar.n)
        self.pool.update(1)
        self._postfix()

    def frames(self, i: int, done: int, total: int | None, dropped: int = 0) -> None:
        bar = self.bars[i]
        if dropped:
            bar.set_postfix_str(f"{dropped} dropped", refresh=False)
        if total is not None and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars:
            bar.close()
        self.pool.close()


def _poll_progress(running: dict[Any, tuple[int, Any]], polls: dict[int, Any], view: _PoolProgress) -> None:
    """Update the bars from the ``progress()`` answers that are in, without waiting for any (an actor still
    loading its models answers late, and the pool must keep reacting to results and stops)."""
    import ray

    if polls:
        done, _ = ray.wait(list(polls.values()), num_returns=len(polls), timeout=0)
        for i in [i for i, ref in polls.items() if ref in done]:
            ref = polls.pop(i)
            try:
                view.frames(i, *ray.get(ref))
            except ray.exceptions.RayError:  # the actor died; its run() result says so
                pass
    for i, actor in running.values():
        if i not in polls:
            polls[i] = actor.progress.remote()


def _poll_tracklets(running: dict[Any, tuple[int, Any]], takes: dict[int, Any], cameras: Sequence[str],
                    on_tracklets: Callable[[str, list[Tracklet], float | None], None]) -> None:
    """Hand the ``take_tracklets()`` answers that are in to ``on_tracklets``, without waiting, and ask again."""
    import ray

    if takes:
        done, _ = ray.wait(list(takes.values()), num_returns=len(takes), timeout=0)
        for i in [i for i, ref in takes.items() if ref in done]:
            ref = takes.pop(i)
            try:
                new, now = ray.get(ref)
            except ray.exceptions.RayError:  # the actor died; its run() result says so
                continue
            on_tracklets(cameras[i], new, now)
    for i, actor in running.values():
        if i not in takes:
            takes[i] = actor.take_tracklets.remote()


def _result(ref: Any, name: str) -> CameraResult:
    """The actor's result; an actor that died (killed, out of memory) becomes a result with the error."""
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return CameraResult(name, error=f"{name}: camera actor failed: {first}")
