"""Online fusion (fusion/online_fusion.py) replayed on real runs: ids given while the footage runs, against offline.

Each camera set runs through the camera pipeline once (its example config); its tracklets are then fed to
:class:`fusion.online_fusion.OnlineFusion` in the order they close, with a fusion step every second of stream time,
for each delay. Reported: tracklets, how many got their id before the footage ended, id changes recorded later
(merges, splits), cross-camera IDF1 of the ids as first given, after the last step and offline, whether the final
grouping equals offline fusion's, and the slowest step (ms; a step re-fuses every ready tracklet).

Run:  .venv/bin/python benchmarks/bench_online_fusion.py [--shared ../shared] [--delays 3 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import zlib  # noqa: F401  (before paddle: see mtmct/core/models/paddle_backend.py)
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion.fusion import fuse_report  # noqa: E402
from fusion.online_fusion import MERGE, OnlineFusion  # noqa: E402
from fusion.topology import Topology  # noqa: E402
from mtmct.core.camera_config import load_camera_config  # noqa: E402
from mtmct.eval_mtmc import evaluate_mtmc, read_mtmc  # noqa: E402

SETS = {"pets09-overlap": "mtmc-pets09-overlap", "pets09-gap2": "mtmc-pets09-gap2",
        "tud-campus-gap2": "mtmc-tud-campus-gap2"}


def replay_online(tracklets, topology, cfg, delay: float, tick: float = 1.0) -> tuple[OnlineFusion, dict, float]:
    """(the online fusion after its last step, the ids as first given, slowest step in seconds)."""
    online = OnlineFusion(topology, cfg.fusion, delay_s=delay)
    pending = sorted(tracklets, key=lambda t: t.end_time)
    end, now, slowest = max(t.end_time for t in tracklets), min(t.start_time for t in tracklets), 0.0
    while now < end:
        now += tick
        online.add([t for t in pending if t.end_time <= now])
        pending = [t for t in pending if t.end_time > now]
        start = time.perf_counter()
        online.step(now)
        slowest = max(slowest, time.perf_counter() - start)
    live = sum(a.time < end for a in online.first)
    online.finish()
    return online, {"live": live, "first": {a.tracklet: a.global_id for a in online.first}}, slowest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"))
    parser.add_argument("--delays", type=float, nargs="+", default=[3.0, 10.0])
    args = parser.parse_args()
    shared = Path(args.shared).resolve()
    from mtmct.pipeline import run_cameras

    rows = []
    for name, data in SETS.items():
        cfg = load_camera_config(ROOT / "configs" / "cameras" / f"{name}.yaml")
        with tempfile.TemporaryDirectory() as out:
            result = run_cameras(cfg, out, progress=False, use_ray=False, handle_signals=False)
        tracklets = [replace(t, global_id=None) for t in result.tracklets]
        topology = Topology.from_config(cfg)
        gt = read_mtmc(shared / "data" / data / "mtmc_gt.txt")

        def idf1(ids: dict) -> float:
            return evaluate_mtmc(gt, [(t.camera_id, ids[t.key], int(f), *map(float, b))
                                      for t in tracklets for f, b in zip(t.frames, t.boxes)])["idf1"]

        offline = fuse_report(sorted(tracklets, key=lambda t: t.key), topology, cfg.fusion)[0]
        off_ids = {k: i.global_id for i in offline for k in i.members}
        for delay in args.delays:
            online, first, slowest = replay_online(tracklets, topology, cfg, delay)
            same = sorted(i.members for i in online.identities()) == sorted(sorted(i.members) for i in offline)
            row = dict(set=name, delay=delay, n=len(tracklets), live=first["live"], changes=len(online.history),
                       merges=sum(c.reason == MERGE for c in online.history), first=idf1(first["first"]),
                       final=idf1(online.ids), offline=idf1(off_ids), same=same, ms=1000 * slowest)
            print(row, flush=True)
            rows.append(row)
    print("\n| set | delay s | tracklets | ids given live | id changes (merges) | IDF1 as first given | IDF1 final "
          "| IDF1 offline | final = offline grouping | slowest step ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['delay']:g} | {r['n']} | {r['live']} | {r['changes']} ({r['merges']}) | "
              f"{r['first']:.3f} | {r['final']:.3f} | {r['offline']:.3f} | {'yes' if r['same'] else 'no'} | "
              f"{r['ms']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
