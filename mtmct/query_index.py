"""The FAISS index query-by-image searches: stored tracklet embeddings of some runs, cached on disk.

The index is a derived cache of the database (DESIGN.md), so it is keyed by what it covers and checked, on
every query, against a fingerprint the database answers from a few index lookups whatever its size: per
covered run its status, start/finish times and lowest/highest global id, per camera its status, frames, error
and lowest/highest track id (a count would scan 10^6 rows: 0.2 s on SQLite). A new, replaced or resumed run, a
camera written, or fusion followed by ``finish_run`` (as ``mtmct run`` does) changes it, and the index is
rebuilt from :meth:`storage.Repository.load_embeddings`. Not noticed: a camera rewritten through the API with
the same track id range and frame count while its run keeps its times.

The cache lives beside a SQLite file (``<db>.query-index/``) or, for a server, under ``$MTMCT_CACHE``
(default ``~/.cache/mtmct``) ``/query-index/``; files are named by a hash of the password-free URL and the run
filter. Warm loads memory-map the IVF lists (milliseconds even at 10^6 rows). :meth:`QueryIndex.save` is
separate from building so a query that fails writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from fusion.tracklet_index import TrackletIndex
from mtmct.core.errors import MtmctError
from storage import Database, Repository
from storage.schema import Camera, Identity, Run, TrackletRow

log = logging.getLogger(__name__)

CACHE_VERSION = 1
NPROBE = 48  # IVF cells one query scans: 16 (fusion's default) missed 4% of rank-1 identities at 10^6 rows,
# and one query scanning 3x more stays a few milliseconds (benchmarks/bench_query.py)
_MEMO: dict[str, QueryIndex] = {}  # meta path -> index loaded in this process (the dashboard queries repeatedly)


@dataclass(frozen=True)
class Hit:
    """A stored tracklet's best match with one query; ``global_id`` None for a tracklet fusion has not placed."""

    run_id: str
    global_id: int | None
    camera_id: str
    track_id: int
    score: float


@dataclass
class QueryIndex:
    """A CPU FAISS index (ids = row numbers) plus each row's run, camera, track and global id."""

    index: object  # faiss.Index
    runs: np.ndarray  # (R,) str
    cameras: np.ndarray  # (C,) str
    run_of: np.ndarray  # (N,) int32 into runs
    camera_of: np.ndarray  # (N,) int32 into cameras
    track_of: np.ndarray  # (N,) int64
    global_of: np.ndarray  # (N,) int64, -1 where not fused
    fingerprint: str
    source: str = "built"  # "built", "disk" or "memory": where this query got it
    path: Path | None = None  # the meta file it is (or will be) saved to

    def __len__(self) -> int:
        return len(self.track_of)

    @property
    def dim(self) -> int:
        return int(self.index.d)  # type: ignore[attr-defined]

    def search(self, queries: np.ndarray, top_k: int) -> list[list[Hit]]:
        """The ``top_k`` best identities per query row: tracklets collapsed to their identity (its best
        tracklet's cosine similarity); asks FAISS for more tracklets until ``top_k`` identities or all rows."""
        import faiss

        q = np.ascontiguousarray(queries, np.float32).reshape(len(queries), -1)
        k = min(len(self), max(8 * top_k, 64))
        threads = faiss.omp_get_max_threads()
        # A few queries are memory-bound: an OpenMP team costs more than it saves, and under CPU contention its
        # start-up stalls (p99 of one query on 10^4 rows: 7.7 ms with 2 threads, 0.9 ms with 1).
        faiss.omp_set_num_threads(1 if len(q) < 8 else threads)
        try:
            while True:
                sims, rows = self.index.search(q, k)  # type: ignore[attr-defined]
                hits = [self._collapse(s, r, top_k) for s, r in zip(sims, rows)]
                if k >= len(self) or all(len(h) >= top_k for h in hits):
                    return hits
                k = min(len(self), 4 * k)
        finally:
            faiss.omp_set_num_threads(threads)

    def _collapse(self, sims: np.ndarray, rows: np.ndarray, top_k: int) -> list[Hit]:
        ok = rows >= 0
        sims, rows = sims[ok], rows[ok]
        gid = self.global_of[rows]
        # one key per identity; an unfused tracklet is its own identity (negative key from its row)
        key = np.where(gid >= 0, self.run_of[rows].astype(np.int64) << 32 | gid, -1 - rows)
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)[:top_k]  # rows come best first, so each identity's first row is its best
        return [Hit(str(self.runs[self.run_of[r]]), None if gid[i] < 0 else int(gid[i]),
                    str(self.cameras[self.camera_of[r]]), int(self.track_of[r]), float(sims[i]))
                for i, r in zip(first, rows[first])]

    def save(self) -> None:
        """Write the index and then its metadata (atomic replace); an unwritable folder only costs a warning."""
        import faiss

        if self.path is None or self.source != "built":
            return
        token = secrets.token_hex(6)
        index_file = self.path.with_name(f"{self.path.stem}-{token}.faiss")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            faiss.write_index(self.index, str(index_file))
            tmp = self.path.with_name(f".{self.path.stem}-{token}.npz")
            np.savez(tmp, runs=self.runs, cameras=self.cameras, run_of=self.run_of, camera_of=self.camera_of,
                     track_of=self.track_of, global_of=self.global_of, fingerprint=np.array(self.fingerprint),
                     token=np.array(token), version=np.array(CACHE_VERSION))
            os.replace(tmp, self.path)
        except OSError as error:
            log.warning("cannot cache the query index in %s: %s", self.path.parent, error)
            index_file.unlink(missing_ok=True)
            return
        for old in self.path.parent.glob(f"{self.path.stem}-*.faiss"):
            if old != index_file:
                old.unlink(missing_ok=True)
        self.source = "disk"
        _MEMO[str(self.path)] = self
        log.info("query index cached: %s", index_file)


def cache_dir(db: Database) -> Path:
    """Beside a SQLite file; else ``$MTMCT_CACHE`` or the user cache folder (see module docstring)."""
    url = make_url(db.engine.url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "").expanduser().resolve()
        return path.with_name(path.name + ".query-index")
    root = os.environ.get("MTMCT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mtmct")
    return Path(root).expanduser() / "query-index"


def fingerprint(db: Database, run_ids: list[str]) -> str:
    """A digest of what the index over ``run_ids`` must hold, from index lookups only (see module docstring)."""
    t, c, i = TrackletRow, Camera, Identity
    tracks = [select(fn(t.track_id)).where(t.run_id == c.run_id, t.camera_id == c.camera_id).scalar_subquery()
              for fn in (func.min, func.max)]
    gids = [select(fn(i.global_id)).where(i.run_id == Run.id).scalar_subquery() for fn in (func.min, func.max)]
    with db.read() as conn:
        runs = conn.execute(select(Run.id, Run.status, Run.started_at, Run.finished_at, *gids)
                            .where(Run.id.in_(run_ids)).order_by(Run.id)).all()
        cams = conn.execute(select(c.run_id, c.camera_id, c.status, c.frames, c.error, *tracks)
                            .where(c.run_id.in_(run_ids)).order_by(c.run_id, c.camera_id)).all()
    rows = [[str(v) for v in r] for r in (*runs, *cams)]
    return hashlib.sha256(json.dumps([CACHE_VERSION, rows]).encode()).hexdigest()


def open_index(db: Database, run_ids: list[str], filter_key: str) -> QueryIndex:
    """The index over ``run_ids``: from memory or disk when its fingerprint is current, else built (not saved)."""
    start = time.perf_counter()
    digest = hashlib.sha256(f"{db.url}\0{filter_key}".encode()).hexdigest()[:20]
    path = cache_dir(db) / f"{digest}.npz"
    current = fingerprint(db, run_ids)
    memo = _MEMO.get(str(path))
    if memo is not None and memo.fingerprint == current and path.exists():
        memo.source = "memory"
        return memo
    found = _load(path, current)
    if found is None:
        found = build_index(Repository(db), run_ids, current)
        found.path = path
    log.info("query index (%d rows) %s in %.3f s", len(found), found.source, time.perf_counter() - start)
    return found


def _load(path: Path, current: str) -> QueryIndex | None:
    import faiss

    try:
        with np.load(path) as meta:
            if int(meta["version"]) != CACHE_VERSION or str(meta["fingerprint"]) != current:
                log.info("query index %s is stale: rebuilding", path)
                return None
            token, arrays = str(meta["token"]), {k: meta[k] for k in
                                                   ("runs", "cameras", "run_of", "camera_of", "track_of", "global_of")}
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY  # maps IVF lists; a flat index (<= 20k rows) is read
        index = faiss.read_index(str(path.with_name(f"{path.stem}-{token}.faiss")), flags)
    except (OSError, KeyError, ValueError, RuntimeError) as error:  # absent, partial or foreign files: rebuild
        if path.exists():
            log.info("query index %s unreadable (%s): rebuilding", path, error)
        return None
    found = QueryIndex(index, **arrays, fingerprint=current, source="disk", path=path)
    _MEMO[str(path)] = found
    return found


def build_index(repo: Repository, run_ids: list[str], fingerprint_: str = "") -> QueryIndex:
    """Load the embeddings of ``run_ids`` and index them (exact up to 20k rows, IVF beyond; CPU: one query
    at a time is memory-bound either way and a GPU copy would cost more than it saves)."""
    keys: list[tuple[str, str, int]] = []
    parts: list[np.ndarray] = []
    for run_id in run_ids:
        k, m = repo.load_embeddings(run_id)
        if len(k):
            keys.extend(k)
            parts.append(m)
    if not keys:
        raise MtmctError(f"no stored tracklet embeddings in run(s) {', '.join(run_ids)}: "
                         "run `mtmct run` with a ReID model first")
    if len({p.shape[1] for p in parts}) > 1:
        raise MtmctError(f"runs {', '.join(run_ids)} hold embeddings of different sizes: query one run (--run)")
    vectors = np.concatenate(parts)
    t = TrackletRow
    with repo.db.read() as conn:
        gids = {(r, c, k): g for r, c, k, g in conn.execute(
            select(t.run_id, t.camera_id, t.track_id, t.global_id).where(t.run_id.in_(run_ids)))}
    runs, run_of = np.unique(np.array([k[0] for k in keys]), return_inverse=True)
    cameras, camera_of = np.unique(np.array([k[1] for k in keys]), return_inverse=True)
    built = TrackletIndex(vectors.shape[1], nprobe=NPROBE, use_gpu=False).build(vectors)
    return QueryIndex(
        built.cpu_index,
        runs, cameras, run_of.astype(np.int32), camera_of.astype(np.int32),
        np.array([k[2] for k in keys], np.int64),
        np.array([-1 if gids.get(k) is None else gids[k] for k in keys], np.int64), fingerprint_)
