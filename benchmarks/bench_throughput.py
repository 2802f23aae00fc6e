"""Throughput at the same accuracy: each ReID setting's speed and accuracy, in one run on one machine.

Settings (rows): the ReID model (omz-person-reid-0277 FP16, the example configs' model, and omz-person-reid-0287
FP16-INT8) x the embedding policy (every box of every frame, ``--embed-every-frame``, which is how mtmct ran before
the policy, and the default; or only where association needs it, ``configs/trackers/deepsort_fast.yaml``). For each:

1. single camera, PETS09-S2L1 (795 frames 480x360) through ``mtmct.tracking.track``: end-to-end frames/s, the
   share of boxes ReID embedded, ms per stage, MOTA and IDF1;
2. cross-camera IDF1 of the camera pipeline + fusion on mtmc-pets09-overlap and mtmc-pets09-gap2 (their example
   configs with only the ReID setting changed; one process, one model thread per camera, as a camera actor runs);
3. (``--cameras``) 1, 2 and 4 cameras at once through the camera pool (Ray actors, one CPU thread each; copies of
   the overlap set's two cameras): total frames/s and camera-hours per machine-hour (frames / the source's fps /
   wall time; model loading included).

Run:  .venv/bin/python benchmarks/bench_throughput.py [--shared ../shared] [--settings all|policy] [--cameras]
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
from mtmct.eval_mot import evaluate_mot_files  # noqa: E402
from mtmct.eval_mtmc import evaluate_mtmc, read_mtmc  # noqa: E402
from mtmct.tracking import track  # noqa: E402

SETTINGS = [  # (label, ReID model folder under shared/models, embed every frame)
    ("reid-0277, every frame (before)", "omz-person-reid-0277", True),
    ("reid-0277, policy", "omz-person-reid-0277", False),
    ("reid-0287 INT8, every frame", "omz-person-reid-0287", True),
    ("reid-0287 INT8, policy", "omz-person-reid-0287", False),
]
SETS = ("pets09-overlap", "pets09-gap2")
FAST = ROOT / "configs" / "trackers" / "deepsort_fast.yaml"  # the policy's preset


def with_reid(cfg, shared: Path, reid: str, every: bool):
    models = cfg.models.model_copy(update={"reid": str(shared / "models" / reid), "embed_every_frame": every})
    return cfg.model_copy(update={"models": models, "tracker": TrackerConfig.from_yaml(FAST)})


def single_camera(shared: Path, reid: str, every: bool) -> dict:
    seq = shared / "data" / "pets09-s2l1"
    with tempfile.TemporaryDirectory() as out:
        r = track(str(seq / "video.avi"), out=out, detector=str(shared / "models" / "yolox-nano-coco"),
                  reid=str(shared / "models" / reid), tracker=FAST, embed_every_frame=every, progress=False)
        scores = evaluate_mot_files({"PETS09-S2L1": (seq / "gt" / "gt.txt", r.mot_file)})[0]
    return dict(fps=r.fps, share=r.embedded / max(r.detections, 1), ms=r.ms_per_frame(), mota=scores["mota"],
                idf1=scores["idf1"])


def cross_camera(shared: Path, reid: str, every: bool, name: str) -> float:
    from mtmct.pipeline import run_cameras

    cfg = with_reid(load_camera_config(ROOT / "configs" / "cameras" / f"{name}.yaml"), shared, reid, every)
    with tempfile.TemporaryDirectory() as out:
        result = run_cameras(cfg, out, progress=False, use_ray=False, handle_signals=False)
        gt = read_mtmc(shared / "data" / f"mtmc-{name}" / "mtmc_gt.txt")
        return evaluate_mtmc(gt, read_mtmc(result.result_file))["idf1"]


def camera_pool(shared: Path, reid: str, every: bool, n: int) -> tuple[float, float]:
    """(total frames/s, camera-hours per machine-hour) of ``n`` cameras through the Ray camera pool."""
    from cameras.camera_actor import run_camera_actors

    cfg = with_reid(load_camera_config(ROOT / "configs" / "cameras" / "pets09-overlap.yaml"), shared, reid, every)
    cams = [cfg.cameras[i % 2].model_copy(update={"id": f"c{i + 1}"}) for i in range(n)]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        results = run_camera_actors([dict(camera_cfg=cam, models_cfg=cfg.models, tracker_cfg=cfg.tracker, out_dir=out,
                                           threads=1) for cam in cams], progress=False)
        wall = time.perf_counter() - start
    failed = [r.error for r in results if r.error]
    if failed:
        raise SystemExit(failed[0])
    frames = sum(r.frames for r in results)
    return frames / wall, frames / cams[0].fps / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--settings", choices=("all", "0277"), default="all",
                        help="0277: only the example model's two rows (half the time)")
    parser.add_argument("--no-fusion", action="store_true", help="skip the cross-camera runs")
    parser.add_argument("--cameras", action="store_true", help="also 1, 2 and 4 cameras through the camera pool")
    args = parser.parse_args()
    shared = Path(args.shared).resolve()
    if not (shared / "data" / "pets09-s2l1" / "video.avi").exists():
        print(f"missing {shared}/data/pets09-s2l1: put shared/ beside the checkout or pass --shared", file=sys.stderr)
        return 2
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())
    settings = SETTINGS if args.settings == "all" else SETTINGS[:2]
    single_camera(shared, settings[0][1], False)  # warm-up: file caches, model compilation paths
    rows = []
    for label, reid, every in settings:
        row = dict(label=label, **single_camera(shared, reid, every))
        print(f"{label}: {row['fps']:.2f} frames/s, ReID on {row['share']:.0%} of boxes, MOTA {row['mota']:.3f} "
              f"IDF1 {row['idf1']:.3f}, ms/frame " + ", ".join(f"{k} {v:.1f}" for k, v in row["ms"].items()),
              flush=True)
        rows.append(row)
    for row, (label, reid, every) in zip(rows, settings):
        row["cross"] = {} if args.no_fusion else {name: cross_camera(shared, reid, every, name) for name in SETS}
        if row["cross"]:
            print(f"{label}: cross-camera IDF1 " + ", ".join(f"{k} {v:.3f}" for k, v in row["cross"].items()),
                  flush=True)
    pool = {}
    if args.cameras:
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        try:
            for label, reid, every in settings:
                pool[label] = {n: camera_pool(shared, reid, every, n) for n in (1, 2, 4)}
                print(f"{label}: " + ", ".join(f"{n} cameras {fps:.1f} frames/s" for n, (fps, _) in pool[label].items()),
                      flush=True)
        finally:
            ray.shutdown()

    base = rows[0]
    print(f"\n# {os.cpu_count()} CPU cores; YOLOX-nano detector; PETS09-S2L1 single camera; base = {base['label']}\n")
    print("| setting | frames/s | x base | ReID share | detect ms | embed ms | MOTA | IDF1 | overlap IDF1 | gap2 IDF1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cross = [f"{row['cross'][k]:.3f}" if k in row["cross"] else "-" for k in SETS]
        print(f"| {row['label']} | {row['fps']:.2f} | {row['fps'] / base['fps']:.2f}x | {row['share']:.0%} | "
              f"{row['ms']['detect']:.1f} | {row['ms']['embed']:.1f} | {row['mota']:.3f} | {row['idf1']:.3f} | "
              + " | ".join(cross) + " |")
    if pool:
        print("\n| setting | cameras | frames/s (all cameras) | camera-hours per machine-hour | x 1 camera |")
        print("|---|---|---|---|---|")
        for label, by_n in pool.items():
            for n, (fps, hours) in by_n.items():
                print(f"| {label} | {n} | {fps:.1f} | {hours:.2f} | {fps / by_n[1][0]:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
