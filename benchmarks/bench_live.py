"""Live runs (``mtmct run --live --realtime``): delay from a tracklet's close to its global id, and the ids' accuracy.

Each example camera set runs live in real time (its cameras at their own 10 fps, all at once, through Ray), its
first ``--frames`` frames. From the stored id history (``id_decisions``): of the ids given while the cameras still
ran, those given after their tracklet closed, with the delay from the close in seconds of stream time (= wall time
under ``--realtime``), p50 and p95, against the configured delay; those given before it closed (from a piece of the
open track, ``--live-pieces``), with how long after the person appeared; the cross-camera IDF1 of the ids as first
given and as final, against the offline fusion of the same stored tracklets and against an offline run of the same
config and frames (no pacing, no drops); frames dropped.

Run:  .venv/bin/python benchmarks/bench_live.py [--shared ../shared] [--frames 400] [--delay 3] [--pieces 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zlib  # noqa: F401  (before paddle: see mtmct/core/models/paddle_backend.py)
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion.fusion import fuse  # noqa: E402
from fusion.topology import Topology  # noqa: E402
from mtmct.core.camera_config import load_camera_config  # noqa: E402
from mtmct.eval_mtmc import evaluate_mtmc, read_mtmc  # noqa: E402

SETS = {"pets09-overlap": "mtmc-pets09-overlap", "pets09-gap2": "mtmc-pets09-gap2"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--delay", type=float, default=3.0)
    parser.add_argument("--pieces", type=float, default=5.0, help="--live-pieces (0: only closed tracks)")
    args = parser.parse_args()
    shared = Path(args.shared).resolve()
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())
    from mtmct.pipeline import run_cameras
    from storage import Repository, open_database

    rows = []
    for name, data in SETS.items():
        cfg = load_camera_config(ROOT / "configs" / "cameras" / f"{name}.yaml")
        with tempfile.TemporaryDirectory() as out:
            result = run_cameras(cfg, out, progress=False, max_frames=args.frames, handle_signals=False,
                                 realtime=True, live=True, live_delay_s=args.delay, live_piece_s=args.pieces)
            repo = Repository(open_database(result.db_url))
            tracklets = repo.load_tracklets(cfg.name)
            first, history = repo.id_decisions(cfg.name)
            plain = run_cameras(cfg, Path(out) / "offline", progress=False, max_frames=args.frames, handle_signals=False)
            plain_tracklets = Repository(open_database(plain.db_url)).load_tracklets(cfg.name)
        end = max(t.end_time for t in tracklets)
        span = {t.key: (t.start_time, t.end_time) for t in tracklets}
        given = [a for a in first if a.time < end]
        live = np.array([a.time - span[a.tracklet][1] for a in given if a.time >= span[a.tracklet][1]])
        early = np.array([a.time - span[a.tracklet][0] for a in given if a.time < span[a.tracklet][1]])
        gt = read_mtmc(shared / "data" / data / "mtmc_gt.txt")
        last = max(args.frames, 1)
        gt = [r for r in gt if r[2] <= last]

        def idf1(ids: dict, of: list | None = None) -> float:
            return evaluate_mtmc(gt, [(t.camera_id, ids[t.key], int(f), *map(float, b))
                                      for t in (tracklets if of is None else of)
                                      for f, b in zip(t.frames, t.boxes)])["idf1"]

        offline = fuse(sorted((replace(t, global_id=None) for t in tracklets), key=lambda t: t.key),
                       Topology.from_config(cfg), cfg.fusion)
        row = dict(set=name, n=len(tracklets), live=len(given), closed=len(live), changes=len(history),
                   early=len(early), early_p50=float(np.percentile(early, 50)) if len(early) else float("nan"),
                   p50=float(np.percentile(live, 50)) if len(live) else float("nan"),
                   p95=float(np.percentile(live, 95)) if len(live) else float("nan"),
                   first=idf1({a.tracklet: a.global_id for a in first}), final=idf1({t.key: t.global_id for t in tracklets}),
                   offline=idf1({k: i.global_id for i in offline for k in i.members}),
                   run=idf1({t.key: t.global_id for t in plain_tracklets}, plain_tracklets),
                   dropped=sum(c.dropped for c in result.cameras) / max(sum(c.frames + c.dropped for c in result.cameras), 1))
        print(row, flush=True)
        rows.append(row)
    print(f"\n# {os.cpu_count()} CPU cores; first {args.frames} frames per camera at 10 fps; --live-delay "
          f"{args.delay:g}; --live-pieces {args.pieces:g}\n")
    print("| set | tracklets | ids given live | after the close: n, delay p50 / p95 s | before it (a piece): n, "
          "p50 s after appearing | id changes | IDF1 as first given | IDF1 final | IDF1 offline fusion of them | "
          "IDF1 offline run | frames dropped |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['n']} | {r['live']} | {r['closed']}: {r['p50']:.2f} / {r['p95']:.2f} | "
              f"{r['early']}: {r['early_p50']:.1f} | {r['changes']} | "
              f"{r['first']:.3f} | {r['final']:.3f} | {r['offline']:.3f} | {r['run']:.3f} | {r['dropped']:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
