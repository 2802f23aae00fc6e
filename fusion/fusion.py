"""Global ids for tracklets: nearest neighbours, topology gates, constrained clustering.

1. Every tracklet with an embedding queries the :class:`~fusion.tracklet_index.TrackletIndex` for its ``k``
   nearest neighbours; pairs with cosine similarity >= ``similarity`` are candidates (never all pairs).
2. The topology's time and camera rules are applied to the candidate arrays at once
   (:meth:`Topology.link_mask`); geometry, where configured, pair by pair on the survivors.
3. :func:`~fusion.clustering.constrained_clusters` merges along the surviving edges, strongest first, and never
   joins two clusters with any pair that :meth:`Topology.may_coexist` forbids.
4. Clusters, singletons included, become :class:`GlobalIdentity` numbered 1..N by earliest start time (then
   camera order and track id), and each tracklet's ``global_id`` is set.

Tracklets without an embedding, or whose camera has no other linked camera to match, end as singletons.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import networkx as nx
import numpy as np
from tqdm import tqdm

from fusion.clustering import constrained_clusters, edge_graph
from fusion.rerank import cosine_distance, rerank_set
from fusion.topology import Topology
from fusion.tracklet_index import TrackletIndex, similar_pairs
from mtmct.errors import MtmctError
from mtmct.tracklet import SHORT, SMALL, GlobalIdentity, Tracklet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FusionConfig:
    """Keyword arguments of :func:`fuse`, one field each (a YAML ``fusion:`` mapping loads into this).

    ``similarity``: minimum cosine similarity of an edge, and of the average cross pair when merging with
    average linkage; raising it splits people whose look changes between cameras (light, pose), lowering it
    merges look-alikes. ``k``: neighbours per tracklet; more finds a person's tracklets among many look-alikes
    at the cost of time and edges. ``linkage``: "average" resists chaining two people through one ambiguous
    tracklet; "single" merges more eagerly. ``rerank``: order merges by k-reciprocal re-ranked distance
    (Zhong et al.) instead of raw similarity; dense, so only up to ``rerank_max_n`` tracklets (beyond, it is
    skipped with a warning). ``min_quality`` and ``low_quality_flags``: tracklets below that quality or with any
    of these flags only attach to clusters of good tracklets and never bridge two. ``exact_max_n``,
    ``nprobe``, ``use_gpu``: index trade-offs (see :class:`TrackletIndex`).
    """

    similarity: float = 0.5
    k: int = 10
    linkage: Literal["single", "average"] = "average"
    rerank: bool = False
    rerank_k1: int = 20
    rerank_k2: int = 6
    rerank_lambda: float = 0.3
    rerank_max_n: int = 5000
    min_quality: float = 0.0
    low_quality_flags: tuple[str, ...] = (SHORT, SMALL)
    exact_max_n: int = 20_000
    nprobe: int = 16
    use_gpu: bool | None = None
    progress: bool = False

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> FusionConfig:
        """From a config mapping; unknown keys are an error naming the known ones (the mapping is not changed)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise MtmctError(f"fusion config: unknown keys {unknown}; known keys are {sorted(known)}")
        values = dict(mapping)
        if "low_quality_flags" in values:
            values["low_quality_flags"] = tuple(values["low_quality_flags"])
        return cls(**values)


@dataclass
class _Table:
    """Row-aligned arrays of the tracklets fusion needs (rows = input order)."""

    tracklets: Sequence[Tracklet]
    cam: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, tracklets: Sequence[Tracklet], topology: Topology) -> _Table:
        index = {c: topology.camera_index(c) for c in {t.camera_id for t in tracklets}}
        cam = np.fromiter((index[t.camera_id] for t in tracklets), np.int64, len(tracklets))
        start = np.fromiter((t.start_time for t in tracklets), np.float64, len(tracklets))
        end = np.fromiter((t.end_time for t in tracklets), np.float64, len(tracklets))
        return cls(tracklets, cam, start, end)

    def cols(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.cam[rows], self.start[rows], self.end[rows]


def _embeddings(tracklets: Sequence[Tracklet]) -> tuple[np.ndarray, np.ndarray]:
    """(rows with an embedding, their (m, D) float32 matrix)."""
    rows = np.array([i for i, t in enumerate(tracklets) if t.embedding is not None], np.int64)
    if not len(rows):
        return rows, np.zeros((0, 0), np.float32)
    dims = {tracklets[i].embedding.shape[0] for i in rows}
    if len(dims) != 1:
        raise ValueError(f"fuse: tracklet embeddings have different sizes {sorted(dims)}")
    return rows, np.stack([tracklets[i].embedding for i in rows]).astype(np.float32, copy=False)


def neighbour_pairs(emb: np.ndarray, similarity: float = 0.5, k: int = 10, exact_max_n: int = 20_000,
                    nprobe: int = 16, use_gpu: bool | None = None,
                    progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows with similarity >= ``similarity``, once per pair: ``(pairs (E, 2) with
    i < j, similarities (E,))``. On CPU the list-major :func:`similar_pairs`; with a GPU, FAISS search."""
    if len(emb) < 2 or k <= 0:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    if use_gpu or (use_gpu is None and _faiss_gpus() > 0):
        i, j, s = _gpu_pairs(emb, similarity, k, exact_max_n, nprobe, use_gpu)
    else:
        i, j, s = similar_pairs(emb, k, similarity, exact_max_n=exact_max_n, nprobe=nprobe, progress=progress)
    a, b = np.minimum(i, j), np.maximum(i, j)
    # Each pair once (found from both sides or one), keeping its best similarity.
    order = np.lexsort((-s, b, a))
    a, b, s = a[order], b[order], s[order]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return np.stack([a[first], b[first]], axis=1), s[first]


def _faiss_gpus() -> int:
    import faiss

    return faiss.get_num_gpus()


def _gpu_pairs(emb: np.ndarray, similarity: float, k: int, exact_max_n: int, nprobe: int,
               use_gpu: bool | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """kNN pairs through a (GPU) :class:`TrackletIndex`, where per-query search is fast."""
    index = TrackletIndex(emb.shape[1], exact_max_n=exact_max_n, nprobe=nprobe, use_gpu=use_gpu).build(emb)
    kk = min(k + 1, len(emb))  # +1: each row finds itself
    found_i, found_j, found_s = [], [], []
    for lo in range(0, len(emb), 65536):
        sims, ids = index.search(emb[lo:lo + 65536], kk)
        q = np.repeat(np.arange(lo, lo + len(ids)), kk)
        ids, sims = ids.reshape(-1), sims.reshape(-1)
        keep = (ids >= 0) & (ids != q) & (sims >= similarity)
        found_i.append(q[keep]), found_j.append(ids[keep]), found_s.append(sims[keep])
    return np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_s)


def gate_pairs(pairs: np.ndarray, sims: np.ndarray, table: _Table,
               topology: Topology) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (tracklet rows) that :meth:`Topology.may_link` allows: masks on arrays, geometry per pair."""
    a, b = pairs[:, 0], pairs[:, 1]
    ca, sa, ea = table.cols(a)
    cb, sb, eb = table.cols(b)
    allowed = topology.link_mask(ca, sa, ea, cb, sb, eb)
    geo = np.flatnonzero(allowed & topology.geometry_applies(ca, sa, ea, cb, sb, eb, direct=True))
    for e in geo.tolist():
        allowed[e] = topology.positions_agree(table.tracklets[a[e]], table.tracklets[b[e]], direct=True)
    return pairs[allowed], sims[allowed]


def candidate_edges(tracklets: Sequence[Tracklet], topology: Topology, similarity: float = 0.5, k: int = 10,
                    exact_max_n: int = 20_000, nprobe: int = 16,
                    use_gpu: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Allowed, similar pairs: ``(pairs (E, 2) int64 tracklet rows with i < j, cosine similarities (E,))``."""
    rows, emb = _embeddings(tracklets)
    pairs, sims = neighbour_pairs(emb, similarity, k, exact_max_n, nprobe, use_gpu)
    return gate_pairs(rows[pairs], sims, _Table.of(tracklets, topology), topology)


def candidate_graph(tracklets: Sequence[Tracklet], topology: Topology, similarity: float = 0.5,
                    k: int = 10) -> nx.Graph:
    """The candidate edges as a networkx graph whose nodes are tracklet keys (for inspection and plots)."""
    pairs, sims = candidate_edges(tracklets, topology, similarity, k)
    graph = edge_graph(len(tracklets), pairs, sims)
    return nx.relabel_nodes(graph, {i: t.key for i, t in enumerate(tracklets)})


def _merge_check(table: _Table, topology: Topology):
    """``can_merge`` for clustering: every cross pair of the two clusters may coexist (time, cameras, geometry)."""
    agreed: dict[tuple[int, int], bool] = {}

    def can_merge(ma: list[int], mb: list[int]) -> bool:
        ia = np.repeat(np.asarray(ma), len(mb))
        ib = np.tile(np.asarray(mb), len(ma))
        ca, sa, ea = table.cols(ia)
        cb, sb, eb = table.cols(ib)
        if not topology.coexist_mask(ca, sa, ea, cb, sb, eb).all():
            return False
        geo = topology.geometry_applies(ca, sa, ea, cb, sb, eb, direct=False)
        for x, y in zip(ia[geo].tolist(), ib[geo].tolist()):
            key = (min(x, y), max(x, y))
            if key not in agreed:
                agreed[key] = topology.positions_agree(table.tracklets[x], table.tracklets[y], direct=False)
            if not agreed[key]:
                return False
        return True

    return can_merge


def fuse(tracklets: Sequence[Tracklet], topology: Topology, *, similarity: float = 0.5, k: int = 10,
         linkage: Literal["single", "average"] = "average", rerank: bool = False, rerank_k1: int = 20,
         rerank_k2: int = 6, rerank_lambda: float = 0.3, rerank_max_n: int = 5000, min_quality: float = 0.0,
         low_quality_flags: Sequence[str] = (SHORT, SMALL), exact_max_n: int = 20_000, nprobe: int = 16,
         use_gpu: bool | None = None, progress: bool = False) -> list[GlobalIdentity]:
    """Group tracklets into global identities (see the module docstring and :class:`FusionConfig`).

    Sets ``tracklet.global_id`` on every input tracklet and returns the identities ordered by global id.
    """
    tracklets = list(tracklets)
    keys = [t.key for t in tracklets]
    if len(set(keys)) != len(keys):
        raise ValueError("fuse: tracklet keys (camera_id, track_id) must be unique")
    n = len(tracklets)
    if n == 0:
        return []
    t0 = time.perf_counter()
    table = _Table.of(tracklets, topology)
    rows, emb = _embeddings(tracklets)
    pairs, sims = neighbour_pairs(emb, similarity, k, exact_max_n, nprobe, use_gpu, progress)
    t1 = time.perf_counter()
    found = len(pairs)
    pairs, sims = gate_pairs(rows[pairs], sims, table, topology)
    t2 = time.perf_counter()
    log.info("fusion: %d tracklets, %d neighbour pairs above similarity %.2f, %d allowed by the topology", n,
             found, similarity, len(pairs))
    weights = sims.astype(np.float64)
    if rerank and len(pairs):
        if len(rows) > rerank_max_n:
            log.warning("fusion: re-ranking skipped, %d tracklets > rerank_max_n=%d (dense O(n^2) memory)",
                        len(rows), rerank_max_n)
        else:
            position = np.full(n, -1, np.int64)
            position[rows] = np.arange(len(rows))
            dist = rerank_set(cosine_distance(emb, emb), rerank_k1, rerank_k2, rerank_lambda)
            weights = 1.0 - dist[position[pairs[:, 0]], position[pairs[:, 1]]].astype(np.float64)
    full_emb = np.zeros((n, max(emb.shape[1], 1)), np.float32)
    full_emb[rows] = emb
    flags = frozenset(low_quality_flags)
    attach = np.array([t.quality < min_quality or bool(t.flags & flags) for t in tracklets], bool)
    labels = constrained_clusters(n, pairs, weights, _merge_check(table, topology), embeddings=full_emb,
                                  linkage=linkage, threshold=similarity, attach_only=attach, progress=progress)
    t3 = time.perf_counter()
    identities = _identities(tracklets, table, labels)
    log.info("fusion timings (s): neighbours %.2f, gates %.2f, clustering %.2f, ids %.2f", t1 - t0, t2 - t1,
             t3 - t2, time.perf_counter() - t3)
    return identities


def _identities(tracklets: Sequence[Tracklet], table: _Table, labels: np.ndarray) -> list[GlobalIdentity]:
    """Number clusters 1..N by earliest member (start time, camera order, track id); set ``global_id``."""
    track_ids = np.fromiter((t.track_id for t in tracklets), np.int64, len(tracklets))
    rank = np.empty(len(tracklets), np.int64)
    rank[np.lexsort((track_ids, table.cam, table.start))] = np.arange(len(tracklets))
    _, label_idx = np.unique(labels, return_inverse=True)
    first = np.full(label_idx.max() + 1, len(tracklets), np.int64)
    np.minimum.at(first, label_idx, rank)
    gid = np.empty_like(first)
    gid[np.argsort(first)] = np.arange(1, len(first) + 1)
    row_gid = gid[label_idx]
    order = np.lexsort((rank, row_gid))
    bounds = np.flatnonzero(np.diff(row_gid[order])) + 1
    identities = []
    for g, group in enumerate(np.split(order, bounds), start=1):
        members = [tracklets[r].key for r in group.tolist()]
        for r in group.tolist():
            tracklets[r].global_id = g
        identities.append(GlobalIdentity(g, members))
    return identities
