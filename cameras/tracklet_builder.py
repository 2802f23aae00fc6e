"""Turn a camera's per-frame tracker output into closed :class:`~mtmct.core.tracklet.Tracklet`s for fusion.

A track becomes a tracklet when it can no longer come back (unseen for more than ``max_gap`` frames, the
tracker's ``max_age``) or when the stream ends. Its embedding pools the per-frame ReID features, weighting each
frame by how trustworthy its crop is: detector score x box size x (1 - occlusion). A few crops, good and spread
over the track's life, are kept as small JPEGs so people can look at what fusion matched.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from cameras.embedder import crop_boxes
from cameras.track_rows import TrackRows
from cameras.tracked_frame import TrackedFrame
from mtmct.core.boxes import foot_points, iou, xyxy_to_tlwh
from mtmct.core.calibration import GroundCalibration
from mtmct.core.tracklet import OPEN, SHORT, SMALL, Tracklet

log = logging.getLogger(__name__)


@dataclass
class _Open:
    """A track being collected; per-frame lists plus a bounded, time-spread set of candidate crops."""

    cls: int
    frames: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)  # xyxy
    scores: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    feature_weights: list[float] = field(default_factory=list)
    crops: list[tuple[int, float, np.ndarray]] = field(default_factory=list)  # (frame, weight, image)


def box_weights(xyxy: np.ndarray, scores: np.ndarray, typical_height: float) -> np.ndarray:
    """Per-box trust in [0, 1] of one frame's boxes: score x size (height over the camera's typical one, capped)
    x (1 - max IoU with any other box of the frame, since an overlapping box's crop shows part of someone else)."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    n = len(xyxy)
    if n == 0:
        return np.zeros(0)
    size = np.clip((xyxy[:, 3] - xyxy[:, 1]) / max(typical_height, 1e-6), 0.0, 1.0)
    overlap = iou(xyxy, xyxy)
    np.fill_diagonal(overlap, 0.0)
    occlusion = overlap.max(axis=1) if n > 1 else np.zeros(1)
    return np.clip(np.asarray(scores, np.float32), 0.0, 1.0) * size * (1.0 - occlusion)


class TrackletBuilder:
    """Collect one camera's tracks frame by frame and emit them as closed tracklets.

    Args:
        camera_id: the camera the tracklets belong to.
        max_gap: frames a track may go unseen before it is closed; use the tracker's ``max_age``. Lower closes
            tracklets (and hands them to fusion) sooner, but a track that DeepSORT revives after a longer gap
            would come back as a second tracklet with the same id.
        min_frames: fewer frames than this flags a tracklet ``short``; quality also ramps up to this length.
            Raising it makes fusion distrust more brief tracks (fewer false links, more missed ones).
        min_height: box height in pixels below which a crop carries little identity; a tracklet whose median
            height is below it is flagged ``small``, and it is the floor of the "typical box" size weights
            compare against. Raising it discounts distant people more.
        clock_offset: seconds added to the camera's timestamps to put them on the shared clock.
        n_crops: representative crops kept per tracklet; more helps people review matches but costs storage.
        crop_height: height in pixels the crops are resized to (JPEG size grows with its square).
        jpeg_quality: 0-100; higher keeps detail for review at the cost of bytes.
        calibration: the camera's ground calibration (metres); each tracklet then carries the ground position of
            every box's foot point (``Tracklet.world``). Fitted to the frame size at the first image.
    """

    def __init__(self, camera_id: str, max_gap: int = 30, min_frames: int = 10, min_height: float = 50.0,
                 clock_offset: float = 0.0, n_crops: int = 3, crop_height: int = 128, jpeg_quality: int = 90,
                 calibration: GroundCalibration | None = None) -> None:
        if max_gap < 0 or min_frames < 1 or min_height < 0 or n_crops < 0 or crop_height < 8:
            raise ValueError(f"TrackletBuilder: need max_gap >= 0, min_frames >= 1, min_height >= 0, n_crops >= 0 "
                             f"and crop_height >= 8, got {max_gap}, {min_frames}, {min_height}, {n_crops}, "
                             f"{crop_height}")
        self.camera_id = camera_id
        self.max_gap, self.min_frames, self.min_height = max_gap, min_frames, min_height
        self.clock_offset = clock_offset
        self.n_crops, self.crop_height, self.jpeg_quality = n_crops, crop_height, jpeg_quality
        self.calibration = calibration
        self._sized = False  # whether the calibration was fitted to the frames' size yet
        self._open: dict[int, _Open] = {}
        self._heights: deque[float] = deque(maxlen=2000)  # recent box heights: the camera's typical person size

    @property
    def open_ids(self) -> list[int]:
        return sorted(self._open)

    def frames_open(self, track_id: int) -> int:
        """How many frames the open track ``track_id`` holds so far (0: not open)."""
        state = self._open.get(track_id)
        return 0 if state is None else len(state.frames)

    def weights(self, tracks: TrackRows) -> np.ndarray:
        """Per-box trust in [0, 1] (:func:`box_weights`) against the camera's typical height so far."""
        typical = max(self.min_height, float(np.median(self._heights)) if self._heights else 0.0)
        return box_weights(tracks.xyxy, tracks.scores, typical)

    def update(self, frame: int, timestamp: float, tracks: TrackRows, image: np.ndarray | None = None,
               ) -> list[Tracklet]:
        """Add one frame's tracker rows (``image`` for crops, optional). Returns tracklets closed by this frame.

        Each track's ReID feature is its row's embedding: the one of the detection the tracker assigned it (a NaN
        row, a box the tracker matched without ReID, adds no feature).
        """
        if self.calibration is not None and image is not None and not self._sized:
            self.calibration = self.calibration.for_size(image.shape[1], image.shape[0])
            self._sized = True
        weights = self.weights(tracks)
        self._heights.extend(float(h) for h in tracks.xyxy[:, 3] - tracks.xyxy[:, 1])
        crops = crop_boxes(image, tracks.xyxy) if image is not None and self.n_crops else None
        for i, track_id in enumerate(tracks.ids):
            state = self._open.setdefault(int(track_id), _Open(int(tracks.classes[i])))
            w = float(weights[i])
            state.frames.append(frame)
            state.times.append(timestamp + self.clock_offset)
            state.boxes.append(tracks.xyxy[i])
            state.scores.append(float(tracks.scores[i]))
            state.weights.append(w)
            if tracks.embeddings is not None and np.isfinite(tracks.embeddings[i]).all():  # NaN: matched without ReID
                state.features.append(tracks.embeddings[i])
                state.feature_weights.append(w)
            if crops is not None and crops[i].size:
                self._add_crop(state, frame, w, crops[i])
        done = [tid for tid, s in self._open.items() if frame - s.frames[-1] > self.max_gap]
        return [self._close(tid) for tid in done]

    def finish(self) -> list[Tracklet]:
        """Close every open track (end of stream)."""
        return [self._close(tid) for tid in sorted(self._open)]

    def _add_crop(self, state: _Open, frame: int, weight: float, crop: np.ndarray) -> None:
        """Keep at most 4 x n_crops candidates: when full, of the two candidates closest in time drop the
        weaker, so the survivors stay both good and spread over the track's life."""
        scale = self.crop_height / crop.shape[0]
        small = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), self.crop_height),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        state.crops.append((frame, weight, small))
        if len(state.crops) > 4 * self.n_crops:
            gaps = [b[0] - a[0] for a, b in zip(state.crops, state.crops[1:])]
            j = int(np.argmin(gaps))
            state.crops.pop(j if state.crops[j][1] < state.crops[j + 1][1] else j + 1)

    def _pick_crops(self, state: _Open) -> list[bytes]:
        """The best candidate in each of ``n_crops`` consecutive time groups, as JPEG bytes."""
        groups = [g for g in np.array_split(np.arange(len(state.crops)), self.n_crops) if len(g)]
        out = []
        for group in groups:
            _, _, image = max((state.crops[k] for k in group), key=lambda c: c[1])
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            if ok:
                out.append(buf.tobytes())
        return out

    def piece(self, track_id: int) -> Tracklet:
        """The open track ``track_id`` so far, flagged ``OPEN`` (a live run hands long tracks over in pieces); the
        track stays open."""
        return self._build(track_id, self._open[track_id], {OPEN})

    def _close(self, track_id: int) -> Tracklet:
        return self._build(track_id, self._open.pop(track_id), set())

    def _build(self, track_id: int, state: _Open, flags: set[str]) -> Tracklet:
        weights = np.asarray(state.weights)
        embedding = None
        if state.features:
            feats = np.stack(state.features).astype(np.float64)
            fw = np.asarray(state.feature_weights)
            pooled = (fw[:, None] * feats).sum(0) if fw.sum() > 1e-9 else feats.mean(0)  # all-zero: plain mean
            embedding = (pooled / max(np.linalg.norm(pooled), 1e-12)).astype(np.float32)
        # the trust of what was pooled (weight-weighted mean weight), ramped up over the first min_frames
        pooled_trust = float((weights ** 2).sum() / weights.sum()) if weights.sum() > 1e-9 else 0.0
        quality = float(np.clip(pooled_trust * min(1.0, len(weights) / self.min_frames), 0.0, 1.0))
        boxes = xyxy_to_tlwh(np.stack(state.boxes))  # tlwh: the tracklet table's layout
        if len(state.frames) < self.min_frames:
            flags.add(SHORT)
        if float(np.median(boxes[:, 3])) < self.min_height:
            flags.add(SMALL)
        world = None if self.calibration is None else self.calibration.to_ground(foot_points(np.stack(state.boxes)))
        return Tracklet(self.camera_id, track_id, state.cls, state.frames, state.times, boxes, state.scores,
                        embedding, quality=quality, flags=frozenset(flags),
                        crops=self._pick_crops(state) if state.crops else [], world=world)


class TrackletSink:
    """The camera loop's sink for tracklets: feeds ``builder`` every tracked frame and keeps what it closes in
    ``tracklets`` (the rest are closed by :meth:`close`, at the end of the stream). Its time is booked under the
    ``tracklets`` stage.

    With ``piece_s`` (a live run) every open track of at least the builder's ``min_frames`` frames is also added to
    ``pieces`` as it is so far (:meth:`TrackletBuilder.piece`), every ``piece_s`` seconds of footage while it lasts,
    so a person who stays in view gets a global id without waiting for the track to close."""

    stage = "tracklets"

    def __init__(self, builder: TrackletBuilder, piece_s: float | None = None) -> None:
        if piece_s is not None and not piece_s > 0:
            raise ValueError(f"piece_s must be positive seconds or None, got {piece_s}")
        self.builder, self.piece_s = builder, piece_s
        self.tracklets: list[Tracklet] = []
        self.pieces: list[Tracklet] = []
        self._pieced: dict[int, float] = {}  # open track -> footage time of its last piece (or of its start)

    def update(self, frame: TrackedFrame) -> None:
        closed = self.builder.update(frame.index, frame.timestamp, frame.tracks, frame.image)
        self.tracklets.extend(closed)
        if self.piece_s is None:
            return
        for t in closed:
            self._pieced.pop(t.track_id, None)
        for track_id in frame.tracks.ids.tolist():
            since = self._pieced.setdefault(track_id, frame.timestamp)
            if frame.timestamp - since >= self.piece_s and self.builder.frames_open(track_id) >= self.builder.min_frames:
                self.pieces.append(self.builder.piece(track_id))
                self._pieced[track_id] = frame.timestamp

    def close(self) -> None:
        self.tracklets.extend(self.builder.finish())
