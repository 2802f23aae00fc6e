"""ReID adaptation benchmark (issue 16): label-free `mtmct reid adapt` on the shared multi-camera sets, and
supervised `mtmct reid train` across sequences. Everything runs through the CLI, as a user would.

1. For each set (the example configs `configs/cameras/pets09-gap2.yaml`, `pets09-overlap.yaml`: detector
   yolox-nano, ReID omz-person-reid-0277): `mtmct run` into a fresh SQLite database, then
   `mtmct reid adapt RUN --init osnet-x0_25-msmt17 --gt mtmc_gt.txt` with the command's defaults (the ground
   truth only scores; training never reads it). Reported: cross-camera IDF1 of the run as stored, of the start
   model unadapted on the same tracklets (re-embedded and fused as adapt does), after each round; adaptation time.
2. The own-footage ReID protocol (as `tests/test_eval_reid.py`: PETS09-S2L1 frames 1-400 as camera 1 gallery,
   401-795 as camera 2 queries, every 10th frame, boxes >= 40 px): rank-1 and mAP of the start model (converted
   OSNet), of the example config's reid-0277, and of each set's adapted model.
3. Supervised: `mtmct reid train` from the converted OSNet on one sequence, scored on the other, which it never
   saw, against the start model there: PETS09-S2L1 (every 5th frame, boxes >= 40 px, all 19 ids) scored on
   TUD-Campus (frames 1-35 gallery, 36-71 queries, every 2nd frame, boxes >= 40 px), and TUD-Campus (every frame,
   boxes >= 40 px, 8 ids) scored on the PETS09-S2L1 protocol of 2.

Run:  .venv/bin/python benchmarks/bench_reid_adapt.py [--sets pets09-gap2,pets09-overlap] [--skip-supervised]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
MTMCT = str(Path(sys.executable).with_name("mtmct"))
OSNET = SHARED / "models" / "osnet-x0_25-msmt17"
REID_0277 = SHARED / "models" / "omz-person-reid-0277"
SETS = {"pets09-gap2": "mtmc-pets09-gap2", "pets09-overlap": "mtmc-pets09-overlap"}


def mtmct(*args: str) -> str:
    proc = subprocess.run([MTMCT, *map(str, args)], capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        raise SystemExit(f"mtmct {' '.join(map(str, args))} failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def reid_from_mot(video: Path, gt: Path, camera: int, frames: str, every: int, out: Path) -> Path:
    mtmct("dataset", "reid-from-mot", "--video", video, "--gt", gt, "--camera-id", camera, "--frames", frames,
          "--every", every, "--min-height", 40, "--out", out)
    return out


def score(query: Path, gallery: Path, model: Path) -> dict:
    return json.loads(mtmct("eval", "reid", "--query", query, "--gallery", gallery, "--reid", model, "--json"))


def start_model_fusion(db: str, run_id: str, gt: Path) -> dict:
    """The start model (ONNX OSNet) unadapted on the same run's tracklets: re-embedded and fused as adapt does."""
    sys.path.insert(0, str(ROOT))
    from cameras.embedder import load_embedder
    from cameras.reembed import reembed_tracklets
    from fusion.fusion import fuse_report
    from fusion.topology import Topology
    from mtmct.run_adaptation import _describe, _read_gt
    from storage.migrate import open_database
    from storage.repository import Repository

    repo = Repository(open_database(db))
    tracklets = [t for t in repo.load_tracklets(run_id) if t.embedding is not None]
    cfg = repo.run_config(run_id)
    embedder = load_embedder(OSNET)
    for cam in cfg.cameras:
        group = [t for t in tracklets if t.camera_id == cam.id]
        new = reembed_tracklets(group, str(cam.source), embedder, cam.fps, cfg.tracklets.min_height, False)
        for t in group:
            t.embedding = new[t.key]
    identities, _ = fuse_report(tracklets, Topology.from_config(cfg), cfg.fusion)
    return _describe(identities, tracklets, _read_gt(gt))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--skip-supervised", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reid-adapt-"))
    pets, tud = SHARED / "data" / "pets09-s2l1", SHARED / "data" / "tud-campus"
    query = reid_from_mot(pets / "video.avi", pets / "gt" / "gt.txt", 2, "401:795", 10, work / "pets" / "query")
    gallery = reid_from_mot(pets / "video.avi", pets / "gt" / "gt.txt", 1, "1:400", 10, work / "pets" / "gallery")
    rows = [("start: converted OSNet x0.25", score(query, gallery, OSNET)),
            ("example config: omz-person-reid-0277", score(query, gallery, REID_0277))]
    fusion = []
    for name in args.sets.split(","):
        folder = SHARED / "data" / SETS[name]
        db = f"sqlite:///{work / name / 'mtmct.db'}"
        mtmct("run", ROOT / "configs" / "cameras" / f"{name}.yaml", "--out", work / name, "--db", db)
        t0 = time.perf_counter()
        report = json.loads(mtmct("reid", "adapt", name, "--db", db, "--init", OSNET, "--gt",
                                  folder / "mtmc_gt.txt", "--json"))
        seconds = time.perf_counter() - t0
        fusion.append((name, report, seconds, start_model_fusion(db, name, folder / "mtmc_gt.txt")))
        sys.path.insert(0, str(ROOT))
        from mtmct.adapted_model import materialise
        from storage.migrate import open_database
        from storage.repository import Repository

        model = materialise(Repository(open_database(db)).reid_model(name))
        rows.append((f"adapted on the {name} run (no labels)", score(query, gallery, model)))
    print("\nOwn-footage ReID (PETS09-S2L1 reid-from-mot protocol)\n")
    print("| model | rank-1 | mAP |\n|---|---|---|")
    for label, r in rows:
        print(f"| {label} | {r['rank1']:.3f} | {r['map']:.3f} |")
    print("\nCross-camera IDF1 of the run, before and after each round\n")
    print("| set | stored run (reid-0277) | start model on the same tracklets | round 1 | round 2 | pseudo-ids / crops "
          "| adapt time |\n|---|---|---|---|---|---|---|")
    for name, report, seconds, start in fusion:
        rounds = [f"{r['idf1']:.3f} ({r['multi_camera']} cross-camera ids)" for r in report["rounds"]]
        first = report["rounds"][0]
        print(f"| {name} | {report['before']['idf1']:.3f} ({report['before']['multi_camera']} cross-camera ids) | "
              f"{start['idf1']:.3f} ({start['multi_camera']} cross-camera ids) | "
              f"{' | '.join(rounds + ['-'] * (2 - len(rounds)))} | {first['tracklets']} / {first['crops']} | "
              f"{seconds / 60:.1f} min |")
    if args.skip_supervised:
        return
    train = reid_from_mot(pets / "video.avi", pets / "gt" / "gt.txt", 1, "1:", 5, work / "pets-train")
    tq = reid_from_mot(tud / "video.mp4", tud / "gt" / "gt.txt", 2, "36:71", 2, work / "tud" / "query")
    tg = reid_from_mot(tud / "video.mp4", tud / "gt" / "gt.txt", 1, "1:35", 2, work / "tud" / "gallery")
    supervised("PETS09-S2L1", train, "TUD-Campus", tq, tg, work / "supervised")
    tud_train = reid_from_mot(tud / "video.mp4", tud / "gt" / "gt.txt", 1, "1:", 1, work / "tud-train")
    supervised("TUD-Campus", tud_train, "the PETS09-S2L1 protocol above", query, gallery, work / "supervised-tud")
    print(f"\nwork folder {work}")


def supervised(train_name: str, train: Path, test_name: str, query: Path, gallery: Path, out: Path) -> None:
    """`mtmct reid train` from the converted OSNet on ``train``, scored with the start on another sequence's set."""
    t0 = time.perf_counter()
    mtmct("reid", "train", "--data", train, "--out", out, "--init", OSNET, "--query", query, "--gallery", gallery)
    seconds = time.perf_counter() - t0
    print(f"\nSupervised: trained on {train_name}, scored on {test_name}\n")
    print("| model | rank-1 | mAP |\n|---|---|---|")
    for label, model in (("start: converted OSNet x0.25", OSNET), (f"trained on {train_name}", out)):
        r = score(query, gallery, model)
        print(f"| {label} | {r['rank1']:.3f} | {r['map']:.3f} |")
    print(f"\ntraining time {seconds / 60:.1f} min")

if __name__ == "__main__":
    main()
