"""One camera-local track: it owns its Kalman state, life-cycle counters and appearance gallery."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from cameras.kalman_filter import KalmanFilter, xywh_to_xyxy, xyxy_to_xywh


class TrackState(IntEnum):
    TENTATIVE = 1  # not yet ``n_init`` hits in a row: not reported, deleted on its first miss
    CONFIRMED = 2
    DELETED = 3


@dataclass(eq=False)
class Track:
    """``track_id`` is 0 until the track is confirmed; the tracker instance then gives it the next id."""

    mean: np.ndarray  # (8,) Kalman state, see cameras.kalman_filter
    cov: np.ndarray  # (8, 8)
    cls: int
    score: float
    n_init: int
    max_age: int
    nn_budget: int | None = 100
    ema_alpha: float | None = None
    track_id: int = 0
    hits: int = 1
    age: int = 1
    time_since_update: int = 0
    state: TrackState = TrackState.TENTATIVE
    features: np.ndarray | None = None  # (K, D) the last nn_budget features, oldest first
    smooth_feature: np.ndarray | None = None
    feature_age: int = 0  # frames since the last feature was added (the tracker's embedding refresh counts it)
    reported_feature: bool = False  # whether a reported row (what tracklets pool) has carried a feature yet

    def __post_init__(self) -> None:
        if self.n_init <= 1:
            self.state = TrackState.CONFIRMED

    @classmethod
    def start(cls, kf: KalmanFilter, xyxy: np.ndarray, score: float, cls_id: int, feature: np.ndarray | None,
              **params) -> Track:
        mean, cov = kf.initiate(xyxy_to_xywh(xyxy))
        track = cls(mean, cov, int(cls_id), float(score), **params)
        track.add_feature(feature)
        return track

    @property
    def xyxy(self) -> np.ndarray:
        return xywh_to_xyxy(self.mean[:4])

    @property
    def is_tentative(self) -> bool:
        return self.state == TrackState.TENTATIVE

    @property
    def is_confirmed(self) -> bool:
        return self.state == TrackState.CONFIRMED

    @property
    def is_deleted(self) -> bool:
        return self.state == TrackState.DELETED

    @property
    def gallery(self) -> np.ndarray:
        """Features the appearance cost compares against: the EMA feature, or the last ``nn_budget`` ones."""
        if self.smooth_feature is not None:
            return self.smooth_feature[None, :]
        return self.features if self.features is not None else np.zeros((0, 0), np.float32)

    def add_feature(self, feature: np.ndarray | None) -> None:
        """Remember one appearance feature; None (or a NaN row: the box was matched without ReID) adds nothing."""
        if feature is None:
            return
        feature = np.asarray(feature, dtype=np.float32)
        if not np.isfinite(feature).all():
            return
        self.feature_age = 0
        if self.ema_alpha is None:
            kept = self.features if self.features is not None else np.zeros((0, len(feature)), np.float32)
            start = 1 if self.nn_budget is not None and len(kept) >= self.nn_budget else 0
            self.features = np.concatenate([kept[start:], feature[None]])
            return
        smooth = feature if self.smooth_feature is None else (
            self.ema_alpha * self.smooth_feature + (1 - self.ema_alpha) * feature)
        self.smooth_feature = smooth / max(float(np.linalg.norm(smooth)), 1e-12)

    def predicted(self, mean: np.ndarray, cov: np.ndarray) -> None:
        """Take the state predicted for the new frame (the tracker predicts all tracks in one batch)."""
        self.mean, self.cov = mean, cov
        self.age += 1
        self.time_since_update += 1
        self.feature_age += 1

    def update(self, mean: np.ndarray, cov: np.ndarray, score: float, feature: np.ndarray | None) -> None:
        """Take the state corrected with the matched detection (the tracker corrects all matched tracks in one
        batch), that detection's score and its appearance feature."""
        self.mean, self.cov = mean, cov
        self.score = float(score)
        self.add_feature(feature)
        self.hits += 1
        self.time_since_update = 0
        if self.is_tentative and self.hits >= self.n_init:
            self.state = TrackState.CONFIRMED

    def mark_missed(self) -> None:
        if self.is_tentative or self.time_since_update > self.max_age:
            self.state = TrackState.DELETED
