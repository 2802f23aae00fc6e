"""BoT-SORT for one camera (Aharon et al., 2022): ByteTrack's rounds with appearance fused into the first one.

Where the boxes carry ReID embeddings, a track keeps an exponentially smoothed feature and the first round's cost of
a pair is the smaller of its ``1 - IoU`` and its appearance distance, the latter allowed only for pairs that overlap
(``proximity``) and look alike (``max_cosine_distance``): a person re-found after a crossing by their look, never a
look-alike across the frame. Without embeddings it is ByteTrack on BoT-SORT's box-centre-and-size Kalman state
(ours throughout). BoT-SORT's camera-motion compensation is not applied: trackers here see boxes, not frames.
"""

from __future__ import annotations

import numpy as np

from cameras import matching
from cameras.bytetrack import ByteTrack, _Track
from mtmct.core.detections import Detections


class BoTSort(ByteTrack):
    """ByteTrack + appearance (module docstring). Each argument is a key of ``configs/trackers/botsort.yaml``;
    those shared with :class:`~cameras.bytetrack.ByteTrack` mean the same.

    Args:
        max_cosine_distance: largest appearance distance (1 - cosine) that may pair a track and a box. Raising it
            re-finds people whose look changed but pairs look-alikes.
        proximity: largest ``1 - IoU`` at which appearance may pair a track and a box. Raising it lets appearance
            bridge larger jumps (a missed stretch, a fast turn) but lets a look-alike elsewhere take the track.
        ema_alpha: weight of the old feature in the track's smoothed appearance. Higher is steadier against one
            bad crop, slower to follow a real change.
    """

    kind = "botsort"  # its type in cameras.tracker_registry

    def __init__(self, high_score: float = 0.6, low_score: float = 0.1, new_track_score: float = 0.7,
                 max_iou_distance: float = 0.8, low_max_iou_distance: float = 0.5, new_max_iou_distance: float = 0.7,
                 max_age: int = 30, fuse_score: bool = True, std_weight_position: float = 1.0 / 20,
                 std_weight_velocity: float = 1.0 / 160, max_cosine_distance: float = 0.25, proximity: float = 0.5,
                 ema_alpha: float = 0.9) -> None:
        super().__init__(high_score, low_score, new_track_score, max_iou_distance, low_max_iou_distance,
                         new_max_iou_distance, max_age, fuse_score, std_weight_position, std_weight_velocity)
        if not 0 <= ema_alpha < 1:
            raise ValueError(f"ema_alpha must be in [0, 1), got {ema_alpha}")
        self.max_cosine_distance, self.proximity, self.ema_alpha = max_cosine_distance, proximity, ema_alpha

    def _update_feature(self, track: _Track, feature: np.ndarray) -> None:
        if not np.isfinite(feature).all():
            return
        f = feature / max(float(np.linalg.norm(feature)), 1e-12)
        smoothed = f if track.feature is None else self.ema_alpha * track.feature + (1 - self.ema_alpha) * f
        track.feature = smoothed / max(float(np.linalg.norm(smoothed)), 1e-12)

    def _cost(self, tracks: list[_Track], dets: Detections, cols: np.ndarray, fuse_score: bool) -> np.ndarray:
        cost = super()._cost(tracks, dets, cols, fuse_score)
        if not fuse_score or dets.embeddings is None:  # appearance joins the first round only
            return cost
        iou_dist = matching.iou_cost(np.array([t.xyxy for t in tracks]).reshape(-1, 4), dets.xyxy[cols])
        looks = np.ones((len(tracks), len(cols)))
        with_look = [i for i, t in enumerate(tracks) if t.feature is not None]
        if with_look and len(cols):
            feats = dets.embeddings[cols]
            sim = np.stack([tracks[i].feature for i in with_look]) @ np.nan_to_num(feats, nan=0.0).T
            looks[with_look] = 1.0 - sim
        looks[(looks > self.max_cosine_distance) | (iou_dist > self.proximity)] = 1.0
        return np.minimum(cost, matching.gate_classes(looks, [t.cls for t in tracks], dets.classes[cols]))
