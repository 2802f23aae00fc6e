"""`mtmct detect` as a user runs it: a subprocess of the installed console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path

MTMCT = str(Path(sys.executable).with_name("mtmct"))
DETECTORS = ["yolox-nano-coco", "omz-pedestrian-detection-adas-0002"]


def mtmct(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, cwd=cwd, env=os.environ.copy(), timeout=600)


@pytest.mark.parametrize("model", DETECTORS)
def test_detect_whole_video_writes_det_file_with_progress(model, tmp_path):
    video = shared_path("data", "pets09-s2l1", "video.avi")
    res = mtmct("detect", str(video), "--detector", str(shared_path("models", model)), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "frame/s" in res.stderr  # tqdm's progress bar with the rate
    rows = np.loadtxt(tmp_path / "video.txt", delimiter=",", ndmin=2)
    assert rows.shape[1] == 10
    frames = set(rows[:, 0].astype(int))
    assert min(frames) >= 1 and max(frames) <= 795 and len(frames) > 700  # people in almost every frame
    assert (rows[:, 1] == -1).all() and (rows[:, 7:] == -1).all()
    assert (rows[:, 6] >= 0.3).all() and (rows[:, 6] <= 1).all()
    x, y, w, h = rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    assert (w > 0).all() and (h > 0).all() and (x >= 0).all() and (y >= 0).all()
    assert (x + w <= 480.01).all() and (y + h <= 360.01).all()
    assert "795 frames" in res.stdout


def test_detect_save_video(tmp_path):
    import cv2

    frames = shared_path("data", "mot17-mini", "train", "MOT17-05-FRCNN")
    res = mtmct("detect", str(frames), "--detector", str(shared_path("models", DETECTORS[0])),
                "--out", str(tmp_path), "--save-video")
    assert res.returncode == 0, res.stderr
    cap = cv2.VideoCapture(str(tmp_path / "MOT17-05-FRCNN.mp4"))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape[:2] == (480, 640) and n == 6


def _bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    model = str(shared_path("models", DETECTORS[0]))
    video = str(shared_path("data", "pets09-s2l1", "video.avi"))
    return {
        "missing file": [str(tmp_path / "nope.mp4"), "--detector", model],
        "text renamed .mp4": [str(text), "--detector", model],
        "empty folder": [str(empty), "--detector", model],
        "unknown model": [video, "--detector", "no_such_model"],
        "missing model path": [video, "--detector", str(tmp_path / "models" / "x.onnx")],
    }


@pytest.mark.parametrize("case", ["missing file", "text renamed .mp4", "empty folder", "unknown model",
                                  "missing model path"])
def test_detect_bad_input_one_line_error(case, tmp_path):
    args = _bad_inputs(tmp_path)[case]
    res = mtmct("detect", *args, "--out", str(tmp_path / "out"))
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("mtmct detect: error:")
    assert "Traceback" not in res.stderr
    named = args[-1] if case.endswith("model") or case == "missing model path" else args[0]
    assert Path(named).name in lines[0] or named in lines[0]
