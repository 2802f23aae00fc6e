"""`mtmct track` and `mtmct eval mot` as a user runs them, plus the Python API and mot_predict."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import mtmct
from conftest import shared_path

MTMCT = str(Path(sys.executable).with_name("mtmct"))
SORT_MOTA = {"tud-campus": 0.627}  # SORT's published MOTA on the same public detections (SOURCE.txt)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, timeout=600)


def test_a_tracker_by_name_from_the_registry(tmp_path):
    """--tracker bytetrack tracks a det file with ByteTrack's shipped preset; an unknown name is one line."""
    seq = shared_path("data", "tud-campus")
    res = cli("track", "--det-file", str(seq / "det" / "det.txt"), "--tracker", "bytetrack", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    rows = np.loadtxt(tmp_path / "tud-campus.txt", delimiter=",", ndmin=2)
    assert len(rows) > 200 and (rows[:, 1] > 0).all()  # 71 frames, about 5 people a frame
    res = cli("track", "--det-file", str(seq / "det" / "det.txt"), "--tracker", "sort", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "sort" in res.stderr


def test_motion_only_from_det_file_then_eval_json(tmp_path):
    seq = shared_path("data", "tud-campus")
    res = cli("track", "--det-file", str(seq / "det" / "det.txt"), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    pred = tmp_path / "tud-campus.txt"
    rows = np.loadtxt(pred, delimiter=",", ndmin=2)
    assert rows.shape[1] == 10 and rows[:, 0].min() >= 1 and (rows[:, 1] > 0).all()
    res = cli("eval", "mot", "--gt", str(seq / "gt" / "gt.txt"), "--pred", str(pred), "--json")
    assert res.returncode == 0, res.stderr
    metrics = json.loads(res.stdout)
    assert {"mota", "idf1", "hota", "idsw", "fp", "fn"} <= set(metrics)
    assert metrics["mota"] >= SORT_MOTA["tud-campus"]
    assert 0 < metrics["hota"] <= 1 and 0 < metrics["idf1"] <= 1


def test_eval_many_sequences_gives_summary_row(tmp_path):
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    for name, src in {"tud": shared_path("data", "tud-campus"),
                      "sunny": shared_path("data", "mot15-motion", "ETH-Sunnyday")}.items():
        (gt_root / name / "gt").mkdir(parents=True)
        shutil.copy(src / "gt" / "gt.txt", gt_root / name / "gt" / "gt.txt")
        res = cli("track", "--det-file", str(src / "det" / "det.txt"), "--camera-id", name, "--out", str(pred_root))
        assert res.returncode == 0, res.stderr
    res = cli("eval", "mot", "--gt", str(gt_root), "--pred", str(pred_root))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert [ln.split()[0] for ln in lines[1:]] == ["sunny", "tud", "OVERALL"]
    res = cli("eval", "mot", "--gt", str(gt_root), "--pred", str(pred_root), "--json")
    out = json.loads(res.stdout)
    assert set(out["sequences"]) == {"sunny", "tud"}
    fn = out["sequences"]["sunny"]["fn"] + out["sequences"]["tud"]["fn"]
    assert out["fn"] == fn  # the summary pools the sequences


def test_det_file_with_video_embeds_crops_and_saves_video(tmp_path):
    seq = shared_path("data", "tud-campus")
    reid = shared_path("models", "omz-person-reid-0287")
    res = cli("track", str(seq / "video.mp4"), "--det-file", str(seq / "det" / "det.txt"), "--reid", str(reid),
              "--camera-id", "cam7", "--out", str(tmp_path), "--save-video")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cam7.txt").stat().st_size > 0
    cap = cv2.VideoCapture(str(tmp_path / "cam7.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 71
    cap.release()


def test_python_api_track_returns_tracks(tmp_path):
    seq = shared_path("data", "tud-campus")
    result = mtmct.track(str(seq / "video.mp4"), detector=str(shared_path("models", "yolox-nano-coco")),
                         reid=str(shared_path("models", "omz-person-reid-0287")), progress=False)
    assert result.frames == 71 and result.mot_file is None
    assert 3 <= len(result.track_ids) <= 40
    assert set(result.seconds) == {"decode", "detect", "embed", "track", "write"}
    assert result.seconds["detect"] > 0 and result.seconds["embed"] > 0


def test_mot_predict_like_paddlehub(tmp_path):
    seq = shared_path("data", "tud-campus")
    result = mtmct.mot_predict(str(seq / "video.mp4"), output_dir=str(tmp_path), visualization=True,
                               draw_threshold=0.5, use_gpu=False, from_device=False,
                               detector=str(shared_path("models", "yolox-nano-coco")),
                               reid=str(shared_path("models", "omz-person-reid-0287")))
    assert (tmp_path / "mot_outputs" / "video.txt").exists()
    assert (tmp_path / "mot_outputs" / "video.mp4").exists()
    assert len(result.rows) > 0
    with pytest.raises(mtmct.MtmctError):
        mtmct.mot_predict("video.mp4", from_device=True)


@pytest.mark.parametrize("args, needle", [
    (["--det-file", "/nonexistent/det.txt"], "det.txt"),
    ([], "nothing to track"),
    (["--det-file", "DET", "--save-video"], "--save-video"),
    (["SRC", "--det-file", "DET", "--classes", "person"], "--classes"),
    (["--det-file", "DET", "--tracker", "/nonexistent/t.yaml"], "t.yaml"),
])
def test_track_bad_input_one_line_error(args, needle, tmp_path):
    seq = shared_path("data", "tud-campus")
    args = [{"DET": str(seq / "det" / "det.txt"), "SRC": str(seq / "video.mp4")}.get(a, a) for a in args]
    res = cli("track", *args, "--out", str(tmp_path))
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_eval_bad_input(tmp_path):
    res = cli("eval", "mot", "--gt", str(tmp_path / "gt.txt"), "--pred", str(tmp_path / "p.txt"))
    assert res.returncode != 0 and "gt.txt" in res.stderr and "Traceback" not in res.stderr
