"""The multi-camera run (``mtmct run``): one Ray actor per camera, then fusion into global ids, then outputs.

Cameras never talk to each other: each actor decodes, detects, embeds and tracks its own footage and returns
closed tracklets; the driver fuses them under the camera topology and writes
``OUT/cameras/<camera>.txt`` (local ids), ``OUT/mtmct_result.txt`` (``camera,global_id,frame,x,y,w,h``),
``OUT/tracklets.jsonl`` + ``OUT/tracklets.npz`` (embeddings) and ``OUT/crops/``.

Everything also goes to a database (``--db``; SQLite ``OUT/mtmct.db`` by default): each camera in its own
transaction as soon as it finishes, so a run killed half-way keeps its finished cameras, stays marked
``running``, and ``resume=True`` completes it without redoing them. Re-running a run id replaces it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from cameras.camera_actor import CameraResult, CameraWorker, camera_actor_class, run_camera_actors
from fusion.fusion import fuse
from fusion.topology import Topology
from mtmct.core.camera_config import CameraSetConfig, load_camera_config
from mtmct.core.errors import MtmctError
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from storage import Repository, open_database, resolve_url

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    run_id: str
    db_url: str
    out_dir: Path
    cameras: list[CameraResult]
    identities: list[GlobalIdentity] = field(default_factory=list)
    tracklets: list[Tracklet] = field(default_factory=list)
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


def _start_ray(address: str | None, num_cpus: int | None) -> bool:
    """Join ``address`` or start a local Ray; returns True when this call started it (and must stop it)."""
    import ray

    if ray.is_initialized():
        return False
    kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise MtmctError(f"cannot start or join Ray{' at ' + address if address else ''}: "
                         f"{str(exc).strip().splitlines()[0]}") from exc
    return True


def _check_reachable(address: str) -> None:
    """Ray retries an unreachable head for minutes; a plain ``host:port`` is probed first so the user hears in
    seconds. ``auto`` and ``ray://`` addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise MtmctError(f"cannot start or join Ray at {address}: {exc}") from exc


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
) -> RunResult:
    """Track every camera (Ray actors unless ``use_ray`` is False), fuse, store and write the outputs.

    ``db`` is a database URL (default ``$MTMCT_DB``, else SQLite in ``out``); ``run_id`` defaults to the
    config's name. With ``resume`` the cameras a previous, interrupted run of that id stored are not redone.
    """
    cfg = config if isinstance(config, CameraSetConfig) else load_camera_config(config)  # all checked here
    topology = Topology.from_config(cfg)
    out = Path(out)
    url = resolve_url(db, out)
    repo = Repository(open_database(url))  # fails fast, before any work, when the database is unreachable
    run_id = run_id or cfg.name
    if resume and not repo.list_runs(run_id):
        raise MtmctError(f"--resume: unknown run id '{run_id}' (nothing to resume; drop --resume to start it)")
    start = time.perf_counter()
    kept = repo.start_run(run_id, config_text(cfg), cfg.name, cfg.cameras, resume=resume)
    # read now, while the run holds only the kept cameras (start_run dropped the rest), not after the new ones
    stored: dict[str, list[Tracklet]] = {cam: [] for cam in kept}
    for t in repo.load_tracklets(run_id, crops=True) if kept else []:
        if t.camera_id in stored:
            stored[t.camera_id].append(t)
    cam_dir = out / "cameras"
    cam_dir.mkdir(parents=True, exist_ok=True)
    todo = [cam for cam in cfg.cameras if cam.id not in kept]
    tracker = None if cfg.tracker is None else cfg.tracker.model_dump()  # None: the shipped preset
    workers = [dict(camera_cfg=cam, models_cfg=cfg.models, tracker_cfg=tracker, out_dir=cam_dir, threads=1,
                    max_frames=max_frames, builder=cfg.tracklets.model_dump()) for cam in todo]

    def store(res: CameraResult) -> None:
        repo.write_camera(run_id, res.camera_id, None, res.tracklets, frames=res.frames, error=res.error)
        if res.error:
            log.info("camera %s failed: %s", res.camera_id, res.error)

    results: list[CameraResult] = []
    if use_ray and workers:
        import ray

        started = _start_ray(ray_address, num_cpus)
        try:
            actor_cls = camera_actor_class()
            actors = [actor_cls.remote(**w) for w in workers]
            results = run_camera_actors(actors, [cam.id for cam in todo], progress=progress, on_result=store)
        finally:
            if started:
                ray.shutdown()
    else:
        for w in workers:
            results.append(CameraWorker(**w).run())
            store(results[-1])
    results += [CameraResult(cam, frames=int(max((t.end_frame for t in ts), default=0)), tracklets=ts)
                for cam, ts in stored.items()]
    order = {cam.id: i for i, cam in enumerate(cfg.cameras)}
    results.sort(key=lambda r: order[r.camera_id])
    # one order whatever path produced them, so a resumed run fuses exactly like an uninterrupted one
    tracklets = sorted((t for res in results for t in res.tracklets), key=lambda t: (order[t.camera_id], t.track_id))
    t0 = time.perf_counter()
    identities = fuse(tracklets, topology, cfg.fusion)
    fusion_s = time.perf_counter() - t0
    result = RunResult(run_id, url, out, results, identities, tracklets, fusion_s=fusion_s)
    repo.write_identities(run_id, identities)
    write_outputs(result)
    repo.finish_run(run_id, "failed" if all(r.error for r in results) else "finished")
    result.wall_s = time.perf_counter() - start
    return result


def write_outputs(result: RunResult) -> None:
    """mtmct_result.txt (every tracklet box under its global id), tracklets.jsonl/.npz and crops."""
    out = result.out_dir
    rows = []
    for t in result.tracklets:
        for frame, (x, y, w, h) in zip(t.frames, t.boxes):
            rows.append((t.camera_id, t.global_id, int(frame), x, y, w, h))
    rows.sort(key=lambda r: (r[0], r[2], r[1]))
    with open(result.result_file, "w") as fh:
        fh.writelines(f"{c},{g},{f},{x:.2f},{y:.2f},{w:.2f},{h:.2f}\n" for c, g, f, x, y, w, h in rows)
    crops = out / "crops"
    crops.mkdir(exist_ok=True)
    with open(out / "tracklets.jsonl", "w") as fh:
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
    emb = [t.embedding for t in result.tracklets if t.embedding is not None]
    np.savez_compressed(out / "tracklets.npz",
                        camera=np.array([t.camera_id for t in result.tracklets]),
                        track_id=np.array([t.track_id for t in result.tracklets], np.int64),
                        global_id=np.array([t.global_id for t in result.tracklets], np.int64),
                        embedding=np.stack(emb) if len(emb) == len(result.tracklets) and emb else np.zeros((0, 0)))
