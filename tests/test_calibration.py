"""Self-calibration (fusion/calibration.py): thresholds from different/same evidence, competition, learned windows,
and fuse_report's report on a hand-built two-camera world."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.calibration import (competitor_thresholds, handover_best, learn_window, mutual_best, tail_share,
                                thresholds)
from fusion.fusion import fuse, fuse_report
from fusion.topology import Topology
from mtmct.core.config.fusion import FusionConfig
from mtmct.core.config.topology import Link, TopologyConfig
from mtmct.core.tracklet import SMALL, Tracklet

AUTO = {"similarity": "auto", "overlap_similarity": "auto", "motion_similarity": "auto"}


def test_thresholds_are_quantiles_of_the_different_pairs():
    different = np.linspace(0.0, 0.99, 100)  # Q(0.9) = 0.891, Q(0.99) = 0.9801
    t = thresholds(different, np.array([]), AUTO, false_merge_rate=0.01, veto_false_rate=0.1, min_evidence=10)
    assert t["motion_similarity"].value == pytest.approx(0.891) and t["motion_similarity"].source == "calibrated"
    assert t["similarity"].value == pytest.approx(0.9801) and t["similarity"].different == 100


def test_similarity_capped_at_the_median_same_pair_but_not_below_the_veto():
    different = np.linspace(0.0, 0.99, 100)
    same = np.full(40, 0.95)  # median 0.95 < Q(0.99) 0.9801
    t = thresholds(different, same, AUTO, 0.01, 0.1, 10)
    assert t["similarity"].value == pytest.approx(0.95) and "median" in t["similarity"].rule
    t = thresholds(different, np.full(40, 0.5), AUTO, 0.01, 0.1, 10)  # median below the veto 0.891
    assert t["similarity"].value == pytest.approx(0.891)


def test_too_little_evidence_falls_back_and_a_config_number_wins():
    t = thresholds(np.array([0.1, 0.2]), np.array([]), {**AUTO, "similarity": 0.7}, 0.01, 0.1, 10)
    assert (t["similarity"].value, t["similarity"].source) == (0.7, "config")
    assert (t["overlap_similarity"].value, t["overlap_similarity"].source) == (0.55, "default")


def test_competitors_raise_the_threshold_past_the_evidence_by_its_exponential_tail():
    different = np.linspace(0.0, 0.99, 100)
    need = competitor_thresholds(different, np.array([1, 10, 1000]), 0.1, floor=0.0)
    # 1 - 0.1/1 = 0.9 -> empirical 0.891. Beyond the top 10 values: u = 0.89, mean excess of 0.90..0.99 over it
    # 0.055, so 0.1/10 -> 0.89 + 0.055 ln(0.1 / 0.01) = 1.0166 and 0.1/1000 -> 0.89 + 0.055 ln(1000) = 1.2699
    assert need == pytest.approx([0.891, 0.89 + 0.055 * np.log(10), 0.89 + 0.055 * np.log(1000)], abs=2e-3)
    share = tail_share(different, np.array([0.5, 0.89 + 0.055 * np.log(10)]))
    assert share == pytest.approx([0.5, 0.01])  # empirical below the tail (0.50..0.99: 50 of 100), the tail above


def test_handover_best_takes_each_side_best_successor_and_predecessor():
    start = np.array([0.0, 0.0, 10.0, 10.0])  # 0, 1 leave; 2, 3 arrive
    pairs = np.array([[0, 2], [0, 3], [1, 3]])
    sims = np.array([0.6, 0.7, 0.9])  # 0's best successor is 3, but 3's best predecessor is 1
    assert handover_best(pairs, sims, start, np.ones(3, bool)).tolist() == [False, False, True]
    assert handover_best(pairs, sims, start, np.array([True, True, False])).tolist() == [False, True, False]


def test_mutual_best_keeps_pairs_both_ends_prefer():
    pairs = np.array([[0, 2], [0, 3], [1, 3]])
    sims = np.array([0.9, 0.8, 0.95])  # 3 prefers 1, 0 prefers 2
    assert mutual_best(pairs, sims, 4).tolist() == [True, False, True]


@pytest.mark.parametrize("gaps,fixed,expected", [
    ([2.0, 2.2, 2.4, 2.6, 30.0, 45.0], (None, None), (0.0, 4.9)),  # shorth [2.0, 2.4] (3 of 6), w = median 2.5: [2.0 - 2.5 -> 0, 2.4 + 2.5]
    ([2.0, 2.2, 2.4, 2.6, 30.0, 45.0], (1.0, 4.0), (1.0, 4.0)),  # clamped to the fixed bounds
    ([2.0, 3.0], (None, None), None),  # too few matches
])
def test_learn_window_shorth_widened(gaps, fixed, expected):
    window = learn_window(np.array(gaps), *fixed, min_matches=4)
    assert window == (None if expected is None else pytest.approx(expected))


def _walker(cam: str, tid: int, t0: float, look: np.ndarray, dur: float = 3.0) -> Tracklet:
    times = t0 + np.arange(0, dur, 0.5)
    boxes = np.tile([10.0 + tid, 20.0, 20.0, 60.0], (len(times), 1))
    return Tracklet(cam, tid, 0, np.arange(1, len(times) + 1), times, boxes, np.ones(len(times)), look)


def _corridor(people: int) -> list[Tracklet]:
    """People walk c1 -> c2 with a 5 s transit, each with their own look, and beside each in c1 someone else
    (the different-person evidence): per person its c1 and c2 tracklets, then the other one."""
    rng = np.random.default_rng(0)
    tracklets = []
    for p in range(people):
        look = rng.standard_normal(64)
        look /= np.linalg.norm(look)
        t0 = 20.0 * p
        noise = [rng.standard_normal(64) * 0.02 for _ in range(2)]
        tracklets.append(_walker("c1", p + 1, t0, look + noise[0]))
        tracklets.append(_walker("c2", p + 1, t0 + 3.0 + 5.0, look + noise[1]))
        other = rng.standard_normal(64)
        tracklets.append(_walker("c1", 100 + p, t0, other / np.linalg.norm(other)))
    return tracklets


def test_fuse_report_learns_the_transit_window_of_an_unlisted_pair():
    """Twelve people walk c1 -> c2 with a 5 s transit, each with their own look; two people walk in c1 at once
    in each of many moments (the different-person evidence). No link is configured: unlisted auto learns one."""
    tracklets = _corridor(12)
    topology = Topology(["c1", "c2"], (), unlisted=TopologyConfig().unlisted)
    identities, report = fuse_report(tracklets, topology, FusionConfig())
    window = report.links[0]
    assert (window.a, window.b, window.source) == ("c1", "c2", "calibrated") and window.matches >= 4
    assert window.min_s <= 5.0 <= window.max_s < 60
    assert report.threshold("similarity").source == "calibrated" and report.identities == len(identities)
    linked = sum(1 for i in identities if i.cameras == ["c1", "c2"])
    assert linked == 12
    # never: the same tracklets stay apart
    assert all(len(i.cameras) == 1 for i in fuse(tracklets, Topology(["c1", "c2"], ()), FusionConfig()))


def test_link_bounds_left_out_or_auto_are_learned_numbers_fixed():
    assert Link(a="x", b="y").learned and Link(a="x", b="y", max_s="auto").learned
    assert not Link(a="x", b="y", min_s=1, max_s=5).learned and not Link(a="x", b="y", overlap=True).learned
    assert Link(a="x", b="y", min_s=2, max_s="auto").fixed_min_s == 2.0


def test_a_handover_inside_the_learned_window_links_two_small_tracklets():
    """As above, and the thirteenth person seen small in both cameras: appearance alone never joins two
    attach-only tracklets, but inside the learned window, each the other's best, they are a hand-over."""
    tracklets = _corridor(13)
    tracklets[36].flags = tracklets[37].flags = frozenset({SMALL})
    fuse(tracklets, Topology(["c1", "c2"], (), unlisted=TopologyConfig().unlisted), FusionConfig())
    assert tracklets[36].global_id == tracklets[37].global_id
