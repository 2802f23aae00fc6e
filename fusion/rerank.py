"""k-reciprocal re-ranking (Zhong et al., CVPR 2017), vectorised numpy.

A gallery item is trusted as a query's neighbour when the query is also among the item's neighbours
(k-reciprocal), the set is expanded with the reciprocal sets of its members, and two items are compared by the
Jaccard distance of these sets (soft, weighted by ``exp(-d)``), blended with the original distance. It lifts
true matches that are far in raw distance but share neighbours. Cost is dense: O(n^2) memory and roughly
O(n^2 * k1) time for ``n = queries + gallery``, so it suits evaluation and fusion sets of a few thousand.

Inputs follow the common implementation: distance matrices (smaller = closer, e.g. Euclidean or cosine
distance), squared and scaled per column by their maximum before use.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _top_k(dist: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest entries per row, in increasing distance (argsort order without a full sort)."""
    k = min(k, dist.shape[1])
    if k < dist.shape[1]:
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(dist.shape[1]), (len(dist), 1))
    order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _membership(rank: np.ndarray, n: int) -> np.ndarray:
    """Dense (n, n) bool: row i marks its listed neighbours."""
    m = np.zeros((n, n), bool)
    m[np.arange(len(rank))[:, None], rank] = True
    return m


def rerank(q_g_dist: np.ndarray, q_q_dist: np.ndarray, g_g_dist: np.ndarray, k1: int = 20, k2: int = 6,
           lambda_value: float = 0.3) -> np.ndarray:
    """Re-ranked (Q, G) distance from query-gallery, query-query and gallery-gallery distances.

    ``k1``: neighbourhood for the k-reciprocal sets (larger reaches more true matches but admits more
    impostors). ``k2``: local query expansion over the ``k2`` nearest (1 disables). ``lambda_value``: weight
    of the original distance in the blend (0 = Jaccard only).
    """
    q_g = np.asarray(q_g_dist, np.float32)
    nq, ng = q_g.shape
    if q_q_dist.shape != (nq, nq) or g_g_dist.shape != (ng, ng):
        raise ValueError(f"rerank: shapes {q_g.shape}, {q_q_dist.shape}, {g_g_dist.shape} do not agree")
    if k1 < 1 or k2 < 1 or not 0 <= lambda_value <= 1:
        raise ValueError(f"rerank: need k1 >= 1, k2 >= 1, 0 <= lambda_value <= 1 (got {k1}, {k2}, {lambda_value})")
    dist = np.block([[np.asarray(q_q_dist, np.float32), q_g], [q_g.T, np.asarray(g_g_dist, np.float32)]])
    return _rerank_all(dist, nq, k1, k2, lambda_value)[:, nq:]


def rerank_set(dist: np.ndarray, k1: int = 20, k2: int = 6, lambda_value: float = 0.3) -> np.ndarray:
    """Re-ranked (n, n) distance within one set, every item both query and gallery (e.g. fusion)."""
    dist = np.asarray(dist, np.float32)
    if dist.ndim != 2 or dist.shape[0] != dist.shape[1]:
        raise ValueError(f"rerank_set: need a square distance matrix, got shape {dist.shape}")
    if k1 < 1 or k2 < 1 or not 0 <= lambda_value <= 1:
        raise ValueError(f"rerank_set: need k1 >= 1, k2 >= 1, 0 <= lambda_value <= 1 (got {k1}, {k2}, {lambda_value})")
    return _rerank_all(dist, len(dist), k1, k2, lambda_value)


def _rerank_all(dist: np.ndarray, nq: int, k1: int, k2: int, lambda_value: float) -> np.ndarray:
    """Re-ranked distance of the first ``nq`` items against all ``n`` items of a square distance matrix."""
    n = len(dist)
    dist = np.square(dist)
    dist = (dist / np.maximum(dist.max(axis=0), 1e-12)).T  # column-normalised, as the reference code

    rank = _top_k(dist, k1 + 1)
    forward = _membership(rank, n)
    reciprocal = forward & forward.T  # j in N(i, k1) and i in N(j, k1)
    half = int(np.around(k1 / 2.0))
    forward_half = _membership(rank[:, : half + 1], n)
    reciprocal_half = forward_half & forward_half.T
    # Expand R(i) with R_half(c) for each c in R(i) that shares more than 2/3 of R_half(c) with R(i).
    r = reciprocal.astype(np.float32)
    rh = reciprocal_half.astype(np.float32)
    shared = r @ rh.T  # shared[i, c] = |R(i) & R_half(c)|
    accept = reciprocal & (shared > (2.0 / 3.0) * rh.sum(axis=1)[None, :])
    expanded = reciprocal | ((accept.astype(np.float32) @ rh) > 0)

    weights = np.where(expanded, np.exp(-dist), 0.0).astype(np.float32)
    v = weights / weights.sum(axis=1, keepdims=True)
    if k2 != 1:  # local query expansion: average V over each row's k2 nearest
        rows = np.repeat(np.arange(n), k2)
        expand = sp.csr_matrix((np.full(n * k2, 1.0 / k2, np.float32), (rows, rank[:, :k2].reshape(-1))), shape=(n, n))
        v = np.asarray(expand @ v, np.float32)

    # Soft Jaccard: sum_k min(V[i, k], V[j, k]) over the queries' non-zero columns only.
    v_cols = np.ascontiguousarray(v.T)
    jaccard = np.empty((nq, n), np.float32)
    for i in range(nq):
        nz = np.flatnonzero(v[i])
        overlap = np.minimum(v[i, nz][:, None], v_cols[nz]).sum(axis=0)
        jaccard[i] = 1.0 - overlap / (2.0 - overlap)
    return jaccard * (1 - lambda_value) + dist[:nq] * lambda_value


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1 - a @ b.T`` for L2-normalised rows: the distance to feed :func:`rerank` from embeddings."""
    return 1.0 - np.asarray(a, np.float32) @ np.asarray(b, np.float32).T
