"""Tracklet building from hand-made frames: closing on a gap, quality-weighted pooling, flags and crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cameras.deepsort import DeepSort
from cameras.track_rows import TrackRows
from cameras.tracked_frame import TrackedFrame
from cameras.tracklet_builder import TrackletBuilder, TrackletSink
from mtmct.core.boxes import tlwh_to_xyxy
from mtmct.core.detections import Detections
from mtmct.core.tracklet import OPEN, SHORT, SMALL

A = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
B = np.array([0.0, 1.0, 0.0, 0.0], np.float32)


def frame(ids, tlwh, scores, features=None) -> TrackRows:
    """Tracker rows from boxes written as top-left + size (the tracklets' layout, so expectations read alike)."""
    return TrackRows(ids=ids, xyxy=tlwh_to_xyxy(tlwh), scores=scores, embeddings=features)


def one(track_id=1, box=(10, 10, 40, 100), score=0.9, feature=A) -> TrackRows:
    return frame([track_id], [box], [score], None if feature is None else [feature])


def test_track_closes_only_after_max_gap_then_rest_at_finish():
    b = TrackletBuilder("c1", max_gap=2, min_frames=1, clock_offset=100.0)
    assert b.update(1, 0.0, frame([1, 2], [(0, 0, 20, 80), (50, 0, 20, 80)], [0.9, 0.9])) == []
    assert b.update(2, 0.1, one(2, feature=None)) == []
    assert b.update(3, 0.2, one(2, feature=None)) == []  # track 1 unseen 2 frames: may still come back
    closed = b.update(4, 0.3, one(2, feature=None))  # unseen 3 > max_gap frames: gone for good
    assert [t.track_id for t in closed] == [1]
    t1 = closed[0]
    assert t1.camera_id == "c1" and list(t1.frames) == [1] and t1.embedding is None
    assert t1.boxes.tolist() == [[0, 0, 20, 80]]  # tracklets keep tlwh, the table's layout
    assert t1.times[0] == pytest.approx(100.0)  # timestamp + clock offset
    assert b.open_ids == [2]
    (t2,) = b.finish()
    assert list(t2.frames) == [1, 2, 3, 4] and np.allclose(t2.times, [100.0, 100.1, 100.2, 100.3])
    assert b.open_ids == [] and b.finish() == []


def test_pooling_favours_big_unoccluded_confident_boxes():
    """Track 1 shows feature A when its box is big, alone and confident, and B when small, occluded or unsure:
    the pooled embedding must lean to A although B appears in more frames."""
    b = TrackletBuilder("c1", min_frames=1, min_height=100)
    f = 1
    for _ in range(3):  # good frames: tall, confident, nobody near
        b.update(f, f / 10, frame([1], [(0, 0, 50, 200)], [0.95], [A]))
        f += 1
    for _ in range(2):  # small and unsure
        b.update(f, f / 10, frame([1], [(0, 0, 10, 30)], [0.4], [B]))
        f += 1
    for _ in range(2):  # occluded by track 2 standing almost on top
        b.update(f, f / 10, frame([1, 2], [(0, 0, 50, 200), (5, 5, 50, 200)], [0.95, 0.95], [B, A]))
        f += 1
    track1 = next(t for t in b.finish() if t.track_id == 1)
    emb = track1.embedding
    assert emb.dtype == np.float32 and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-6)
    assert emb @ A > 0.9 > emb @ B


def test_weights_factors():
    b = TrackletBuilder("c1", min_height=100)
    w = b.weights(frame([1, 2, 3, 4], [(0, 0, 20, 200), (300, 0, 10, 50), (600, 0, 20, 200), (605, 0, 20, 200)],
                        [1.0, 1.0, 1.0, 0.5]))
    assert w[0] == pytest.approx(1.0)  # tall, alone, sure
    assert w[1] == pytest.approx(0.5)  # half the reference height
    iou = (15 * 200) / (2 * 20 * 200 - 15 * 200)
    assert w[2] == pytest.approx(1 - iou) and w[3] == pytest.approx(0.5 * (1 - iou))


@pytest.mark.parametrize("n,height,flags", [(3, 120, {SHORT}), (5, 40, {SMALL}), (2, 40, {SHORT, SMALL}),
                                            (5, 120, set())])
def test_flags(n, height, flags):
    b = TrackletBuilder("c1", min_frames=5, min_height=50)
    for f in range(1, n + 1):
        b.update(f, f / 10, one(box=(0, 0, height / 3, height)))
    (t,) = b.finish()
    assert t.flags == flags and len(t) == n


def test_quality_in_unit_range_and_short_tracks_trusted_less():
    def quality(n: int, score: float) -> float:
        b = TrackletBuilder("c1", min_frames=10, min_height=50)
        for f in range(1, n + 1):
            b.update(f, f / 10, one(score=score))
        return b.finish()[0].quality

    assert quality(20, 1.0) == pytest.approx(1.0)
    assert 0 < quality(5, 1.0) < quality(20, 1.0)
    assert 0 < quality(20, 0.5) < quality(20, 1.0)


def test_zero_weights_still_pool_and_normalise():
    b = TrackletBuilder("c1", min_frames=1)
    b.update(1, 0.0, frame([1], [(0, 0, 10, 10)], [0.0], [A * 3]))
    (t,) = b.finish()
    assert np.allclose(t.embedding, A) and t.quality == 0.0


def test_crops_are_small_jpegs_spread_over_time():
    rng = np.random.default_rng(0)
    b = TrackletBuilder("c1", n_crops=3, crop_height=64, min_frames=1)
    for f in range(1, 41):
        image = np.full((240, 320, 3), f * 5, np.uint8)  # brightness tells the frame
        image[:, :, 2] = rng.integers(0, 255, (240, 320))
        b.update(f, f / 10, one(box=(100, 20, 60, 180), score=0.5 + 0.01 * (f % 7)), image)
    (t,) = b.finish()
    assert len(t.crops) == 3
    shades = []
    for data in t.crops:
        crop = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert crop is not None and crop.shape[0] == 64 and crop.shape[1] == round(60 * 64 / 180)
        shades.append(float(crop[:, :, 0].mean()) / 5)
    assert shades == sorted(shades) and shades[0] < 15 and shades[-1] > 27  # early, middle and late frames


def test_two_tracks_on_identical_boxes_pool_their_own_features():
    """DeepSort to builder: two people on the very same box, told apart by their look. Each tracklet pools only
    its own person's features (a feature recovered from box coordinates would give both the same one)."""
    tracker, builder = DeepSort(n_init=1), TrackletBuilder("c1", min_frames=1)
    for f in range(1, 11):
        looks = [A, B] if f % 2 else [B, A]
        dets = Detections(xyxy=[[100 + f, 50, 140 + f, 150]] * 2, scores=[0.9, 0.9], classes=[0, 0],
                          embeddings=np.stack(looks))
        builder.update(f, f / 10, tracker.update(dets))
    first, second = builder.finish()
    assert len(first) == len(second) == 10
    assert first.embedding @ A == pytest.approx(1.0) and second.embedding @ B == pytest.approx(1.0)


def test_misaligned_rows_are_refused():
    with pytest.raises(ValueError, match="aligned"):
        TrackRows(ids=[1, 2], xyxy=[(0, 0, 1, 1)], scores=[0.5, 0.5])


def test_a_live_sink_hands_long_open_tracks_over_in_pieces():
    """Every piece_s seconds of footage, each open track of at least min_frames frames is handed over as it is so
    far (flag OPEN, the same key); the closed tracklet, not a piece, is what the camera finally emits."""
    sink = TrackletSink(TrackletBuilder("c1", max_gap=2, min_frames=3), piece_s=1.0)
    for i in range(1, 26):  # track 1 in view 2.4 s at 10 fps, track 2 for two frames only
        ids = [1, 2] if i <= 2 else [1]
        rows = frame(ids, [(10, 10, 40, 100), (60, 10, 40, 100)][:len(ids)], [0.9] * len(ids), [A, B][:len(ids)])
        sink.update(TrackedFrame(i, (i - 1) / 10, None, Detections.empty(), rows))
    assert [(p.track_id, len(p), OPEN in p.flags) for p in sink.pieces] == [(1, 11, True), (1, 21, True)]
    assert [t.track_id for t in sink.tracklets] == [2]  # closed after its gap: never pieced (2 frames < 3)
    sink.close()
    final = {t.track_id: t for t in sink.tracklets}
    assert len(final[1]) == 25 and OPEN not in final[1].flags and SHORT in final[2].flags
    assert np.allclose(sink.pieces[0].embedding, final[1].embedding)  # one person, one appearance so far
    with pytest.raises(ValueError, match="piece_s"):
        TrackletSink(TrackletBuilder("c1"), piece_s=0)
