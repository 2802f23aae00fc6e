"""`mtmct run CONFIG --realtime`: every camera read at its own pace, all at once even with more cameras than CPUs,
each dropping what it cannot keep up with; the counts are printed and stored.

Three real clips (mtmc-pets09-gap2's c1, c2 and mtmc-pets09-overlap's c1) declared at 100 fps, far above what
detection + ReID of three cameras sustain on two CPUs, so every camera must drop; their first 150 frames (1.5 s
of footage each)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import shared_path
from storage import Repository, open_database

ROOT = Path(__file__).resolve().parents[1]
MTMCT = str(Path(sys.executable).with_name("mtmct"))
FRAMES = 150


def test_realtime_run_drops_frames_counts_them_and_stores_the_counts(tmp_path: Path) -> None:
    clips = {"g1": ("mtmc-pets09-gap2", "c1"), "g2": ("mtmc-pets09-gap2", "c2"), "o1": ("mtmc-pets09-overlap", "c1")}
    cfg = {
        "name": "realtime",
        "models": {"detector": str(shared_path("models", "yolox-nano-coco")),
                   "reid": str(shared_path("models", "omz-person-reid-0277"))},
        "cameras": [{"id": cam, "source": str(shared_path("data", s, c, "video.mp4")), "fps": 100}
                    for cam, (s, c) in clips.items()],
        "topology": [{"a": "g1", "b": "g2"}, {"a": "g2", "b": "o1"}],
    }
    config = tmp_path / "cameras.yaml"
    config.write_text(yaml.safe_dump(cfg))
    done = subprocess.run([MTMCT, "run", str(config), "--out", str(tmp_path / "out"), "--realtime", "--num-cpus", "2",
                           "--max-frames", str(FRAMES)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    printed = {m[0]: (int(m[1]), int(m[2])) for m in
               re.findall(r"camera (\w+): (\d+) frames \(\+(\d+) dropped to keep up\)", done.stdout)}
    assert sorted(printed) == sorted(clips), done.stdout
    repo = Repository(open_database(f"sqlite:///{tmp_path / 'out' / 'mtmct.db'}"))
    stored = {c.camera_id: (c.frames, c.dropped) for c in repo.list_cameras("realtime")}
    assert stored == printed
    for frames, dropped in stored.values():  # the first 150 frames of the footage, each processed or dropped
        assert frames + dropped == FRAMES and frames > 0 and dropped > 0
    assert {t.camera_id for t in repo.load_tracklets("realtime")} == set(clips)
