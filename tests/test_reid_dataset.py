"""`mtmct dataset reid-from-mot`: Market-style crops from PETS09-S2L1, and hand-built frames that pin the rules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared_path
from mtmct.core.errors import MtmctError
from mtmct.reid_dataset import clip_box, parse_camera_id, parse_frames, reid_from_mot

MTMCT = str(Path(sys.executable).with_name("mtmct"))
NAME = re.compile(r"^(\d{4})_c(\d+)s1_(\d{6})_00\.jpg$")


def mtmct(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_pets_crops_follow_market_names_frames_and_gt_boxes(tmp_path):
    pets = shared_path("data", "pets09-s2l1")
    res = mtmct("dataset", "reid-from-mot", "--video", str(pets / "video.avi"), "--gt", str(pets / "gt" / "gt.txt"),
                "--camera-id", "c2", "--frames", "401:795", "--every", "10", "--min-height", "40",
                "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    parsed = [NAME.match(n) for n in names]
    assert all(parsed), names[:5]
    frames = {int(m.group(3)) for m in parsed}
    assert frames <= set(range(401, 796, 10)) and len(frames) > 30
    assert {m.group(2) for m in parsed} == {"2"}
    ids = {int(m.group(1)) for m in parsed}
    assert f"{len(names)} crops of {len(ids)} ids" in res.stdout
    gt = np.loadtxt(pets / "gt" / "gt.txt", delimiter=",")
    for m in parsed[::25]:  # crop sizes are the gt boxes clipped to the 480x360 frame, all at least 40 px tall
        pid, frame = int(m.group(1)), int(m.group(3))
        x, y, w, h = gt[(gt[:, 0] == frame) & (gt[:, 1] == pid)][0, 2:6]
        x0, y0, x1, y1 = max(0, round(x)), max(0, round(y)), min(480, round(x + w)), min(360, round(y + h))
        crop = cv2.imread(str(tmp_path / m.group(0)))
        assert crop.shape[:2] == (y1 - y0, x1 - x0) and y1 - y0 >= 40


def test_conf_flag_clipping_min_height_and_every_on_hand_built_frames(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for k in range(1, 6):
        cv2.imwrite(str(frames / f"{k:06d}.png"), np.full((100, 80, 3), 40 * k, np.uint8))
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join([
        "1,3,10,10,20,50,1,-1,-1,-1",    # kept
        "1,4,10,10,20,50,0,-1,-1,-1",    # conf flag 0: ignored
        "2,3,10,10,20,50,1,-1,-1,-1",    # frame 2 is not every 2nd from 1
        "3,3,70,-20,20,60,1,-1,-1,-1",   # clipped to x 70..80, y 0..40
        "3,12,5,5,10,20,1,-1,-1,-1",     # 20 px tall < min height 30
        "5,12,0,50,30,80,1,-1,-1,-1",    # clipped to y 50..100
    ]) + "\n")
    out = tmp_path / "out"
    result = reid_from_mot(frames, gt, 7, out, frames=(1, 5), every=2, min_height=30)
    assert result == {"crops": 3, "ids": 2, "frames": 3}
    shapes = {p.name: cv2.imread(str(p)).shape[:2] for p in out.iterdir()}
    assert shapes == {"0003_c7s1_000001_00.jpg": (50, 20), "0003_c7s1_000003_00.jpg": (40, 10),
                      "0012_c7s1_000005_00.jpg": (50, 30)}


@pytest.mark.parametrize("text,expected", [("2", 2), ("c2", 2), ("C12", 12), (" 3 ", 3)])
def test_camera_id_accepts_number_or_c_number(text, expected):
    assert parse_camera_id(text) == expected


@pytest.mark.parametrize("text,expected", [("1:400", (1, 400)), ("401:795", (401, 795)), ("5:", (5, None)),
                                           ("7:7", (7, 7))])
def test_frame_range_parses(text, expected):
    assert parse_frames(text) == expected


@pytest.mark.parametrize("text", ["0:5", "10:3", "a:b", "5", "1:2:3", "-1:4"])
def test_bad_frame_range_raises(text):
    with pytest.raises(MtmctError, match="frame range"):
        parse_frames(text)


def test_clip_box_inside_and_outside():
    assert clip_box(-5, -5, 20, 30, 100, 50) == (0, 0, 15, 25)
    x0, _, x1, _ = clip_box(120, 10, 10, 10, 100, 50)
    assert x1 <= x0  # wholly outside: nothing left to crop


@pytest.mark.parametrize("case", ["missing video", "missing gt", "reversed range", "range past the end",
                                  "camera not a number"])
def test_bad_input_one_line_error(case, tmp_path):
    pets = shared_path("data", "pets09-s2l1")
    video, gt = str(pets / "video.avi"), str(pets / "gt" / "gt.txt")
    args = {"--video": video, "--gt": gt, "--camera-id": "1", "--frames": "1:10"}
    named = {"missing video": ("--video", str(tmp_path / "nope.avi")),
             "missing gt": ("--gt", str(tmp_path / "gt.txt")),
             "reversed range": ("--frames", "400:1"),
             "range past the end": ("--frames", "900:950"),
             "camera not a number": ("--camera-id", "left")}[case]
    args[named[0]] = named[1]
    res = mtmct("dataset", "reid-from-mot", *[x for kv in args.items() for x in kv], "--out", str(tmp_path / "out"))
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mtmct dataset: error:"), res.stderr
    assert Path(named[1]).name in lines[0] or named[1] in lines[0]
