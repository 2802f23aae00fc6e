"""Constant-velocity Kalman filter over boxes; state-free, so callers (tracks) own mean and covariance.

State is ``(cx, cy, w, h, vcx, vcy, vw, vh)``. We track width and height directly rather than deep_sort's
aspect ratio: a walking person's aspect swings with the gait, and noise scaled by ``w`` for the x/width terms
and by ``h`` for the y/height terms keeps the filter equally confident about thin and wide boxes (BoT-SORT
found the same). Every method accepts one track (``mean (8,)``, ``cov (8, 8)``) or a batch (``(N, 8)``,
``(N, 8, 8)``), so a tracker predicts all its tracks in one numpy call.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2

NDIM = 4


def gating_threshold(dof: int = NDIM, probability: float = 0.95) -> float:
    """Squared-Mahalanobis bound that a true match stays under with ``probability`` (chi-square, ``dof``)."""
    return float(chi2.ppf(probability, dof))


def xyxy_to_xywh(xyxy: np.ndarray) -> np.ndarray:
    """Corner boxes to the filter's measurement space (centre, width, height)."""
    xyxy = np.asarray(xyxy, dtype=np.float64)
    wh = xyxy[..., 2:] - xyxy[..., :2]
    return np.concatenate([xyxy[..., :2] + wh / 2, wh], axis=-1)


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    xywh = np.asarray(xywh, dtype=np.float64)
    half = xywh[..., 2:4] / 2
    return np.concatenate([xywh[..., :2] - half, xywh[..., :2] + half], axis=-1)


def _diag(values: np.ndarray) -> np.ndarray:
    """(..., n) -> (..., n, n) diagonal matrices."""
    return values[..., :, None] * np.eye(values.shape[-1])


class KalmanFilter:
    """Holds only the motion and observation matrices and the noise weights.

    Args:
        std_weight_position: measurement/position noise as a fraction of box size; raising it trusts
            detections less (smoother boxes, slower to follow a real turn).
        std_weight_velocity: process noise on velocity as a fraction of box size; raising it lets tracks
            turn and accelerate faster but widens the gate, so a lost track accepts more wrong boxes.
    """

    def __init__(self, std_weight_position: float = 1.0 / 20, std_weight_velocity: float = 1.0 / 160) -> None:
        self.std_weight_position = std_weight_position
        self.std_weight_velocity = std_weight_velocity
        self._motion = np.eye(2 * NDIM)
        self._motion[:NDIM, NDIM:] = np.eye(NDIM)  # dt = 1 frame
        self._observe = np.eye(NDIM, 2 * NDIM)

    def _scale(self, wh: np.ndarray) -> np.ndarray:
        """(..., 2) width/height -> (..., 4) per-coordinate scale (w for x and w, h for y and h)."""
        return np.concatenate([wh, wh], axis=-1)

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New track(s) from measurement(s) ``(cx, cy, w, h)``; unknown velocity gets a wide prior."""
        measurement = np.asarray(measurement, dtype=np.float64)
        mean = np.concatenate([measurement, np.zeros_like(measurement)], axis=-1)
        scale = self._scale(measurement[..., 2:4])
        std = np.concatenate([2 * self.std_weight_position * scale, 10 * self.std_weight_velocity * scale], axis=-1)
        return mean, _diag(std**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame ahead."""
        scale = self._scale(mean[..., 2:4])
        std = np.concatenate([self.std_weight_position * scale, self.std_weight_velocity * scale], axis=-1)
        mean = mean @ self._motion.T
        cov = self._motion @ cov @ self._motion.T + _diag(std**2)
        return mean, cov

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State distribution -> measurement distribution (adds measurement noise)."""
        std = self.std_weight_position * self._scale(mean[..., 2:4])
        return mean @ self._observe.T, self._observe @ cov @ self._observe.T + _diag(std**2)

    def update(self, mean: np.ndarray, cov: np.ndarray, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct with measurement(s) ``(cx, cy, w, h)`` row-aligned with ``mean``."""
        proj_mean, proj_cov = self.project(mean, cov)
        # gain^T = S^-1 H P (S symmetric); solve rather than invert for stability
        gain = np.swapaxes(np.linalg.solve(proj_cov, self._observe @ cov), -1, -2)
        innovation = np.asarray(measurement, dtype=np.float64) - proj_mean
        new_mean = mean + (gain @ innovation[..., None])[..., 0]
        new_cov = cov - gain @ proj_cov @ np.swapaxes(gain, -1, -2)
        return new_mean, new_cov

    def gating_distance(
        self, mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray, only_position: bool = False
    ) -> np.ndarray:
        """Squared Mahalanobis distance of M measurements to one track ``(M,)`` or to N tracks ``(N, M)``.

        Compare with :func:`gating_threshold` (dof 2 with ``only_position``, else 4).
        """
        single = np.ndim(mean) == 1
        mean, cov = np.atleast_2d(mean), cov.reshape(-1, 2 * NDIM, 2 * NDIM)
        proj_mean, proj_cov = self.project(mean, cov)
        meas = np.asarray(measurements, dtype=np.float64).reshape(-1, NDIM)
        if only_position:
            proj_mean, proj_cov, meas = proj_mean[:, :2], proj_cov[:, :2, :2], meas[:, :2]
        diff = meas[None, :, :] - proj_mean[:, None, :]  # (N, M, d)
        if diff.shape[1] == 0:
            dist = np.zeros((len(mean), 0))
        else:
            solved = np.linalg.solve(proj_cov, np.swapaxes(diff, 1, 2))  # (N, d, M)
            dist = np.einsum("nmd,ndm->nm", diff, solved)
        return dist[0] if single else dist
