"""DeepSort on hand-built frame sequences: occlusion, crossing, false positive, load, ids, classes, config."""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from cameras.deepsort import DeepSort
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "trackers"
RNG = np.random.default_rng(0)
LOOK = {name: v / np.linalg.norm(v) for name, v in (("a", RNG.normal(size=64)), ("b", RNG.normal(size=64)))}


def _look(name: str) -> np.ndarray:
    """A person's appearance: a fixed unit vector plus a little per-frame noise."""
    v = LOOK[name] + 0.05 * RNG.normal(size=64)
    return v / np.linalg.norm(v)


def _frame(people: list[tuple[float, float, str]], classes: list[int] | None = None, w=30, h=80) -> Detections:
    """Detections for people given as (x, y, look) top-left corners, all scored 0.9."""
    if not people:
        return Detections.empty().with_embeddings(np.zeros((0, 64), np.float32))
    tlwh = np.array([[x, y, w, h] for x, y, _ in people], np.float32)
    dets = Detections.from_tlwh(tlwh, np.full(len(people), 0.9), None if classes is None else np.array(classes))
    return dets.with_embeddings(np.stack([_look(name) for _, _, name in people]))


def _ids(tracks) -> set[int]:
    return {int(i) for i in tracks.ids}


def test_an_occlusion_of_20_frames_keeps_the_id():
    tracker = DeepSort()
    seen = []
    for f in range(60):
        visible = not 20 <= f < 40
        out = tracker.update(_frame([(100 + 4 * f, 200, "a")] if visible else []))
        if visible and f >= 3:
            assert len(out) == 1
            seen.append(int(out.ids[0]))
        if not visible:
            assert len(out) == 0
    assert set(seen) == {1}
    # the box came back where the motion model said: the reported box is close to the detection
    np.testing.assert_allclose(out.tlwh[0], [100 + 4 * 59, 200, 30, 80], atol=3)


def test_two_crossing_people_keep_their_ids_when_they_look_different():
    tracker = DeepSort()
    by_look: dict[str, set[int]] = {"a": set(), "b": set()}
    for f in range(50):
        a, b = (100 + 5 * f, 200, "a"), (350 - 5 * f, 205, "b")
        tracks = tracker.update(_frame([a, b]))
        for track_id, x in zip(tracks.ids, tracks.xyxy[:, 0]):
            look = "a" if abs(x - a[0]) < abs(x - b[0]) else "b"
            if abs(a[0] - b[0]) > 15:  # skip the frames where the boxes coincide
                by_look[look].add(int(track_id))
    assert by_look == {"a": {1}, "b": {2}}


def test_a_one_frame_false_positive_never_becomes_a_track():
    tracker = DeepSort(warm_start=False)
    for f in range(20):
        people = [(100 + 2 * f, 200, "a")]
        if f == 10:
            people.append((400, 50, "b"))
        out = tracker.update(_frame(people))
        assert _ids(out) <= {1}
    assert len(tracker.tracks) == 1


def test_empty_frames_and_a_crowd_of_200():
    tracker = DeepSort()
    assert len(tracker.update(Detections.empty())) == 0
    grid = [(40.0 * (i % 20), 100.0 * (i // 20), "a") for i in range(200)]
    start = time.perf_counter()
    for f in range(5):
        out = tracker.update(_frame([(x + f, y, look) for x, y, look in grid]))
    per_frame = (time.perf_counter() - start) / 5
    assert len(out) == 200 and len(_ids(out)) == 200
    assert per_frame < 0.5, f"{per_frame:.3f} s per frame for 200 boxes"
    assert len(tracker.update(Detections.empty())) == 0
    assert len(tracker.tracks) == 200  # missed once, not deleted


def test_motion_only_without_embeddings():
    tracker = DeepSort()
    for f in range(10):
        out = tracker.update(Detections.from_tlwh(np.array([[100 + 3 * f, 200, 30, 80]]), np.array([0.9])))
    assert _ids(out) == {1}


def test_two_trackers_own_their_id_counters():
    one, two = DeepSort(), DeepSort()
    for f in range(5):
        a = one.update(_frame([(100 + f, 100, "a"), (300, 100, "b")]))
        b = two.update(_frame([(50 + f, 50, "a")]))
    assert _ids(a) == {1, 2} and _ids(b) == {1}


def test_classes_never_mix():
    tracker = DeepSort()
    for f in range(5):
        out = tracker.update(_frame([(100 + f, 100, "a")], classes=[0]))
    assert list(zip(out.ids, out.classes)) == [(1, 0)]
    # same place, same look, other class: a new track, never the class-0 one
    for f in range(5, 10):
        out = tracker.update(_frame([(100 + f, 100, "a")], classes=[1]))
        assert all(cls == 1 and track_id != 1 for track_id, cls in zip(out.ids, out.classes))
    assert list(out.classes) == [1]


def test_low_score_boxes_extend_but_never_start_tracks():
    tracker = DeepSort(low_score=0.1, high_score=0.5)
    low = Detections.from_tlwh(np.array([[100, 100, 30, 80]]), np.array([0.3]))
    for _ in range(5):
        assert len(tracker.update(low)) == 0
    for f in range(5):
        out = tracker.update(Detections.from_tlwh(np.array([[300 + f, 100, 30, 80]]), np.array([0.9])))
    out = tracker.update(Detections.from_tlwh(np.array([[305, 100, 30, 80]]), np.array([0.3])))
    assert _ids(out) == {1} and out.scores[0] == pytest.approx(0.3)


def test_ema_feature_option():
    tracker = DeepSort(ema_alpha=0.9)
    for f in range(5):
        tracker.update(_frame([(100 + f, 100, "a")]))
    (track,) = tracker.tracks
    assert len(track.gallery) == 1 and np.linalg.norm(track.gallery[0]) == pytest.approx(1, abs=1e-5)


def test_rows_carry_the_assigned_detections_embedding_and_row():
    """Each row's embedding is that of the detection the track was assigned this frame, and ``det_index`` is that
    detection's row in the caller's Detections, even when a too-small box before it was dropped."""
    tracker = DeepSort(min_box_height=25)
    for f in range(8):
        people = [(400, 10, "a"), (100 + 3 * f, 200, "a"), (300 - 3 * f, 200, "b")]
        dets = _frame(people, h=80)
        tiny = Detections.from_tlwh(np.array([[400, 10, 5, 10]]), np.array([0.9]))
        dets = Detections.concat([tiny.with_embeddings(dets.embeddings[:1]), dets[[1, 2]]])
        if f % 2:  # the detector's order changes from frame to frame; the rows must follow the assignment
            dets = dets[[0, 2, 1]]
        out = tracker.update(dets)
        assert len(out) == 2 and (out.det_index >= 1).all()
        assert np.array_equal(out.embeddings, dets.embeddings[out.det_index])
        np.testing.assert_allclose(out.xyxy, dets.xyxy[out.det_index], atol=3)  # the box it was matched to
        assert np.array_equal(out.scores, dets.scores[out.det_index].astype(np.float64))
    by_id = dict(zip(out.ids.tolist(), out.embeddings))
    assert by_id[1] @ LOOK["a"] > 0.9 and by_id[2] @ LOOK["b"] > 0.9


def test_two_tracks_with_identical_boxes_keep_their_own_embeddings():
    """Two people on exactly the same box, told apart by appearance only: neither row may report the other's
    feature (recovering a track's feature from its box coordinates gave both the same one)."""
    tracker = DeepSort(n_init=1)
    for f in range(10):
        order = ["a", "b"] if f % 2 == 0 else ["b", "a"]
        dets = _frame([(100 + 2 * f, 200, name) for name in order])
        out = tracker.update(dets)
        assert len(out) == 2 and np.array_equal(out.xyxy[0], out.xyxy[1])
        assert not np.array_equal(out.embeddings[0], out.embeddings[1])
        for track_id, emb in zip(out.ids, out.embeddings):
            own = LOOK["a"] if track_id == 1 else LOOK["b"]
            assert emb @ own > 0.9, f"frame {f}: track {track_id} reports the other person's feature"
            assert any(np.array_equal(emb, e) for e in dets.embeddings)  # copied, not re-derived


def test_motion_only_rows_have_no_embeddings():
    tracker = DeepSort()
    out = tracker.update(Detections.from_tlwh(np.array([[100, 200, 30, 80]]), np.array([0.9])))
    assert len(out) == 1 and out.embeddings is None and out.det_index.tolist() == [0]


def test_config_from_a_typed_config_object():
    """A validated typed config whose fields are the constructor's arguments builds the same tracker."""
    from mtmct.core.config.tracker import TrackerConfig

    assert DeepSort.from_config(TrackerConfig(max_age=7)).max_age == 7


@pytest.mark.parametrize("name", ["deepsort.yaml", "deepsort_motion.yaml"])
def test_yaml_keys_are_constructor_arguments(name):
    keys = set(yaml.safe_load((CONFIGS / name).read_text()))
    args = set(inspect.signature(DeepSort.__init__).parameters) - {"self"}
    assert keys <= args, f"{name}: keys not in DeepSort(): {keys - args}"
    if name == "deepsort.yaml":  # the full config covers every argument and repeats its default
        assert keys == args, f"arguments missing from {name}: {args - keys}"
        defaults = {k: p.default for k, p in inspect.signature(DeepSort.__init__).parameters.items() if k in args}
        assert yaml.safe_load((CONFIGS / name).read_text()) == pytest.approx(defaults)
    assert isinstance(DeepSort.from_config(CONFIGS / name), DeepSort)


def test_unknown_config_key_is_refused_by_name():
    with pytest.raises(MtmctError, match="max_agee"):
        DeepSort.from_config({"max_agee": 3})
    config = {"max_age": 5}
    assert DeepSort.from_config(config).max_age == 5 and config == {"max_age": 5}


@pytest.mark.parametrize("kwargs", [{"n_init": 0}, {"max_age": -1}, {"low_score": 0.9, "high_score": 0.5},
                                    {"ema_alpha": 1.0}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        DeepSort(**kwargs)
