"""DeepSORT for one camera: appearance cascade + Mahalanobis gate, IoU fallback, ByteTrack-style low boxes.

Without embeddings on the detections the tracker is motion-only (SORT-like): confirmed tracks are matched by
IoU under the Mahalanobis gate, then tentative tracks by IoU, then low-score boxes continue tracks.

ReID only where the decision needs it (opt-in: ``embed_interval``; ``configs/trackers/deepsort_fast.yaml``): given an
``embed`` callable instead of embedded detections, ``update`` first
settles the pairs motion makes unambiguous (a confirmed track seen last frame whose predicted box overlaps one box
well, neither overlapping any other track or box, no lost or approaching track beside them, inside the Mahalanobis
gate) and asks ReID only for the other boxes that drive association; a track matched by motion alone is still
embedded at least every ``embed_interval`` frames, so its appearance (and its tracklet's pooled embedding) stays
current. Crossings, occlusions, new and returning tracks are exactly the cases that fail the test, so they are
always embedded. Low-score boxes (stage 3 below) never need appearance and are not embedded.

Two departures from nwojke/deep_sort, both for tracks coming back after an occlusion:

* a lost track coasts with its size frozen (ByteTrack zeroes the height velocity the same way): extrapolating
  the width/height velocity of the last frames before a person went behind another one deforms the predicted
  box within a few frames, and the Mahalanobis gate then refuses that person when they reappear;
* with embeddings, the IoU stage never pairs a track with a box whose appearance distance exceeds
  ``max_cosine_distance`` (as BoT-SORT fuses IoU and ReID): a track that lost its person in a crossing
  otherwise takes over the neighbour that now overlaps its predicted box.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from cameras import matching
from cameras.kalman_filter import KalmanFilter, gating_threshold, xyxy_to_xywh
from cameras.track import Track
from cameras.track_rows import TrackRows
from mtmct.core.boxes import iou
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "trackers"
"""The shipped presets: ``deepsort.yaml`` (with ReID) and ``deepsort_motion.yaml`` (motion only)."""


class DeepSort:
    """Track one camera's detections frame by frame; ``update`` returns the confirmed tracks seen this frame as
    :class:`~cameras.track_rows.TrackRows`.

    Args (each is a key of ``configs/trackers/deepsort.yaml``):
        max_age: frames a confirmed track may go unmatched before deletion. Raising it keeps ids through
            longer occlusions but lets a lost track steal a newcomer's box.
        n_init: consecutive hits before a track is confirmed and reported. Raising it suppresses one-off false
            positives but drops the first frames of every real person (more misses, later ids).
        max_iou_distance: largest ``1 - IoU`` accepted by the IoU stages. Raising it follows fast or jumpy
            motion but pairs neighbours in crowds.
        max_cosine_distance: largest appearance distance accepted. Raising it re-finds people whose look
            changed (pose, light) but merges similar-looking people.
        nn_budget: appearance features kept per track (None: all). Raising it remembers more views but costs
            memory and time per frame.
        ema_alpha: if set, keep one feature smoothed as ``alpha * old + (1 - alpha) * new`` instead of a
            gallery. Higher is steadier against one bad crop but slower to follow a real change.
        high_score: boxes at or above this score drive association and may start tracks. Raising it stops
            false tracks but loses people the detector is unsure about.
        low_score: boxes in ``[low_score, high_score)`` only extend tracks matched last frame (ByteTrack);
            None disables. Lowering it recovers occluded people but may extend a track onto clutter.
        low_max_iou_distance: ``1 - IoU`` bound for those low boxes; keep it stricter than max_iou_distance
            because low boxes are less trustworthy.
        gate_probability: chi-square mass of the Mahalanobis gate. Raising it admits larger motion surprises
            but more wrong pairs; it barely matters for tracks seen last frame and a lot for lost ones.
        min_box_height: boxes shorter than this many pixels are dropped before association. Tiny boxes are
            mostly clutter (signs, cones, far background) whose crops carry no identity; raising it removes
            such false tracks but loses people who are genuinely that small in the image.
        warm_start: report tracks born in the stream's first ``n_init`` frames at once, as SORT does. There
            is no earlier frame to confirm them against, so without it every person present at the start
            loses ``n_init - 1`` frames; with it a false box in those frames is reported once.
        std_weight_position, std_weight_velocity: Kalman noise, see :class:`cameras.kalman_filter.KalmanFilter`.
        embed_interval: None (the default) embeds every box; a number turns on ReID only where association needs
            it (when ``update`` is given ``embed``): the most frames a track matched by motion alone goes without a
            fresh embedding. Lower keeps appearance fresher for re-identification after an occlusion and for the
            tracklet's pooled embedding, at more ReID calls; 1 embeds every box that drives association.
        motion_iou: a box skips ReID only if one track's predicted box overlaps it by at least this IoU. Raising
            it embeds more boxes of fast or jittery tracks; lowering it trusts looser overlaps.
        ambiguity_iou: ... and no other track's predicted box or other box of the frame overlaps either of them by
            more than this IoU, nor does a lost or approaching track with boxes grown to twice their size. Raising
            it skips ReID in denser scenes, where a crossing can swap ids.
    """

    kind = "deepsort"  # its type in cameras.tracker_registry

    def __init__(
        self,
        max_age: int = 30,
        n_init: int = 3,
        max_iou_distance: float = 0.7,
        max_cosine_distance: float = 0.5,
        nn_budget: int | None = 100,
        ema_alpha: float | None = None,
        high_score: float = 0.6,
        low_score: float | None = 0.1,
        low_max_iou_distance: float = 0.5,
        gate_probability: float = 0.99,
        warm_start: bool = True,
        std_weight_position: float = 1.0 / 20,
        std_weight_velocity: float = 1.0 / 160,
        min_box_height: float = 25.0,
        embed_interval: int | None = None,
        motion_iou: float = 0.5,
        ambiguity_iou: float = 0.3,
    ) -> None:
        if max_age < 0 or n_init < 1:
            raise ValueError(f"DeepSort: need max_age >= 0 and n_init >= 1, got {max_age} and {n_init}")
        if low_score is not None and low_score > high_score:
            raise ValueError(f"DeepSort: low_score {low_score} is above high_score {high_score}")
        if ema_alpha is not None and not 0 <= ema_alpha < 1:
            raise ValueError(f"DeepSort: ema_alpha must be in [0, 1), got {ema_alpha}")
        if (embed_interval is not None and embed_interval < 1) or not 0 <= ambiguity_iou <= motion_iou <= 1:
            raise ValueError(f"DeepSort: need embed_interval >= 1 and 0 <= ambiguity_iou <= motion_iou <= 1, got "
                             f"{embed_interval}, {ambiguity_iou} and {motion_iou}")
        self.embed_interval, self.motion_iou, self.ambiguity_iou = embed_interval, motion_iou, ambiguity_iou
        self.max_age, self.n_init = max_age, n_init
        self.max_iou_distance, self.max_cosine_distance = max_iou_distance, max_cosine_distance
        self.nn_budget, self.ema_alpha = nn_budget, ema_alpha
        self.high_score, self.low_score, self.low_max_iou_distance = high_score, low_score, low_max_iou_distance
        self.gate = gating_threshold(4, gate_probability)
        self.min_box_height = min_box_height
        self.warm_start = warm_start
        self.frame_count = 0
        self.kf = KalmanFilter(std_weight_position, std_weight_velocity)
        self.tracks: list[Track] = []
        self._last_id = 0  # ids belong to this instance: two cameras never share a counter

    @classmethod
    def from_config(cls, config: Mapping | str | Path) -> DeepSort:
        """From a YAML file or a mapping whose keys are constructor arguments (a validated typed config whose
        fields are those arguments works too: it iterates as ``(field, value)`` pairs); unknown keys are refused."""
        if isinstance(config, (str, Path)):
            import yaml

            config = yaml.safe_load(Path(config).read_text()) or {}
        config = dict(config)
        if config.get("type", "deepsort") == "deepsort":  # the tracker registry's key (cameras.tracker_registry)
            config.pop("type", None)
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise MtmctError(f"unknown tracker option {unknown[0]!r}; DeepSort accepts: {', '.join(sorted(allowed))}")
        return cls(**config)

    def _new_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def continue_ids(self, after: int) -> None:
        """Number new tracks after ``after``: a camera resumed mid-run keeps the track ids it stored unique."""
        self._last_id = max(self._last_id, after)

    def reset(self) -> None:
        """Forget all tracks (a new video); ids keep counting so they stay unique within this instance."""
        self.tracks = []
        self.frame_count = 0

    def update(self, dets: Detections, embed: Callable[[np.ndarray], np.ndarray] | None = None) -> TrackRows:
        """Advance one frame. Returns the confirmed tracks matched in this frame (box = Kalman-corrected state),
        each with the score, class and embedding of the detection it was assigned, and that detection's row in
        ``dets`` (``det_index``).

        ``embed`` (used when ``dets`` carry no embeddings) maps rows of ``dets`` to their ReID embeddings; it is
        called at most once, for the boxes whose association needs appearance (see the module docstring). Rows
        it was not asked for carry NaN embeddings in the result. Also returns tentative tracks during the
        ``warm_start`` frames; they stay tentative (deleted on a miss).
        """
        self.frame_count += 1
        self._predict()
        kept = np.arange(len(dets))  # rows of the caller's dets that association sees
        if self.min_box_height > 0:
            kept = np.flatnonzero(dets.xyxy[:, 3] - dets.xyxy[:, 1] >= self.min_box_height)
            dets = dets[kept]
        high = np.flatnonzero(dets.scores >= self.high_score)
        low = np.zeros(0, np.int64)
        if self.low_score is not None:
            low = np.flatnonzero((dets.scores >= self.low_score) & (dets.scores < self.high_score))
        boxes = dets.xyxy.astype(np.float64)
        tracks = self.tracks
        m0 = np.zeros((0, 2), np.int64)
        if embed is not None and dets.embeddings is None and self.embed_interval is None:
            dets = dets.with_embeddings(np.asarray(embed(kept), np.float32).reshape(len(dets), -1))
        if embed is not None and dets.embeddings is None:
            # 0) pairs motion settles alone; only the remaining boxes that drive association are embedded
            m0 = self._match_motion(high, dets, boxes)
            high = np.setdiff1d(high, m0[:, 1])
            if len(high):
                features = np.asarray(embed(kept[high]), np.float32).reshape(len(high), -1)
                full = np.full((len(dets), features.shape[1]), np.nan, np.float32)
                full[high] = features
                dets = dets.with_embeddings(full)
        settled = set(m0[:, 0].tolist())
        confirmed = np.array([i for i, t in enumerate(tracks) if t.is_confirmed and i not in settled], np.int64)
        tentative = np.array([i for i, t in enumerate(tracks) if t.is_tentative], np.int64)

        # 1) confirmed tracks: appearance (or IoU when motion-only) under the Mahalanobis gate, fresh tracks first
        m1, free_conf, free_high = self._match_confirmed(confirmed, high, dets, boxes)
        # 2) tentative tracks and confirmed ones lost only this frame: IoU on what is left
        recent = free_conf[[tracks[i].time_since_update == 1 for i in free_conf]] if len(free_conf) else free_conf
        iou_rows = np.concatenate([tentative, recent]).astype(np.int64)
        m2, _, free_high = self._match_iou(iou_rows, free_high, dets, boxes, self.max_iou_distance, appearance=True)
        # 3) low-score boxes extend confirmed tracks that were seen last frame
        matched = settled | set(m1[:, 0]) | set(m2[:, 0])
        left = np.array([i for i in recent if i not in matched], np.int64)
        m3, _, _ = self._match_iou(left, low, dets, boxes, self.low_max_iou_distance)

        pairs = np.concatenate([m0, m1, m2, m3])
        assigned = np.full(len(tracks), -1, np.int64)  # the detection each track took this frame, -1 for none
        if len(pairs):
            assigned[pairs[:, 0]] = pairs[:, 1]
            rows = [tracks[r] for r in pairs[:, 0]]
            means, covs = self.kf.update(np.stack([t.mean for t in rows]), np.stack([t.cov for t in rows]),
                                         xyxy_to_xywh(boxes[pairs[:, 1]]))
            for (row, col), mean, cov in zip(pairs, means, covs):
                feature = None if dets.embeddings is None else dets.embeddings[col]
                tracks[row].update(mean, cov, dets.scores[col], feature)
        matched |= set(m3[:, 0])
        for i, track in enumerate(tracks):
            if i not in matched:
                track.mark_missed()
        for col in free_high:
            feature = None if dets.embeddings is None else dets.embeddings[col]
            tracks.append(Track.start(self.kf, boxes[col], dets.scores[col], dets.classes[col], feature,
                                      n_init=self.n_init, max_age=self.max_age, nn_budget=self.nn_budget,
                                      ema_alpha=self.ema_alpha))
        assigned = np.concatenate([assigned, free_high]).astype(np.int64)
        alive = np.array([not t.is_deleted for t in tracks], bool)
        self.tracks, assigned = [t for t in tracks if not t.is_deleted], assigned[alive]
        warm = self.warm_start and self.frame_count <= self.n_init
        shown = [i for i, t in enumerate(self.tracks) if (t.is_confirmed or warm) and t.time_since_update == 0]
        has_feature = np.zeros(len(shown), bool)
        if dets.embeddings is not None and shown:
            has_feature = np.isfinite(dets.embeddings[assigned[shown]]).all(axis=1)
        for i, fresh in zip(shown, has_feature):
            if self.tracks[i].track_id == 0:
                self.tracks[i].track_id = self._new_id()
            self.tracks[i].reported_feature |= bool(fresh)
        return self._rows([self.tracks[i] for i in shown], assigned[shown], dets, kept)

    @staticmethod
    def _rows(shown: list[Track], cols: np.ndarray, dets: Detections, kept: np.ndarray) -> TrackRows:
        """The reported tracks as rows; ``cols`` are the detections they were assigned (never -1: a track is
        reported only in a frame where it was matched or born)."""
        if (cols < 0).any():
            raise RuntimeError("DeepSort: a reported track has no detection assigned this frame")
        return TrackRows(ids=[t.track_id for t in shown], xyxy=np.array([t.xyxy for t in shown]).reshape(-1, 4),
                         scores=dets.scores[cols], classes=dets.classes[cols],
                         embeddings=None if dets.embeddings is None else dets.embeddings[cols], det_index=kept[cols])

    def _predict(self) -> None:
        if not self.tracks:
            return
        means = np.stack([t.mean for t in self.tracks])
        lost = np.array([t.time_since_update > 0 for t in self.tracks])
        means[lost, 6:8] = 0  # a lost track keeps its size: no width/height velocity while coasting
        means, covs = self.kf.predict(means, np.stack([t.cov for t in self.tracks]))
        for track, mean, cov in zip(self.tracks, means, covs):
            track.predicted(mean, cov)

    def _match_motion(self, high: np.ndarray, dets: Detections, boxes: np.ndarray) -> np.ndarray:
        """(track, detection) pairs motion makes unambiguous, as ``(K, 2)`` rows of ``self.tracks`` and ``dets``.

        A pair qualifies when the track is confirmed, was seen last frame, has appearance younger than
        ``embed_interval`` and has reported a row with an embedding (so every tracklet pools at least one); its predicted box overlaps the box by ``motion_iou`` or more, the class agrees and the
        Mahalanobis gate admits it; no other track or box overlaps either of them by more than ``ambiguity_iou``;
        and no other track near it (their boxes grown to twice their size overlap by more than ``ambiguity_iou``)
        is lost (someone may re-appear beside it) or closing in on it (people about to cross or hide each other).
        People walking side by side at the same pace stay unambiguous.
        """
        none = np.zeros((0, 2), np.int64)
        tracks = self.tracks
        if not len(high) or not tracks:
            return none
        predicted = np.stack([t.xyxy for t in tracks])
        overlap = iou(predicted, boxes[high])  # (tracks, high boxes)
        with_boxes = iou(boxes[high], boxes)  # (high boxes, every kept box, low ones too)
        with_boxes[np.arange(len(high)), high] = 0.0
        means = np.stack([t.mean for t in tracks])
        gap, relative = means[:, None, :2] - means[None, :, :2], means[:, None, 4:6] - means[None, :, 4:6]
        closing = (gap * relative).sum(-1) < 0  # (tracks, tracks): their centres are getting closer
        lost = np.array([t.time_since_update > 1 for t in tracks])
        near = iou(_grown(predicted), _grown(predicted)) > self.ambiguity_iou
        crowded = (near & (closing | lost[None, :])) | (iou(predicted, predicted) > self.ambiguity_iou)
        np.fill_diagonal(crowded, False)
        pairs = []
        for r, track in enumerate(tracks):
            if not (track.is_confirmed and track.time_since_update == 1 and track.feature_age < self.embed_interval
                    and track.reported_feature) or crowded[r].any():
                continue
            j = int(np.argmax(overlap[r]))
            if overlap[r, j] < self.motion_iou or dets.classes[high[j]] != track.cls:
                continue
            others = np.delete(overlap[:, j], r)  # other tracks on this box
            rivals = np.delete(overlap[r], j)  # other boxes on this track
            if max(others.max(initial=0), rivals.max(initial=0), with_boxes[j].max(initial=0)) > self.ambiguity_iou:
                continue
            pairs.append((r, int(high[j])))
        if not pairs:
            return none
        pairs = np.asarray(pairs, np.int64)
        chosen = [tracks[r] for r in pairs[:, 0]]
        maha = self.kf.gating_distance(np.stack([t.mean for t in chosen]), np.stack([t.cov for t in chosen]),
                                       xyxy_to_xywh(boxes[pairs[:, 1]]))
        return pairs[np.diagonal(maha) <= self.gate]

    def _match_confirmed(self, rows: np.ndarray, cols: np.ndarray, dets: Detections, boxes: np.ndarray):
        if not len(rows) or not len(cols):
            return np.zeros((0, 2), np.int64), rows, cols
        tracks = [self.tracks[i] for i in rows]
        if dets.embeddings is None:
            cost, threshold = matching.iou_cost([t.xyxy for t in tracks], boxes[cols]), self.max_iou_distance
        else:
            cost, threshold = self._appearance_cost(tracks, dets.embeddings[cols]), self.max_cosine_distance
        maha = self.kf.gating_distance(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]),
                                       xyxy_to_xywh(boxes[cols]))
        cost = matching.gate_cost(cost, maha, self.gate)
        cost = matching.gate_classes(cost, [t.cls for t in tracks], dets.classes[cols])
        ages = np.array([t.time_since_update for t in tracks])
        m, un_rows, un_cols = matching.matching_cascade(cost, ages, threshold, self.max_age + 1)
        return np.stack([rows[m[:, 0]], cols[m[:, 1]]], axis=1), rows[un_rows], cols[un_cols]

    @staticmethod
    def _appearance_cost(tracks: list[Track], features: np.ndarray) -> np.ndarray:
        """Cosine cost; a track that has no feature yet (it began on motion-only frames) is never paired here."""
        galleries = [t.gallery for t in tracks]
        has = np.array([len(g) > 0 for g in galleries])
        cost = np.full((len(tracks), len(features)), matching.INFEASIBLE)
        if has.any():
            cost[has] = matching.cosine_cost([g for g, h in zip(galleries, has) if h], features)
        return cost

    def _match_iou(self, rows: np.ndarray, cols: np.ndarray, dets: Detections, boxes: np.ndarray, threshold: float,
                   appearance: bool = False):
        """IoU matching; with ``appearance`` (and embeddings) pairs that look like different people are refused.

        Low-score boxes (stage 3) skip the veto: their crops are the occluded, blurred ones.
        """
        if not len(rows) or not len(cols):
            return np.zeros((0, 2), np.int64), rows, cols
        tracks = [self.tracks[i] for i in rows]
        cost = matching.iou_cost([t.xyxy for t in tracks], boxes[cols])
        cost = matching.gate_classes(cost, [t.cls for t in tracks], dets.classes[cols])
        if appearance and dets.embeddings is not None:  # overlap is not enough when the crops disagree
            looks = self._appearance_cost(tracks, dets.embeddings[cols])  # INFEASIBLE where a track has no look
            refuse = (looks > self.max_cosine_distance) & (looks < matching.INFEASIBLE)
            cost = np.where(refuse, matching.INFEASIBLE, cost)
        m, un_rows, un_cols = matching.linear_assignment(cost, threshold)
        return np.stack([rows[m[:, 0]], cols[m[:, 1]]], axis=1), rows[un_rows], cols[un_cols]


def _grown(xyxy: np.ndarray, factor: float = 2.0) -> np.ndarray:
    """Boxes scaled by ``factor`` about their centres."""
    centre, half = (xyxy[:, :2] + xyxy[:, 2:]) / 2, (xyxy[:, 2:] - xyxy[:, :2]) * factor / 2
    return np.concatenate([centre - half, centre + half], axis=1)
