"""The tracker family side by side: DeepSORT (ours), ByteTrack, OC-SORT, BoT-SORT and JDE (cameras.tracker_registry).

1. Motion only on MOTChallenge 2015 public detections (SORT's det.txt files, no pixels): each tracker's public
   preset (``configs/trackers/<type>_public.yaml``; DeepSORT: ``deepsort_motion.yaml``). The presets were chosen on
   ETH-Bahnhof, ADL-Rundle-6, KITTI-13 and PETS09-S2L1 (the comments in each file say over what); TUD-Campus and
   ETH-Sunnyday are held out and carry SORT's published MOTA.
2. PETS09-S2L1 video with the shared detector and ReID (every box embedded once, the same boxes and embeddings fed
   to every tracker), each tracker's shipped preset (``configs/trackers/<type>.yaml``).

MOTA, IDF1, HOTA and IDSW by TrackEval/motmetrics (mtmct.eval_mot), ms per ``update``.

Run:  .venv/bin/python benchmarks/bench_trackers.py [--shared ../shared] [--frames N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib  # noqa: F401  (before paddle: see mtmct/core/models/paddle_backend.py)
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cameras.tracker_registry import TRACKERS, load_tracker  # noqa: E402
from mtmct.core.detections import Detections  # noqa: E402
from mtmct.core.mot_io import read_mot  # noqa: E402
from mtmct.eval_mot import evaluate_sequences  # noqa: E402

PRESETS = ROOT / "configs" / "trackers"
PUBLIC = {kind: PRESETS / ("deepsort_motion.yaml" if kind == "deepsort" else f"{kind}_public.yaml") for kind in TRACKERS
          if kind != "jde"}  # JDE association is for boxes with embeddings (one-shot models); no motion-only preset
SORT_MOTA = {"TUD-Campus": 62.7, "ETH-Sunnyday": 59.1}  # SORT README / paper, the same detections
HELD_OUT = ["TUD-Campus", "ETH-Sunnyday"]
TUNED_ON = ["ETH-Bahnhof", "ADL-Rundle-6", "KITTI-13", "PETS09-S2L1"]


def run(tracker, per_frame: list[Detections]) -> tuple[np.ndarray, float]:
    """(MOT rows, ms per update) of one tracker over one sequence's frames."""
    rows, spent = [], 0.0
    for frame, dets in enumerate(per_frame, start=1):
        t0 = time.perf_counter()
        tracks = tracker.update(dets)
        spent += time.perf_counter() - t0
        rows += [[frame, i, *box, s, -1, -1, -1] for i, box, s in zip(tracks.ids, tracks.tlwh, tracks.scores)]
    return np.array(rows, float).reshape(-1, 10), 1000 * spent / max(len(per_frame), 1)


def public_frames(folder: Path) -> tuple[np.ndarray, list[Detections]]:
    det, gt = read_mot(folder / "det" / "det.txt"), read_mot(folder / "gt" / "gt.txt")
    n = int(max(det[:, 0].max(), gt[:, 0].max()))
    return gt, [Detections.from_tlwh(det[det[:, 0] == f][:, 2:6], det[det[:, 0] == f][:, 6]) for f in range(1, n + 1)]


def table(title: str, results: dict[str, dict[str, tuple[np.ndarray, np.ndarray, float]]], sort: bool) -> None:
    print(f"\n{title}\n")
    print("| tracker | sequence | MOTA | IDF1 | HOTA | IDSW | ms/update |" + (" SORT MOTA |" if sort else ""))
    print("|---|---|---|---|---|---|---|" + ("---|" if sort else ""))
    for kind, per_seq in results.items():
        rows = evaluate_sequences({name: (gt, pred) for name, (gt, pred, _) in per_seq.items()})
        for r in rows:
            ms = per_seq[r["sequence"]][2] if r["sequence"] in per_seq else np.mean([v[2] for v in per_seq.values()])
            ref = f" {SORT_MOTA[r['sequence']]} |" if sort and r["sequence"] in SORT_MOTA else (" |" if sort else "")
            print(f"| {kind} | {r['sequence']} | {100 * r['mota']:.1f} | {100 * r['idf1']:.1f} | {100 * r['hota']:.1f} | "
                  f"{r['idsw']} | {ms:.2f} |{ref}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--frames", type=int, default=None, help="only the first N frames of the PETS09 video")
    args = parser.parse_args()
    shared = Path(args.shared)
    folders = {"TUD-Campus": shared / "data" / "tud-campus", "PETS09-S2L1": shared / "data" / "pets09-s2l1",
               **{n: shared / "data" / "mot15-motion" / n for n in ["ETH-Sunnyday", "ETH-Bahnhof", "ADL-Rundle-6",
                                                                     "KITTI-13"]}}
    seqs = {name: public_frames(folder) for name, folder in folders.items()}
    for group, names in (("held out", HELD_OUT), ("the presets were chosen on", TUNED_ON)):
        results = {}
        for kind, preset in PUBLIC.items():
            results[kind] = {}
            for name in names:
                gt, frames = seqs[name]
                pred, ms = run(load_tracker(preset), frames)
                results[kind][name] = (gt, pred, ms)
        table(f"# motion only, MOTChallenge public detections, {group} ({os.cpu_count()} CPU cores)", results,
              sort=group == "held out")

    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())
    from benchmarks_bench_tracking import bare_models, decode_all  # noqa: E402
    from cameras.detector import load_detector
    from cameras.embedder import load_embedder
    from mtmct.tracking import DEFAULT_CONF

    seq = shared / "data" / "pets09-s2l1"
    frames = decode_all(seq / "video.avi", args.frames)
    detector = load_detector(shared / "models" / "yolox-nano-coco", conf=DEFAULT_CONF)
    embedder = load_embedder(shared / "models" / "omz-person-reid-0277")
    _, per_frame = bare_models(frames, detector, embedder)
    gt = read_mot(seq / "gt" / "gt.txt")
    gt = gt[gt[:, 0] <= len(frames)]
    results = {kind: {"PETS09-S2L1": (gt, *run(load_tracker(kind), per_frame))} for kind in TRACKERS}
    table(f"# PETS09-S2L1 video, {len(frames)} frames, yolox-nano-coco + omz-person-reid-0277, shipped presets", results,
          sort=False)
    return 0


if __name__ == "__main__":
    import importlib.util

    spec = importlib.util.spec_from_file_location("benchmarks_bench_tracking", ROOT / "benchmarks" / "bench_tracking.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks_bench_tracking"] = module
    spec.loader.exec_module(module)
    sys.exit(main())
