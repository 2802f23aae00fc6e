"""Constrained agglomerative clustering over a sparse edge list.

Edges (pairs of node rows with a weight) are visited from the strongest down; the two clusters an edge joins
are merged only if ``can_merge(members_a, members_b)`` holds for the whole clusters (fusion checks every cross
pair against the topology) and, with ``linkage="average"``, the mean embedding similarity over all cross pairs
stays at or above ``threshold``. This is Kruskal's single linkage with cannot-links, guarded against chaining:
single linkage merges as soon as one strong, allowed edge exists (recall), average linkage also needs the whole
clusters to look alike (precision). Incompatible clusters are never merged, so no output cluster violates
``can_merge``.

``strong`` edges (evidence beyond appearance alone: fusion marks simultaneous sightings in overlapping views and
motion continuations within a camera) are merged before all others, strongest first, by single linkage under
``can_merge``, and ``attach_only`` nodes take part in them as full members: what makes such an edge
trustworthy is the time and place, so a short or small tracklet there is no more likely to be a look-alike.

``attach_only`` nodes (low-quality tracklets) take no part in the appearance-only pass; in a last pass each may
join, by its best allowed appearance edge, a cluster built from good nodes, and never bridges two clusters, so a
blurry, short tracklet cannot glue two people together on looks alone.

The edge list stays in numpy arrays: the merge loop needs the edges sorted by weight, which an array gives in
one call, and the time goes into the merge checks, not into holding the graph (benchmarks/bench_fusion.py
measures both: at 10^5 tracklets a networkx Graph of the same edges takes about a tenth of the clustering
time, plus its memory). :func:`edge_graph` gives that networkx view for inspection and plots.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import networkx as nx
import numpy as np
from tqdm import tqdm

log = logging.getLogger(__name__)

CanMerge = Callable[[list[int], list[int]], bool]


def edge_graph(n: int, pairs: np.ndarray, weights: np.ndarray) -> nx.Graph:
    """networkx graph of the candidate edges (nodes ``0..n-1``, edge attribute ``weight``)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), np.asarray(weights).tolist()))
    return graph


def constrained_clusters(n: int, pairs: np.ndarray, weights: np.ndarray, can_merge: CanMerge,
                         embeddings: np.ndarray | None = None, linkage: Literal["single", "average"] = "average",
                         threshold: float = 0.0, attach_only: np.ndarray | None = None,
                         strong: np.ndarray | None = None, progress: bool = False) -> np.ndarray:
    """Cluster label (a member row id) for every node ``0..n-1``; see the module docstring.

    ``pairs`` (E, 2) int node rows, ``weights`` (E,) merge priority (higher first). Both ends of an edge are
    assumed individually compatible (``can_merge`` is skipped for two singletons). ``embeddings`` (n, D)
    L2-normalised rows are needed for average linkage. ``strong`` (E,) bool marks the edges of the first pass.
    """
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    weights = np.asarray(weights, np.float64).reshape(-1)
    if len(pairs) != len(weights):
        raise ValueError(f"constrained_clusters: {len(pairs)} pairs but {len(weights)} weights")
    if linkage not in ("single", "average"):
        raise ValueError(f"constrained_clusters: linkage must be 'single' or 'average', got {linkage!r}")
    if linkage == "average" and embeddings is None:
        raise ValueError("constrained_clusters: average linkage needs embeddings")
    attach = np.zeros(n, bool) if attach_only is None else np.asarray(attach_only, bool)
    strong = np.zeros(len(pairs), bool) if strong is None else np.asarray(strong, bool).reshape(-1)
    if len(strong) != len(pairs):
        raise ValueError(f"constrained_clusters: {len(pairs)} pairs but {len(strong)} strong flags")
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -weights))  # strongest first, ties by rows: deterministic
    pairs, strong = pairs[order], strong[order]
    lq = attach[pairs[:, 0]].astype(np.int8) + attach[pairs[:, 1]]
    lq[strong] = -1  # strong edges: their own pass, every node a full member
    parent = list(range(n))
    members: dict[int, list[int]] = {}
    sums: dict[int, np.ndarray] = {}
    emb = None if linkage == "single" else np.asarray(embeddings, np.float64)

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def try_merge(i: int, j: int, linked: bool = False) -> None:
        """Merge the clusters of i and j if allowed; ``linked``: skip the average-linkage test (strong edge)."""
        a, b = find(i), find(j)
        if a == b:
            return
        ma, mb = members.get(a, [a]), members.get(b, [b])
        if emb is not None and not linked and (len(ma) > 1 or len(mb) > 1):
            sa = sums[a] if a in sums else emb[a]
            sb = sums[b] if b in sums else emb[b]
            if float(sa @ sb) < threshold * len(ma) * len(mb):
                return
        if (len(ma) > 1 or len(mb) > 1) and not can_merge(ma, mb):
            return
        if len(ma) < len(mb):
            a, b, ma, mb = b, a, mb, ma
        parent[b] = a
        ma.extend(mb)  # ma is the stored list, or a fresh [a] for a singleton
        members[a] = ma
        members.pop(b, None)
        if emb is not None:
            sums[a] = (sums.pop(a) if a in sums else emb[a]) + (sums.pop(b) if b in sums else emb[b])

    log.debug("clustering %d nodes over %d edges (%d strong, %d to attach-only nodes)", n, len(pairs),
              int(strong.sum()), int((lq == 1).sum()))
    bar = tqdm(total=len(pairs), desc="clustering", unit="edge", disable=not progress, mininterval=1.0)
    for i, j in pairs[strong].tolist():
        try_merge(i, j, linked=True)
    bar.update(int(strong.sum()))
    good = pairs[lq == 0].tolist()
    for step, (i, j) in enumerate(good):
        try_merge(i, j)
        if step % 65536 == 65535:
            bar.update(65536)
    bar.update(len(good) % 65536)
    # Second pass: a low-quality node joins one good cluster, by its strongest allowed edge, and stays there.
    attached = np.zeros(n, bool)
    for i, j in pairs[lq == 1].tolist():
        low, high = (i, j) if attach[i] else (j, i)
        if attached[low]:
            continue
        before = find(high)
        try_merge(low, high)
        attached[low] = find(low) == find(before)
    bar.update(int((lq == 1).sum()))
    bar.close()
    return np.fromiter((find(i) for i in range(n)), np.int64, n)
