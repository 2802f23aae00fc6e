"""Camera parallelism: total frames per second of the multi-camera run for 1 and 2 cameras on this machine.

Uses the two cameras of ../shared/data/mtmc-pets09-overlap through the real pipeline (the camera pool: one Ray actor
per camera, as many at once as Ray has CPUs, one CPU thread per actor, YOLOX + omz-person-reid-0277 + DeepSORT).
Total fps = frames of all cameras / time: "wall" is the camera stage from starting the actors to the last one
finishing (model loading included, Ray start-up not); "processing" is the slowest camera's own per-frame work
(decode to tracklets), i.e. throughput once the models are loaded. "1 camera" runs each camera alone, one after the
other, and adds the times, so both rows do the same work (the two cameras differ in load: c2 sees more people).

Run:  .venv/bin/python benchmarks/bench_parallel.py [--frames 300]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
import zlib  # noqa: F401  (before paddle: see mtmct/core/models/paddle_backend.py)
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cameras.camera_actor import run_camera_actors  # noqa: E402
from mtmct.core.camera_config import load_camera_config  # noqa: E402


def camera_stage(cfg, cameras, frames: int, out: Path) -> tuple[int, float, float]:
    start = time.perf_counter()
    workers = [dict(camera_cfg=cam, models_cfg=cfg.models, tracker_cfg=cfg.tracker, out_dir=out, threads=1,
                    max_frames=frames) for cam in cameras]
    results = run_camera_actors(workers, progress=False)
    wall = time.perf_counter() - start
    for r in results:
        if r.error:
            raise SystemExit(r.error)
    processing = max(sum(r.seconds.values()) for r in results)
    return sum(r.frames for r in results), wall, processing


def main() -> int:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "cameras" / "pets09-overlap.yaml"))
    parser.add_argument("--frames", type=int, default=300, help="frames per camera")
    args = parser.parse_args()
    cfg = load_camera_config(args.config)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            camera_stage(cfg, cfg.cameras[:1], 20, Path(tmp))  # warm the workers' imports and file caches
            # the same work both ways: each camera alone (one after the other), then both at once
            alone = [camera_stage(cfg, [cam], args.frames, Path(tmp)) for cam in cfg.cameras[:2]]
            one = tuple(sum(x) for x in zip(*alone))
            two = camera_stage(cfg, cfg.cameras[:2], args.frames, Path(tmp))
    finally:
        ray.shutdown()
    print(f"# camera parallelism, {os.cpu_count()} CPU cores, {args.frames} frames per camera, 1 thread per actor\n")
    print("| cameras | frames | wall s | frames/s (wall) | processing s | frames/s (processing) |")
    print("|---|---|---|---|---|---|")
    for n, (frames, wall, proc) in (("1 at a time", one), ("2 at once", two)):
        print(f"| {n} | {frames} | {wall:.1f} | {frames / wall:.2f} | {proc:.1f} | {frames / proc:.2f} |")
    print(f"\nspeed-up 2 cameras / 1 camera: {(two[0] / two[1]) / (one[0] / one[1]):.2f}x by wall time, "
          f"{(two[0] / two[2]) / (one[0] / one[2]):.2f}x by processing time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
