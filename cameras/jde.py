"""JDE association for one camera (Wang et al., "Towards Real-Time Multi-Object Tracking", 2020; FairMOT's too).

The tracker of one-shot models (FairMOT, JDE: one network gives the boxes and their embeddings). Per frame, boxes
under ``conf`` are dropped; every track, seen or lost, is matched to the boxes by appearance (``1 - cosine`` of the
track's smoothed embedding and the box's) fused with motion (the squared Mahalanobis distance of the box to the
track's Kalman prediction, which also gates: a pair beyond the 95 % chi-square bound never matches); the tracks seen
last frame that found none then try the boxes left by IoU; tracks born last frame are confirmed by a box they
overlap or dropped; boxes left over start tracks. Without embeddings (a detector that gives none) only the IoU round
runs. Kalman state, track book-keeping and the confirmation round are :class:`cameras.bytetrack.ByteTrack`'s.
"""

from __future__ import annotations

import numpy as np

from cameras import matching
from cameras.botsort import BoTSort
from cameras.bytetrack import ByteTrack, _Track
from cameras.kalman_filter import gating_threshold, xyxy_to_xywh
from mtmct.core.detections import Detections


class JdeTracker(ByteTrack):
    """JDE's association (module docstring). Each argument is a key of ``configs/trackers/jde.yaml``.

    Args:
        conf: boxes under this score are dropped; the rest match and may start tracks (FairMOT's ``conf_thres``).
            Raising it stops false tracks but loses people the model is unsure about.
        max_appearance_distance: largest fused appearance + motion cost of a pair in the first round (FairMOT's
            ``tracked_thresh``). Raising it re-finds people whose look changed but pairs look-alikes.
        motion_weight: share of the squared Mahalanobis distance in the first round's cost (JDE's ``1 - lambda``).
            Raising it lets position decide between people who look alike.
        max_iou_distance: largest ``1 - IoU`` of the second round (tracks seen last frame, by overlap alone).
        new_max_iou_distance: ``1 - IoU`` bound for confirming a track born last frame.
        max_age: frames a lost track is kept for re-finding (JDE's ``track_buffer``). Also the tracklet builder's
            ``max_gap``.
        ema_alpha: weight of the old embedding in a track's smoothed appearance. Higher is steadier against one
            bad box, slower to follow a real change.
        std_weight_position, std_weight_velocity: Kalman noise as fractions of box size (see
            :class:`cameras.kalman_filter.KalmanFilter`).
    """

    kind = "jde"  # its type in cameras.tracker_registry

    def __init__(self, conf: float = 0.4, max_appearance_distance: float = 0.4, motion_weight: float = 0.02,
                 max_iou_distance: float = 0.5, new_max_iou_distance: float = 0.7, max_age: int = 30,
                 ema_alpha: float = 0.9, std_weight_position: float = 1.0 / 20,
                 std_weight_velocity: float = 1.0 / 160) -> None:
        # one score bound: ByteTrack's low-score round gets no boxes, every kept box may start a track
        super().__init__(conf, conf, conf, max_iou_distance, max_iou_distance, new_max_iou_distance, max_age, False,
                         std_weight_position, std_weight_velocity)
        if not 0 <= motion_weight <= 1 or not 0 <= ema_alpha < 1:
            raise ValueError(f"need motion_weight in [0, 1] and ema_alpha in [0, 1), got {motion_weight}, {ema_alpha}")
        self.max_appearance_distance, self.motion_weight, self.ema_alpha = \
            max_appearance_distance, motion_weight, ema_alpha
        self._gate = gating_threshold()

    _update_feature = BoTSort._update_feature  # the same smoothed appearance memory

    def _appearance_cost(self, tracks: list[_Track], dets: Detections, cols: np.ndarray) -> np.ndarray:
        """Fused ``(1 - w) (1 - cosine) + w * Mahalanobis`` of tracks against boxes ``cols``, gated by motion."""
        cost = np.full((len(tracks), len(cols)), matching.INFEASIBLE)
        with_look = [i for i, t in enumerate(tracks) if t.feature is not None]
        if with_look:
            feats = np.nan_to_num(dets.embeddings[cols], nan=0.0)  # L2-normalised, as Detections carry them
            cost[with_look] = 1.0 - np.stack([tracks[i].feature for i in with_look]) @ feats.T
        gating = self.kf.gating_distance(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]),
                                         xyxy_to_xywh(dets.xyxy[cols]))
        cost = (1 - self.motion_weight) * cost + self.motion_weight * gating
        cost = matching.gate_cost(cost, gating, self._gate)
        return matching.gate_classes(cost, [t.cls for t in tracks], dets.classes[cols])

    def _first_round(self, pool: list[_Track], dets: Detections, high: np.ndarray
                     ) -> tuple[list[tuple[_Track, int]], list[_Track], np.ndarray]:
        if dets.embeddings is None or not pool or not len(high):
            return self._match(pool, dets, high, self.max_iou_distance)
        m, un_rows, un_cols = matching.linear_assignment(self._appearance_cost(pool, dets, high),
                                                         self.max_appearance_distance)
        matched = [(pool[r], int(high[c])) for r, c in m]
        rest, left = [pool[r] for r in un_rows], high[un_cols]
        seen = [t for t in rest if not t.lost and t.last == self.frame_count - 1]
        more, missed, left = self._match(seen, dets, left, self.max_iou_distance)
        taken = {id(t) for t, _ in more}
        return matched + more, [t for t in rest if id(t) not in taken], left
