"""Identity-level cross-camera metrics on hand-built cases, and cross-camera IDF1 checked against py-motmetrics run
independently (its own ``compare_to_groundtruth`` over a pandas table, (camera, frame) as the frame key)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import shared_path
from mtmct.eval_mtmc import PairCounts, evaluate_mtmc, identity_metrics, read_mtmc


def person(camera: str, gid: int, frames: range, x: float = 0.0) -> list[tuple]:
    return [(camera, gid, f, x, 0.0, 10.0, 30.0) for f in frames]


def relabel(rows: list[tuple], mapping: dict[tuple[str, int], int]) -> list[tuple]:
    """Rows with the id of ``(camera, id)`` replaced by ``mapping[(camera, id)]`` where given."""
    return [(c, mapping.get((c, g), g), *rest) for c, g, *rest in rows]


def motmetrics_idf1(gt_rows: list[tuple], pred_rows: list[tuple]) -> float:
    """Cross-camera IDF1 by py-motmetrics' own table path: frame key = camera index * 10^6 + frame."""
    import motmetrics as mm
    import pandas as pd

    cameras = sorted({r[0] for r in gt_rows} | {r[0] for r in pred_rows})

    def table(rows):
        df = pd.DataFrame([(cameras.index(c) * 1_000_000 + f, g, x, y, w, h) for c, g, f, x, y, w, h in rows],
                          columns=["FrameId", "Id", "X", "Y", "Width", "Height"])
        return df.set_index(["FrameId", "Id"])

    acc = mm.utils.compare_to_groundtruth(table(gt_rows), table(pred_rows), "iou", distth=0.5)
    return float(mm.metrics.create().compute(acc, metrics=["idf1"])["idf1"].iloc[0])


# person 1 walks from c1 (frames 1-10) into c2 (frames 11-20); person 2 stays in c2 (frames 1-20)
WALKER = person("c1", 1, range(1, 11)) + person("c2", 1, range(11, 21)) + person("c2", 2, range(1, 21), x=100)
# two people who both walk from c1 (frames 1-10) into c2 (frames 11-20)
PAIR = (person("c1", 1, range(1, 11)) + person("c2", 1, range(11, 21))
        + person("c1", 2, range(1, 11), x=100) + person("c2", 2, range(11, 21), x=100))
# two different people, one per camera, at the same frames
APART = person("c1", 1, range(1, 11)) + person("c2", 2, range(1, 11), x=100)


def test_perfect_prediction_links_everyone():
    m = identity_metrics(PAIR, relabel(PAIR, {("c1", 1): 40, ("c2", 1): 40, ("c1", 2): 41, ("c2", 2): 41}))
    assert (m.people, m.multi_camera, m.fully_linked, m.linked_alone, m.not_linked) == (2, 2, 2, 2, ())
    assert (m.ids_per_person, m.split_people, m.people_per_id, m.merged_ids) == (1.0, 0, 1.0, 0)
    assert m.pairs == {"c1|c2": PairCounts(found=2, missed=0, wrong=0)} and m.pred_ids == 2


def test_a_merge_into_a_linked_id_is_linked_but_not_alone():
    """Person 3 (c1 only, frames 1-11) also carries id 40, person 1's id: person 1 stays fully linked (id 40 holds
    all its boxes in c1 and c2), but in c1 id 40 is 11 of 21 boxes person 3 -> person 1 is not linked alone;
    person 2 is. One id, two people: a merge, and id 40 joins person 3 (c1) to person 1 (c2): one wrong pair."""
    gt = PAIR + person("c1", 3, range(1, 12), x=200)
    m = identity_metrics(gt, relabel(gt, {("c1", 1): 40, ("c2", 1): 40, ("c1", 3): 40}))
    assert (m.people, m.multi_camera, m.fully_linked, m.linked_alone) == (3, 2, 2, 1)
    assert (m.merged_ids, m.people_per_id) == (1, pytest.approx((2 + 1) / 2))
    assert m.pairs == {"c1|c2": PairCounts(found=2, missed=0, wrong=1)}


def test_person_split_across_cameras_is_not_linked_and_its_pair_missed():
    """Person 1 gets id 7 in c2: two ids for person 1 (each holds all its boxes in one camera), one for
    person 2 -> 1.5 ids per person; nobody merged; the c1-c2 pair of person 1 missed, nothing wrong."""
    m = identity_metrics(WALKER, relabel(WALKER, {("c2", 1): 7}))
    assert (m.multi_camera, m.fully_linked, m.linked_alone, m.not_linked) == (1, 0, 0, (1,))
    assert (m.ids_per_person, m.split_people) == (1.5, 1)
    assert (m.people_per_id, m.merged_ids) == (1.0, 0)
    assert m.pairs == {"c1|c2": PairCounts(found=0, missed=1, wrong=0)}


def test_two_people_merged_across_cameras_is_a_wrong_pair():
    """One id 5 for person 1 in c1 and person 2 in c2: one id, two people (merge); its c1 person differs from
    its c2 person -> one wrong c1-c2 pair. Nobody visits two cameras, so nothing to find or miss."""
    m = identity_metrics(APART, [(c, 5, *rest) for c, _, *rest in APART])
    assert (m.people, m.multi_camera, m.fully_linked) == (2, 0, 0)
    assert (m.people_per_id, m.merged_ids, m.pred_ids) == (2.0, 1, 1)
    assert (m.ids_per_person, m.split_people) == (1.0, 0)
    assert m.pairs == {"c1|c2": PairCounts(found=0, missed=0, wrong=1)}
    assert (m.pairs_found, m.pairs_missed, m.pairs_wrong) == (0, 0, 1)


def test_ids_swapped_between_cameras_split_merge_and_miss_both():
    """Id 5 is person 1 in c1 and person 2 in c2, id 6 the reverse: each person has two ids, each id two people,
    both pairs missed and both ids wrong."""
    m = identity_metrics(PAIR, relabel(PAIR, {("c1", 1): 5, ("c2", 2): 5, ("c1", 2): 6, ("c2", 1): 6}))
    assert (m.fully_linked, m.not_linked) == (0, (1, 2))
    assert (m.ids_per_person, m.split_people, m.people_per_id, m.merged_ids) == (2.0, 2, 2.0, 2)
    assert m.pairs == {"c1|c2": PairCounts(found=0, missed=2, wrong=2)}


@pytest.mark.parametrize("kept, linked", [
    (6, True),  # 6 of 10 gt boxes in c1 > 50 %
    (5, False),  # exactly half: no dominant id, the pair is missed
    (0, False),  # missed in c1 altogether
])
def test_dominant_id_needs_more_than_half_of_the_gt_boxes(kept, linked):
    pred = [r for r in WALKER if not (r[0] == "c1" and r[2] > kept)]
    m = identity_metrics(WALKER, pred)
    assert m.fully_linked == int(linked)
    assert m.pairs["c1|c2"] == PairCounts(found=int(linked), missed=int(not linked), wrong=0)


def test_min_share_ignores_a_short_id_swap():
    """Person 2 (20 boxes in c2) carries id 9 in one frame: 1/20 = 5 % of its matched c2 boxes, under the 10 %
    floor, so not a split; with min_share 0 every stray frame counts."""
    pred = [(c, 9 if (g == 2 and f == 7) else g, f, *rest) for c, g, f, *rest in WALKER]
    assert identity_metrics(WALKER, pred).split_people == 0
    loose = identity_metrics(WALKER, pred, min_share=0.0)
    assert loose.split_people == 1 and loose.ids_per_person == pytest.approx((1 + 2) / 2)
    with pytest.raises(ValueError, match="min_share"):
        identity_metrics(WALKER, pred, min_share=10)


def test_three_cameras_give_three_pairs_per_person():
    """Seen by c1, c2, c3 with a new id in c3: c1-c2 found, c1-c3 and c2-c3 missed."""
    gt = person("c1", 1, range(1, 11)) + person("c2", 1, range(11, 21)) + person("c3", 1, range(21, 31))
    m = identity_metrics(gt, relabel(gt, {("c3", 1): 3}))
    assert m.pairs == {"c1|c2": PairCounts(1, 0, 0), "c1|c3": PairCounts(0, 1, 0), "c2|c3": PairCounts(0, 1, 0)}
    assert m.fully_linked == 0 and m.to_dict()["pairs_missed"] == 2


def test_to_dict_is_json():
    d = json.loads(json.dumps(identity_metrics(WALKER, relabel(WALKER, {("c2", 1): 7})).to_dict()))
    assert d["not_linked"] == [1] and d["pairs"]["c1|c2"] == {"found": 0, "missed": 1, "wrong": 0}
    assert d["min_share"] == 0.1 and d["pairs_missed"] == 1


@pytest.mark.parametrize("gt, pred, expected", [
    # person 1's 10 c2 boxes under id 7: IDTP 30; IDFP = IDFN = 10 -> 2*30 / (2*30 + 10 + 10)
    (WALKER, relabel(WALKER, {("c2", 1): 7}), 60 / 80),
    # one id over two people, 10 boxes each: id 5 -> person 1 (or 2): IDTP 10, IDFP 10, IDFN 10 -> 20 / 40
    (APART, [(c, 5, *rest) for c, _, *rest in APART], 20 / 40),
    # ids swapped between cameras: best mapping 5 -> 1, 6 -> 2 keeps the c1 halves: IDTP 20 of 40 -> 40 / 80
    (PAIR, relabel(PAIR, {("c1", 1): 5, ("c2", 2): 5, ("c1", 2): 6, ("c2", 1): 6}), 40 / 80),
    # perfect, and a frame of c1 left unpredicted: IDTP 39, IDFN 1, IDFP 0 -> 78 / 79
    (WALKER, [r for r in WALKER if not (r[0] == "c1" and r[2] == 3)], 78 / 79),
])
def test_cross_camera_idf1_equals_motmetrics_on_hand_built_cases(gt, pred, expected):
    assert evaluate_mtmc(gt, pred)["idf1"] == pytest.approx(expected)
    assert motmetrics_idf1(gt, pred) == pytest.approx(expected)


def perturb(gt: list[tuple]) -> tuple[list[tuple], set[int]]:
    """A prediction from real gt: every 10th box dropped, boxes jittered by up to 1 px, two multi-camera people's
    ids swapped in c2 and a third renamed there, 30 false boxes added. Returns it and the people it unlinks."""
    rng = np.random.default_rng(0)
    long = sorted({g for c, g, *_ in gt if c == "c1"} & {g for c, g, *_ in gt if c == "c2"})
    a, b, c3 = long[:3]
    mapping = {("c2", a): b, ("c2", b): a, ("c2", c3): 999}
    pred = [(c, mapping.get((c, g), g), f, x + dx, y + dy, w, h)
            for i, ((c, g, f, x, y, w, h), (dx, dy)) in enumerate(zip(gt, rng.uniform(-1, 1, (len(gt), 2))))
            if i % 10]
    pred += [("c1", 1000, f, 5.0, 5.0, 20.0, 50.0) for f in range(1, 31)]
    return pred, {a, b, c3}


@pytest.mark.parametrize("name", ["mtmc-pets09-gap2", "mtmc-tud-campus-gap2", "mtmc-pets09-overlap"])
def test_cross_camera_idf1_equals_motmetrics_on_a_real_camera_set(name):
    gt = read_mtmc(shared_path("data", name, "mtmc_gt.txt"))
    pred, unlinked = perturb(gt)
    ours = evaluate_mtmc(gt, pred)["idf1"]
    assert 0.3 < ours < 0.95  # the perturbation bites, and leaves most boxes found
    assert ours == pytest.approx(motmetrics_idf1(gt, pred), abs=1e-12)
    m = identity_metrics(gt, pred)
    # 90 % of every visit kept and 1 px of jitter leave every other multi-camera person linked
    assert set(m.not_linked) == unlinked and m.fully_linked == m.linked_alone == m.multi_camera - 3
    # ids a and b each join two people across c1-c2; the renamed person's new id lives in c2 only
    assert m.pairs["c1|c2"] == PairCounts(found=m.multi_camera - 3, missed=3, wrong=2)
