"""Nearest-neighbour search over L2-normalised embeddings (inner product = cosine similarity), on FAISS.

General on purpose: rows are any embeddings with int64 ids (tracklets for fusion, crops for query-by-image).
Small sets use an exact ``IndexFlatIP``; past ``exact_max_n`` vectors an ``IndexIVFFlat`` (k-means coarse
quantiser) scans only ``nprobe`` of ``nlist`` cells per query. The trade-off: exact costs O(n) per query, so
O(n^2) to query every row against all (10^5 rows x 256-d is minutes on two cores); IVF costs about
``nprobe / nlist`` of that plus a training pass, and may miss a true neighbour that fell into an unprobed cell
(raise ``nprobe`` for recall, lower it for speed). Indexes move to the GPU when FAISS has one.
"""

from __future__ import annotations

import logging
import math

import numpy as np

log = logging.getLogger(__name__)


def _as_matrix(vectors: np.ndarray, dim: int | None = None) -> np.ndarray:
    x = np.ascontiguousarray(np.asarray(vectors, np.float32))
    if x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        raise ValueError(f"expected a (n, {dim or 'D'}) matrix of embeddings, got shape {x.shape}")
    return x


class TrackletIndex:
    """Exact-or-IVF inner-product index with int64 ids.

    ``exact_max_n``: up to this many vectors the search is exact (see module docstring for the trade-off).
    ``nlist``: IVF cells; default ``2 * sqrt(n)`` (fewer cells train faster but scan more per query).
    ``nprobe``: cells scanned per query. ``use_gpu``: ``None`` = when ``faiss.get_num_gpus() > 0``.
    """

    def __init__(self, dim: int, exact_max_n: int = 20_000, nlist: int | None = None, nprobe: int = 16,
                 use_gpu: bool | None = None, seed: int = 0) -> None:
        if dim <= 0 or exact_max_n < 0 or nprobe <= 0:
            raise ValueError(f"TrackletIndex: need dim > 0, exact_max_n >= 0, nprobe > 0 "
                             f"(got {dim}, {exact_max_n}, {nprobe})")
        self.dim, self.exact_max_n, self.nlist, self.nprobe, self.seed = dim, exact_max_n, nlist, nprobe, seed
        self.use_gpu = use_gpu
        self._index = None  # the searchable (maybe GPU) index
        self._cpu = None  # the CPU index that owns the data
        self.kind = "empty"

    def __len__(self) -> int:
        return 0 if self._cpu is None else int(self._cpu.ntotal)

    @property
    def cpu_index(self):
        """The CPU faiss index that owns the vectors (e.g. to ``faiss.write_index`` it); None before ``build``."""
        return self._cpu

    def build(self, vectors: np.ndarray, ids: np.ndarray | None = None) -> TrackletIndex:
        """(Re)build from scratch: exact or IVF by size; IVF trains its cells on (a sample of) ``vectors``."""
        import faiss

        x = _as_matrix(vectors, self.dim)
        ids = np.arange(len(x), dtype=np.int64) if ids is None else np.asarray(ids, np.int64).reshape(-1)
        if len(ids) != len(x):
            raise ValueError(f"TrackletIndex.build: {len(x)} vectors but {len(ids)} ids")
        if len(x) <= self.exact_max_n:
            cpu = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
            self.kind = "flat"
        else:
            nlist = self.nlist or int(2 * math.sqrt(len(x)))
            nlist = max(1, min(nlist, len(x) // 39))  # FAISS wants >= 39 training points per cell
            quantizer = faiss.IndexFlatIP(self.dim)
            cpu = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
            cpu.cp.seed = self.seed
            rng = np.random.default_rng(self.seed)
            sample = x if len(x) <= 64 * nlist else x[np.sort(rng.choice(len(x), 64 * nlist, replace=False))]
            cpu.train(sample)
            cpu.nprobe = min(self.nprobe, nlist)
            self.kind = "ivf"
            log.info("IVF index: %d vectors, %d cells, nprobe %d", len(x), nlist, cpu.nprobe)
        cpu.add_with_ids(x, ids)
        self._cpu, self._index = cpu, self._to_device(cpu)
        return self

    def add(self, vectors: np.ndarray, ids: np.ndarray | None = None) -> None:
        """Append rows; ids default to continuing ``0..len-1``. An exact index growing past ``exact_max_n`` is
        rebuilt as IVF; an IVF index keeps its cells (call :meth:`build` to retrain when the data drift)."""
        x = _as_matrix(vectors, self.dim)
        start = len(self)
        ids = np.arange(start, start + len(x), dtype=np.int64) if ids is None else np.asarray(ids, np.int64).reshape(-1)
        if self._cpu is None:
            self.build(x, ids)
        elif self.kind == "flat" and start + len(x) > self.exact_max_n:
            old_ids = _id_map(self._cpu)
            old = self._cpu.index.reconstruct_n(0, start)
            self.build(np.concatenate([old, x]), np.concatenate([old_ids, ids]))
        else:
            self._cpu.add_with_ids(x, ids)
            self._index = self._to_device(self._cpu)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows per query: ``(sims (m, k) float32, ids (m, k) int64)``, best first; id -1 (sim -inf)
        where fewer than ``k`` rows were found."""
        q = _as_matrix(queries, self.dim)
        if self._index is None or len(self) == 0 or k <= 0:
            return np.full((len(q), max(k, 0)), -np.inf, np.float32), np.full((len(q), max(k, 0)), -1, np.int64)
        sims, ids = self._index.search(q, k)
        sims[ids < 0] = -np.inf
        return sims, ids

    def _to_device(self, cpu):
        import faiss

        gpu = self.use_gpu if self.use_gpu is not None else faiss.get_num_gpus() > 0
        if not gpu:
            return cpu
        if faiss.get_num_gpus() == 0:
            raise ValueError("TrackletIndex(use_gpu=True) but FAISS sees no GPU: install faiss-gpu and check CUDA")
        return faiss.index_cpu_to_all_gpus(cpu)


def _id_map(index) -> np.ndarray:
    import faiss

    return faiss.vector_to_array(index.id_map).astype(np.int64)


def index_pairs(index: TrackletIndex, x: np.ndarray, k: int, min_similarity: float,
                chunk: int = 65536) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row of ``x`` (the vectors ``index`` holds, ids = row numbers) searched in ``index``: its up to ``k``
    nearest other rows with similarity >= ``min_similarity``, as flat ``(rows, cols, sims)``."""
    kk = min(k + 1, len(x))  # +1: each row finds itself
    found_i, found_j, found_s = [], [], []
    for lo in range(0, len(x), chunk):
        sims, ids = index.search(x[lo:lo + chunk], kk)
        rows = np.repeat(np.arange(lo, lo + len(ids)), kk)
        ids, sims = ids.reshape(-1), sims.reshape(-1)
        keep = (ids >= 0) & (ids != rows) & (sims >= min_similarity)
        found_i.append(rows[keep]), found_j.append(ids[keep]), found_s.append(sims[keep])
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_s)


def similar_pairs(vectors: np.ndarray, k: int, min_similarity: float, exact_max_n: int = 20_000,
                  nlist: int | None = None, nprobe: int = 16, seed: int = 0,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every row, its up to ``k`` most similar other rows with similarity >= ``min_similarity``:
    ``(rows, cols, sims)`` flat arrays (a pair may appear from both sides).

    The all-vs-all case (fusion's kNN graph). Up to ``exact_max_n`` rows: an exact :class:`TrackletIndex`
    search. Beyond: IVF's candidates (each row against the rows of the ``nprobe`` k-means cells nearest to it,
    ``nlist`` cells, default ``2 * sqrt(n)``) computed list by list instead of query by query: each cell's rows
    are multiplied, by one matrix product, with all rows that probe the cell, and only products above
    ``min_similarity`` are kept. Per-query IVF search streams every probed list from memory for every query
    (memory-bound, with a top-k heap per query); this reads each list once and runs compute-bound. The recall
    trade-off is IVF's: a neighbour in a cell the row does not probe is missed (raise ``nprobe``).
    """
    import faiss
    from tqdm import tqdm

    x = _as_matrix(vectors)
    n, dim = x.shape
    if n < 2 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    if n <= exact_max_n:  # CPU, whatever GPUs faiss sees: the GPU path is fusion's choice, not this function's
        return index_pairs(TrackletIndex(dim, exact_max_n=n, use_gpu=False).build(x), x, k, min_similarity)
    nlist = max(1, min(nlist or int(2 * math.sqrt(n)), n // 39))
    nprobe = min(nprobe, nlist)
    rng = np.random.default_rng(seed)
    sample = x if n <= 64 * nlist else x[np.sort(rng.choice(n, 64 * nlist, replace=False))]
    kmeans = faiss.Kmeans(dim, nlist, niter=10, seed=seed, spherical=True)
    kmeans.train(sample)
    _, probes = kmeans.index.search(x, nprobe)  # (n, nprobe) cells each row probes; the first is its own
    home = probes[:, 0]
    by_home = np.argsort(home, kind="stable")
    home_bounds = np.searchsorted(home[by_home], np.arange(nlist + 1))
    flat = probes.reshape(-1)
    by_probe = np.argsort(flat, kind="stable")
    probe_bounds = np.searchsorted(flat[by_probe], np.arange(nlist + 1))
    prober_rows = by_probe // nprobe
    found_r, found_c, found_s = [], [], []
    for c in tqdm(range(nlist), desc="kNN lists", unit="list", disable=not progress, mininterval=1.0):
        members = by_home[home_bounds[c]:home_bounds[c + 1]]
        if not len(members):
            continue
        xm_t = np.ascontiguousarray(x[members].T)
        queries = prober_rows[probe_bounds[c]:probe_bounds[c + 1]]
        for lo in range(0, len(queries), 4096):
            q = queries[lo:lo + 4096]
            s = x[q] @ xm_t
            hit = s >= min_similarity
            if hit.sum() > 4 * k * len(q):  # many hits (a low threshold): keep each row's k best of this cell
                kk = min(k + 1, len(members))
                top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
                hit = np.zeros_like(hit)
                np.put_along_axis(hit, top, True, axis=1)
                hit &= s >= min_similarity
            qi, mi = np.nonzero(hit)
            found_r.append(q[qi]), found_c.append(members[mi]), found_s.append(s[qi, mi])
    rows, cols, sims = np.concatenate(found_r), np.concatenate(found_c), np.concatenate(found_s)
    keep = rows != cols
    rows, cols, sims = rows[keep], cols[keep], sims[keep]
    # Each row's k best across its probed cells.
    order = np.lexsort((-sims, rows))
    rows, cols, sims = rows[order], cols[order], sims[order]
    starts = np.searchsorted(rows, rows, side="left")
    keep = np.arange(len(rows)) - starts < k
    return rows[keep], cols[keep], sims[keep]
