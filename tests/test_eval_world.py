"""Ground-plane metrics (`mtmct eval world`): hand-built cases, the CLI on the PETS09 world gt, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from mtmct.cli import main
from mtmct.core.errors import MtmctError
from mtmct.eval_world import read_footprint, read_world, world_metrics

MTMCT = str(Path(sys.executable).with_name("mtmct"))

# two people 5 m apart walking along X for 10 frames: frame,id,X,Y
GT = np.array([[f, i, 0.3 * f, 5.0 * i] for f in range(1, 11) for i in (1, 2)], float)


def _write(path: Path, rows: np.ndarray) -> Path:
    path.write_text("".join(f"{int(r[0])},{int(r[1])},{r[2]:.4f},{r[3]:.4f}\n" for r in rows))
    return path


def _motmetrics_direct(gt: np.ndarray, pred: np.ndarray, max_d: float) -> dict:
    """The same sequence straight through py-motmetrics, for comparison."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for f in np.union1d(gt[:, 0], pred[:, 0]):
        g, p = gt[gt[:, 0] == f], pred[pred[:, 0] == f]
        d = np.sqrt(mm.distances.norm2squared_matrix(g[:, 2:4], p[:, 2:4], max_d2=max_d ** 2))
        acc.update(g[:, 1].astype(int), p[:, 1].astype(int), d)
    s = mm.metrics.create().compute(acc, metrics=["mota", "idf1", "idp", "idr", "num_switches"], name="x")
    return {"mota": s.loc["x", "mota"], "idf1": s.loc["x", "idf1"], "idp": s.loc["x", "idp"],
            "idr": s.loc["x", "idr"], "idsw": int(s.loc["x", "num_switches"])}


def test_ground_truth_against_itself_is_perfect():
    m = world_metrics(GT, GT.copy())
    assert m.mota == pytest.approx(1) and m.idf1 == pytest.approx(1) and m.moda == pytest.approx(1)
    assert (m.idsw, m.fp, m.fn, m.matches, m.num_gt, m.num_pred) == (0, 0, 0, 20, 20, 20)
    assert m.mean_distance == pytest.approx(0) and m.precision == 1 and m.recall == 1


def test_points_moved_half_a_metre_match_within_one_metre_but_not_within_0_4():
    moved = GT.copy()
    moved[:, 2] += 0.3
    moved[:, 3] -= 0.4  # 0.5 m away
    near = world_metrics(GT, moved, max_distance=1.0)
    assert (near.matches, near.fp, near.fn, near.idsw) == (20, 0, 0, 0)
    assert near.mota == pytest.approx(1) and near.idf1 == pytest.approx(1)
    assert near.mean_distance == pytest.approx(0.5)
    far = world_metrics(GT, moved, max_distance=0.4)
    assert (far.matches, far.fp, far.fn) == (0, 20, 20)
    assert far.moda == pytest.approx(1 - 40 / 20) and far.recall == 0 and far.idf1 == 0


def test_two_ids_swapped_half_way_agree_with_motmetrics():
    pred = GT.copy()
    late = pred[:, 0] > 5
    pred[late, 1] = 3 - pred[late, 1]  # ids 1 and 2 swap at frame 6
    m = world_metrics(GT, pred)
    direct = _motmetrics_direct(GT, pred, 1.0)
    # motmetrics counts a switch per gt track whose id changes: one swap of two ids = 2 switches
    assert m.idsw == direct["idsw"] == 2
    assert m.idf1 < 1 and m.idf1 == pytest.approx(direct["idf1"])
    assert (m.mota, m.idp, m.idr) == pytest.approx((direct["mota"], direct["idp"], direct["idr"]))
    assert m.mota == pytest.approx(1 - 2 / 20) and m.moda == pytest.approx(1) and (m.fp, m.fn) == (0, 0)

    one = GT.copy()
    one[(one[:, 0] > 5) & (one[:, 1] == 2), 1] = 7  # only person 2 changes id
    m1, d1 = world_metrics(GT, one), _motmetrics_direct(GT, one, 1.0)
    assert m1.idsw == d1["idsw"] == 1 and m1.idf1 == pytest.approx(d1["idf1"]) and m1.idf1 < 1


def test_footprint_keeps_only_rows_inside():
    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], float)
    gt = np.array([[1, 1, 5, 5], [1, 2, 12, 5],  # id 2 outside: not a miss
                   [2, 1, 5.2, 5], [2, 3, 9.8, 5]], float)  # id 3 inside, its prediction just outside: a miss
    pred = np.array([[1, 1, 5, 5], [1, 8, -3, -3],  # far outside: not a false positive
                     [2, 1, 5.2, 5], [2, 3, 10.3, 5]], float)
    unfiltered = world_metrics(gt, pred)
    assert (unfiltered.fp, unfiltered.fn, unfiltered.num_gt, unfiltered.num_pred) == (1, 1, 4, 4)
    m = world_metrics(gt, pred, footprint=square)
    assert (m.num_gt, m.num_pred, m.gt_outside, m.pred_outside) == (3, 2, 1, 2)
    assert (m.matches, m.fp, m.fn) == (2, 0, 1) and m.footprint is True
    assert m.moda == pytest.approx(1 - 1 / 3) and m.precision == 1


def test_readers_round_trip(tmp_path):
    path = _write(tmp_path / "w.txt", GT[::-1])
    assert np.allclose(read_world(path), GT)
    (tmp_path / "fp.json").write_text(json.dumps({"polygon": [[0, 0], [1, 0], [0, 1]]}))
    assert read_footprint(tmp_path / "fp.json").shape == (3, 2)
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    assert read_world(tmp_path / "empty.txt").shape == (0, 4)
    m = world_metrics(GT, read_world(tmp_path / "empty.txt"))
    assert (m.fn, m.fp, m.num_pred) == (20, 0, 0) and m.to_dict()["mean_distance"] is None


def test_cli_on_pets09_world_gt(tmp_path):
    gt_path = shared_path("data", "pets09-multiview", "gt_world.txt")
    footprint = shared_path("data", "pets09-multiview", "footprint_world.json")
    gt = read_world(gt_path)
    rng = np.random.default_rng(0)
    pred = gt.copy()
    angle = rng.uniform(0, 2 * np.pi, len(pred))
    pred[:, 2] += 0.3 * np.cos(angle)
    pred[:, 3] += 0.3 * np.sin(angle)  # every point 0.3 m off
    pred = pred[rng.random(len(pred)) > 0.05]  # ~5 % missed
    pred_path = _write(tmp_path / "mtmct_world.txt", pred)
    cmd = [MTMCT, "eval", "world", "--gt", str(gt_path), "--pred", str(pred_path), "--footprint", str(footprint)]
    res = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"mota", "moda", "idf1", "idp", "idr", "idsw", "fp", "fn", "matches", "precision", "recall",
                        "mean_distance", "num_gt", "num_pred", "num_gt_ids", "num_pred_ids", "num_frames",
                        "gt_outside", "pred_outside", "max_distance", "footprint"}
    assert out["num_gt"] == len(gt) == 4650 and out["num_pred"] == len(pred) and out["gt_outside"] == 0
    assert out["fp"] == 0 and out["fn"] == len(gt) - len(pred) and out["idsw"] == 0
    assert out["precision"] == 1 and out["recall"] == pytest.approx(len(pred) / len(gt))
    assert out["mean_distance"] == pytest.approx(0.3, abs=1e-3)  # 4-decimal file rounding
    expected = world_metrics(gt, read_world(pred_path), read_footprint(footprint)).to_dict()
    assert out == pytest.approx(expected)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].startswith("4650 gt rows (19 ids)") and "inside the footprint" in lines[0]
    assert lines[1].split() == ["mota", "moda", "idf1", "idp", "idr", "idsw", "fp", "fn", "precision", "recall",
                                "dist_m"]
    assert float(lines[2].split()[0]) == pytest.approx(out["mota"], abs=5e-4)


BAD = {
    "missing gt": ("nogt", None, "does not exist"),
    "three columns": ("gt", "1,2,3.0\n", "expected 4 columns"),
    "MOT box rows": ("pred", "1,1,10,20,30,40,1,-1,-1,-1\n", "MOT box file"),
    "not a number": ("pred", "1,1,x,2\n", "not a number"),
    "nan": ("pred", "1,1,nan,2\n", "non-finite"),
    "inf": ("gt", "1,1,1.0,-inf\n", "non-finite"),
    "frame 0": ("pred", "0,1,1,2\n", "frame must be a whole number"),
    "fractional id": ("pred", "1,1.5,1,2\n", "id must be a whole number"),
    "repeated frame and id": ("pred", "1,1,1,2\n1,1,3,4\n", "already given on line 2"),
    "missing footprint": ("nofootprint", None, "does not exist"),
    "footprint not JSON": ("footprint", "{polygon: ", "not valid JSON"),
    "footprint without polygon": ("footprint", '{"points": [[0, 0], [1, 0], [0, 1]]}', '"polygon"'),
    "footprint of 2 points": ("footprint", '{"polygon": [[0, 0], [1, 0]]}', "at least 3 points"),
    "footprint bad point": ("footprint", '{"polygon": [[0, 0], [1, "a"], [0, 1]]}', "point 1"),
    "footprint flat": ("footprint", '{"polygon": [[0, 0], [1, 1], [2, 2]]}', "zero area"),
    "max distance 0": ("max", "0", "--max-distance"),
    "max distance nan": ("max", "nan", "--max-distance"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_inputs_are_one_line_errors(case, tmp_path, capsys):
    what, content, message = BAD[case]
    gt, pred = _write(tmp_path / "gt.txt", GT), _write(tmp_path / "pred.txt", GT)
    footprint = tmp_path / "fp.json"
    footprint.write_text('{"polygon": [[-10, -10], [50, -10], [50, 50], [-10, 50]]}')
    max_d = "1.0"
    if what == "nogt":
        gt = tmp_path / "absent.txt"
    elif what == "nofootprint":
        footprint = tmp_path / "absent.json"
    elif what in ("gt", "pred"):
        (gt if what == "gt" else pred).write_text("1,5,0,0\n" + content)
    elif what == "footprint":
        footprint.write_text(content)
    else:
        max_d = content
    argv = ["eval", "world", "--gt", str(gt), "--pred", str(pred), "--footprint", str(footprint),
            "--max-distance", max_d]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("mtmct eval: error: ") and message in lines[0], lines[0]
    if what in ("gt", "pred"):
        bad_line = 3 if case == "repeated frame and id" else 2
        assert f"{gt if what == 'gt' else pred}:{bad_line}:" in lines[0]  # file and line named


def test_library_rejects_bad_arrays():
    with pytest.raises(MtmctError, match="N x 4"):
        world_metrics(np.zeros((2, 6)), GT)
    with pytest.raises(MtmctError, match="repeat"):
        world_metrics(GT, np.vstack([GT, GT[:1]]))
    with pytest.raises(MtmctError, match="positive"):
        world_metrics(GT, GT, max_distance=-1)
