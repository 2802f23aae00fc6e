"""MOT metrics on hand-built sequences whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from mtmct.eval_mot import evaluate_mot, evaluate_mot_files, evaluate_sequences

# two people walking right for 10 frames, MOT15 layout: frame,id,x,y,w,h,conf,wx,wy,wz
GT = np.array([[f, i, 10 * f + 100 * i, 50, 20, 40, 1, -1, -1, -1] for f in range(1, 11) for i in (1, 2)], float)


def _pred(gt: np.ndarray) -> np.ndarray:
    pred = gt.copy()
    pred[:, 6] = 0.9
    return pred


def test_perfect_prediction():
    m = evaluate_mot(GT, _pred(GT))
    assert m["mota"] == pytest.approx(1) and m["idf1"] == pytest.approx(1) and m["hota"] == pytest.approx(1)
    assert (m["idsw"], m["fp"], m["fn"], m["mt"], m["ml"]) == (0, 0, 0, 2, 0)
    assert m["precision"] == pytest.approx(1) and m["recall"] == pytest.approx(1)


def test_one_id_switch():
    pred = _pred(GT)
    pred[(pred[:, 0] > 5) & (pred[:, 1] == 2), 1] = 7  # person 2 gets a new id from frame 6
    m = evaluate_mot(GT, pred)
    assert (m["idsw"], m["fp"], m["fn"]) == (1, 0, 0)
    assert m["mota"] == pytest.approx(1 - 1 / 20)
    assert m["idf1"] < 1 and m["hota"] < 1


def test_one_missed_box_and_one_false_positive():
    pred = _pred(GT)
    pred = pred[~((pred[:, 0] == 3) & (pred[:, 1] == 1))]
    pred = np.vstack([pred, [4, 9, 500, 300, 20, 40, 0.9, -1, -1, -1]])
    m = evaluate_mot(GT, pred)
    assert (m["fn"], m["fp"], m["idsw"]) == (1, 1, 0)
    assert m["mota"] == pytest.approx(1 - 2 / 20)


def test_a_box_off_by_more_than_half_iou_is_a_miss_and_a_false_positive():
    pred = _pred(GT)
    pred[0, 2] += 15  # IoU 5/35 with its gt box
    m = evaluate_mot(GT, pred)
    assert (m["fn"], m["fp"]) == (1, 1)


def test_mot15_rows_flagged_zero_are_ignored():
    gt = GT.copy()
    gt[(gt[:, 0] == 2) & (gt[:, 1] == 1), 6] = 0
    pred = _pred(GT)
    pred = pred[~((pred[:, 0] == 2) & (pred[:, 1] == 1))]
    m = evaluate_mot(gt, pred)
    assert (m["fn"], m["fp"], m["num_gt"]) == (0, 0, 19)


def _mot17(cls: int, flag: int = 1) -> np.ndarray:
    """GT in MOT17 layout frame,id,x,y,w,h,flag,class,visibility: the two people + one extra box of ``cls``."""
    rows = [[*r[:6], 1, 1, 1.0] for r in GT]
    rows += [[f, 50, 400, 200, 30, 60, flag, cls, 0.8] for f in range(1, 11)]
    return np.array(rows, float)


def _pred_with_extra() -> np.ndarray:
    extra = np.array([[f, 60, 401, 201, 30, 60, 0.9, -1, -1, -1] for f in range(1, 11)], float)
    return np.vstack([_pred(GT), extra])


@pytest.mark.parametrize("cls", [2, 7, 8, 12])
def test_mot17_predictions_on_distractors_are_ignored(cls):
    m = evaluate_mot(_mot17(cls), _pred_with_extra())
    assert (m["fp"], m["fn"], m["num_gt"]) == (0, 0, 20)
    assert m["mota"] == pytest.approx(1)


@pytest.mark.parametrize("cls", [3, 9])  # a car, an occluder: not pedestrians, not distractors
def test_mot17_other_classes_are_not_ground_truth(cls):
    assert evaluate_mot(_mot17(cls), _pred(GT))["num_gt"] == 20
    # a prediction on a non-distractor, non-pedestrian box is a false positive, as in MOTChallenge
    assert evaluate_mot(_mot17(cls), _pred_with_extra())["fp"] == 10


def test_mot17_pedestrian_with_flag_zero_is_ignored():
    assert evaluate_mot(_mot17(1, flag=0), _pred(GT))["fn"] == 0
    assert evaluate_mot(_mot17(1, flag=1), _pred(GT))["fn"] == 10


def test_empty_prediction_misses_everything():
    m = evaluate_mot(GT, np.zeros((0, 10)))
    assert m["fn"] == 20 and m["fp"] == 0 and m["mota"] == pytest.approx(0) and m["hota"] == pytest.approx(0)


def test_many_sequences_give_rows_and_an_overall_row(tmp_path):
    pred = _pred(GT)
    pred[(pred[:, 0] > 5) & (pred[:, 1] == 2), 1] = 7
    pairs = {}
    for name, p in (("a", _pred(GT)), ("b", pred)):
        np.savetxt(tmp_path / f"{name}_gt.txt", GT, delimiter=",", fmt="%g")
        np.savetxt(tmp_path / f"{name}_pred.txt", p, delimiter=",", fmt="%g")
        pairs[name] = (tmp_path / f"{name}_gt.txt", tmp_path / f"{name}_pred.txt")
    rows = evaluate_mot_files(pairs)
    assert [r["sequence"] for r in rows] == ["a", "b", "OVERALL"]
    assert rows[0]["idsw"] == 0 and rows[1]["idsw"] == 1 and rows[2]["idsw"] == 1
    assert rows[2]["mota"] == pytest.approx(1 - 1 / 40)
    assert rows[1]["hota"] < rows[2]["hota"] < rows[0]["hota"]
    with pytest.raises(ValueError):
        evaluate_sequences({})
