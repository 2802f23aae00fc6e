"""ReID only where association needs it: which boxes the tracker asks to embed, and what it does without the rest.

Hand-built scenes check the rule (separate walkers are embedded once every ``embed_interval`` frames, a crossing,
a newcomer and a re-appearance are embedded, ids hold); one real video checks the loop's bookkeeping and that
``embed_every_frame`` restores embedding every box.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path

from cameras.camera_loop import run_camera_loop
from cameras.deepsort import DeepSort
from cameras.embedder import load_embedder
from cameras.open_source import open_source
from cameras.tracklet_builder import TrackletBuilder, TrackletSink
from mtmct.core.detections import Detections
from mtmct.core.config.tracker import TrackerConfig
from mtmct.core.errors import MtmctError

RNG = np.random.default_rng(1)
LOOKS = {name: v / np.linalg.norm(v) for name, v in zip("abc", RNG.normal(size=(3, 64)))}


class Embed:
    """The tracker's ``embed`` callable for one frame's people: returns each asked row's look, records the rows."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []  # per frame, the names whose boxes were embedded
        self.names: list[str] = []

    def frame(self, people: list[tuple[float, float, str]]) -> Detections:
        self.names = [name for _, _, name in people]
        self.asked.append([])
        tlwh = np.array([[x, y, 30, 80] for x, y, _ in people], np.float32).reshape(-1, 4)
        return Detections.from_tlwh(tlwh, np.full(len(people), 0.9))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        self.asked[-1] += [self.names[r] for r in rows]
        looks = np.stack([LOOKS[self.names[r]] + 0.03 * RNG.normal(size=64) for r in rows])
        return looks / np.linalg.norm(looks, axis=1, keepdims=True)


def _run(tracker: DeepSort, scene) -> tuple[Embed, dict[str, set[int]]]:
    """Feed ``scene(f) -> people`` for as many frames as it gives; ids seen per person (matched by position)."""
    embed, ids = Embed(), {}
    for people in scene:
        dets = embed.frame(people)
        rows = tracker.update(dets, embed=embed)
        for track_id, row in zip(rows.ids, rows.det_index):
            ids.setdefault(embed.names[row], set()).add(int(track_id))
    return embed, ids


def test_separate_walkers_are_embedded_once_per_interval_and_keep_their_ids():
    tracker = DeepSort(embed_interval=10)
    scene = [[(100 + 3 * f, 100, "a"), (400 - 3 * f, 300, "b")] for f in range(60)]
    embed, ids = _run(tracker, scene)
    assert ids == {"a": {1}, "b": {2}}
    per_person = {name: sum(name in frame for frame in embed.asked) for name in "ab"}
    # n_init frames to confirm, then one refresh per 10 frames: nowhere near one per frame
    assert all(4 <= n <= 3 + 60 // 10 + 1 for n in per_person.values()), per_person
    gaps = np.diff([f for f, frame in enumerate(embed.asked) if "a" in frame])
    assert gaps.max() <= 10, gaps  # the refresh bound holds


def test_without_an_interval_every_box_is_embedded():
    """The default: the policy is off, ``embed`` is asked for every box of every frame."""
    embed, ids = _run(DeepSort(), [[(100 + 3 * f, 100, "a"), (400, 300, "b")] for f in range(20)])
    assert all(sorted(frame) == ["a", "b"] for frame in embed.asked) and ids == {"a": {1}, "b": {2}}


def test_interval_one_embeds_every_box_that_drives_association():
    embed, _ = _run(DeepSort(embed_interval=1), [[(100 + 3 * f, 100, "a")] for f in range(20)])
    assert all(frame == ["a"] for frame in embed.asked)


def test_people_closing_in_are_embedded_and_a_crossing_keeps_ids():
    tracker = DeepSort(embed_interval=50)  # no refresh in this clip: every embedding here is for ambiguity
    scene = [[(100 + 5 * f, 200, "a"), (350 - 5 * f, 205, "b")] for f in range(50)]
    embed, ids = _run(tracker, scene)
    meet = 25  # the frame where the boxes coincide
    # approaching (centres 30 px apart and closing) up to overlapping: both asked; moving apart is motion's again
    assert all(sorted(embed.asked[f]) == ["a", "b"] for f in range(meet - 3, meet + 2)), embed.asked[meet - 3:meet + 2]
    far = embed.asked[5:18] + embed.asked[30:]
    assert sum(map(len, far)) == 0, far  # before and after, far apart: motion alone
    # ids by position, away from the frames where the boxes overlap
    owners = {"a": set(), "b": set()}
    tracker, embed = DeepSort(embed_interval=50), Embed()
    for f, people in enumerate(scene):
        rows = tracker.update(embed.frame(people), embed=embed)
        if abs(f - meet) > 3:
            for track_id, row in zip(rows.ids, rows.det_index):
                owners[embed.names[row]].add(int(track_id))
    assert owners == {"a": {1}, "b": {2}}


def test_a_newcomer_and_a_reappearing_person_are_embedded():
    tracker = DeepSort(embed_interval=50)
    scene = [[(100 + 2 * f, 100, "a")] + ([(500, 300, "c")] if f >= 20 else []) for f in range(30)]
    scene += [[(100 + 2 * f, 100, "a")] + ([(500, 300, "c")] if f >= 40 else []) for f in range(30, 50)]
    embed, ids = _run(tracker, scene)
    assert "c" in embed.asked[20]  # new box, no track: embedded
    assert "c" in embed.asked[40]  # back after 10 frames unseen: a lost track is never trusted to motion alone
    assert ids["c"] == {2}


def test_rows_matched_without_reid_carry_nan_and_tracklets_pool_only_real_embeddings():
    tracker, builder = DeepSort(embed_interval=5), TrackletBuilder("c1", max_gap=30)
    embed = Embed()
    for f in range(40):
        rows = tracker.update(embed.frame([(100 + 3 * f, 100, "a")]), embed=embed)
        finite = np.isfinite(rows.embeddings).all(axis=1) if rows.embeddings is not None else np.zeros(len(rows), bool)
        assert finite.sum() == (1 if "a" in embed.asked[-1] and len(rows) else 0)
        builder.update(f, f / 10, rows)
    (tracklet,) = builder.finish()
    assert np.isfinite(tracklet.embedding).all()
    assert float(tracklet.embedding @ LOOKS["a"]) > 0.95


def test_policy_settings_are_checked():
    with pytest.raises(ValueError, match="embed_interval"):
        DeepSort(embed_interval=0)
    with pytest.raises(ValueError, match="ambiguity_iou"):
        DeepSort(motion_iou=0.2, ambiguity_iou=0.4)
    with pytest.raises(MtmctError, match="ambiguity_iou"):
        from mtmct.core.config.base import validate

        validate(TrackerConfig, {"motion_iou": 0.2, "ambiguity_iou": 0.4}, "tracker.yaml")


@pytest.mark.shared
def test_real_video_embeds_a_fraction_and_every_frame_restores_all(tmp_path):
    """TUD-Campus, its public detections (no detector in the timing), reid-0287: the loop counts what ReID saw."""
    from cameras.det_file import DetFile

    seq = shared_path("data", "tud-campus")
    embedder = load_embedder(shared_path("models", "omz-person-reid-0287"))
    results = {}
    for every in (False, True):
        dets = DetFile(seq / "det" / "det.txt", conf=0.3)
        sink = TrackletSink(TrackletBuilder("tud"))
        source = open_source(str(seq / "video.mp4"))
        try:
            loop = run_camera_loop(source, lambda frame: dets.detect(frame), DeepSort(embed_interval=10), [sink], embedder=embedder,
                                   progress=False, embed_every_frame=every)
        finally:
            source.close()
        results[every] = loop, sink.tracklets
    (lazy, lazy_tracklets), (full, full_tracklets) = results[False], results[True]
    assert lazy.frames == full.frames == 71 and lazy.detections == full.detections > 300
    assert full.embedded == full.detections
    assert 0 < lazy.embedded < 0.8 * lazy.detections, (lazy.embedded, lazy.detections)
    for tracklets in (lazy_tracklets, full_tracklets):
        assert tracklets and all(t.embedding is not None and np.isfinite(t.embedding).all() for t in tracklets)
