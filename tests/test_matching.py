"""Matching: cost builders and solvers over tiny tables."""

from __future__ import annotations

import numpy as np
import pytest

from cameras.matching import (
    INFEASIBLE,
    cosine_cost,
    gate_classes,
    gate_cost,
    iou_cost,
    linear_assignment,
    matching_cascade,
)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 0.0),
        ([0, 0, 10, 10], [20, 20, 30, 30], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 1 - 50 / 150),
        ([0, 0, 10, 10], [0, 0, 5, 10], 0.5),
        ([0, 0, 10, 10], [10, 0, 20, 10], 1.0),  # touching edges do not overlap
        ([0, 0, 0, 0], [0, 0, 0, 0], 1.0),  # degenerate boxes never overlap
    ],
)
def test_iou_cost(a, b, expected):
    assert iou_cost(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)


def test_iou_cost_shapes():
    assert iou_cost(np.zeros((3, 4)), np.zeros((0, 4))).shape == (3, 0)
    assert iou_cost(np.zeros((0, 4)), np.ones((2, 4))).shape == (0, 2)


def _unit(*v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize(
    "gallery, feature, expected",
    [
        ([_unit(1, 0)], _unit(1, 0), 0.0),
        ([_unit(1, 0)], _unit(0, 1), 1.0),
        ([_unit(1, 0)], _unit(-1, 0), 2.0),
        ([_unit(0, 1), _unit(1, 0)], _unit(1, 0), 0.0),  # nearest gallery entry counts
        ([_unit(1, 1)], _unit(1, 0), 1 - np.sqrt(0.5)),
    ],
)
def test_cosine_cost_is_the_nearest_gallery_entry(gallery, feature, expected):
    assert cosine_cost([np.stack(gallery)], feature[None])[0, 0] == pytest.approx(expected, abs=1e-6)


def test_cosine_cost_stacks_galleries_of_different_sizes():
    galleries = [np.stack([_unit(1, 0), _unit(0, 1)]), _unit(-1, 0)[None], np.stack([_unit(0, 1)] * 3)]
    cost = cosine_cost(galleries, np.stack([_unit(1, 0), _unit(0, 1)]))
    np.testing.assert_allclose(cost, [[0, 0], [2, 1], [1, 0]], atol=1e-6)
    assert cosine_cost([], np.zeros((2, 2))).shape == (0, 2)
    with pytest.raises(ValueError, match="at least one feature"):
        cosine_cost([np.zeros((0, 2))], _unit(1, 0)[None])


def test_gates_write_the_one_infeasible_value():
    cost = np.array([[0.1, 0.2], [0.3, 0.4]])
    gated = gate_cost(cost, np.array([[1.0, 20.0], [3.0, 9.0]]), threshold=9.4877)
    np.testing.assert_array_equal(gated, [[0.1, INFEASIBLE], [0.3, 0.4]])
    by_class = gate_classes(cost, np.array([0, 1]), np.array([1, 1]))
    np.testing.assert_array_equal(by_class, [[INFEASIBLE, INFEASIBLE], [0.3, 0.4]])
    assert cost[0, 1] == 0.2  # inputs are not mutated


@pytest.mark.parametrize(
    "cost, threshold, matches, rows, cols",
    [
        ([[0.1, 0.9], [0.9, 0.1]], 0.5, [[0, 0], [1, 1]], [], []),
        ([[0.9, 0.1], [0.1, 0.9]], 0.5, [[0, 1], [1, 0]], [], []),
        ([[0.6, 0.9], [0.9, 0.1]], 0.5, [[1, 1]], [0], [0]),  # above threshold stays unmatched
        ([[0.2, 0.3, 0.9]], 0.5, [[0, 0]], [], [1, 2]),  # more columns than rows
        ([[0.2], [0.1], [0.3]], 0.5, [[1, 0]], [0, 2], []),  # more rows than columns
        ([[INFEASIBLE, 0.4]], 0.5, [[0, 1]], [], [0]),
        ([[INFEASIBLE]], 0.5, [], [0], [0]),
        # global optimum, not greedy: greedy would take (0,0)=0.1 and leave row 1 with 0.9
        ([[0.1, 0.2], [0.15, 0.9]], 0.5, [[0, 1], [1, 0]], [], []),
    ],
)
def test_linear_assignment(cost, threshold, matches, rows, cols):
    m, ur, uc = linear_assignment(np.array(cost, float), threshold)
    assert sorted(map(tuple, m.tolist())) == sorted(map(tuple, matches))
    assert ur.tolist() == rows and uc.tolist() == cols


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (2, 0)])
def test_linear_assignment_empty(shape):
    m, ur, uc = linear_assignment(np.zeros(shape), 0.5)
    assert m.shape == (0, 2) and len(ur) == shape[0] and len(uc) == shape[1]


def test_linear_assignment_rejects_a_threshold_at_infeasible():
    with pytest.raises(ValueError, match="INFEASIBLE"):
        linear_assignment(np.zeros((1, 1)), INFEASIBLE)


@pytest.mark.parametrize(
    "cost, ages, matches, rows, cols",
    [
        # the fresh track (age 1) takes the contested box even though the old one fits it better
        ([[0.15], [0.1]], [1, 5], [[0, 0]], [1], []),
        ([[0.1, 0.9], [0.9, 0.1]], [1, 2], [[0, 0], [1, 1]], [], []),
        ([[0.1, 0.9], [0.15, 0.1]], [2, 2], [[0, 0], [1, 1]], [], []),
        ([[0.1]], [40], [], [0], [0]),  # older than the cascade depth
    ],
)
def test_matching_cascade_prefers_recent_tracks(cost, ages, matches, rows, cols):
    m, ur, uc = matching_cascade(np.array(cost, float), np.array(ages), threshold=0.5, depth=30)
    assert sorted(map(tuple, m.tolist())) == sorted(map(tuple, matches))
    assert ur.tolist() == rows and uc.tolist() == cols
