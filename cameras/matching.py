"""Association as pure functions over (tracks x detections) cost matrices.

Cost builders (:func:`iou_cost`, :func:`cosine_cost`) compose with gates (:func:`gate_cost`,
:func:`gate_classes`) that write the one "never pair" value :data:`INFEASIBLE`; solvers return
``(matches, unmatched_rows, unmatched_cols)`` with ``matches`` an ``(K, 2)`` array of (row, col).
"""

from __future__ import annotations

from collections.abc import Sequence

import lap
import numpy as np

from mtmct.core.boxes import iou

INFEASIBLE = 1e5
"""Cost of a pair that must never be matched; finite so the solver stays well-posed, far above any threshold."""

Matches = tuple[np.ndarray, np.ndarray, np.ndarray]


def _empty_matches(n_rows: int, n_cols: int) -> Matches:
    return np.zeros((0, 2), np.int64), np.arange(n_rows), np.arange(n_cols)


def iou_cost(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """``1 - IoU`` for every pair of corner boxes, ``(N, M)``; 1 for disjoint or degenerate boxes."""
    return 1.0 - iou(a_xyxy, b_xyxy)


def cosine_cost(galleries: Sequence[np.ndarray], features: np.ndarray) -> np.ndarray:
    """Smallest cosine distance between each track's gallery ``(K_i, D)`` and each feature ``(M, D)``.

    Features are expected L2-normalised (as :class:`~mtmct.core.detections.Detections` promises). The galleries are
    stacked into one matrix product and reduced per track, so cost is one BLAS call whatever the budget.
    """
    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    if not len(galleries) or not len(features):
        return np.zeros((len(galleries), len(features)))
    sizes = np.array([len(g) for g in galleries])
    if (sizes == 0).any():
        raise ValueError("cosine_cost: every track needs at least one feature in its gallery")
    similarity = np.concatenate(galleries).astype(np.float32, copy=False) @ features.T
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return 1.0 - np.maximum.reduceat(similarity, starts, axis=0).astype(np.float64)


def gate_cost(cost: np.ndarray, gating_distances: np.ndarray, threshold: float) -> np.ndarray:
    """Pairs whose squared Mahalanobis distance exceeds ``threshold`` become :data:`INFEASIBLE`."""
    return np.where(np.asarray(gating_distances) > threshold, INFEASIBLE, cost)


def gate_classes(cost: np.ndarray, row_classes: np.ndarray, col_classes: np.ndarray) -> np.ndarray:
    """Pairs of different classes become :data:`INFEASIBLE`: a track never changes class."""
    return np.where(np.asarray(row_classes)[:, None] != np.asarray(col_classes)[None, :], INFEASIBLE, cost)


def linear_assignment(cost: np.ndarray, threshold: float) -> Matches:
    """Minimum-cost matching that leaves a row or column unmatched rather than pair it above ``threshold``."""
    cost = np.asarray(cost, dtype=np.float64)
    if threshold >= INFEASIBLE:
        raise ValueError(f"linear_assignment: threshold {threshold} must be below INFEASIBLE ({INFEASIBLE})")
    n_rows, n_cols = cost.shape
    if n_rows == 0 or n_cols == 0:
        return _empty_matches(n_rows, n_cols)
    _, row_to_col, _ = lap.lapjv(cost, extend_cost=True, cost_limit=threshold)
    rows = np.flatnonzero(row_to_col >= 0)
    cols = row_to_col[rows].astype(np.int64)
    keep = cost[rows, cols] <= threshold
    rows, cols = rows[keep], cols[keep]
    matches = np.stack([rows, cols], axis=1).astype(np.int64)
    return matches, np.setdiff1d(np.arange(n_rows), rows), np.setdiff1d(np.arange(n_cols), cols)


def matching_cascade(cost: np.ndarray, row_ages: np.ndarray, threshold: float, depth: int) -> Matches:
    """deep_sort's cascade: rows seen most recently (``row_ages`` = frames since last update) pick first.

    A track lost for long has a wide covariance and so passes the gate for more boxes; letting fresh tracks
    choose first stops it from taking their boxes.
    """
    cost = np.asarray(cost, dtype=np.float64)
    row_ages = np.asarray(row_ages)
    free_cols = np.arange(cost.shape[1])
    matched: list[np.ndarray] = []
    for age in range(1, depth + 1):
        if not len(free_cols):
            break
        rows = np.flatnonzero(row_ages == age)
        if not len(rows):
            continue
        level, _, _ = linear_assignment(cost[np.ix_(rows, free_cols)], threshold)
        if len(level):
            matched.append(np.stack([rows[level[:, 0]], free_cols[level[:, 1]]], axis=1))
            free_cols = np.delete(free_cols, level[:, 1])
    matches = np.concatenate(matched) if matched else np.zeros((0, 2), np.int64)
    return matches, np.setdiff1d(np.arange(cost.shape[0]), matches[:, 0]), free_cols
