"""Kalman filter: tiny boxes with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from cameras.kalman_filter import KalmanFilter, gating_threshold, xywh_to_xyxy, xyxy_to_xywh

KF = KalmanFilter()


@pytest.mark.parametrize(
    "xyxy, xywh",
    [
        ([0, 0, 10, 20], [5, 10, 10, 20]),
        ([10, 10, 14, 30], [12, 20, 4, 20]),
        ([-4, 2, 4, 6], [0, 4, 8, 4]),
    ],
)
def test_box_conversions_round_trip(xyxy, xywh):
    np.testing.assert_allclose(xyxy_to_xywh(xyxy), xywh)
    np.testing.assert_allclose(xywh_to_xyxy(xywh), xyxy)


@pytest.mark.parametrize("box", [[50, 60, 20, 40], [5, 5, 2, 4], [300, 200, 80, 200]])
def test_initiate_starts_at_the_box_with_zero_velocity(box):
    mean, cov = KF.initiate(np.array(box, float))
    np.testing.assert_allclose(mean, [*box, 0, 0, 0, 0])
    assert cov.shape == (8, 8) and np.all(np.linalg.eigvalsh(cov) > 0)


@pytest.mark.parametrize("velocity", [[0, 0, 0, 0], [3, 0, 0, 0], [-2, 1, 0.5, 0.5]])
def test_predict_moves_by_the_velocity_and_grows_uncertainty(velocity):
    mean, cov = KF.initiate(np.array([50, 60, 20, 40], float))
    mean[4:] = velocity
    new_mean, new_cov = KF.predict(mean, cov)
    np.testing.assert_allclose(new_mean[:4], mean[:4] + velocity)
    assert np.all(np.diag(new_cov) > np.diag(cov))


@pytest.mark.parametrize("measured", [[52, 60, 20, 40], [50, 66, 20, 44], [45, 55, 18, 38]])
def test_update_moves_between_prior_and_measurement(measured):
    mean, cov = KF.predict(*KF.initiate(np.array([50, 60, 20, 40], float)))
    new_mean, new_cov = KF.update(mean, cov, np.array(measured, float))
    lo, hi = np.minimum(mean[:4], measured), np.maximum(mean[:4], measured)
    assert np.all(new_mean[:4] >= lo - 1e-9) and np.all(new_mean[:4] <= hi + 1e-9)
    assert np.all(np.diag(new_cov)[:4] < np.diag(cov)[:4])


def test_batch_calls_equal_single_calls():
    boxes = np.array([[50, 60, 20, 40], [200, 100, 30, 90], [5, 5, 4, 8]], float)
    means, covs = KF.initiate(boxes)
    means[:, 4] = [1, -2, 0.5]
    p_means, p_covs = KF.predict(means, covs)
    u_means, u_covs = KF.update(p_means, p_covs, boxes + 1)
    for i in range(3):
        m, c = KF.predict(means[i], covs[i])
        np.testing.assert_allclose(p_means[i], m)
        np.testing.assert_allclose(p_covs[i], c)
        m, c = KF.update(m, c, boxes[i] + 1)
        np.testing.assert_allclose(u_means[i], m)
        np.testing.assert_allclose(u_covs[i], c)


def test_filter_learns_a_constant_velocity():
    mean, cov = KF.initiate(np.array([0, 100, 20, 40], float))
    for step in range(1, 30):
        mean, cov = KF.update(*KF.predict(mean, cov), np.array([4.0 * step, 100, 20, 40]))
    assert mean[4] == pytest.approx(4.0, abs=0.05)


@pytest.mark.parametrize(
    "offset, inside",
    [([0, 0, 0, 0], True), ([1, 1, 0, 0], True), ([3, -2, 1, 1], True), ([40, 0, 0, 0], False), ([0, 0, 0, 60], False)],
)
def test_gating_distance_against_the_chi2_gate(offset, inside):
    mean, cov = KF.predict(*KF.initiate(np.array([50, 60, 20, 40], float)))
    dist = KF.gating_distance(mean, cov, (mean[:4] + offset)[None, :])
    assert dist.shape == (1,)
    assert (dist[0] <= gating_threshold(4)) == inside


def test_gating_distance_batch_shape_and_values():
    means, covs = KF.initiate(np.array([[50, 60, 20, 40], [200, 100, 30, 90]], float))
    meas = np.array([[50, 60, 20, 40], [201, 100, 30, 90], [0, 0, 5, 5]], float)
    dist = KF.gating_distance(means, covs, meas)
    assert dist.shape == (2, 3)
    assert dist[0, 0] == pytest.approx(0) and dist[1, 1] < dist[1, 2]
    np.testing.assert_allclose(dist[1], KF.gating_distance(means[1], covs[1], meas))
    assert KF.gating_distance(means, covs, np.zeros((0, 4))).shape == (2, 0)
    assert KF.gating_distance(means, covs, meas, only_position=True).shape == (2, 3)


@pytest.mark.parametrize("dof, expected", [(2, 5.9915), (4, 9.4877)])
def test_gating_threshold_is_chi2_95(dof, expected):
    assert gating_threshold(dof) == pytest.approx(expected, abs=1e-4)
