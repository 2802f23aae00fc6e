"""The multi-camera run (``mtmct run``): one Ray actor per camera, then fusion into global ids, then outputs.

Cameras never talk to each other: each actor decodes, detects, embeds and tracks its own footage and returns
closed tracklets; the driver fuses them under the camera topology and writes
``OUT/cameras/<camera>.txt`` (local ids), ``OUT/mtmct_result.txt`` (``camera,global_id,frame,x,y,w,h``),
``OUT/tracklets.jsonl`` + ``OUT/tracklets.npz`` (embeddings) and ``OUT/crops/``.

Everything also goes to a database (``--db``; SQLite ``OUT/mtmct.db`` by default): each camera in its own
transaction as soon as it finishes, so a run killed half-way keeps its finished cameras, stays marked
``running``, and ``resume=True`` completes it without redoing them. Re-running a run id replaces it.

Cameras run in a bounded pool (:func:`cameras.camera_actor.run_camera_actors`): as many at once as the Ray cluster
has CPUs, the rest queued, each finished camera's actor killed so the next one starts. SIGINT and SIGTERM stop a
run cleanly (:class:`RunInterrupted`): running actors killed, Ray shut down, stored cameras kept, the run left
``running`` for ``resume``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from cameras.camera_actor import CameraResult, CameraWorker, run_camera_actors
from fusion.fusion import fuse_report
from fusion.topology import Topology
from mtmct.core.atomic_file import atomic_write
from mtmct.core.camera_config import CameraSetConfig, load_camera_config
from mtmct.core.errors import MtmctError
from mtmct.core.fusion_report import FusionReport
from mtmct.core.mot_io import format_mot_rows
from mtmct.core.secrets import mask_secrets
from mtmct.core.tracklet import OPEN, GlobalIdentity, Tracklet
from mtmct.live_ids import DEFAULT_DELAY_S, DEFAULT_PIECE_S, LiveIds
from mtmct.ray_session import start_ray, stop_ray
from mtmct.world_trajectories import WORLD_FILE, world_table, write_world
from storage import Repository, open_database, resolve_url
from storage.run_lease import RunTakenOver
from storage.repository import boxes_from_tracklets
from storage.schema import FAILED, FINISHED, PARTIAL, RUNNING

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_id: str
    db_url: str
    out_dir: Path
    cameras: list[CameraResult]
    identities: list[GlobalIdentity] = field(default_factory=list)
    tracklets: list[Tracklet] = field(default_factory=list)
    fusion: FusionReport | None = None  # thresholds and transit windows fusion applied, and where they came from
    # the identities' ground trajectories (world_table's rows and times), computed once: mtmct_world.txt writes them
    # and the database keeps them for the dashboard's map; empty when no camera is calibrated
    world: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.zeros((0, 4)), np.zeros(0)))
    wall_s: float = 0.0
    fusion_s: float = 0.0

    @property
    def failed(self) -> list[CameraResult]:
        return [c for c in self.cameras if c.error]

    @property
    def result_file(self) -> Path:
        return self.out_dir / "mtmct_result.txt"

    @property
    def frames(self) -> int:
        return sum(c.frames for c in self.cameras)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM. What was stored stays, and the run stays ``running`` in the database, so
    ``run_cameras(..., resume=True)`` finishes it. A KeyboardInterrupt, so code that handles Ctrl-C handles it;
    ``exit_code`` is the shell's 128 + signal number (130 for SIGINT, 143 for SIGTERM). ``run_id`` is None when
    the signal came before the run was registered (nothing to resume)."""

    def __init__(self, signum: int, run_id: str | None, stored: int, total: int) -> None:
        self.signum, self.run_id, self.stored, self.total = signum, run_id, stored, total
        super().__init__(f"interrupted ({self.signal_name}): {stored} of {total} cameras stored")

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


STOP_GRACE_S = 8.0  # longest wait from SIGINT/SIGTERM to the exit of a run that handles signals (clean stops: 4-6 s)


class _SignalStop:
    """Turns SIGINT and SIGTERM into a clean stop of :func:`run_cameras`.

    Inside :meth:`deferred` (Ray starting, the camera pool, storing a camera, Ray shutting down) a signal only sets
    :attr:`event`: the pool sees it within a poll and kills its actors, and no exception lands half-way through a
    Ray call or a database transaction. Elsewhere (fusion, outputs) the handler raises at once; the database
    writes there are transactions, so the run just stays unfinished. A second signal while the first one's stop is
    under way exits the process at once (a user pressing Ctrl-C again means now). Handlers are installed only from
    the main thread (Python allows no other) and the previous ones are restored on exit.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, install: bool = True, grace_s: float = STOP_GRACE_S,
                 announce: Callable[[RunInterrupted], None] | None = None) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        # signum -> the RunInterrupted to raise; the run sets its own once it is registered in the database
        self.describe: Callable[[int], RunInterrupted] = lambda signum: RunInterrupted(signum, None, 0, 0)
        self._install, self._defer = install, 0
        self._old: dict[int, object] = {}
        self.grace_s, self.announce = grace_s, announce
        self._overdue: threading.Timer | None = None

    def __enter__(self) -> _SignalStop:
        if self._install and threading.current_thread() is threading.main_thread():
            self._old = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        if self._overdue is not None:
            self._overdue.cancel()
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def reinstall(self) -> None:
        """Take the signals back after ``ray.init``, which sets its own SIGTERM handler in the driver."""
        if self._old:
            for sig in self.SIGNALS:
                signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            os._exit(128 + signum)
        self.signum = signum
        self.event.set()
        # a signal to the whole process group stops Ray's own processes too, and a Ray call in the stop can then
        # wait on them for good (seen once in a suite run): past the grace, say what the stop would and exit
        self._overdue = threading.Timer(self.grace_s, self._exit_overdue)
        self._overdue.daemon = True
        self._overdue.start()
        if not self._defer:
            raise self.describe(signum)

    def _exit_overdue(self) -> None:
        """The stop outlived ``grace_s``: announce it as the caller would and exit with the shell's code. What was
        stored stays (each camera is one transaction, as after a SIGKILL), so ``--resume`` finishes the run."""
        assert self.signum is not None  # set before the timer starts
        stop = self.describe(self.signum)
        log.warning("the clean stop took over %.0f s: exiting now", self.grace_s)
        if self.announce is not None:
            self.announce(stop)
        os._exit(stop.exit_code)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1

    def check(self) -> None:
        """Raise the deferred stop, if a signal came."""
        if self.signum is not None:
            raise self.describe(self.signum)


def _run_pool(workers: list[dict], stop: _SignalStop, ray_address: str | None, num_cpus: int | None,
              progress: bool, store: Callable[[CameraResult], None], realtime: bool = False,
              on_tracklets: Callable[[str, list[Tracklet], float | None], None] | None = None) -> list[CameraResult]:
    """The camera stage on Ray: start (or join) Ray, run the pool, shut down what this call started. A signal
    anywhere in here is deferred to the end, so Ray is never left half started or half stopped. In real time
    every camera runs at once (a share of the CPUs each when there are more cameras than CPUs): a camera queued
    behind the others would miss its footage's present altogether."""

    started = False
    try:
        with stop.deferred():
            started = start_ray(ray_address, num_cpus)
        stop.reinstall()
        stop.check()
        with stop.deferred():
            pool: dict = {}
            if realtime:
                import ray

                cpus = float(ray.cluster_resources().get("CPU", 1))
                pool = dict(slots=len(workers), num_cpus=min(1.0, cpus / len(workers)))
            results = run_camera_actors(workers, progress=progress, on_result=store, stop=stop.event,
                                        on_tracklets=on_tracklets, **pool)
        stop.check()
        return results
    finally:
        if started:
            with stop.deferred():
                stop_ray()


RUN_ID_MAX = 200  # the database's id column (String(200)); PostgreSQL refuses longer ones, SQLite would not
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def check_run_id(run_id: str) -> str:
    """``run_id`` if it can name a run everywhere (database key, dashboard URL, file name): 1 to 200 letters,
    digits, ``.``, ``_`` or ``-``, starting with a letter or digit; else a one-line MtmctError."""
    if len(run_id) > RUN_ID_MAX:
        raise MtmctError(f"run id is {len(run_id)} characters long, at most {RUN_ID_MAX} are allowed: "
                         f"'{run_id[:40]}...'")
    if not _RUN_ID.fullmatch(run_id):
        raise MtmctError(f"run id {run_id!r} may hold only letters, digits, '.', '_' and '-', "
                         "starting with a letter or digit")
    return run_id


def changed_cameras(repo: Repository, run_id: str, cfg: CameraSetConfig, live: bool = False) -> list[str]:
    """Cameras ``run_id`` stored as finished (and, for a ``live`` resume, still running: they go on) that ``cfg`` now
    gives another source or fps (a resume would otherwise keep the old footage's tracks under the new config)."""
    kept = (FINISHED, RUNNING) if live else (FINISHED,)
    stored = {c.camera_id: (c.source, c.fps) for c in repo.list_cameras(run_id) if c.status in kept}
    return [cam.id for cam in cfg.cameras if cam.id in stored and stored[cam.id] != (mask_secrets(str(cam.source)), cam.fps)]


def config_text(cfg: CameraSetConfig) -> str:
    """The run's config as stored with it: YAML with every path already resolved, so a query can reload the
    exact models the run used."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def run_cameras(
    config: str | Path | CameraSetConfig,
    out: str | Path,
    ray_address: str | None = None,
    progress: bool = True,
    max_frames: int | None = None,
    use_ray: bool = True,
    num_cpus: int | None = None,
    db: str | None = None,
    run_id: str | None = None,
    resume: bool = False,
    handle_signals: bool = True,
    redo_changed: bool = False,
    take_over: bool = False,
    announce: Callable[[RunInterrupted], None] | None = None,
    realtime: bool = False,
    live: bool = False,
    live_delay_s: float | None = None,
    live_piece_s: float | None = None,
) -> RunResult:
    """Track every camera (a pool of Ray actors unless ``use_ray`` is False), fuse, store and write the outputs.

    ``db`` is a database URL (default ``$MTMCT_DB``, else SQLite in ``out``); ``run_id`` defaults to the
    config's name. With ``resume`` the cameras a previous, interrupted run of that id stored are not redone.
    With ``handle_signals`` (and called from the main thread) SIGINT and SIGTERM raise :class:`RunInterrupted`
    after a clean stop; the process's own handlers are back when this returns. A resume whose config gives a stored
    camera another source or fps is refused unless ``redo_changed`` (then those cameras are run again). One writer
    per run id: while another live run holds ``run_id`` this one is refused in one line, unless ``take_over`` (the
    other then stops at its next write and stores nothing more). A stop that outlives ``STOP_GRACE_S`` after the
    signal exits the process with the signal's code, after calling ``announce`` (the CLI's one line) if given.
    ``realtime`` reads every camera at its own pace, all at once, each dropping the frames it cannot keep up with
    (:mod:`cameras.realtime_frames`; counted per camera and stored); without Ray the cameras run one after
    another, each in real time. ``live`` gives global ids while the cameras work (:mod:`mtmct.live_ids`: stored
    as they are decided, ``live_delay_s`` after each tracklet closes (None: :data:`mtmct.live_ids.DEFAULT_DELAY_S`),
    with their history; ``live_piece_s`` (None: :data:`mtmct.live_ids.DEFAULT_PIECE_S`, 0: none) seconds of footage
    between the pieces of tracks still open handed over meanwhile); it needs Ray. ``live`` with ``resume`` goes on
    with a live run that was stopped or killed: the ids it gave stay, and the cameras it had not finished go on
    after what they stored.
    """
    if live and not use_ray:
        raise MtmctError("--live needs Ray: the cameras hand their tracklets over while they run")
    live_delay_s = DEFAULT_DELAY_S if live_delay_s is None else live_delay_s
    if live and not live_delay_s >= 0:
        raise MtmctError(f"--live-delay must be 0 or more seconds, got {live_delay_s}")
    live_piece_s = DEFAULT_PIECE_S if live_piece_s is None else live_piece_s
    if live and not (live_piece_s >= 0 and math.isfinite(live_piece_s)):
        raise MtmctError(f"--live-pieces must be 0 (no pieces) or more seconds, got {live_piece_s}")
    with _SignalStop(install=handle_signals, announce=announce) as stop:
        return _run(config, out, ray_address, progress, max_frames, use_ray, num_cpus, db, run_id, resume, stop,
                    redo_changed, take_over, realtime, live_delay_s if live else None,
                    (live_piece_s or None) if live else None)


def _run(config: str | Path | CameraSetConfig, out: str | Path, ray_address: str | None, progress: bool,
         max_frames: int | None, use_ray: bool, num_cpus: int | None, db: str | None, run_id: str | None,
         resume: bool, stop: _SignalStop, redo_changed: bool = False, take_over: bool = False,
         realtime: bool = False, live_delay_s: float | None = None, piece_s: float | None = None) -> RunResult:
    cfg = config if isinstance(config, CameraSetConfig) else load_camera_config(config)  # all checked here
    run_id = check_run_id(cfg.name if run_id is None else run_id)
    topology = Topology.from_config(cfg)
    out = Path(out)
    url = resolve_url(db, out)
    repo = Repository(open_database(url))  # fails fast, before any work, when the database is unreachable
    # a lease left by a stop half way through taking it names this process: the next run finds it gone
    with repo.hold(run_id, take_over=take_over):
        return _run_held(cfg, run_id, topology, out, url, repo, ray_address, progress, max_frames, use_ray,
                         num_cpus, resume, stop, redo_changed, realtime, live_delay_s, piece_s)


def _run_held(cfg: CameraSetConfig, run_id: str, topology: Topology, out: Path, url: str, repo: Repository,
              ray_address: str | None, progress: bool, max_frames: int | None, use_ray: bool,
              num_cpus: int | None, resume: bool, stop: _SignalStop, redo_changed: bool,
              realtime: bool = False, live_delay_s: float | None = None, piece_s: float | None = None
              ) -> RunResult:
    """The run, while this process is ``run_id``'s only writer."""
    if resume and not repo.list_runs(run_id):
        raise MtmctError(f"--resume: unknown run id '{run_id}' (nothing to resume; drop --resume to start it)")
    live = live_delay_s is not None
    if resume and not live and repo.id_decisions(run_id)[0]:  # offline fusion would renumber the ids its history gave
        raise MtmctError(f"--resume: run '{run_id}' was live (its ids have a stored history): resume it with --live, "
                         "which keeps its ids")
    changed = changed_cameras(repo, run_id, cfg, live) if resume else []
    if changed and not redo_changed:
        raise MtmctError(f"--resume: camera{'s' if len(changed) > 1 else ''} {', '.join(changed)} of run '{run_id}' "
                         "changed source or fps since stored: add --redo-changed to run them again, or drop --resume")
    start = time.perf_counter()
    kept = repo.start_run(run_id, config_text(cfg), cfg.name, cfg.cameras, resume=resume, redo=changed, live=live)
    # a live resume goes on after what its unfinished cameras stored (frames done, track ids given)
    going_on = {c.camera_id: c.frames or 0 for c in repo.list_cameras(run_id) if c.status == RUNNING} \
        if live and resume else {}
    # read now, while the run holds only the kept cameras (start_run dropped the rest), not after the new ones
    stored: dict[str, list[Tracklet]] = {cam: [] for cam in [*kept, *going_on]}
    for t in repo.load_tracklets(run_id, crops=True) if stored else []:
        if t.camera_id in stored:
            stored[t.camera_id].append(t)
    # pieces of tracks the stop cut are tracklets that closed there (the camera goes on with new track ids)
    earlier = {cam: [replace(t, flags=t.flags - {OPEN}) for t in stored.pop(cam)] for cam in going_on}
    cam_dir = out / "cameras"
    cam_dir.mkdir(parents=True, exist_ok=True)
    for cam in kept:  # a resume into another --out writes every camera's file, not only the redone ones
        mot = repo.camera_mot_file(run_id, cam)
        if mot is not None:
            with atomic_write(cam_dir / f"{cam}.txt", "wb") as fh:
                fh.write(mot)
    todo = [cam for cam in cfg.cameras if cam.id not in kept]
    tracker = None if cfg.tracker is None else cfg.tracker.model_dump()  # None: the shipped preset
    workers = [dict(camera_cfg=cam, models_cfg=cfg.models, tracker_cfg=tracker, out_dir=cam_dir, threads=1,
                    max_frames=max_frames, builder=cfg.tracklets.model_dump(), realtime=realtime,
                    resume_after=going_on.get(cam.id, 0),
                    track_ids_after=max((t.track_id for t in earlier.get(cam.id, [])), default=0),
                    piece_s=piece_s) for cam in todo]
    stored_now: list[str] = []
    live_ids = None if not live else LiveIds(repo, run_id, topology, cfg.fusion, live_delay_s,
                                             resumed={**stored, **earlier} if resume else None)
    stop.describe = lambda signum: RunInterrupted(signum, run_id, len(kept) + len(stored_now), len(cfg.cameras))

    def store(res: CameraResult) -> None:
        with stop.deferred():  # a camera is stored whole or not at all, and counted in the stop's message
            if res.camera_id in earlier:  # what it stored before a live resume, then the rest
                _prepend(res, earlier[res.camera_id], going_on[res.camera_id])
            try:
                mot = res.mot_file.read_bytes() if res.mot_file and res.mot_file.is_file() else None
                repo.write_camera(run_id, res.camera_id, None, res.tracklets, frames=res.frames, error=res.error,
                                  mot_file=mot, dropped=res.dropped)
            except RunTakenOver:
                raise
            except MtmctError as error:  # e.g. INSERT revoked mid-run: what is stored stays, resumable
                done = kept + stored_now
                raise MtmctError(f"cannot store camera {res.camera_id} of run '{run_id}': {error}; "
                                 f"{len(done)} camera{'' if len(done) == 1 else 's'} stored before "
                                 f"{'are' if len(done) != 1 else 'is'} kept{': ' + ', '.join(done) if done else ''}"
                                 "; fix it and finish with --resume") from error
            if not res.error:
                stored_now.append(res.camera_id)
            if live_ids is not None:
                live_ids.finished(res.camera_id, res.tracklets)
        if res.error:
            log.info("camera %s failed: %s", res.camera_id, res.error)

    results: list[CameraResult] = []
    if use_ray and workers:
        results = _run_pool(workers, stop, ray_address, num_cpus, progress, store, realtime,
                            None if live_ids is None else live_ids.tracklets)
    else:
        for w in workers:
            results.append(CameraWorker(**w).run())
            store(results[-1])
            stop.check()
    results += [CameraResult(cam, frames=int(max((t.end_frame for t in ts), default=0)), tracklets=ts)
                for cam, ts in stored.items()]
    order = {cam.id: i for i, cam in enumerate(cfg.cameras)}
    results.sort(key=lambda r: order[r.camera_id])
    # one order whatever path produced them, so a resumed run fuses exactly like an uninterrupted one
    tracklets = sorted((t for res in results for t in res.tracklets), key=lambda t: (order[t.camera_id], t.track_id))
    t0 = time.perf_counter()
    if live_ids is not None:  # the order online fusion fuses in, so its last step's grouping is this one
        tracklets.sort(key=lambda t: t.key)
    identities, report = fuse_report(tracklets, topology, cfg.fusion)
    if live_ids is not None:  # the same grouping, numbered as the ids were given live
        identities = live_ids.finish(tracklets)
    fusion_s = time.perf_counter() - t0
    # on the clocks fusion used (its estimated offsets, when asked): the views' sightings of one moment meet
    world = world_table(tracklets, clock_offsets=report.clock_offsets)
    result = RunResult(run_id, url, out, results, identities, tracklets, fusion=report, fusion_s=fusion_s, world=world)
    # the ids, what fusion chose and the trajectories on the ground, in one transaction
    repo.write_identities(run_id, identities, report=report, world=world)
    write_outputs(result)
    repo.finish_run(run_id, run_status(results))
    result.wall_s = time.perf_counter() - start
    return result


def _prepend(res: CameraResult, earlier: list[Tracklet], frames: int) -> None:
    """A camera a live run resumed: its result and MOT file become the whole footage's, what it stored before the
    restart (``earlier``, ``frames`` in) and then what it did since."""
    res.tracklets = earlier + res.tracklets
    res.frames += frames
    if res.mot_file is not None and res.mot_file.is_file():
        boxes = np.sort(boxes_from_tracklets(earlier), order=["frame", "track_id"])
        before = "".join(format_mot_rows(b["frame"], [b["track_id"]], [(b["x"], b["y"], b["w"], b["h"])],
                                         [b["score"]]) for b in boxes)
        after = res.mot_file.read_bytes()
        with atomic_write(res.mot_file, "wb") as fh:
            fh.write(before.encode() + after)


def run_status(results: list[CameraResult]) -> str:
    """What a run's status says: ``finished`` only when every camera succeeded, ``partial`` when some failed
    (which ones: their camera rows' errors), ``failed`` when all did."""
    failed = sum(1 for r in results if r.error)
    return FINISHED if not failed else FAILED if failed == len(results) else PARTIAL


def write_outputs(result: RunResult) -> None:
    """mtmct_result.txt (every tracklet box under its global id), mtmct_world.txt (ground positions, when cameras
    are calibrated), tracklets.jsonl/.npz and crops."""
    out = result.out_dir
    rows = []
    for t in result.tracklets:
        for frame, (x, y, w, h) in zip(t.frames, t.boxes):
            rows.append((t.camera_id, t.global_id, int(frame), x, y, w, h))
    rows.sort(key=lambda r: (r[0], r[2], r[1]))
    with atomic_write(result.result_file) as fh:
        fh.writelines(f"{c},{g},{f},{x:.2f},{y:.2f},{w:.2f},{h:.2f}\n" for c, g, f, x, y, w, h in rows)
    crops = out / "crops"
    crops.mkdir(exist_ok=True)
    with atomic_write(out / "tracklets.jsonl") as fh:
        for t in result.tracklets:
            names = []
            for i, jpeg in enumerate(t.crops):
                name = f"{t.camera_id}_{t.track_id}_{i}.jpg"
                (crops / name).write_bytes(jpeg)
                names.append(f"crops/{name}")
            fh.write(json.dumps({
                "camera": t.camera_id, "track_id": t.track_id, "global_id": t.global_id, "class": t.cls,
                "start_frame": t.start_frame, "end_frame": t.end_frame, "start_time": round(t.start_time, 3),
                "end_time": round(t.end_time, 3), "frames": len(t), "quality": round(float(t.quality), 4),
                "flags": sorted(t.flags), "crops": names}) + "\n")
    write_world(out / WORLD_FILE, result.world[0])
    emb = [t.embedding for t in result.tracklets if t.embedding is not None]
    with atomic_write(out / "tracklets.npz", "wb") as fh:
        np.savez_compressed(fh,
                            camera=np.array([t.camera_id for t in result.tracklets]),
                            track_id=np.array([t.track_id for t in result.tracklets], np.int64),
                            global_id=np.array([t.global_id for t in result.tracklets], np.int64),
                            embedding=np.stack(emb) if len(emb) == len(result.tracklets) and emb
                            else np.zeros((0, 0)))
