"""Storage benchmark: box ingest rate, embedding load time and FAISS search latency, PostgreSQL vs SQLite.

1. Boxes: ``--boxes`` synthetic rows written through ``Repository.write_camera`` in camera-sized transactions
   (``--camera-boxes`` each): COPY BINARY on PostgreSQL, batched executemany on SQLite. Rows/s over the whole.
2. Embeddings: ``--tracklets`` (e.g. 10^5 and 10^6) 256-d tracklets bulk-inserted (setup, rate reported), then
   timed ``Repository.load_embeddings`` (streamed in chunks into one float32 matrix).
3. Search (``--faiss``): the largest loaded matrix goes into a FAISS exact inner-product index and an IVF index;
   p50 / p99 milliseconds of single-query top-10 searches with the index warm.

Each engine gets a fresh database (a temporary PostgreSQL database, dropped afterwards; a temporary SQLite file).

Run:  .venv/bin/python benchmarks/bench_storage.py [--boxes 1000000] [--tracklets 100000,1000000] [--faiss]
      [--pg postgresql+psycopg://postgres@127.0.0.1:5432] [--engines postgresql,sqlite]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import BOX_DTYPE, Repository, open_database, upgrade  # noqa: E402
from storage.bulk import insert_boxes, insert_rows  # noqa: E402
from storage.repository import _TRACKLET_COLUMNS, _TRACKLET_PG  # noqa: E402


def synthetic_boxes(n: int, rng: np.random.Generator) -> np.ndarray:
    boxes = np.zeros(n, BOX_DTYPE)
    boxes["frame"] = np.arange(n) // 20 + 1  # 20 people a frame
    boxes["time"] = boxes["frame"] / 25.0
    boxes["track_id"] = np.arange(n) % 20 + (np.arange(n) // 20_000) * 20
    for name in ("x", "y", "w", "h", "score"):
        boxes[name] = rng.random(n, np.float32) * 500
    return boxes


def bench_boxes(repo: Repository, n: int, per_camera: int, rng: np.random.Generator) -> float:
    cameras = [f"c{i}" for i in range(-(-n // per_camera))]
    chunks = [synthetic_boxes(min(per_camera, n - i * per_camera), rng) for i in range(len(cameras))]
    repo.start_run("boxes", "bench", "bench", cameras)
    start = time.perf_counter()
    for camera, boxes in zip(cameras, chunks):
        repo.write_camera("boxes", camera, boxes, [])
    return n / (time.perf_counter() - start)


def insert_tracklets(repo: Repository, run_id: str, n: int, dim: int, rng: np.random.Generator) -> float:
    """Setup for the load benchmark: n one-frame tracklets straight through the bulk path (no Tracklet objects)."""
    per_camera = 100_000
    cameras = [f"c{i}" for i in range(-(-n // per_camera))]
    repo.start_run(run_id, "bench", "bench", cameras)
    start = time.perf_counter()
    for i, camera in enumerate(cameras):
        m = min(per_camera, n - i * per_camera)
        emb = rng.standard_normal((m, dim), np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        boxes = np.zeros(m, BOX_DTYPE)
        boxes["frame"], boxes["track_id"] = 1, np.arange(m)
        with repo.db.write() as conn:
            conn.exec_driver_sql(f"UPDATE cameras SET status = 'finished' WHERE run_id = '{run_id}' "
                                 f"AND camera_id = '{camera}'")
            insert_boxes(conn, run_id, camera, boxes)
            rows = ((run_id, camera, k, 0, 1, 1, 0.0, 0.0, 1, 1.0, "", emb[k].tobytes(), dim, None) for k in range(m))
            insert_rows(conn, "tracklets", _TRACKLET_COLUMNS, rows, _TRACKLET_PG)
    return n / (time.perf_counter() - start)


def bench_search(matrix: np.ndarray, queries: int = 300) -> dict[str, tuple[float, float]]:
    import faiss

    rng = np.random.default_rng(1)
    noise = rng.standard_normal((queries, matrix.shape[1]), np.float32) * 0.05
    q = matrix[rng.integers(0, len(matrix), queries)] + noise
    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(matrix)
    nlist = min(1024, max(1, len(matrix) // 100))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(matrix[rng.choice(len(matrix), min(len(matrix), 32 * nlist), replace=False)])
    ivf.add(matrix)
    ivf.nprobe = 16
    out = {}
    for name, index in (("flat (exact)", flat), (f"IVF{nlist} nprobe16", ivf)):
        index.search(q[:10], 10)  # warm
        times = []
        for row in q:
            start = time.perf_counter()
            index.search(row[None], 10)
            times.append((time.perf_counter() - start) * 1000)
        out[name] = (float(np.percentile(times, 50)), float(np.percentile(times, 99)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--boxes", type=int, default=1_000_000)
    parser.add_argument("--camera-boxes", type=int, default=100_000, help="boxes per camera transaction")
    parser.add_argument("--tracklets", default="100000,1000000", help="comma-separated embedding counts")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--faiss", action="store_true", help="also time FAISS search over the largest matrix")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="server URL, no db")
    parser.add_argument("--engines", default="postgresql,sqlite")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sizes = sorted(int(s) for s in args.tracklets.split(",") if s)
    rows, matrix = [], None
    for engine in args.engines.split(","):
        tmp = tempfile.TemporaryDirectory()
        admin, name = None, f"mtmct_bench_{uuid.uuid4().hex[:8]}"
        if engine == "postgresql":
            import psycopg

            admin = psycopg.connect(args.pg.replace("+psycopg", "") + "/postgres", autocommit=True)
            admin.execute(f'CREATE DATABASE "{name}"')
            url = f"{args.pg}/{name}"
            upgrade(url)
        else:
            url = f"sqlite:///{tmp.name}/bench.db"
        db = open_database(url)
        repo = Repository(db)
        try:
            rng = np.random.default_rng(0)
            rate = bench_boxes(repo, args.boxes, args.camera_boxes, rng)
            rows.append((engine, f"ingest {args.boxes:,} boxes ({args.camera_boxes:,}/camera transaction)",
                         f"{rate:,.0f} rows/s"))
            done = 0
            for i, n in enumerate(sizes):  # runs emb0, emb1 ... hold the increments; load all runs up to i
                rate = insert_tracklets(repo, f"emb{i}", n - done, args.dim, rng)
                rows.append((engine, f"insert {n - done:,} {args.dim}-d tracklets (setup)", f"{rate:,.0f} rows/s"))
                done = n
                start = time.perf_counter()
                stored = repo.load_embeddings("emb0") if i == 0 else repo.load_embeddings()
                secs = time.perf_counter() - start
                rows.append((engine, f"load_embeddings {len(stored):,} x {args.dim}", f"{secs:.2f} s"))
                matrix = stored.matrix
        finally:
            db.close()
            if admin is not None:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()
            tmp.cleanup()
    print("| engine | measure | result |\n|---|---|---|")
    for engine, what, value in rows:
        print(f"| {engine} | {what} | {value} |")
    if args.faiss and matrix is not None:
        print(f"\n| FAISS index over {len(matrix):,} x {matrix.shape[1]} (loaded from the database) | p50 ms | p99 ms |"
              "\n|---|---|---|")
        for name, (p50, p99) in bench_search(matrix).items():
            print(f"| {name}, top-10, 1 query | {p50:.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()
