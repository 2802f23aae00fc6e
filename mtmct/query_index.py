"""The FAISS index query-by-image searches: stored tracklet embeddings of some runs, cached on disk.

The index is a derived cache of the database (DESIGN.md), so it is keyed by what it covers and checked, on
every query, against :meth:`storage.Repository.fingerprint` (a few index lookups whatever the database's size);
when that changed, the index is rebuilt from :meth:`storage.Repository.load_embeddings`.

The cache lives beside a SQLite file (``<db>.query-index/``) or, for a server, under ``$MTMCT_CACHE``
(default ``~/.cache/mtmct``) ``/query-index/``; files are named by a hash of the password-free URL and the run
filter. Warm loads memory-map the IVF lists (milliseconds even at 10^6 rows). :meth:`QueryIndex.save` is
separate from building so a query that fails writes nothing. Which index a process keeps in memory is the
business of :class:`mtmct.query_service.QueryService`; this module holds no state.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.engine import make_url

from fusion.tracklet_index import TrackletIndex
from mtmct.core.errors import MtmctError
from storage import Database, Repository

log = logging.getLogger(__name__)

CACHE_VERSION = 3  # 2: fingerprints come from storage.Repository.fingerprint; 3: each row's class
NPROBE = 48  # IVF cells one query scans: 16 (fusion's default) missed 4% of rank-1 identities at 10^6 rows,
# and one query scanning 3x more stays a few milliseconds (benchmarks/bench_query.py)


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
    class_of: np.ndarray  # (N,) int64, each tracklet's object class
    fingerprint: str  # storage.Repository.fingerprint of the runs it covers, when it was built
    source: str = "built"  # "built", "disk" or "memory": where this query got it
    path: Path | None = None  # the meta file it is (or will be) saved to

    def __len__(self) -> int:
        return len(self.track_of)

    @property
    def dim(self) -> int:
        return int(self.index.d)  # type: ignore[attr-defined]

    def search(self, queries: np.ndarray, top_k: int, classes: list[int] | None = None) -> list[list[Hit]]:
        """The ``top_k`` best identities per query row: tracklets collapsed to their identity (its best
        tracklet's cosine similarity); asks FAISS for more tracklets until ``top_k`` identities or all rows.
        ``classes`` keeps only tracklets of those object classes (a car query among cars).
        Safe from many threads at once (a CPU FAISS index is only read); FAISS's thread count is the caller's
        (:class:`mtmct.query_service.QueryService` sets it once)."""
        q = np.ascontiguousarray(queries, np.float32).reshape(len(queries), -1)
        k = min(len(self), max(8 * top_k, 64))
        while True:
            sims, rows = self.index.search(q, k)  # type: ignore[attr-defined]
            hits = [self._collapse(s, r, top_k, classes) for s, r in zip(sims, rows)]
            if k >= len(self) or all(len(h) >= top_k for h in hits):
                return hits
            k = min(len(self), 4 * k)

    def _collapse(self, sims: np.ndarray, rows: np.ndarray, top_k: int, classes: list[int] | None) -> list[Hit]:
        ok = rows >= 0
        if classes is not None:
            ok &= np.isin(self.class_of[np.maximum(rows, 0)], classes)
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
        """Write the index and then its metadata (atomic replace); an unwritable folder only costs a warning (and
        ``path`` becomes None, so it is not tried again)."""
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
                     track_of=self.track_of, global_of=self.global_of, class_of=self.class_of, fingerprint=np.array(self.fingerprint),
                     token=np.array(token), version=np.array(CACHE_VERSION))
            os.replace(tmp, self.path)
        except OSError as error:
            log.warning("cannot cache the query index in %s: %s", self.path.parent, error)
            index_file.unlink(missing_ok=True)
            self.path = None
            return
        for old in self.path.parent.glob(f"{self.path.stem}-*.faiss"):
            if old != index_file:
                old.unlink(missing_ok=True)
        self.source = "disk"
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


def cache_path(db: Database, filter_key: str) -> Path:
    """The metadata file of the cached index over ``filter_key`` (e.g. ``run=<id>``) of the database ``db``."""
    digest = hashlib.sha256(f"{db.url}\0{filter_key}".encode()).hexdigest()[:20]
    return cache_dir(db) / f"{digest}.npz"


def load_cached(path: Path, current: str) -> QueryIndex | None:
    """The index saved at ``path`` if it was built at fingerprint ``current``, else None (stale or absent)."""
    import faiss

    try:
        with np.load(path) as meta:
            if int(meta["version"]) != CACHE_VERSION or str(meta["fingerprint"]) != current:
                log.info("query index %s is stale: rebuilding", path)
                return None
            token, arrays = str(meta["token"]), {k: meta[k] for k in
                                                   ("runs", "cameras", "run_of", "camera_of", "track_of", "global_of",
                                                                  "class_of")}
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY  # maps IVF lists; a flat index (<= 20k rows) is read
        index = faiss.read_index(str(path.with_name(f"{path.stem}-{token}.faiss")), flags)
    except (OSError, KeyError, ValueError, RuntimeError) as error:  # absent, partial or foreign files: rebuild
        if path.exists():
            log.info("query index %s unreadable (%s): rebuilding", path, error)
        return None
    return QueryIndex(index, **arrays, fingerprint=current, source="disk", path=path)


def build_index(repo: Repository, run_ids: list[str], fingerprint: str = "", path: Path | None = None,
                ) -> QueryIndex:
    """Load the embeddings of ``run_ids`` and index them (exact up to 20k rows, IVF beyond; CPU: one query
    at a time is memory-bound either way and a GPU copy would cost more than it saves)."""
    parts = [stored for stored in (repo.load_embeddings(run_id) for run_id in run_ids) if len(stored)]
    if not parts:
        raise MtmctError(f"no stored tracklet embeddings in run(s) {', '.join(run_ids)}: "
                         "run `mtmct run` with a ReID model first")
    if len({p.dim for p in parts}) > 1:
        raise MtmctError(f"runs {', '.join(run_ids)} hold embeddings of different sizes: query one run (--run)")
    keys = [k for p in parts for k in p.keys]
    vectors = np.concatenate([p.matrix for p in parts])
    runs, run_of = np.unique(np.array([k[0] for k in keys]), return_inverse=True)
    cameras, camera_of = np.unique(np.array([k[1] for k in keys]), return_inverse=True)
    built = TrackletIndex(vectors.shape[1], nprobe=NPROBE, use_gpu=False).build(vectors)
    return QueryIndex(built.cpu_index, runs, cameras, run_of.astype(np.int32), camera_of.astype(np.int32),
                      np.array([k[2] for k in keys], np.int64), np.concatenate([p.global_ids for p in parts]),
                      np.concatenate([p.classes for p in parts]), fingerprint, path=path)
