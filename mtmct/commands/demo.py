"""`mtmct demo`: the main job on the example footage in ../shared (what `make demo` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mtmct.errors import MtmctError

DETECTOR = "models/yolox-nano-coco"
REID = "models/omz-person-reid-0277"
FOOTAGE = "data/pets09-s2l1/video.avi"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job on the example footage")
    p.add_argument("--shared", default="../shared", help="folder holding models/ and data/ (default ../shared)")
    p.add_argument("--out", default="out/demo", help="output folder")
    p.set_defaults(run=run)


def _require(shared: Path, rel: str) -> Path:
    path = shared / rel
    if not path.exists():
        raise MtmctError(
            f"example input {path} is missing: put the project's shared/ folder (models/ and data/) beside the "
            "checkout, or run `make demo SHARED=/path/to/shared`"
        )
    return path


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from cameras.embedder import load_embedder
    from mtmct.detect import run_detect
    from mtmct.mot_io import read_mot

    shared = Path(args.shared).resolve()
    detector, reid, footage = (_require(shared, rel) for rel in (DETECTOR, REID, FOOTAGE))
    out = Path(args.out)
    print(f"detecting people in {footage} with {detector.name} ...")
    result = run_detect(str(footage), str(detector), out, save_video=True)
    if result.error:
        raise MtmctError(result.error)
    print(f"  {result.frames} frames, {result.detections} detections, {result.fps:.1f} frames/s")

    import cv2

    rows = read_mot(result.det_file)
    cap = cv2.VideoCapture(str(footage))
    ok, frame = cap.read()
    cap.release()
    first = rows[rows[:, 0] == 1]
    xyxy = first[:, 2:6].copy()
    xyxy[:, 2:] += xyxy[:, :2]
    embedder = load_embedder(str(reid))
    feats = embedder.embed_boxes(frame, xyxy)
    sims = feats @ feats.T if len(feats) else np.zeros((0, 0))
    print(f"embedded the {len(feats)} people of frame 1 with {reid.name}: {embedder.dim}-d, "
          f"mean cosine similarity between different people {np.mean(sims[~np.eye(len(sims), dtype=bool)]):.2f}"
          if len(feats) > 1 else f"embedded {len(feats)} crops with {reid.name}")
    print("outputs:")
    print(f"  detections (MOTChallenge det text): {result.det_file.resolve()}")
    print(f"  annotated video: {result.video_file.resolve()}")
    return 0
