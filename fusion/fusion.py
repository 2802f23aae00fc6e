"""Global ids for tracklets: candidate pairs, topology gates, constrained clustering in order of evidence.

1. Candidate pairs come from two places, never from all pairs:
   - appearance: every tracklet with an embedding queries the :class:`~fusion.tracklet_index.TrackletIndex` for
     its ``k`` nearest neighbours; pairs with cosine similarity >= ``similarity`` are candidates;
   - time: pairs seen at the same moment by two cameras with an overlap link, and pairs in one camera where
     one starts at most ``motion_gap_s`` after the other ends (a sorted sweep over start times).
2. Some pairs carry evidence beyond appearance and are **strong**: a *simultaneous* pair in overlapping views
   that looks alike (``overlap_similarity``: only the few people in view at that moment compete, and both
   cameras see the same person at the same instant), and a *motion continuation* in one camera (the later
   tracklet starts where the earlier one, extrapolated at its last velocity, would be: within
   ``motion_tolerance`` box heights, see :mod:`fusion.motion`) whose appearance does not contradict it
   (``motion_similarity``). So is a *hand-over* inside a learned transit window (rule 6 of
   :mod:`fusion.calibration`: each end's best successor and predecessor there, above the veto for its few
   competitors). Every other pair is appearance alone, and many people compete for it over time.
3. The topology's time and camera rules are applied to the candidate arrays at once
   (:meth:`Topology.link_mask`); geometry, where configured, pair by pair on the survivors.
4. :func:`~fusion.clustering.constrained_clusters` merges along strong edges first (low-quality tracklets
   included), then appearance edges strongest first (``linkage``), then attaches low-quality tracklets, and never
   joins two clusters with any pair that :meth:`Topology.may_coexist` forbids (one camera sees two people at one
   time: a cannot-link that strong merges make more telling, since a merged cluster spans more time).
5. Clusters, singletons included, become :class:`GlobalIdentity` numbered 1..N by earliest start time (then
   camera order and track id), and each tracklet's ``global_id`` is set.

Tracklets without an embedding, or whose camera has no other linked camera to match, end as singletons.
Every knob named above is a field of :class:`~mtmct.core.config.fusion.FusionConfig`, documented there by its
trade-off; ``fuse(tracklets, topology, config)`` takes one (None: the defaults).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import networkx as nx
import numpy as np
from tqdm import tqdm

from fusion.calibration import (competitor_thresholds, handover_best, learn_window, mutual_best, subsample, tail_share,
                                thresholds, window_competitors, window_report)
from fusion.clock_offset import apply_clock_offsets, estimate_clock_offsets
from fusion.clustering import constrained_clusters, edge_graph
from fusion.ground import GROUND_WEIGHT, ground_edges, transit_errors
from fusion.motion import continuity_error, end_states
from fusion.rerank import cosine_distance, rerank_set
from fusion.topology import OVERLAP, Topology
from fusion.tracklet_index import TrackletIndex, index_pairs, similar_pairs
from mtmct.core.config.fusion import FusionConfig
from mtmct.core.fusion_report import FusionReport, LinkWindow, Threshold
from mtmct.core.tracklet import GlobalIdentity, Tracklet

__all__ = ["FusionConfig", "candidate_edges", "candidate_graph", "fuse", "fuse_report", "neighbour_pairs",
           "time_pairs"]

log = logging.getLogger(__name__)


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


def neighbour_pairs(emb: np.ndarray, config: FusionConfig | None = None,
                    progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``config.k`` nearest rows with similarity >= ``config.similarity``, once per pair: ``(pairs
    (E, 2) with i < j, similarities (E,))``. On CPU the list-major :func:`similar_pairs`; with a GPU, FAISS
    search."""
    c = config or FusionConfig()
    similarity, k, exact_max_n, nprobe, use_gpu = c.similarity, c.k, c.exact_max_n, c.nprobe, c.use_gpu
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
    return index_pairs(index, emb, k, similarity)


def _allowed(pairs: np.ndarray, table: _Table, topology: Topology) -> np.ndarray:
    """Mask of the pairs (tracklet rows) that :meth:`Topology.may_link` allows: masks on arrays, geometry per pair."""
    a, b = pairs[:, 0], pairs[:, 1]
    ca, sa, ea = table.cols(a)
    cb, sb, eb = table.cols(b)
    allowed = topology.link_mask(ca, sa, ea, cb, sb, eb)
    geo = np.flatnonzero(allowed & topology.geometry_applies(ca, sa, ea, cb, sb, eb, direct=True))
    for e in geo.tolist():
        allowed[e] = topology.positions_agree(table.tracklets[a[e]], table.tracklets[b[e]], direct=True)
    return allowed


def time_pairs(group: np.ndarray, start: np.ndarray, end: np.ndarray, max_gap: float) -> np.ndarray:
    """Pairs ``(P, 2)`` of rows ``i < j`` in the same ``group`` whose gap (later start minus earlier end) is at
    most ``max_gap`` seconds, overlapping pairs included. A sweep over start times sorted within groups: each
    row pairs with the rows that start after it and no later than its end plus ``max_gap``, so the cost is the
    number of pairs found, not n^2."""
    n = len(group)
    if n < 2:
        return np.zeros((0, 2), np.int64)
    t0 = float(start.min())
    span = float(max(end.max(), start.max()) - t0) + max(max_gap, 0.0) + 1.0
    key = group.astype(np.float64) * span + (start - t0)  # groups apart on one sorted axis
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    hi = np.searchsorted(sorted_key, group[order] * span + (end[order] - t0) + max_gap, side="right")
    counts = np.maximum(hi - np.arange(n) - 1, 0)
    first = np.repeat(np.arange(n), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    second = first + 1 + offset
    i, j = order[first], order[second]
    return np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)


def _pair_sims(emb: np.ndarray, pairs: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Cosine similarity of each pair of embedding rows (row-wise dot products, in chunks)."""
    out = np.empty(len(pairs), np.float32)
    for lo in range(0, len(pairs), chunk):
        p = pairs[lo:lo + chunk]
        out[lo:lo + chunk] = np.einsum("ij,ij->i", emb[p[:, 0]], emb[p[:, 1]])
    return out


def _time_candidates(cam: np.ndarray, start: np.ndarray, end: np.ndarray, topology: Topology,
                     motion_gap_s: float) -> np.ndarray:
    """Pairs (positions) that time alone proposes: simultaneous on overlap-linked cameras, and same-camera
    pairs within ``motion_gap_s`` of each other."""
    found = []
    if motion_gap_s > 0:
        found.append(time_pairs(cam, start, end, motion_gap_s))
    for i, j in zip(*np.nonzero(np.triu(topology.kind == OVERLAP, 1))):
        rows = np.flatnonzero((cam == i) | (cam == j))
        p = rows[time_pairs(np.zeros(len(rows), np.int64), start[rows], end[rows], 0.0)]
        found.append(p[cam[p[:, 0]] != cam[p[:, 1]]])
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def _once(pairs: np.ndarray, n: int, rank: np.ndarray) -> np.ndarray:
    """Positions keeping each pair (rows ``i < j`` below ``n``) once: of its copies, the one lowest in
    ``rank`` (then the first)."""
    if not len(pairs):
        return np.zeros(0, np.int64)
    key = pairs[:, 0] * n + pairs[:, 1]
    order = np.lexsort((rank, key))
    first = np.ones(len(order), bool)
    first[1:] = key[order][1:] != key[order][:-1]
    return order[first]


def _transit_pairs(cam: np.ndarray, start: np.ndarray, end: np.ndarray, topology: Topology,
                   windows: dict[tuple[str, str], tuple[float, float]]) -> np.ndarray:
    """Pairs (positions, ``i < j``) on the two cameras of each learned window whose gap lies inside it (a sweep
    per link, so the cost is the number of pairs found)."""
    found = []
    for (ca, cb), (lo, hi) in windows.items():
        i, j = topology.camera_index(ca), topology.camera_index(cb)
        rows = np.flatnonzero((cam == i) | (cam == j))
        p = rows[time_pairs(np.zeros(len(rows), np.int64), start[rows], end[rows], hi)]
        p = p[cam[p[:, 0]] != cam[p[:, 1]]]
        gap = np.maximum(start[p[:, 1]] - end[p[:, 0]], start[p[:, 0]] - end[p[:, 1]])
        found.append(p[(gap > 0) & (gap >= lo)])
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


@dataclass
class _Edges:
    """What :func:`_edges` decided: allowed edges, the topology with learned windows, and the report's parts."""

    pairs: np.ndarray  # (E, 2) tracklet rows, i < j
    sims: np.ndarray  # (E,)
    strong: np.ndarray  # (E,) bool
    topology: Topology  # the configured one with its learned windows
    thresholds: dict[str, Threshold]
    windows: list[LinkWindow]
    found: int  # candidates before the gates
    gates_began: float  # perf_counter
    evidence: np.ndarray  # (E,) merge priority of each edge: -log(expected false merges), see _evidence


def _per_camera_counts(cam: np.ndarray, start: np.ndarray, query_cam: np.ndarray, lo: np.ndarray,
                       hi: np.ndarray) -> np.ndarray:
    """For each query: how many rows of camera ``query_cam`` start in ``(lo, hi]`` (sorted keys, no loop)."""
    if not len(cam) or not len(query_cam):
        return np.zeros(len(query_cam), np.int64)
    t0 = float(min(start.min(), lo.min()))
    span = float(max(start.max(), hi.max()) - t0) + 1.0
    key = np.sort(cam * span + (start - t0))
    base = query_cam * span - t0
    return np.searchsorted(key, base + hi, side="right") - np.searchsorted(key, base + lo, side="right")


def _edges(tracklets: Sequence[Tracklet], table: _Table, topology: Topology, rows: np.ndarray, emb: np.ndarray,
           config: FusionConfig, progress: bool) -> _Edges:
    """Calibrate, propose and gate the candidate edges (see the module docstring and :mod:`fusion.calibration`)."""
    search = topology.search()
    m = len(rows)
    cam, start, end = table.cam[rows], table.start[rows], table.end[rows]
    motion_gap_s = config.motion_gap_s
    timed = _time_candidates(cam, start, end, search, motion_gap_s) if m >= 2 else np.zeros((0, 2), np.int64)
    tsims = _pair_sims(emb, timed).astype(np.float64)
    ta, tb = timed[:, 0], timed[:, 1]
    tgap = np.maximum(start[tb] - end[ta], start[ta] - end[tb])
    tsame = cam[ta] == cam[tb]
    # different people: one camera at one time; simultaneous overlap pairs that are neither side's best match
    overlap = ~tsame & (search.kind[cam[ta], cam[tb]] == OVERLAP) & (tgap <= 0)
    best = np.full(m, -np.inf)
    np.maximum.at(best, ta[overlap], tsims[overlap])
    np.maximum.at(best, tb[overlap], tsims[overlap])
    neither = overlap & (tsims < best[ta]) & (tsims < best[tb])
    mutual = overlap & (tsims >= best[ta]) & (tsims >= best[tb])
    different = subsample(tsims[(tsame & (tgap <= 0)) | neither])
    # motion continuations within a camera
    moving = np.flatnonzero(tsame & (tgap > 0) & (tgap <= motion_gap_s))
    err = np.full(len(timed), np.inf)
    if len(moving):
        first, second = ta[moving], tb[moving]
        swap = start[second] < start[first]
        first, second = np.where(swap, second, first), np.where(swap, first, second)
        involved, inverse = np.unique(np.concatenate([first, second]), return_inverse=True)
        states = end_states([tracklets[r] for r in rows[involved].tolist()])
        err[moving] = continuity_error(states, inverse[:len(moving)], inverse[len(moving):], tgap[moving])
    continuing = err <= config.motion_tolerance
    fixed = {"similarity": config.similarity, "overlap_similarity": config.overlap_similarity,
             "motion_similarity": config.motion_similarity}
    args = (config.false_merge_rate, config.veto_false_rate, config.min_evidence)
    vetoes = thresholds(different, np.zeros(0), fixed, *args)
    motion_thr, overlap_thr = vetoes["motion_similarity"].value, vetoes["overlap_similarity"].value
    tstrong = (continuing & (tsims >= motion_thr)) | (overlap & (tsims >= overlap_thr))
    same = subsample(tsims[(continuing & (tsims >= motion_thr)) | (mutual & (tsims >= overlap_thr))])
    chosen = thresholds(different, same, fixed, *args)
    similarity = chosen["similarity"].value
    # appearance candidates, then each pair once (kNN and time may both propose it)
    knn, knn_sims = neighbour_pairs(emb, config.model_copy(update={"similarity": similarity}), progress)
    pairs = np.concatenate([knn, timed])
    sims = np.concatenate([knn_sims.astype(np.float64), tsims])
    strong = np.concatenate([np.zeros(len(knn), bool), tstrong])
    once = _once(pairs, m, ~strong)  # a time-proposed (maybe strong) copy wins over the kNN copy
    pairs, sims, strong = pairs[once], sims[once], strong[once]
    found, gates_began = len(pairs), time.perf_counter()
    a, b = pairs[:, 0], pairs[:, 1]
    gap = np.maximum(start[b] - end[a], start[a] - end[b])
    need = np.full(len(pairs), similarity)
    competitors = np.ones(len(pairs), np.int64)
    calibrated = config.competitors and chosen["similarity"].source == "calibrated"
    if calibrated:
        later = np.where(start[b] >= start[a], b, a)
        earlier = np.where(later == b, a, b)
        sequential = gap > 0
        competitors[sequential] = _per_camera_counts(
            cam, start, cam[later[sequential]], end[earlier[sequential]], start[later[sequential]])
        need = competitor_thresholds(different, competitors, config.false_merge_rate, similarity)
    passed = strong | (sims >= need)
    # cross-camera pairs above the appearance threshold stay for now: windows are learned from them, and those
    # that end as hand-overs (below) do not compete with every newcomer across the gap
    keep = passed | ((cam[a] != cam[b]) & (gap > 0) & (sims >= similarity))
    evidence = _evidence(sims, competitors, different if calibrated else None)[keep]
    pairs, sims, strong, gap, passed = rows[pairs[keep]], sims[keep], strong[keep], gap[keep], passed[keep]
    # transit windows from confident matches: cross-camera, sequential, mutual best on their camera pair
    windows, reports = {}, []
    listed = {frozenset((k.a, k.b)) for k in topology.links}
    for link in topology.learnable():
        i, j = topology.camera_index(link.a), topology.camera_index(link.b)
        ca, cb = table.cam[pairs[:, 0]], table.cam[pairs[:, 1]]
        on = np.flatnonzero((((ca == i) & (cb == j)) | ((ca == j) & (cb == i))) & (gap > 0) & ~strong)
        on = on[search.link_mask(ca[on], table.start[pairs[on, 0]], table.end[pairs[on, 0]], cb[on],
                                 table.start[pairs[on, 1]], table.end[pairs[on, 1]])]
        local = np.unique(pairs[on], return_inverse=True)[1].reshape(-1, 2)
        confident = on[mutual_best(local, sims[on], int(local.max(initial=-1)) + 1)]
        window = learn_window(gap[confident], link.fixed_min_s, link.fixed_max_s, config.transit_matches)
        if window is not None:
            windows[(link.a, link.b)] = window
        line = window_report(link.a, link.b, window, len(confident), link.fixed_min_s, link.fixed_max_s,
                             frozenset((link.a, link.b)) in listed)
        if line is not None:
            reports.append(line)
    final = topology.with_windows(windows)
    # hand-overs: every pair inside a transit window, each side's best (successor, predecessor) above the veto
    extra = _transit_pairs(cam, start, end, final, windows)
    if len(extra):
        esims = _pair_sims(emb, extra).astype(np.float64)
        extra = rows[extra]
        egap = np.maximum(table.start[extra[:, 1]] - table.end[extra[:, 0]],
                          table.start[extra[:, 0]] - table.end[extra[:, 1]])
        pairs, sims = np.concatenate([pairs, extra]), np.concatenate([sims, esims])
        gap = np.concatenate([gap, egap])
        proposed = np.arange(len(pairs)) < len(strong)
        strong, passed = np.pad(strong, (0, len(extra))), np.pad(passed, (0, len(extra)))
        evidence = np.concatenate([evidence, _evidence(esims, np.ones(len(extra), np.int64),
                                                       different if calibrated else None)])
        once = _once(pairs, len(tracklets), ~proposed)  # a pair already proposed keeps its evidence
        pairs, sims, strong, gap, passed, evidence = (x[once] for x in (pairs, sims, strong, gap, passed, evidence))
    allowed = _allowed(pairs, table, final)
    learned = np.zeros((len(final.cameras),) * 2, bool)
    for ca, cb in windows:
        learned[final.camera_index(ca), final.camera_index(cb)] = learned[final.camera_index(cb),
                                                                          final.camera_index(ca)] = True
    sequential = allowed & ~strong & (gap > 0) & learned[table.cam[pairs[:, 0]], table.cam[pairs[:, 1]]]
    handover = handover_best(pairs, sims, table.start, sequential)
    if calibrated:  # rule 6: the veto rate per tracklet, over the hand-overs either end could have taken
        need = competitor_thresholds(different, window_competitors(pairs, table.start, sequential),
                                     config.veto_false_rate, overlap_thr)
        handover &= sims >= need
    else:
        handover &= sims >= overlap_thr
    strong = strong | handover
    allowed &= strong | passed
    fixed_links = [LinkWindow(k.a, k.b, "config", overlap=k.overlap,
                              min_s=None if k.overlap else (k.fixed_min_s or 0.0),
                              max_s=final.overlap_gap_s if k.overlap and k.fixed_max_s is None else k.fixed_max_s)
                   for k in topology.links if not k.learned]
    return _Edges(pairs[allowed], sims[allowed].astype(np.float32), strong[allowed], final, chosen,
                  fixed_links + reports, found, gates_began, evidence[allowed])


def _evidence(sims: np.ndarray, competitors: np.ndarray, different: np.ndarray | None) -> np.ndarray:
    """Merge priority of appearance edges: ``-log(m * P_D(s >= sim))``, the expected false merges of taking the
    edge (``m`` competitors, ``P_D`` the share of different-person pairs at least this similar, beyond the top of
    the evidence from its exponential tail so it is never 0: :func:`~fusion.calibration.tail_share`), plus the
    similarity as a tie-break. A hand-over with one candidate then merges before a look-alike across a long, busy
    gap, and the cannot-links it creates guard the later merges.
    Without calibration evidence (``different`` None): the similarity alone."""
    if different is None or not len(different):
        return sims.astype(np.float64)
    tail = np.maximum(tail_share(different, sims), 1e-300)
    return -np.log(tail * np.maximum(competitors, 1)) + 1e-3 * sims


def candidate_edges(tracklets: Sequence[Tracklet], topology: Topology,
                    config: FusionConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Allowed candidate pairs, strong and appearance-only alike: ``(pairs (E, 2) int64 tracklet rows with
    i < j, cosine similarities (E,))``."""
    rows, emb = _embeddings(tracklets)
    table = _Table.of(tracklets, topology)
    edges = _edges(tracklets, table, topology, rows, emb, config or FusionConfig(), False)
    return edges.pairs, edges.sims


def candidate_graph(tracklets: Sequence[Tracklet], topology: Topology,
                    config: FusionConfig | None = None) -> nx.Graph:
    """The candidate edges as a networkx graph whose nodes are tracklet keys (for inspection and plots)."""
    pairs, sims = candidate_edges(tracklets, topology, config)
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


def fuse(tracklets: Sequence[Tracklet], topology: Topology, config: FusionConfig | None = None, *,
         progress: bool = False) -> list[GlobalIdentity]:
    """Group tracklets into global identities: :func:`fuse_report` without the report."""
    return fuse_report(tracklets, topology, config, progress=progress)[0]


def fuse_report(tracklets: Sequence[Tracklet], topology: Topology, config: FusionConfig | None = None, *,
                progress: bool = False) -> tuple[list[GlobalIdentity], FusionReport]:
    """Group tracklets into global identities (see the module docstring; ``config`` None: the defaults of
    :class:`FusionConfig`) and report the thresholds and transit windows applied. ``progress`` shows bars on
    long work.

    Sets ``tracklet.global_id`` on every input tracklet and returns the identities ordered by global id.
    """
    config = config or FusionConfig()
    tracklets = originals = list(tracklets)
    keys = [t.key for t in tracklets]
    if len(set(keys)) != len(keys):
        raise ValueError("fuse: tracklet keys (camera_id, track_id) must be unique")
    if len({t.cls for t in tracklets}) > 1:
        return _fuse_per_class(tracklets, topology, config, progress)
    n = len(tracklets)
    if n == 0:
        return [], FusionReport()
    t0 = time.perf_counter()
    notes: list[str] = []
    offsets: dict[str, float] = {}
    if config.estimate_clock_offset:  # fuse on the corrected clocks; the caller's tracklets keep their times
        clock = estimate_clock_offsets(tracklets, config.max_clock_offset_s)
        offsets = {cam: round(float(v), 3) for cam, v in clock.offsets.items()}
        tracklets = apply_clock_offsets(tracklets, offsets)
        if clock.reference is not None:
            notes.append(f"clock offsets (s, against {clock.reference}): "
                         + ", ".join(f"{c} {v:+.2f}" for c, v in offsets.items()))
        notes += [f"clock offset of {c} not estimated: {why}" for c, why in clock.flagged.items()]
    table = _Table.of(tracklets, topology)
    rows, emb = _embeddings(tracklets)
    edges = _edges(tracklets, table, topology, rows, emb, config, progress)
    pairs, sims, strong, t1 = edges.pairs, edges.sims, edges.strong, edges.gates_began
    similarity = edges.thresholds["similarity"].value
    t2 = time.perf_counter()
    log.info("fusion: %d tracklets, %d candidate pairs (kNN above similarity %.2f, and by time), %d allowed by "
             "the topology and evidence, %d of them strong", n, edges.found, similarity, len(pairs),
             int(strong.sum()))
    weights = edges.evidence
    if config.rerank and len(pairs):
        if len(rows) > config.rerank_max_n:
            log.warning("fusion: re-ranking skipped, %d tracklets > rerank_max_n=%d (dense O(n^2) memory)",
                        len(rows), config.rerank_max_n)
            notes.append(f"re-ranking skipped: {len(rows)} tracklets > rerank_max_n {config.rerank_max_n}")
        else:
            position = np.full(n, -1, np.int64)
            position[rows] = np.arange(len(rows))
            dist = rerank_set(cosine_distance(emb, emb), config.rerank_k1, config.rerank_k2,
                              config.rerank_lambda)
            reranked = 1.0 - dist[position[pairs[:, 0]], position[pairs[:, 1]]].astype(np.float64)
            weights = np.where(strong, weights, reranked)  # strong edges keep their similarity
    pairs, weights, strong, ground_notes = _with_ground_edges(
        tracklets, table, edges.topology, config, pairs, weights, strong,
        edges.thresholds["motion_similarity"].value)
    notes += ground_notes
    full_emb = np.zeros((n, max(emb.shape[1], 1)), np.float32)
    if len(rows):  # no camera with ReID (e.g. only det: cameras): no embeddings at all
        full_emb[rows] = emb
    flags = frozenset(config.low_quality_flags)
    attach = np.array([t.quality < config.min_quality or bool(t.flags & flags) for t in tracklets], bool)
    labels = constrained_clusters(n, pairs, weights, _merge_check(table, edges.topology), embeddings=full_emb,
                                  linkage=config.linkage, threshold=similarity, attach_only=attach,
                                  strong=strong, progress=progress)
    t3 = time.perf_counter()
    identities = _identities(tracklets, table, labels)
    for original, moved in zip(originals, tracklets):
        original.global_id = moved.global_id
    log.info("fusion timings (s): calibration and neighbours %.2f, gates %.2f, clustering %.2f, ids %.2f",
             t1 - t0, t2 - t1, t3 - t2, time.perf_counter() - t3)
    order = ("similarity", "overlap_similarity", "motion_similarity")
    report = FusionReport(thresholds=tuple(edges.thresholds[k] for k in order), links=tuple(edges.windows),
                          tracklets=n, identities=len(identities), notes=tuple(notes), clock_offsets=offsets)
    return identities, report


def _fuse_per_class(tracklets: list[Tracklet], topology: Topology, config: FusionConfig, progress: bool
                    ) -> tuple[list[GlobalIdentity], FusionReport]:
    """Several classes (people, cars, ...): each is fused on its own, with its own self-calibrated thresholds (a
    car's look says nothing of a person's), so no identity ever mixes classes. Ids are numbered across classes by
    earliest member, as within one; the report is the first (lowest) class's, with a note per other class."""
    parts = [(c, [t for t in tracklets if t.cls == c]) for c in sorted({t.cls for t in tracklets})]
    reports = [(c, fuse_report(members, topology, config, progress=progress)) for c, members in parts]
    groups = [list(identity.members) for _, (ids, _) in reports for identity in ids]
    by_key = {t.key: t for t in tracklets}
    groups.sort(key=lambda g: min((by_key[k].start_time, k) for k in g))
    identities = []
    for gid, members in enumerate(groups, start=1):
        for k in members:
            by_key[k].global_id = gid
        identities.append(GlobalIdentity(gid, members))
    first = reports[0][1][1]
    notes = [f"class {c}: {rep.tracklets} tracklets fused on their own into {rep.identities} identities"
             + (f" (similarity {rep.threshold('similarity').value:.3f})" if rep.threshold("similarity") else "")
             for c, (_, rep) in reports]
    report = replace(first, tracklets=len(tracklets), identities=len(identities),
                                 notes=(*first.notes, *notes))
    return identities, report


def _with_ground_edges(tracklets: Sequence[Tracklet], table: _Table, topology: Topology, config: FusionConfig,
                       pairs: np.ndarray, weights: np.ndarray, strong: np.ndarray, veto: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Add the strong edges of :mod:`fusion.ground` to the clustering's edges: simultaneous calibrated sightings
    at one place (embeddings or not), and transits carried on the ground through a blind gap (see
    :func:`_transit_edges`); returns the edges and a note per kind added."""
    placed = np.flatnonzero([t.world is not None for t in tracklets])
    if len(placed) < 2 or config.ground_distance <= 0:
        return pairs, weights, strong, []
    local = _time_candidates(table.cam[placed], table.start[placed], table.end[placed], topology, 0.0)
    found, dist = ground_edges(tracklets, placed[local], table.cam, topology.sync_tolerance_s,
                               config.ground_distance, config.ground_min_samples)
    moved, error = _transit_edges(tracklets, table, topology, config, placed, veto)
    notes = []
    if len(found):
        notes.append(f"ground: {len(found)} simultaneous pairs of calibrated views within {config.ground_distance} m "
                     "joined")
    if len(moved):
        notes.append(f"ground: {len(moved)} transits carried on the ground through a blind gap")
    new = np.concatenate([np.sort(found, axis=1), np.sort(moved, axis=1)]).astype(np.int64)
    if not len(new):
        return pairs, weights, strong, notes
    return (np.concatenate([pairs, new]), np.concatenate([weights, GROUND_WEIGHT - dist, GROUND_WEIGHT / 2 - error]),
            np.concatenate([strong, np.ones(len(new), bool)]), notes)


def _transit_edges(tracklets: Sequence[Tracklet], table: _Table, topology: Topology, config: FusionConfig,
                   placed: np.ndarray, veto: float) -> tuple[np.ndarray, np.ndarray]:
    """Hand-overs between calibrated cameras through a gap of at most ``ground_transit_s``: the earlier tracklet,
    carried on at its last ground velocity, arrives within ``ground_distance`` + 0.5 m per second of gap of where
    the later one appears (the walk's uncertainty grows with time), the topology allows the link, appearance (where
    both have it) does not veto it, and each is the other's best (smallest miss) successor / predecessor."""
    if config.ground_transit_s <= 0:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    cam, start, end = table.cam[placed], table.start[placed], table.end[placed]
    local = time_pairs(np.zeros(len(placed), np.int64), start, end, config.ground_transit_s)
    gap = np.maximum(start[local[:, 1]] - end[local[:, 0]], start[local[:, 0]] - end[local[:, 1]])
    keep = (gap > 0) & (cam[local[:, 0]] != cam[local[:, 1]])
    rows, gap = placed[local[keep]], gap[keep]
    if not len(rows):
        return np.zeros((0, 2), np.int64), np.zeros(0)
    allowed = topology.link_mask(*table.cols(rows[:, 0]), *table.cols(rows[:, 1]))
    rows, gap = rows[allowed], gap[allowed]
    error = transit_errors(tracklets, rows)
    ok = error <= config.ground_distance + 0.5 * gap
    for k in np.flatnonzero(ok):
        a, b = tracklets[rows[k, 0]], tracklets[rows[k, 1]]
        if a.embedding is not None and b.embedding is not None and float(a.embedding @ b.embedding) < veto:
            ok[k] = False
        elif not topology.transit_possible(a, b):
            ok[k] = False
    rows, error = rows[ok], error[ok]
    if not len(rows):
        return rows, error
    earlier = np.where(table.end[rows[:, 0]] <= table.start[rows[:, 1]], rows[:, 0], rows[:, 1])
    later = np.where(earlier == rows[:, 0], rows[:, 1], rows[:, 0])
    best_next, best_prev = {}, {}
    for k in np.argsort(error, kind="stable"):
        best_next.setdefault(int(earlier[k]), k)
        best_prev.setdefault(int(later[k]), k)
    mutual = np.array([best_next[int(earlier[k])] == k and best_prev[int(later[k])] == k for k in range(len(rows))])
    return rows[mutual], error[mutual]


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
