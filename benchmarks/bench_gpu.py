"""GPU path (``--device gpu``): the same tracking on the CPU and on the GPU, in one run on one machine.

Models: YOLOX-nano + OSNet x0.25, the shared models in ONNX, run by ONNX Runtime (CPU provider, then CUDA provider
of onnxruntime-gpu). The example configs' OpenVINO ReID models have no CUDA path, so the GPU row uses OSNet.

1. check: the GPU sessions really run on CUDA (``OnnxBackend`` refuses a silent CPU fallback) and the GPU's
   embeddings and detections equal the CPU's (cosine of embeddings, IoU-matched boxes);
2. bare models: detector ms per frame, ReID ms per crop at batch 1, 8 and 32;
3. PETS09-S2L1 (795 frames) end to end through ``mtmct.tracking.track``, every-frame embedding and the policy
   (``configs/trackers/deepsort_fast.yaml``): frames/s and ms per stage; each run's MOT file is written to OUT;
4. 1, 2 and 4 cameras at once on one GPU (one process each, as camera actors run): total frames/s.

Writes ``OUT/gpu.json`` and ``OUT/<device>-<setting>.txt``. ``--evaluate OUT`` scores those MOT files against
PETS09's ground truth (MOTA, IDF1) on a machine with the project's .venv and prints the BENCHMARKS.md table.

Run (GPU machine, onnxruntime-gpu installed):  python benchmarks/bench_gpu.py --shared SHARED --out DIR
Then (here):                                   .venv/bin/python benchmarks/bench_gpu.py --evaluate DIR
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DETECTOR, REID = "yolox-nano-coco", "osnet-x0_25-msmt17"
FAST = ROOT / "configs" / "trackers" / "deepsort_fast.yaml"
SETTINGS = {"every-frame": True, "policy": False}  # label -> embed_every_frame


def check(shared: Path, frames: list[np.ndarray]) -> dict:
    """GPU against CPU on the same frames: the providers in use, embedding cosine, detection agreement."""
    from cameras.detector import load_detector
    from cameras.embedder import load_embedder
    from mtmct.core.boxes import iou

    out = {}
    models = {d: (load_detector(str(shared / "models" / DETECTOR), device=d),
                  load_embedder(str(shared / "models" / REID), device=d)) for d in ("cpu", "gpu")}
    out["providers"] = {d: m[1].backend.session.get_providers()[0] for d, m in models.items()}
    cos, ious, counts = [], [], {"cpu": 0, "gpu": 0}
    for frame in frames[:50]:
        dets = {d: m[0].detect(frame) for d, m in models.items()}
        for d in dets:
            counts[d] += len(dets[d])
        if len(dets["cpu"]) and len(dets["gpu"]):
            ious.extend(iou(dets["cpu"].xyxy, dets["gpu"].xyxy).max(axis=1).tolist())
            a = models["cpu"][1].embed_boxes(frame, dets["cpu"].xyxy)
            b = models["gpu"][1].embed_boxes(frame, dets["cpu"].xyxy)
            cos.extend(np.sum(a * b, axis=1).tolist())
    out.update(boxes=counts, min_box_iou=float(min(ious)), min_cosine=float(min(cos)), mean_cosine=float(np.mean(cos)))
    return out


def bare(shared: Path, frames: list[np.ndarray], device: str) -> dict:
    """Detector ms per frame and ReID ms per crop at batch 1 / 8 / 32, after a warm-up."""
    from cameras.detector import load_detector
    from cameras.embedder import load_embedder

    det = load_detector(str(shared / "models" / DETECTOR), device=device)
    emb = load_embedder(str(shared / "models" / REID), device=device)
    for frame in frames[:10]:
        det.detect(frame)
    start = time.perf_counter()
    for frame in frames[:200]:
        det.detect(frame)
    out = {"detect_ms": 1000 * (time.perf_counter() - start) / min(len(frames), 200)}
    crop = frames[0][100:228, 200:264]
    for batch in (1, 8, 32):
        crops = [crop] * batch
        emb.embed(crops)
        start = time.perf_counter()
        reps = max(1, 256 // batch)
        for _ in range(reps):
            emb.embed(crops)
        out[f"reid_ms_per_crop_b{batch}"] = 1000 * (time.perf_counter() - start) / (reps * batch)
    return out


def single(shared: Path, device: str, every: bool, mot_out: Path | None = None) -> dict:
    from mtmct.tracking import track

    seq = shared / "data" / "pets09-s2l1"
    with tempfile.TemporaryDirectory() as tmp:
        r = track(str(seq / "video.avi"), out=tmp, detector=str(shared / "models" / DETECTOR),
                  reid=str(shared / "models" / REID), tracker=FAST, embed_every_frame=every, progress=False,
                  device=device)
        if r.error:
            raise SystemExit(r.error)
        if mot_out is not None:
            mot_out.write_bytes(r.mot_file.read_bytes())
    return dict(frames=r.frames, fps=r.fps, share=r.embedded / max(r.detections, 1), ms=r.ms_per_frame())


def _camera(args: tuple) -> tuple[int, float]:
    shared, device, start_at = args
    while time.time() < start_at:  # all cameras start together, after their models loaded
        time.sleep(0.01)
    t0 = time.perf_counter()
    r = single(Path(shared), device, True)
    return r["frames"], time.perf_counter() - t0


def cameras(shared: Path, device: str, n: int) -> float:
    """Total frames/s of ``n`` cameras tracking at once, one process each (spawned, so CUDA starts cleanly)."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(n) as pool:
        start_at = time.time() + 8
        results = pool.map(_camera, [(str(shared), device, start_at)] * n)
    return sum(f for f, _ in results) / max(s for _, s in results)


def measure(shared: Path, out: Path) -> int:
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(shared / "data" / "pets09-s2l1" / "video.avi"))
    frames = []
    while len(frames) < 200:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    report: dict = {"cpu_cores": os.cpu_count()}
    report["check"] = check(shared, frames)
    print("check:", report["check"], flush=True)
    for device in ("cpu", "gpu"):
        report[f"bare_{device}"] = bare(shared, frames, device)
        print(device, "bare:", report[f"bare_{device}"], flush=True)
    single(shared, "gpu", True)  # warm-up: CUDA kernels, file caches
    for device in ("cpu", "gpu"):
        for label, every in SETTINGS.items():
            row = single(shared, device, every, out / f"{device}-{label}.txt")
            report[f"{device}-{label}"] = row
            print(f"{device} {label}: {row['fps']:.1f} frames/s, ReID on {row['share']:.0%} of boxes, ms/frame "
                  + ", ".join(f"{k} {v:.2f}" for k, v in row["ms"].items()), flush=True)
    report["gpu_cameras"] = {n: cameras(shared, "gpu", n) for n in (1, 2, 4)}
    print("gpu cameras (total frames/s):", report["gpu_cameras"], flush=True)
    (out / "gpu.json").write_text(json.dumps(report, indent=1))
    return 0


def evaluate(out: Path, shared: Path) -> int:
    from mtmct.eval_mot import evaluate_mot_files

    report = json.loads((out / "gpu.json").read_text())
    gt = shared / "data" / "pets09-s2l1" / "gt" / "gt.txt"
    c = report["check"]
    print(f"# {report['cpu_cores']} CPU cores; providers {c['providers']}; GPU vs CPU: embedding cosine min "
          f"{c['min_cosine']:.4f}, matched box IoU min {c['min_box_iou']:.3f}, boxes {c['boxes']}")
    for device in ("cpu", "gpu"):
        b = report[f"bare_{device}"]
        print(f"# bare {device}: detect {b['detect_ms']:.2f} ms/frame, ReID ms/crop "
              + " / ".join(f"{b[f'reid_ms_per_crop_b{n}']:.2f}" for n in (1, 8, 32)) + " at batch 1 / 8 / 32")
    base = report["cpu-every-frame"]["fps"]
    print("\n| device | setting | frames/s | x CPU every frame | ReID share | detect ms | embed ms | MOTA | IDF1 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for device in ("cpu", "gpu"):
        for label in SETTINGS:
            row = report[f"{device}-{label}"]
            s = evaluate_mot_files({"PETS09-S2L1": (gt, out / f"{device}-{label}.txt")})[0]
            print(f"| {device} | {label} | {row['fps']:.1f} | {row['fps'] / base:.2f}x | {row['share']:.0%} | "
                  f"{row['ms']['detect']:.2f} | {row['ms']['embed']:.2f} | {s['mota']:.3f} | {s['idf1']:.3f} |")
    cams = report["gpu_cameras"]
    print("\n| cameras on one GPU | frames/s (all) | x 1 camera |\n|---|---|---|")
    for n, fps in cams.items():
        print(f"| {n} | {fps:.1f} | {fps / cams['1']:.2f}x |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--out", help="measure (on a GPU machine) and write the results here")
    parser.add_argument("--evaluate", help="score the results a measuring run wrote to this folder")
    args = parser.parse_args()
    shared = Path(args.shared).resolve()
    if not (shared / "data" / "pets09-s2l1" / "video.avi").exists():
        print(f"missing {shared}/data/pets09-s2l1: put shared/ beside the checkout or pass --shared", file=sys.stderr)
        return 2
    if args.evaluate:
        return evaluate(Path(args.evaluate), shared)
    if not args.out:
        print("give --out DIR (measure) or --evaluate DIR", file=sys.stderr)
        return 2
    return measure(shared, Path(args.out))


if __name__ == "__main__":
    sys.exit(main())
