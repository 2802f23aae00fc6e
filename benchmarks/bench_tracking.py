"""Single-camera tracking benchmark on PETS09-S2L1 (../shared/data/pets09-s2l1).

Measures, in one run on the same frames:
1. the end-to-end pipeline (``mtmct.tracking.track``: decode, detect, embed, track, write) with per-stage
   milliseconds per frame and frames per second;
2. the bare detector + ReID model (frames decoded beforehand, nothing else timed) in frames per second;
3. our DeepSORT against PaddleDetection's own ``DeepSORTTracker`` (paddledet 2.6, its PP-Tracking defaults)
   fed the same detections and embeddings: MOTA, IDF1 and milliseconds per update side by side.

Run:  .venv/bin/python benchmarks/bench_tracking.py [--shared ../shared] [--frames N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib  # noqa: F401  (before paddle: see mtmct/core/models/paddle_backend.py)
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cameras.deepsort import DeepSort  # noqa: E402
from cameras.detector import load_detector  # noqa: E402
from cameras.embedder import load_embedder  # noqa: E402
from mtmct.core.detections import Detections  # noqa: E402
from mtmct.eval_mot import evaluate_mot  # noqa: E402
from mtmct.core.mot_io import read_mot  # noqa: E402
from mtmct.tracking import DEFAULT_CONF, load_tracker, track  # noqa: E402


def decode_all(video: Path, limit: int | None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    while limit is None or len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def bare_models(frames, detector, embedder):
    """Detector + ReID alone over pre-decoded frames; returns (fps, per-frame detections with embeddings)."""
    out = []
    start = time.perf_counter()
    for frame in frames:
        dets = detector.detect(frame)
        out.append(dets.with_embeddings(embedder.embed_boxes(frame, dets.xyxy)))
    return len(frames) / (time.perf_counter() - start), out


def run_ours(per_frame: list[Detections]):
    tracker = load_tracker()
    rows, spent = [], 0.0
    for index, dets in enumerate(per_frame, start=1):
        t0 = time.perf_counter()
        tracks = tracker.update(dets)
        spent += time.perf_counter() - t0
        rows += [[index, i, *box, score] for i, box, score in zip(tracks.ids, tracks.tlwh, tracks.scores)]
    return np.asarray(rows).reshape(-1, 7), spent / len(per_frame)


def run_paddledet(per_frame: list[Detections]):
    """PaddleDetection's DeepSORTTracker driven as deploy/pptracking does (predict, update, confirmed only)."""
    from ppdet.modeling.mot.tracker import DeepSORTTracker

    tracker = DeepSORTTracker(input_size=[128, 256], min_box_area=0, vertical_ratio=-1, budget=100, max_age=70,
                              n_init=3, metric_type="cosine", matching_threshold=0.2, max_iou_distance=0.9)
    rows, spent = [], 0.0
    for index, dets in enumerate(per_frame, start=1):
        pred = np.hstack([dets.classes[:, None], dets.scores[:, None], dets.xyxy]).astype(np.float64)
        embs = dets.embeddings if dets.embeddings is not None else np.zeros((0, 256), np.float32)
        t0 = time.perf_counter()
        tracker.predict()
        tracks = tracker.update(pred, embs)
        spent += time.perf_counter() - t0
        for t in tracks:
            if not t.is_confirmed() or t.time_since_update > 1:
                continue
            rows.append([index, t.track_id, *t.to_tlwh(), float(np.asarray(t.score).reshape(-1)[0])])
    return np.asarray(rows).reshape(-1, 7), spent / len(per_frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--detector", default="models/yolox-nano-coco")
    parser.add_argument("--reid", default="models/omz-person-reid-0277")
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames")
    args = parser.parse_args()
    shared = Path(args.shared)
    seq = shared / "data" / "pets09-s2l1"
    if not (seq / "video.avi").exists():
        print(f"missing {seq / 'video.avi'}: put shared/ beside the checkout or pass --shared", file=sys.stderr)
        return 2
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())
    detector = load_detector(shared / args.detector, conf=DEFAULT_CONF)
    embedder = load_embedder(shared / args.reid)
    frames = decode_all(seq / "video.avi", args.frames)
    n = len(frames)
    bare_models(frames[:10], detector, embedder)  # warm-up both models

    bare_fps, per_frame = bare_models(frames, detector, embedder)
    with tempfile.TemporaryDirectory() as out:
        src = str(seq / "video.avi")
        if args.frames:  # cut the video so the pipeline sees the same frames
            src = str(Path(out) / "cut.avi")
            writer = cv2.VideoWriter(src, cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
            for f in frames:
                writer.write(f)
            writer.release()
        e2e = track(src, out=out, detector=detector, reid=embedder, progress=False)
    gt = read_mot(seq / "gt" / "gt.txt")
    gt = gt[gt[:, 0] <= n]

    ours_rows, ours_t = run_ours(per_frame)
    pd_rows, pd_t = run_paddledet(per_frame)
    ours, theirs = evaluate_mot(gt, ours_rows), evaluate_mot(gt, pd_rows)
    e2e_metrics = evaluate_mot(gt, e2e.rows)

    print(f"# PETS09-S2L1, {n} frames 480x360, detector {Path(args.detector).name}, ReID {Path(args.reid).name}, "
          f"{os.cpu_count()} CPU cores\n")
    print("| stage | ms/frame |\n|---|---|")
    for stage, ms in e2e.ms_per_frame().items():
        print(f"| {stage} | {ms:.2f} |")
    print(f"\n| measure | value |\n|---|---|")
    print(f"| end-to-end frames/s (mtmct.tracking.track) | {e2e.fps:.2f} |")
    print(f"| detector + ReID alone, frames/s | {bare_fps:.2f} |")
    print(f"| ratio end-to-end / bare models | {e2e.fps / bare_fps:.3f} |")
    print(f"| end-to-end MOTA / IDF1 | {e2e_metrics['mota']:.3f} / {e2e_metrics['idf1']:.3f} |")
    print("\n| tracker (same detections + embeddings) | MOTA | IDF1 | IDSW | ms/update |\n|---|---|---|---|---|")
    print(f"| mtmct DeepSort (configs/trackers/deepsort.yaml) | {ours['mota']:.3f} | {ours['idf1']:.3f} | "
          f"{int(ours['idsw'])} | {1000 * ours_t:.3f} |")
    print(f"| paddledet DeepSORTTracker (PP-Tracking defaults) | {theirs['mota']:.3f} | {theirs['idf1']:.3f} | "
          f"{int(theirs['idsw'])} | {1000 * pd_t:.3f} |")
    print(f"| speed-up per update | {pd_t / ours_t:.2f}x | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
