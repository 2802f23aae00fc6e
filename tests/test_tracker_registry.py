"""Contract tests over every registered tracker (cameras.tracker_registry): what any camera may rely on, whichever
tracker it runs. Boxes are made by hand; accuracy is measured in benchmarks/bench_trackers.py and
tests/test_motion_only.py."""

from __future__ import annotations

import numpy as np
import pytest

from cameras.tracker_registry import TRACKERS, constructor_keys, load_tracker, preset
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError

KINDS = list(TRACKERS)


def people(n: int, frame: int, cls: int = 0, score: float = 0.95, dim: int | None = None) -> Detections:
    """``n`` people on a grid walking right 2 px a frame (never overlapping)."""
    x = 10 + 60 * (np.arange(n) % 20) + 2 * frame
    y = 10 + 130 * (np.arange(n) // 20)
    xyxy = np.stack([x, y, x + 40, y + 110], axis=1).astype(np.float32)
    emb = None
    if dim:
        emb = np.eye(n, dim, dtype=np.float32) if n <= dim else np.random.default_rng(0).standard_normal((n, dim))
        emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    return Detections(xyxy, np.full(n, score, np.float32), np.full(n, cls, np.int64), emb)


@pytest.mark.parametrize("kind", KINDS)
def test_empty_frames_one_box_and_200_boxes(kind):
    tracker = load_tracker(kind)
    for _ in range(3):
        assert len(tracker.update(Detections.empty())) == 0
    seen = [tracker.update(people(1, f)) for f in range(10)]
    assert {int(i) for rows in seen[5:] for i in rows.ids} == {1}  # one person, one id, reported
    crowd = load_tracker(kind)
    for f in range(10):
        rows = crowd.update(people(200, f))
    assert len(rows) == 200 and len(set(rows.ids.tolist())) == 200
    assert np.allclose(rows.xyxy, people(200, 9).xyxy[rows.det_index], atol=3)  # each row is the box it took
    assert np.array_equal(rows.scores, people(200, 9).scores[rows.det_index])


@pytest.mark.parametrize("kind", KINDS)
def test_ids_belong_to_the_instance_and_continue_after_a_resume(kind):
    a, b = load_tracker(kind), load_tracker(kind)
    for f in range(6):
        ra, rb = a.update(people(3, f)), b.update(people(2, f))
    assert sorted(ra.ids) == [1, 2, 3] and sorted(rb.ids) == [1, 2]  # no shared counter
    c = load_tracker(kind)
    c.continue_ids(40)
    for f in range(6):
        rc = c.update(people(2, f))
    assert sorted(rc.ids) == [41, 42]


@pytest.mark.parametrize("kind", KINDS)
def test_classes_never_mix(kind):
    """A person's track never takes a car's box in the same place: the car gets a track of its own."""
    tracker = load_tracker(kind)
    for f in range(6):
        rows = tracker.update(people(1, f, cls=0))
    person = int(rows.ids[0])
    for f in range(6, 12):
        rows = tracker.update(people(1, f, cls=2))
    assert len(rows) == 0 or (person not in rows.ids and set(rows.classes.tolist()) == {2})


@pytest.mark.parametrize("kind", KINDS)
def test_embeddings_pass_through_to_the_rows(kind):
    tracker = load_tracker(kind)
    for f in range(6):
        dets = people(3, f, dim=8)
        rows = tracker.update(dets)
    assert rows.embeddings is not None and np.array_equal(rows.embeddings, dets.embeddings[rows.det_index])


def test_configs_name_their_type_and_hold_only_constructor_keys(tmp_path):
    for kind, cls in TRACKERS.items():
        tracker = load_tracker({"type": kind, "max_age": 7})
        assert type(tracker) is cls and tracker.max_age == 7 and preset(kind).is_file()
        assert "max_age" in constructor_keys(cls)
    with pytest.raises(MtmctError, match="unknown tracker type 'sort'; known: deepsort, bytetrack, ocsort, botsort"):
        load_tracker({"type": "sort"})
    with pytest.raises(MtmctError, match="OCSort: unknown tracker key.*n_init"):
        load_tracker({"type": "ocsort", "n_init": 3})
    with pytest.raises(MtmctError, match="does not exist"):
        load_tracker(tmp_path / "none.yaml")
