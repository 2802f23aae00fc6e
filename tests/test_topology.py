"""Topology rules: direct links, coexistence in one identity, geometry gates."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.topology import OVERLAP, SAME, TRANSIT, CameraGeometry, Link, Topology, in_zones
from mtmct.core.camera_config import load_camera_config
from mtmct.core.errors import MtmctError
from mtmct.core.tracklet import Tracklet


def make(cam: str, tid: int, t0: float, t1: float, box=(100, 100, 20, 50)) -> Tracklet:
    times = np.linspace(t0, t1, max(2, int(round((t1 - t0) * 10)) + 1))
    return Tracklet(cam, tid, 0, np.arange(1, len(times) + 1), times, np.tile(box, (len(times), 1)),
                    np.ones(len(times)), None)


TOPO = Topology(["A", "B", "C", "D"],
                [Link(a="A", b="B", min_s=10, max_s=60), Link(a="B", b="C", overlap=True)],
                overlap_gap_s=2.0)


@pytest.mark.parametrize(
    "x, y, link, coexist",
    [
        (make("A", 1, 0, 10), make("A", 2, 5, 15), False, False),  # same camera, overlapping
        (make("A", 1, 0, 10), make("A", 2, 10, 15), False, False),  # touching counts as overlapping
        (make("A", 1, 0, 10), make("A", 2, 12, 15), True, True),  # re-entry
        (make("A", 1, 0, 10), make("B", 2, 30, 40), True, True),  # transit gap 20 in [10, 60]
        (make("B", 2, 30, 40), make("A", 1, 0, 10), True, True),  # order of arguments does not matter
        (make("A", 1, 0, 10), make("B", 2, 15, 40), False, False),  # gap 5 < min 10: faster than possible
        (make("A", 1, 0, 10), make("B", 2, 100, 110), False, True),  # gap 90 > max 60: not direct, may coexist
        (make("A", 1, 0, 10), make("B", 2, 5, 20), False, False),  # transit cameras never simultaneous
        (make("B", 1, 0, 10), make("C", 2, 5, 20), True, True),  # overlap link: simultaneous
        (make("B", 1, 0, 10), make("C", 2, 11, 20), True, True),  # overlap link: small gap
        (make("B", 1, 0, 10), make("C", 2, 13, 20), False, True),  # overlap link: gap over overlap_gap_s
        (make("A", 1, 0, 10), make("C", 2, 25, 30), False, True),  # no link, reachable A-B-C in >= 10 s
        (make("A", 1, 0, 10), make("C", 2, 15, 30), False, False),  # no link, too fast through B
        (make("A", 1, 0, 10), make("C", 2, 5, 30), False, False),  # no link: never simultaneous
        (make("A", 1, 0, 10), make("D", 2, 500, 600), False, False),  # D unreachable: never together
    ],
)
def test_rules(x, y, link, coexist):
    assert TOPO.may_link(x, y) is link
    assert TOPO.may_coexist(x, y) is coexist


def test_vectorised_masks_agree_with_single_pairs():
    rng = np.random.default_rng(0)
    cams = list(TOPO.cameras)
    ts = [make(cams[rng.integers(4)], i, s, s + rng.uniform(1, 30)) for i, s in enumerate(rng.uniform(0, 200, 60))]
    cam = np.array([TOPO.camera_index(t.camera_id) for t in ts])
    start, end = np.array([t.start_time for t in ts]), np.array([t.end_time for t in ts])
    i, j = np.triu_indices(len(ts), 1)
    links = TOPO.link_mask(cam[i], start[i], end[i], cam[j], start[j], end[j])
    coex = TOPO.coexist_mask(cam[i], start[i], end[i], cam[j], start[j], end[j])
    assert list(links) == [TOPO.may_link(ts[a], ts[b]) for a, b in zip(i, j)]
    assert list(coex) == [TOPO.may_coexist(ts[a], ts[b]) for a, b in zip(i, j)]
    assert not (links & ~coex).any()  # may_link implies may_coexist


def test_bad_topologies_fail_clearly():
    with pytest.raises(MtmctError, match="unknown camera"):
        Topology(["A"], [Link(a="A", b="Z")])
    with pytest.raises(ValueError, match="min_s 10 > max_s 5"):  # pydantic's ValidationError
        Link(a="A", b="B", min_s=10, max_s=5)
    with pytest.raises(MtmctError, match="twice"):
        Topology(["A", "B"], [Link(a="A", b="B"), Link(a="B", b="A")])
    with pytest.raises(MtmctError, match="not in the topology"):
        TOPO.may_link(make("Q", 1, 0, 1), make("A", 1, 5, 6))


def test_from_config_carries_links_knobs_and_geometry(tmp_path):
    """Every topology knob a camera set can hold reaches the Topology, and so do zones and homographies."""
    cfg = load_camera_config({
        "cameras": [{"id": "B", "source": "b.mp4", "homography": [[0.01, 0, 0], [0, 0.01, 0], [0, 0, 1]]},
                    {"id": "C", "source": "c.mp4", "zones": [{"name": "door", "polygon": [[0, 0], [9, 0], [9, 9]]}]},
                    {"id": "D", "source": "d.mp4"}],
        "topology": {"links": [{"a": "B", "b": "C", "overlap": True}, {"a": "C", "b": "D", "min_s": 4}],
                     "overlap_gap_s": 5, "reentry_max_s": 60, "max_ground_distance": 0.5, "sync_tolerance_s": 0.1},
    }, base_dir=tmp_path)
    topo = Topology.from_config(cfg)
    assert topo.cameras == ("B", "C", "D") and topo.kind[0, 1] == OVERLAP and topo.kind[1, 2] == TRANSIT
    assert topo.gap_max[0, 1] == 5.0 and topo.gap_max[0, 0] == 60.0 and topo.kind[2, 2] == SAME
    assert topo.min_travel[1, 2] == 4.0 and topo.max_ground_distance == 0.5 and topo.sync_tolerance_s == 0.1
    assert np.allclose(topo.geometry["B"].homography, np.diag([0.01, 0.01, 1])) and not topo.geometry["B"].zones
    assert topo.geometry["C"].homography is None and len(topo.geometry["C"].zones[0]) == 3
    assert "D" not in topo.geometry
    plain = Topology.from_config(load_camera_config({"cameras": [{"id": "A", "source": "a.mp4"}]}, base_dir=tmp_path))
    assert plain.overlap_gap_s == Topology(["A"]).overlap_gap_s and plain.reentry_max_s is None


def test_homography_gates_simultaneous_overlap_pairs():
    # Camera B's ground = image / 100; camera C's ground = image / 100 shifted by 10 m in x.
    hb = np.diag([0.01, 0.01, 1.0])
    hc = np.array([[0.01, 0, 10.0], [0, 0.01, 0], [0, 0, 1]])
    topo = Topology(["B", "C"], [Link(a="B", b="C", overlap=True)],
                    geometry={"B": CameraGeometry(homography=hb), "C": CameraGeometry(homography=hc)})
    in_b = make("B", 1, 0, 10, box=(1190, 100, 20, 50))  # foot (1200, 150) -> ground (12, 1.5)
    same_c = make("C", 2, 2, 12, box=(190, 100, 20, 50))  # foot (200, 150) -> ground (12, 1.5)
    far_c = make("C", 3, 2, 12, box=(690, 100, 20, 50))  # ground (17, 1.5): 5 m away
    assert topo.may_link(in_b, same_c) and topo.may_coexist(in_b, same_c)
    assert not topo.may_link(in_b, far_c) and not topo.may_coexist(in_b, far_c)
    later_c = make("C", 4, 11, 15, box=(690, 100, 20, 50))  # sequential hand-over: time rules only
    assert topo.may_link(in_b, later_c)


def test_zones_gate_hand_overs_without_homography():
    square = np.array([[0, 0], [100, 0], [100, 100], [0, 100]])
    topo = Topology(["A", "B"], [Link(a="A", b="B", min_s=1, max_s=30)],
                    geometry={"A": CameraGeometry(zones=(square,)), "B": CameraGeometry(zones=(square,))})
    exits_in_zone = make("A", 1, 0, 10, box=(40, 0, 20, 50))  # foot (50, 50)
    exits_elsewhere = make("A", 2, 0, 10, box=(400, 300, 20, 50))
    enters_in_zone = make("B", 3, 20, 30, box=(40, 0, 20, 50))
    assert topo.may_link(exits_in_zone, enters_in_zone)
    assert not topo.may_link(exits_elsewhere, enters_in_zone)
    assert topo.may_coexist(exits_elsewhere, enters_in_zone)  # zones gate direct hand-overs only


def test_in_zones_polygon():
    tri = np.array([[0, 0], [10, 0], [0, 10]], float)
    pts = np.array([[1, 1], [6, 6], [-1, 1], [4, 4]], float)
    assert list(in_zones(pts, [tri])) == [True, False, False, True]
