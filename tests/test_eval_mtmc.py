"""Cross-camera metrics: hand-computed cases, a cross-camera id swap, and the shared gt scored against itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_path
from mtmct.core.errors import MtmctError
from mtmct.eval_mtmc import evaluate_mtmc, read_mtmc


def person(camera: str, gid: int, frames: range, x: float = 0.0) -> list[tuple]:
    return [(camera, gid, f, x, 0.0, 10.0, 30.0) for f in frames]


# person 1 walks from c1 (frames 1-10) into c2 (frames 11-20); person 2 stays in c2 (frames 1-20)
GT = person("c1", 1, range(1, 11)) + person("c2", 1, range(11, 21)) + person("c2", 2, range(1, 21), x=100)


def test_perfect_prediction_scores_one():
    out = evaluate_mtmc(GT, [(c, g + 40, *rest) for c, g, *rest in GT])  # id values need not be equal
    for key in ("idf1", "idp", "idr", "mota"):
        assert out[key] == pytest.approx(1.0)
    assert out["fp"] == out["fn"] == out["idsw"] == 0 and out["num_gt"] == 40
    assert set(out["per_camera"]) == {"c1", "c2"}
    assert out["per_camera"]["c1"]["idf1"] == out["per_camera"]["c2"]["mota"] == 1.0


def test_cross_camera_id_swap_lowers_idf1_not_per_camera_mota():
    """Person 1 gets a new global id in c2: each camera alone is perfect, across cameras 10 of 20 boxes of
    person 1 carry the wrong identity. Best global mapping: 1->1, 2->2; the 10 c2 boxes of id 7 are unmatched."""
    pred = [(c, 7 if (c == "c2" and g == 1) else g, *rest) for c, g, *rest in GT]
    out = evaluate_mtmc(GT, pred)
    assert out["idf1"] == pytest.approx(30 / 40)  # IDTP 30; IDFP = IDFN = 10 -> 2*30 / (2*30 + 10 + 10)
    assert out["idp"] == pytest.approx(30 / 40) and out["idr"] == pytest.approx(30 / 40)
    assert out["idsw"] == 1 and out["mota"] == pytest.approx(1 - 1 / 40)
    for cam in ("c1", "c2"):
        assert out["per_camera"][cam]["mota"] == 1.0 and out["per_camera"][cam]["idf1"] == 1.0


def test_misses_false_positives_and_a_camera_only_predicted():
    pred = person("c1", 1, range(1, 6)) + person("c2", 1, range(11, 21)) + person("c2", 2, range(1, 21), x=100)
    pred += person("c2", 3, range(1, 5), x=200)  # 4 boxes where nobody is
    pred += person("c9", 4, range(1, 3))  # a camera without gt: 2 more false positives
    out = evaluate_mtmc(GT, pred)
    assert out["fn"] == 5 and out["fp"] == 6 and out["idsw"] == 0
    assert out["mota"] == pytest.approx(1 - (5 + 6) / 40)
    assert out["idr"] == pytest.approx(35 / 40) and out["idp"] == pytest.approx(35 / 41)
    assert out["per_camera"]["c1"]["mota"] == pytest.approx(0.5)
    assert out["per_camera"]["c9"]["fp"] == 2


def test_boxes_below_half_iou_do_not_match():
    pred = [(c, g, f, x + 6.0, *rest) for c, g, f, x, *rest in GT]  # 10-wide boxes shifted 6 px: IoU 4/16
    out = evaluate_mtmc(GT, pred)
    assert out["fn"] == 40 and out["fp"] == 40 and out["idf1"] == 0.0


def test_shared_ground_truth_against_itself(tmp_path):
    gt = read_mtmc(shared_path("data", "mtmc-pets09-overlap", "mtmc_gt.txt"))
    assert {row[0] for row in gt} == {"c1", "c2"}
    out = evaluate_mtmc(gt, gt)
    assert out["idf1"] == out["mota"] == 1.0 and out["num_gt_ids"] == 19
    # swapping one person's id in c2 hurts only the cross-camera scores
    first = next(g for c, g, *_ in gt if c == "c2")
    swapped = evaluate_mtmc(gt, [(c, -1 if (c == "c2" and g == first) else g, *r) for c, g, *r in gt])
    assert swapped["idf1"] < 1.0 and swapped["per_camera"]["c2"]["mota"] == 1.0


def test_read_mtmc_refuses_bad_lines(tmp_path):
    path = tmp_path / "pred.txt"
    path.write_text("# camera,global_id,frame,x,y,w,h\nc1,1,1,0,0,10,30\n\nc1,1,2,0,0\n")
    with pytest.raises(MtmctError, match=r"pred.txt:4: expected 7 columns camera,global_id"):
        read_mtmc(path)
    path.write_text("c1,1,1,0,0,10,30\n")
    assert read_mtmc(path) == [("c1", 1, 1, 0.0, 0.0, 10.0, 30.0)]


MTMCT = str(Path(sys.executable).with_name("mtmct"))


def write_rows(path: Path, rows: list[tuple]) -> Path:
    path.write_text("".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


def test_cli_scores_cross_camera_files(tmp_path):
    gt = write_rows(tmp_path / "gt.txt", GT)
    pred = write_rows(tmp_path / "pred.txt", [(c, 7 if (c == "c2" and g == 1) else g, *r) for c, g, *r in GT])
    res = subprocess.run([MTMCT, "eval", "mtmc", "--gt", str(gt), "--pred", str(pred), "--json"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["idf1"] == pytest.approx(30 / 40)  # the id swap above, through the CLI


def test_cli_prints_identity_counts(tmp_path):
    """The id swap above as identity counts (tests/test_eval_identity.py has the cases): person 1 is the only one
    in two cameras, split into ids 1 and 7 -> not linked, its c1-c2 pair missed, 1.5 ids per person."""
    gt = write_rows(tmp_path / "gt.txt", GT)
    pred = write_rows(tmp_path / "pred.txt", [(c, 7 if (c == "c2" and g == 1) else g, *r) for c, g, *r in GT])
    cmd = [MTMCT, "eval", "mtmc", "--gt", str(gt), "--pred", str(pred)]
    res = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    identity = json.loads(res.stdout)["identity"]
    assert identity["fully_linked"] == 0 and identity["multi_camera"] == 1
    assert identity["pairs"] == {"c1|c2": {"found": 0, "missed": 1, "wrong": 0}}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "0 of 1 fully linked (not linked: gt ids 1), 0 by an id of their own" in res.stdout
    assert "1.50 (1 of 2 people split)" in res.stdout
    assert [line.split() for line in res.stdout.splitlines() if line.startswith("c1-c2")] == [["c1-c2", "0", "1", "0"]]


@pytest.mark.parametrize("which", ["--pred", "--gt"])
def test_cli_refuses_a_single_camera_mot_file_in_one_line(tmp_path, which):
    """A MOTChallenge file (frame,id,x,y,w,h,score,-1,-1,-1: no camera column) used to parse as camera = frame
    and print tables of nan with exit 0; now it is exit 2 and one line naming the file and the columns."""
    mtmc = write_rows(tmp_path / "mtmc.txt", GT)
    mot = write_rows(tmp_path / "c1.txt", [(f, g, x, y, w, h, 1, -1, -1, -1) for _, g, f, x, y, w, h in GT])
    files = {"--gt": mtmc, "--pred": mtmc, which: mot}
    res = subprocess.run([MTMCT, "eval", "mtmc", "--gt", str(files["--gt"]), "--pred", str(files["--pred"])],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert str(mot) in lines[0] and "camera,global_id,frame,x,y,w,h" in lines[0] and "nan" not in lines[0]
