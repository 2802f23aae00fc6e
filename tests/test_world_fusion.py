"""Geometry-led fusion and world trajectories (issue 12): calibrated views that see someone at the same place at
the same moment are one person, with or without appearance; simultaneous sightings far apart never join; one
identity's views become one ground trajectory, one row per identity and frame."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.fusion import fuse_report
from fusion.ground import common_distances, ground_edges
from fusion.topology import CameraGeometry, Topology
from mtmct.core.config.fusion import FusionConfig
from mtmct.core.config.topology import Link
from mtmct.core.tracklet import Tracklet
from mtmct.world_trajectories import GroundFilter, world_rows

FPS = 10.0


def _walk(camera: str, track: int, frames: range, start: tuple[float, float], velocity: tuple[float, float],
          noise: float = 0.05, seed: int = 0, embedding: np.ndarray | None = None) -> Tracklet:
    """A person walking in a straight line, seen by ``camera``: ground positions with ``noise`` metres of error."""
    rng = np.random.default_rng(seed)
    f = np.asarray(frames)
    world = np.asarray(start) + np.outer((f - f[0]) / FPS, velocity) + rng.normal(0, noise, (len(f), 2))
    boxes = np.tile([100.0, 100.0, 40.0, 100.0], (len(f), 1))
    return Tracklet(camera, track, 0, f, (f - 1) / FPS, boxes, np.ones(len(f)), embedding, world=world)


def _topology(*cameras: str) -> Topology:
    links = [Link(a=a, b=b, overlap=True) for i, a in enumerate(cameras) for b in cameras[i + 1:]]
    return Topology(list(cameras), links, {c: CameraGeometry(ground=True) for c in cameras})


def _groups(tracklets: list[Tracklet]) -> set[frozenset]:
    by_id: dict[int, set] = {}
    for t in tracklets:
        by_id.setdefault(t.global_id, set()).add(t.key)
    return {frozenset(v) for v in by_id.values()}


def test_two_people_side_by_side_are_told_apart_without_any_appearance():
    """Two people 1.2 m apart walk through two views with no embeddings: each view's pair joins the right one."""
    people = [((0.0, 0.0), (1.0, 0.0)), ((0.0, 1.2), (1.0, 0.0))]
    tracklets = [_walk(cam, k + 1, range(1, 60), start, vel, seed=10 * i + k)
                 for i, cam in enumerate(("a", "b")) for k, (start, vel) in enumerate(people)]
    identities, report = fuse_report(tracklets, _topology("a", "b"))
    assert _groups(tracklets) == {frozenset({("a", 1), ("b", 1)}), frozenset({("a", 2), ("b", 2)})}
    assert len(identities) == 2 and any("ground: 2 simultaneous pairs" in n for n in report.notes)


def test_a_long_track_joins_each_fragment_of_the_other_view():
    """One view loses the person half-way (two fragments); the other view's one long track joins both."""
    long = _walk("a", 1, range(1, 80), (0, 0), (1, 0))
    first, second = _walk("b", 1, range(1, 35), (0, 0), (1, 0), seed=1), _walk("b", 2, range(45, 80), (4.4, 0),
                                                                               (1, 0), seed=2)
    fuse_report([long, first, second], _topology("a", "b"))
    assert _groups([long, first, second]) == {frozenset({("a", 1), ("b", 1), ("b", 2)})}


def test_simultaneous_sightings_far_apart_never_join_however_alike():
    """Identical embeddings, same time, 5 m apart on the ground: two people (the topology's max_ground_distance)."""
    emb = np.ones(8, np.float32) / np.sqrt(8)
    x = _walk("a", 1, range(1, 40), (0, 0), (1, 0), embedding=emb)
    y = _walk("b", 1, range(1, 40), (0, 5), (1, 0), embedding=emb)
    fuse_report([x, y], _topology("a", "b"), FusionConfig(similarity=0.5, overlap_similarity=0.5))
    assert x.global_id != y.global_id


def test_ground_edges_need_enough_common_moments():
    x = _walk("a", 1, range(1, 40), (0, 0), (1, 0))
    y = _walk("b", 1, range(38, 60), (3.7, 0), (1, 0))  # two common frames
    pairs = np.array([[0, 1]])
    cam = np.array([0, 1])
    assert len(common_distances(x, y, 0.05)) == 2
    assert len(ground_edges([x, y], pairs, cam, 0.05, 1.0, 3)[0]) == 0
    assert len(ground_edges([x, y], pairs, cam, 0.05, 1.0, 2)[0]) == 1


def test_world_rows_fuse_views_and_count_each_person_once():
    """One identity seen by two views (one row per frame, between them); a view that is someone else 3 m away
    for a while does not drag the trajectory; a second identity at the same place is suppressed."""
    a = _walk("a", 1, range(1, 50), (0, 0), (1, 0), noise=0.0)
    b = _walk("b", 1, range(1, 50), (0, 0.2), (1, 0), noise=0.0)
    b.world[20:25] += (0.0, 3.0)  # another person for five frames
    dup = _walk("c", 1, range(10, 30), (0.9, 0.05), (1, 0), noise=0.0)
    a.global_id = b.global_id = 1
    dup.global_id = 2
    rows = world_rows([a, b, dup])
    assert set(np.unique(rows[:, 1]).tolist()) == {1.0}  # the duplicate is the same person: dropped
    assert len(rows) == 49 and np.array_equal(rows[:, 0], np.arange(1, 50))
    expected = (a.world + np.r_[b.world[:20], a.world[20:25] + (0, 0.2), b.world[25:]]) / 2
    assert np.abs(rows[:, 2:] - expected).max() < 0.25  # the 3 m excursion is gated out
    plain = world_rows([a, b], ground_filter=None)  # the plain mean follows the excursion
    assert np.abs(plain[20:25, 3] - 1.6).max() < 1e-5
    kept = world_rows([a, b, dup], ground_filter=GroundFilter(same_place=0.0))
    assert set(np.unique(kept[:, 1]).tolist()) == {1.0, 2.0}


def test_world_rows_keep_two_people_that_one_view_tells_apart():
    """Two identities 0.7 m apart: one of them seen by view "c" only is the same person as identity 1 (dropped);
    one that view "a" sees beside identity 1 (both of a's tracks) is a second person walking alongside (kept)."""
    a = _walk("a", 1, range(1, 50), (0, 0), (1, 0), noise=0.0)
    beside = _walk("a", 2, range(1, 50), (0, 0.7), (1, 0), noise=0.0)
    other_view = _walk("c", 1, range(1, 50), (0, -0.7), (1, 0), noise=0.0)
    a.global_id, beside.global_id, other_view.global_id = 1, 2, 3
    rows = world_rows([a, beside, other_view])
    assert set(np.unique(rows[:, 1]).tolist()) == {1.0, 2.0}
    assert np.sum(rows[:, 1] == 2.0) == 49


def test_world_rows_without_calibration_are_empty():
    t = Tracklet("a", 1, 0, np.arange(1, 5), np.arange(4) / FPS, np.ones((4, 4)), np.ones(4), None)
    t.global_id = 1
    assert world_rows([t]).shape == (0, 4)


@pytest.mark.parametrize("bad", [np.full((3, 2), np.nan)])
def test_a_tracklet_with_no_ground_point_counts_as_uncalibrated(bad):
    t = Tracklet("a", 1, 0, np.arange(1, 4), np.arange(3) / FPS, np.ones((3, 4)), np.ones(3), None, world=bad)
    assert t.world is None


def _transit_topology() -> Topology:
    return Topology(["a", "b"], [Link(a="a", b="b", min_s=0, max_s=20)],
                    {c: CameraGeometry(ground=True) for c in ("a", "b")})


def test_a_person_is_carried_through_a_blind_gap_to_where_they_come_out():
    """No appearance at all: leaving view a at 1 m/s, met 3 s later where the walk leads in view b, not by the
    newcomer who appears at the same moment 4 m to the side."""
    leaving = _walk("a", 1, range(1, 51), (0, 0), (1, 0))  # at x = 4.9 m at t = 4.9 s
    arriving = _walk("b", 1, range(81, 120), (8.0, 0), (1, 0), seed=1)  # 3 s later, 3 m on
    newcomer = _walk("b", 2, range(81, 120), (8.0, 4.0), (1, 0), seed=2)
    _, report = fuse_report([leaving, arriving, newcomer], _transit_topology())
    assert leaving.global_id == arriving.global_id != newcomer.global_id
    assert any("1 transits carried on the ground" in n for n in report.notes)


def test_an_impossible_transit_never_joins_however_alike():
    """Identical embeddings, but 30 m in 2 s (15 m/s): two people (topology max_ground_speed)."""
    emb = np.ones(8, np.float32) / np.sqrt(8)
    x = _walk("a", 1, range(1, 30), (0, 0), (1, 0), embedding=emb)
    y = _walk("b", 1, range(50, 80), (32.0, 0), (1, 0), embedding=emb)
    topology = _transit_topology()
    assert not topology.transit_possible(x, y)
    fuse_report([x, y], topology, FusionConfig(similarity=0.5, overlap_similarity=0.5, motion_similarity=0.5))
    assert x.global_id != y.global_id
    near = _walk("b", 2, range(50, 80), (4.0, 0), (1, 0), embedding=emb)
    assert topology.transit_possible(x, near)


def test_a_late_clock_is_estimated_from_the_ground_when_asked():
    """View b's clock runs 0.8 s late: two people 2 m apart walking at 1.5 m/s stand 1.2 m off in b on the shared
    clock, beyond the ground distance, so b's tracks stay alone. Asked to, fusion estimates b's offset (about
    -0.8 s), reports it and joins each person's views; the caller's tracklets keep their times."""
    people = [((0.0, 0.0), (1.5, 0.0)), ((0.0, 2.0), (1.5, 0.0))]

    def scene() -> list[Tracklet]:
        out = [_walk(cam, k + 1, range(1, 80), start, vel, seed=10 * i + k)
               for i, cam in enumerate(("a", "b")) for k, (start, vel) in enumerate(people)]
        for t in out[2:]:
            t.times = t.times + 0.8
        return out

    plain = scene()
    fuse_report(plain, _topology("a", "b"))
    assert len(_groups(plain)) == 4
    asked = scene()
    before = [t.times.copy() for t in asked]
    _, report = fuse_report(asked, _topology("a", "b"), FusionConfig(estimate_clock_offset=True))
    assert _groups(asked) == {frozenset({("a", 1), ("b", 1)}), frozenset({("a", 2), ("b", 2)})}
    assert report.clock_offsets["b"] == pytest.approx(-0.8, abs=0.1) and report.clock_offsets["a"] == 0.0
    assert any(n.startswith("clock offsets (s, against a)") for n in report.notes)
    assert all(np.array_equal(t.times, b) for t, b in zip(asked, before))
