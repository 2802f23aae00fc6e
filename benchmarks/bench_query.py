"""Query-by-image benchmark: latency of one query against 10^3 .. 10^6 stored tracklets, index warm.

Data: synthetic 256-d L2-normalised tracklet embeddings with identity structure (5 tracklets per identity over
8 cameras, each a noisy copy of its identity's centre: same-identity cosine ~0.75, others ~0). Up to
``--store-max`` tracklets go into a SQLite file through ``Repository`` and the index is built from it
(``QueryService.index``: load_embeddings + build), saved, and loaded back warm from the cache; larger sizes build the
index from the same arrays (storing 10^6 one-frame tracklets through the repository takes minutes) and load it
back from the cache the same way.

Per size: time to store, to build cold, to load warm; then per query (a fresh noisy sample of a random
identity) p50 / p99 ms of search + identity collapse (``QueryIndex.search``, top 10), the recall@1 of the
identity, and where a database exists the per-query database costs (``Repository.fingerprint`` staleness check and
``describe``: cameras, times and crop of the 10 results). The query's ReID embedding (one crop through the
shared OMZ model) is timed separately, once.

Run:  .venv/bin/python benchmarks/bench_query.py [--sizes 1000,10000,100000,1000000] [--store-max 100000]
      [--queries 300]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mtmct.query_index import NPROBE, QueryIndex, load_cached  # noqa: E402
from mtmct.query_service import QueryService, describe  # noqa: E402
from mtmct.core.tracklet import GlobalIdentity, Tracklet  # noqa: E402
from storage import Repository, open_database  # noqa: E402

DIM, PER_ID, CAMERAS, NOISE = 256, 5, 8, 0.6


def synthetic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors (n, D), identity per row, centres): each row its identity's centre plus noise, normalised."""
    centres = rng.standard_normal((-(-n // PER_ID), DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    ident = np.arange(n) // PER_ID
    x = centres[ident] + NOISE * rng.standard_normal((n, DIM), dtype=np.float32) / np.sqrt(DIM)
    return x / np.linalg.norm(x, axis=1, keepdims=True), ident, centres


def store(url: str, x: np.ndarray, ident: np.ndarray) -> float:
    """One-frame tracklets through ``Repository.write_camera`` (one transaction per camera); seconds."""
    db = open_database(url)
    repo = Repository(db)
    cams = [f"c{i}" for i in range(CAMERAS)]
    start = time.perf_counter()
    repo.start_run("bench", "name: bench\nmodels: {reid: bench-reid}\ncameras: []\n", "bench", cams)
    members: dict[int, list[tuple[str, int]]] = {}
    for c, cam in enumerate(cams):
        rows = np.arange(c, len(x), CAMERAS)
        tracks = [Tracklet(cam, int(r), 0, [1 + r // CAMERAS], [r / 10.0], [[0, 0, 40, 100]], [1.0], x[r])
                  for r in rows]
        repo.write_camera("bench", cam, None, tracks)
        for r in rows:
            members.setdefault(int(ident[r]), []).append((cam, int(r)))
    repo.write_identities("bench", [GlobalIdentity(g + 1, m) for g, m in members.items()])
    repo.finish_run("bench")
    db.close()
    return time.perf_counter() - start


def from_arrays(x: np.ndarray, ident: np.ndarray, path: Path) -> QueryIndex:
    """The index ``QueryService.index`` would build, from arrays (no database), to be saved at ``path``."""
    from fusion.tracklet_index import TrackletIndex

    n = len(x)
    built = TrackletIndex(DIM, nprobe=NPROBE, use_gpu=False).build(x)
    return QueryIndex(built.cpu_index, np.array(["bench"]), np.array([f"c{i}" for i in range(CAMERAS)]),
                      np.zeros(n, np.int32), (np.arange(n) % CAMERAS).astype(np.int32), np.arange(n, dtype=np.int64),
                      ident.astype(np.int64) + 1, np.zeros(n, np.int64), "synthetic", path=path)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ms = np.asarray(samples) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def embed_latency(repeats: int = 50) -> float | None:
    """p50 ms to embed one person crop with the shared OMZ ReID model (None when shared/ is absent)."""
    model = Path(__file__).resolve().parents[2] / "shared" / "models" / "omz-person-reid-0277"
    if not model.exists():
        return None
    from cameras.embedder import load_embedder

    embedder = load_embedder(model)
    crop = np.random.default_rng(0).integers(0, 255, (120, 50, 3), np.uint8)
    embedder.embed([crop])
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        embedder.embed([crop])
        times.append(time.perf_counter() - t)
    return percentiles(times)[0]


def bench(n: int, store_max: int, n_queries: int, tmp: Path) -> dict:
    rng = np.random.default_rng(n)
    x, ident, centres = synthetic(n, rng)
    row: dict = {"n": n}
    db = None
    if n <= store_max:
        url = f"sqlite:///{tmp / f'bench-{n}.db'}"
        row["store_s"] = store(url, x, ident)
        db = open_database(url)
        t = time.perf_counter()
        index = QueryService().index(Repository(db), ["bench"], "reid=bench-reid")
        row["build_s"] = time.perf_counter() - t
    else:
        t = time.perf_counter()
        index = from_arrays(x, ident, tmp / f"arrays-{n}.npz")
        row["build_s"] = time.perf_counter() - t
    index.save()
    t = time.perf_counter()  # a fresh service: nothing in memory, the index comes from the cache files
    warm = (QueryService().index(Repository(db), ["bench"], "reid=bench-reid") if db
            else load_cached(index.path, "synthetic"))
    row["load_s"] = time.perf_counter() - t
    assert warm is not None and warm.source == "disk", "the warm index must come from the cache"
    row["kind"] = type(warm.index).__name__
    targets = rng.integers(0, len(centres), n_queries)
    q = centres[targets] + NOISE * rng.standard_normal((n_queries, DIM), dtype=np.float32) / np.sqrt(DIM)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    warm.search(q[:5], 10)  # first touches of the memory map
    times, hits = [], []
    for i in range(n_queries):
        t = time.perf_counter()
        found = warm.search(q[i:i + 1], 10)[0]
        times.append(time.perf_counter() - t)
        hits.append(found[0].global_id == targets[i] + 1)
    row["p50"], row["p99"] = percentiles(times)
    row["recall1"] = float(np.mean(hits))
    if db is not None:
        fp, ds = [], []
        for i in range(min(n_queries, 50)):
            t = time.perf_counter()
            Repository(db).fingerprint(["bench"])
            fp.append(time.perf_counter() - t)
            found = warm.search(q[i:i + 1], 10)
            t = time.perf_counter()
            describe(Repository(db), found)
            ds.append(time.perf_counter() - t)
        row["fingerprint_ms"], row["describe_ms"] = percentiles(fp)[0], percentiles(ds)[0]
        db.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--store-max", type=int, default=100_000, help="largest size stored through Repository")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cmd = "benchmarks/bench_query.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="bench-query-") as tmp:
        rows = []
        for n in (int(float(s)) for s in args.sizes.split(",")):
            rows.append(bench(n, args.store_max, args.queries, Path(tmp)))
            print(f"done {n}: {rows[-1]}", file=sys.stderr)
    print(f"`{cmd.strip()}` ({args.queries} single queries, top 10, CPU)\n")
    print("| tracklets | stored via | store s | build s | warm load ms | index | search+collapse p50 ms | p99 ms "
          "| recall@1 | fingerprint ms | describe ms |")
    print("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        stored = f"Repository (SQLite) | {r['store_s']:.1f}" if "store_s" in r else "arrays | -"
        db_ms = f"{r['fingerprint_ms']:.1f} | {r['describe_ms']:.1f}" if "fingerprint_ms" in r else "- | -"
        print(f"| {r['n']:,} | {stored} | {r['build_s']:.2f} | {r['load_s'] * 1000:.1f} | {r['kind']} | "
              f"{r['p50']:.2f} | {r['p99']:.2f} | {r['recall1']:.3f} | {db_ms} |")
    emb = embed_latency()
    if emb is not None:
        print(f"\nReID embedding of the query crop (omz-person-reid-0277, 1 crop, CPU): p50 {emb:.1f} ms")


if __name__ == "__main__":
    main()
