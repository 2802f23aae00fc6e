"""k-reciprocal re-ranking: equals a loop transcription of the paper's algorithm, and helps retrieval."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.rerank import cosine_distance, rerank, rerank_set


def reference(q_g, q_q, g_g, k1, k2, lam):
    """Plain loops, one step of the paper at a time (slow; for tiny inputs)."""
    d = np.block([[q_q, q_g], [q_g.T, g_g]]).astype(np.float64) ** 2
    d = (d / d.max(axis=0)).T
    n, nq = len(d), len(q_q)
    rank = np.argsort(d, axis=1, kind="stable")

    def recip(i, k):
        fwd = rank[i, : k + 1]
        return [j for j in fwd if i in rank[j, : k + 1]]

    v = np.zeros((n, n))
    for i in range(n):
        r = recip(i, k1)
        expanded = set(r)
        for c in r:
            rc = recip(c, int(np.around(k1 / 2)))
            if len(set(rc) & set(r)) > 2 / 3 * len(rc):
                expanded |= set(rc)
        idx = sorted(expanded)
        w = np.exp(-d[i, idx])
        v[i, idx] = w / w.sum()
    if k2 != 1:
        v = np.stack([v[rank[i, :k2]].mean(axis=0) for i in range(n)])
    out = np.zeros((nq, n))
    for i in range(nq):
        for j in range(n):
            m = np.minimum(v[i], v[j]).sum()
            out[i, j] = (1 - lam) * (1 - m / (2 - m)) + lam * d[i, j]
    return out[:, nq:]


@pytest.mark.parametrize("k1, k2, lam", [(4, 3, 0.3), (6, 1, 0.0), (3, 2, 1.0)])
def test_matches_loop_reference(k1, k2, lam):
    rng = np.random.default_rng(k1)
    x = rng.normal(size=(30, 8))
    dist = np.linalg.norm(x[:, None] - x[None], axis=2)
    q, g = slice(0, 8), slice(8, 30)
    got = rerank(dist[q, g], dist[q, q], dist[g, g], k1, k2, lam)
    np.testing.assert_allclose(got, reference(dist[q, g], dist[q, q], dist[g, g], k1, k2, lam), atol=1e-5)


def mean_ap(dist: np.ndarray, q_labels: np.ndarray, g_labels: np.ndarray) -> float:
    aps = []
    for row, label in zip(dist, q_labels):
        hits = g_labels[np.argsort(row, kind="stable")] == label
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        aps.append(precision[hits].mean())
    return float(np.mean(aps))


def test_improves_map_on_planted_manifolds():
    # Each identity is a curved chain of views: far ends look unlike each other, but neighbours link them.
    rng = np.random.default_rng(0)
    dim, ids, per_id = 32, 40, 12
    feats, labels = [], []
    for p in range(ids):
        a, b = rng.normal(size=dim), rng.normal(size=dim)
        for t in np.linspace(0, 1, per_id):
            f = np.cos(t * np.pi / 2) * a + np.sin(t * np.pi / 2) * b + 0.35 * rng.normal(size=dim)
            feats.append(f / np.linalg.norm(f)), labels.append(p)
    feats, labels = np.array(feats, np.float32), np.array(labels)
    q = np.arange(0, len(feats), per_id // 2)  # two queries per identity
    g = np.setdiff1d(np.arange(len(feats)), q)
    base = cosine_distance(feats[q], feats[g])
    reranked = rerank(base, cosine_distance(feats[q], feats[q]), cosine_distance(feats[g], feats[g]), k1=8, k2=3)
    before, after = mean_ap(base, labels[q], labels[g]), mean_ap(reranked, labels[q], labels[g])
    assert after > before + 0.03, (before, after)


def test_rerank_set_is_square_and_symmetric_enough():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    d = rerank_set(cosine_distance(x, x), k1=5, k2=2)
    assert d.shape == (40, 40) and np.allclose(np.diag(d), d.min(axis=1))
    with pytest.raises(ValueError, match="square"):
        rerank_set(np.zeros((3, 4)))
