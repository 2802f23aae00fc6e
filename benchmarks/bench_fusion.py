"""Fusion scaling benchmark: time and peak memory against the number of tracklets, on planted identities.

Synthetic world: 8 cameras in a ring (neighbours linked by 10-120 s transit windows, two pairs with overlapping
views), people walking through 2-6 cameras over hours (the span grows with n, so the density of people stays
realistic), one tracklet per visit, 256-d embeddings = person look (shared "families" of look-alikes) plus
per-tracklet noise, 10% short tracklets with noisier embeddings. Each size runs in its own subprocess so the
peak RSS (``ru_maxrss``, which includes FAISS's C++ memory) belongs to that size alone.

Columns: n, generation seconds (not fusion), fusion seconds with its parts (neighbours = index build + kNN
search, gates = topology masks, clustering, ids), peak RSS MB, identities, purity (share of tracklets whose
identity's majority person is theirs) and completeness (share whose person's majority identity is theirs),
and the seconds networkx needs just to hold the same edge list as a Graph (up to ``--nx-max-n``).

Run:  .venv/bin/python benchmarks/bench_fusion.py [--max-n 1000000] [--dim 256]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion.clustering import edge_graph  # noqa: E402
from fusion.fusion import candidate_edges, fuse  # noqa: E402
from fusion.topology import Link, Topology  # noqa: E402
from mtmct.core.tracklet import SHORT, Tracklet  # noqa: E402

CAMERAS = [f"cam{i}" for i in range(8)]
OVERLAPS = {(0, 1), (4, 5)}


def topology() -> Topology:
    links = []
    for i in range(8):
        a, b = sorted((i, (i + 1) % 8))
        if (a, b) in OVERLAPS:
            links.append(Link(a=CAMERAS[a], b=CAMERAS[b], overlap=True))
        else:
            links.append(Link(a=CAMERAS[a], b=CAMERAS[b], min_s=10, max_s=120))
    return Topology(CAMERAS, links, overlap_gap_s=3.0)


def world(n: int, dim: int, seed: int = 0) -> tuple[list[Tracklet], np.ndarray]:
    """About ``n`` tracklets of planted people (exactly n after trimming) and each one's person."""
    rng = np.random.default_rng(seed)
    people = n // 3 + 1
    span = max(3600.0, n * 0.4)  # 10^5 tracklets ~ 11 h, 10^6 ~ 4.6 days of 8 cameras
    families = rng.standard_normal((max(1, people // 50), dim)).astype(np.float32)
    looks = 0.7 * families[rng.integers(len(families), size=people)]
    looks += rng.standard_normal((people, dim)).astype(np.float32)
    looks /= np.linalg.norm(looks, axis=1, keepdims=True)
    visits = rng.integers(2, 7, size=people)
    tracklets: list[Tracklet] = []
    truth: list[int] = []
    counters = [0] * 8
    box = np.tile(np.array([100, 100, 40, 100], np.float32), (2, 1))
    for p in range(people):
        t, cam = float(rng.uniform(0, span)), int(rng.integers(8))
        for _ in range(visits[p]):
            short = rng.random() < 0.1
            dur = float(rng.uniform(1, 3) if short else rng.uniform(5, 60))
            sigma = 1.2 if short else float(rng.uniform(0.3, 0.9))
            e = looks[p] + sigma * rng.standard_normal(dim).astype(np.float32) / np.sqrt(dim)
            counters[cam] += 1
            tracklets.append(Tracklet(CAMERAS[cam], counters[cam], 0, [1, 2], [t, t + dur], box, [1.0, 1.0],
                                      e / np.linalg.norm(e), flags={SHORT} if short else frozenset()))
            truth.append(p)
            nxt = (cam + (1 if rng.random() < 0.5 else -1)) % 8
            overlap = tuple(sorted((cam, nxt))) in OVERLAPS
            t = t + dur - float(rng.uniform(0, 2)) if overlap else t + dur + float(rng.uniform(12, 100))
            cam = nxt
            if len(tracklets) >= n:
                return tracklets, np.array(truth)
    return tracklets, np.array(truth)


class _Timings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.parts: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("fusion timings"):
            self.parts = dict(zip(("neighbours", "gates", "clustering", "ids"), record.args))


def child(n: int, dim: int, nx_max_n: int) -> dict:
    t0 = time.perf_counter()
    tracklets, truth = world(n, dim)
    gen_s = time.perf_counter() - t0
    topo = topology()
    handler = _Timings()
    logger = logging.getLogger("fusion.fusion")
    logger.addHandler(handler), logger.setLevel(logging.INFO)
    t0 = time.perf_counter()
    identities = fuse(tracklets, topo, progress=n >= 10**5)
    fuse_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gid = np.array([t.global_id for t in tracklets])
    # purity: per identity, its majority person; completeness: per person, its majority identity
    order = np.lexsort((truth, gid))
    g, p = gid[order], truth[order]
    pair_start = np.r_[0, np.flatnonzero((np.diff(g) != 0) | (np.diff(p) != 0)) + 1]
    counts = np.diff(np.r_[pair_start, len(g)])
    purity = _majority(g[pair_start], counts) / len(gid)
    completeness = _majority(p[pair_start], counts) / len(gid)
    nx_s = None
    if n <= nx_max_n:
        pairs, sims = candidate_edges(tracklets, topo)
        t0 = time.perf_counter()
        edge_graph(len(tracklets), pairs, sims)
        nx_s = time.perf_counter() - t0
    return dict(n=len(tracklets), gen_s=gen_s, fuse_s=fuse_s, parts=handler.parts, peak_mb=peak_mb,
                identities=len(identities), people=int(len(np.unique(truth))), purity=purity,
                completeness=completeness, nx_s=nx_s)


def _majority(keys: np.ndarray, counts: np.ndarray) -> int:
    """Sum over groups (``keys``, sorted or not) of the largest count in the group."""
    best: dict[int, int] = {}
    for key, c in zip(keys.tolist(), counts.tolist()):
        if c > best.get(key, 0):
            best[key] = c
    return sum(best.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-n", type=int, default=10**6, help="largest size (sizes are powers of ten from 10^3)")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--nx-max-n", type=int, default=10**5, help="time a networkx Graph of the edges up to this n")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dim, args.nx_max_n)))
        return
    sizes = [10**e for e in range(3, 8) if 10**e <= args.max_n]
    print("| n | gen s | fusion s | neighbours s | gates s | clustering s | ids s | peak RSS MB | identities | people "
          "| purity | completeness | nx Graph s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--dim", str(args.dim), "--nx-max-n", str(args.nx_max_n)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"| {n} | failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]} |")
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        p = r["parts"]
        nx_s = "-" if r["nx_s"] is None else f"{r['nx_s']:.2f}"
        print(f"| {r['n']} | {r['gen_s']:.1f} | {r['fuse_s']:.2f} | {p.get('neighbours', 0):.2f} "
              f"| {p.get('gates', 0):.2f} "
              f"| {p.get('clustering', 0):.2f} | {p.get('ids', 0):.2f} | {r['peak_mb']:.0f} | {r['identities']} "
              f"| {r['people']} | {r['purity']:.3f} | {r['completeness']:.3f} | {nx_s} |", flush=True)


if __name__ == "__main__":
    main()
