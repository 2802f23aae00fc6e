"""ByteTrack for one camera (Zhang et al., ECCV 2022): every box associates, not only the confident ones.

Per frame: tracks (seen or lost) are matched to the confident boxes by IoU (weighted by the box score); the tracks
seen last frame that found none then try the low-score boxes (a person half hidden still gets a box, just a less
sure one), which never start a track; tracks born last frame are confirmed by a confident box or dropped; confident
boxes left over start tracks. A lost track is kept ``max_age`` frames. Motion is a constant-velocity Kalman filter on
box centre and size (:class:`cameras.kalman_filter.KalmanFilter`). Appearance is not used (see
:class:`cameras.botsort.BoTSort` for ByteTrack with ReID); the embeddings of the boxes it is given are passed through
to the tracks that take them, for the tracklets' pooled embeddings.

Same interface as :class:`cameras.deepsort.DeepSort`: ``update(dets) -> TrackRows`` with the confirmed tracks
matched this frame, ``max_age``, ``embed_interval`` (None: the camera loop embeds every box first), and ids owned by
the instance. Classes never mix: a track only takes boxes of its class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cameras import matching
from cameras.kalman_filter import KalmanFilter, xywh_to_xyxy, xyxy_to_xywh
from cameras.track_rows import TrackRows
from cameras.tracker_args import tracker_arguments
from mtmct.core.detections import Detections


@dataclass
class _Track:
    mean: np.ndarray
    cov: np.ndarray
    cls: int
    born: int  # frame of the first box
    last: int  # frame of the last box
    id: int = 0  # 0 until confirmed
    lost: bool = False
    feature: np.ndarray | None = None  # smoothed appearance (BoT-SORT)

    @property
    def xyxy(self) -> np.ndarray:
        return xywh_to_xyxy(self.mean[:4])


class ByteTrack:
    """ByteTrack's association (module docstring). Each argument is a key of ``configs/trackers/bytetrack.yaml``.

    Args:
        high_score: boxes at or above this score are matched first and may start tracks. Raising it stops false
            tracks but sends more real people to the weaker second round.
        low_score: boxes in ``[low_score, high_score)`` only continue tracks seen last frame. Lowering it keeps
            people through partial occlusion but may extend a track onto clutter.
        new_track_score: a leftover confident box starts a track only at or above this score. Raising it starts
            fewer false tracks but later ids for people who appear uncertain.
        max_iou_distance: largest ``1 - IoU x score`` of the first round. Raising it follows fast motion but
            pairs neighbours in crowds.
        low_max_iou_distance: ``1 - IoU`` bound of the low-score round; stricter, as those boxes are less sure.
        new_max_iou_distance: ``1 - IoU`` bound for confirming a track born last frame.
        max_age: frames a lost track is kept for re-finding. Raising it keeps ids through longer occlusions but lets
            a lost track take a newcomer's box. Also the tracklet builder's ``max_gap``.
        fuse_score: weight the first round's IoU by the box score (ByteTrack's MOT17 setting), so a sure box wins a
            contested track.
        std_weight_position, std_weight_velocity: Kalman noise as fractions of box size (see
            :class:`cameras.kalman_filter.KalmanFilter`): higher position noise trusts boxes less, higher velocity
            noise follows turns faster.
    """

    kind = "bytetrack"  # its type in cameras.tracker_registry
    embed_interval = None  # appearance is not asked for lazily: the camera loop embeds every box (for tracklets)

    def __init__(self, high_score: float = 0.6, low_score: float = 0.1, new_track_score: float = 0.7,
                 max_iou_distance: float = 0.8, low_max_iou_distance: float = 0.5, new_max_iou_distance: float = 0.7,
                 max_age: int = 30, fuse_score: bool = True, std_weight_position: float = 1.0 / 20,
                 std_weight_velocity: float = 1.0 / 160) -> None:
        if not 0 <= low_score <= high_score <= 1 or not 0 <= new_track_score <= 1:
            raise ValueError(f"need 0 <= low_score ({low_score}) <= high_score ({high_score}) <= 1 and "
                             f"new_track_score in [0, 1], got {new_track_score}")
        if max_age < 0:
            raise ValueError(f"max_age must be >= 0, got {max_age}")
        self.high_score, self.low_score, self.new_track_score = high_score, low_score, new_track_score
        self.max_iou_distance, self.low_max_iou_distance = max_iou_distance, low_max_iou_distance
        self.new_max_iou_distance, self.max_age, self.fuse_score = new_max_iou_distance, max_age, fuse_score
        self.kf = KalmanFilter(std_weight_position, std_weight_velocity)
        self.tracks: list[_Track] = []
        self.frame_count = 0
        self._last_id = 0  # ids belong to this instance: two cameras never share a counter

    @classmethod
    def from_config(cls, config: Mapping | str | Path):  # type: ignore[no-untyped-def]
        """From a YAML file or a mapping of constructor arguments (``type`` is the registry's key, not one)."""
        return cls(**tracker_arguments(cls, config))

    def continue_ids(self, after: int) -> None:
        """Number new tracks after ``after`` (a camera resumed mid-run keeps its stored track ids unique)."""
        self._last_id = max(self._last_id, after)

    def reset(self) -> None:
        """Forget all tracks (a new video); ids keep counting."""
        self.tracks, self.frame_count = [], 0

    def _confirm(self, track: _Track) -> None:
        self._last_id += 1
        track.id = self._last_id

    def _predict(self) -> None:
        if not self.tracks:
            return
        means = np.stack([t.mean for t in self.tracks])
        for i, t in enumerate(self.tracks):
            if t.last < self.frame_count - 1:  # unseen last frame: its size stops changing (ByteTrack)
                means[i, 6:] = 0
        means, covs = self.kf.predict(means, np.stack([t.cov for t in self.tracks]))
        for t, m, c in zip(self.tracks, means, covs):
            t.mean, t.cov = m, c

    def _cost(self, tracks: list[_Track], dets: Detections, cols: np.ndarray, fuse_score: bool) -> np.ndarray:
        """``1 - IoU`` (x score with ``fuse_score``) of tracks against boxes ``cols``; classes never mix."""
        cost = matching.iou_cost(np.array([t.xyxy for t in tracks]).reshape(-1, 4), dets.xyxy[cols])
        if fuse_score:
            cost = 1.0 - (1.0 - cost) * dets.scores[cols][None, :]
        return matching.gate_classes(cost, [t.cls for t in tracks], dets.classes[cols])

    def _match(self, tracks: list[_Track], dets: Detections, cols: np.ndarray, threshold: float,
               fuse_score: bool = False) -> tuple[list[tuple[_Track, int]], list[_Track], np.ndarray]:
        if not tracks or not len(cols):
            return [], list(tracks), cols
        m, un_rows, un_cols = matching.linear_assignment(self._cost(tracks, dets, cols, fuse_score), threshold)
        return [(tracks[r], int(cols[c])) for r, c in m], [tracks[r] for r in un_rows], cols[un_cols]

    def _update_track(self, track: _Track, dets: Detections, j: int) -> None:
        track.mean, track.cov = self.kf.update(track.mean, track.cov, xyxy_to_xywh(dets.xyxy[j]))
        track.last, track.lost = self.frame_count, False
        if dets.embeddings is not None:
            self._update_feature(track, dets.embeddings[j])

    def _update_feature(self, track: _Track, feature: np.ndarray) -> None:
        """Appearance memory (unused by ByteTrack itself)."""

    def _first_round(self, pool: list[_Track], dets: Detections, high: np.ndarray
                     ) -> tuple[list[tuple[_Track, int]], list[_Track], np.ndarray]:
        return self._match(pool, dets, high, self.max_iou_distance, self.fuse_score)

    def update(self, dets: Detections, embed: Callable[[np.ndarray], np.ndarray] | None = None) -> TrackRows:
        """Advance one frame; returns the confirmed tracks that took a box this frame (box: the corrected Kalman
        state), each with its box's score, class, embedding and row in ``dets``. ``embed`` is not used."""
        self.frame_count += 1
        self._predict()
        scores = dets.scores
        high = np.flatnonzero(scores >= self.high_score)
        low = np.flatnonzero((scores >= self.low_score) & (scores < self.high_score))
        confirmed = [t for t in self.tracks if t.id]
        unconfirmed = [t for t in self.tracks if not t.id]
        matched, rest, high_left = self._first_round(confirmed, dets, high)
        seen = [t for t in rest if not t.lost and t.last == self.frame_count - 1]
        more, missed, _ = self._match(seen, dets, low, self.low_max_iou_distance)
        matched += more
        for t in missed:
            t.lost = True
        born, dropped, high_left = self._match(unconfirmed, dets, high_left, self.new_max_iou_distance)
        for t, j in matched + born:
            self._update_track(t, dets, j)
        for t, _ in born:
            self._confirm(t)
        dropped_ids = {id(t) for t in dropped}
        self.tracks = [t for t in self.tracks if id(t) not in dropped_ids and self.frame_count - t.last <= self.max_age]
        for j in high_left:
            if scores[j] < self.new_track_score:
                continue
            mean, cov = self.kf.initiate(xyxy_to_xywh(dets.xyxy[j]))
            track = _Track(mean, cov, int(dets.classes[j]), self.frame_count, self.frame_count)
            if dets.embeddings is not None:
                self._update_feature(track, dets.embeddings[j])
            if self.frame_count == 1:  # nothing earlier to confirm against: reported at once, as ByteTrack does
                self._confirm(track)
            self.tracks.append(track)
            if track.id:
                matched.append((track, int(j)))
        shown = sorted(((t, j) for t, j in matched + born if t.id), key=lambda p: p[0].id)
        return _rows(shown, dets)


def _rows(shown: list[tuple[_Track, int]], dets: Detections) -> TrackRows:
    """The reported tracks as rows: state box, and the score, class and embedding of the box each took."""
    if not shown:
        return TrackRows.empty()
    cols = np.array([j for _, j in shown], np.int64)
    return TrackRows(ids=np.array([t.id for t, _ in shown], np.int64),
                     xyxy=np.array([t.xyxy for t, _ in shown], np.float32).reshape(-1, 4),
                     scores=dets.scores[cols], classes=dets.classes[cols],
                     embeddings=None if dets.embeddings is None else dets.embeddings[cols], det_index=cols)

