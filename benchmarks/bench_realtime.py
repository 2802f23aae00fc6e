"""Real time: how much footage each camera drops when 1, 2 and 4 cameras are read at their own pace at once.

Each camera is a copy of one of mtmc-pets09-overlap's two cameras (480x360 at their configured 10 fps), run through
the camera pool as ``mtmct run --realtime`` runs them: every camera at once, a share of the CPUs each, each reading
its file at its fps and dropping the oldest frames it cannot keep up with (``cameras/realtime_frames.py``). For each
ReID setting (every box embedded, the shipped default; or the policy of ``configs/trackers/deepsort_fast.yaml``)
and camera count: the share of the footage's frames processed and dropped (mean over the cameras, and the worst
camera), and wall time over footage time (1.0 = kept pace; model loading included).

Run:  .venv/bin/python benchmarks/bench_realtime.py [--shared ../shared] [--frames 400] [--cameras 1 2 4] [--fps 25]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib  # noqa: F401  (before paddle: see mtmct/core/models/paddle_backend.py)
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mtmct.core.camera_config import load_camera_config  # noqa: E402
from mtmct.core.config.tracker import TrackerConfig  # noqa: E402

SETTINGS = [("every box (default)", None), ("policy (deepsort_fast.yaml)", ROOT / "configs/trackers/deepsort_fast.yaml")]


def realtime_pool(tracker: Path | None, n: int, frames: int, fps: float | None = None) -> dict:
    """``n`` cameras at once in real time: processed / dropped shares and wall over footage time."""
    import ray

    from cameras.camera_actor import run_camera_actors

    cfg = load_camera_config(ROOT / "configs" / "cameras" / "pets09-overlap.yaml")
    if tracker is not None:
        cfg = cfg.model_copy(update={"tracker": TrackerConfig.from_yaml(tracker)})
    cams = [cfg.cameras[i % 2].model_copy(update={"id": f"c{i + 1}", **({"fps": fps} if fps else {})})
            for i in range(n)]
    cpus = float(ray.cluster_resources()["CPU"])
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        results = run_camera_actors([dict(camera_cfg=cam, models_cfg=cfg.models, tracker_cfg=cfg.tracker, out_dir=out,
                                           threads=1, max_frames=frames, realtime=True) for cam in cams],
                                    slots=n, num_cpus=min(1.0, cpus / n), progress=False)
        wall = time.perf_counter() - start
    failed = [r.error for r in results if r.error]
    if failed:
        raise SystemExit(failed[0])
    dropped = [r.dropped / (r.frames + r.dropped) for r in results]
    return dict(processed=1 - sum(dropped) / n, dropped=sum(dropped) / n, worst=max(dropped),
                pace=wall / (frames / cams[0].fps))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--frames", type=int, default=400, help="the footage's first N frames per camera")
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--fps", type=float, help="declare the footage at this frame rate (default: the config's 10)")
    args = parser.parse_args()
    shared = Path(args.shared).resolve()
    if not (shared / "data" / "mtmc-pets09-overlap" / "c1" / "video.mp4").exists():
        print(f"missing {shared}/data/mtmc-pets09-overlap: put shared/ beside the checkout or pass --shared",
              file=sys.stderr)
        return 2
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())
    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    rows = []
    try:
        for label, tracker in SETTINGS:
            for n in args.cameras:
                row = dict(label=label, n=n, **realtime_pool(tracker, n, args.frames, args.fps))
                print(f"{label}, {n} cameras: processed {row['processed']:.0%}, dropped {row['dropped']:.0%} "
                      f"(worst camera {row['worst']:.0%}), wall / footage {row['pace']:.2f}", flush=True)
                rows.append(row)
    finally:
        ray.shutdown()
    print(f"\n# {os.cpu_count()} CPU cores; mtmc-pets09-overlap cameras at {args.fps or 10:g} fps, first {args.frames} "
          "frames each\n")
    print("| ReID setting | cameras | frames processed | frames dropped | worst camera dropped | wall / footage |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['label']} | {r['n']} | {r['processed']:.0%} | {r['dropped']:.0%} | {r['worst']:.0%} | "
              f"{r['pace']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
