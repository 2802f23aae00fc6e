"""`mtmct run` as a user runs it: config in, per-camera files, fused result, failures reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from conftest import shared_path

MTMCT = str(Path(sys.executable).with_name("mtmct"))
ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, timeout=900)


def _config(tmp_path: Path, sources: dict[str, str], **extra) -> Path:
    models = shared_path("models")
    cfg = {
        "name": "t",
        "models": {"detector": str(models / "yolox-nano-coco"), "reid": str(models / "omz-person-reid-0287")},
        "tracker": str(ROOT / "configs" / "trackers" / "deepsort.yaml"),
        "cameras": [{"id": cid, "source": src, "fps": 10} for cid, src in sources.items()],
        "topology": [{"a": "c1", "b": "c2", "overlap": True}],
        **extra,
    }
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_run_writes_outputs_and_reports_a_missing_camera(tmp_path):
    data = shared_path("data", "mtmc-pets09-overlap")
    config = _config(tmp_path, {"c1": str(data / "c1" / "video.mp4"), "c2": str(tmp_path / "gone.mp4")})
    out = tmp_path / "out"
    res = cli("run", str(config), "--out", str(out), "--max-frames", "40")
    assert res.returncode == 1, res.stderr  # partial failure: some cameras done, one failed
    assert "camera c2:" in res.stdout and "gone.mp4" in res.stdout
    assert "camera c1: 40 frames" in res.stdout
    rows = np.loadtxt(out / "cameras" / "c1.txt", delimiter=",", ndmin=2)
    assert rows[:, 0].max() <= 40 and len(rows) > 0
    result = (out / "mtmct_result.txt").read_text().splitlines()
    assert result and all(line.split(",")[0] == "c1" for line in result)
    assert len(result[0].split(",")) == 7
    tracklets = [json.loads(line) for line in (out / "tracklets.jsonl").read_text().splitlines()]
    assert tracklets and all(t["global_id"] >= 1 for t in tracklets)
    for t in tracklets:
        for crop in t["crops"]:
            assert (out / crop).stat().st_size > 0


def test_every_camera_failing_is_a_one_line_error(tmp_path):
    config = _config(tmp_path, {"c1": str(tmp_path / "a.mp4"), "c2": str(tmp_path / "b.mp4")})
    res = cli("run", str(config), "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("mtmct run: error:")]
    assert len(errors) == 1 and "every camera failed" in errors[0] and "Traceback" not in res.stderr, res.stderr


def test_bad_config_names_the_field(tmp_path):
    data = shared_path("data", "mtmc-pets09-overlap")
    config = _config(tmp_path, {"c1": str(data / "c1" / "video.mp4"), "c2": str(data / "c2" / "video.mp4")},
                     topology=[{"a": "c1", "b": "c9", "overlap": True}])
    res = cli("run", str(config), "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and "c9" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # rejected before any work
    res = cli("run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and "nope.yaml" in res.stderr


def test_unreachable_ray_cluster_is_a_one_line_error(tmp_path):
    data = shared_path("data", "mtmc-pets09-overlap")
    config = _config(tmp_path, {"c1": str(data / "c1" / "video.mp4"), "c2": str(data / "c2" / "video.mp4")})
    res = cli("run", str(config), "--out", str(tmp_path / "out"), "--ray-address", "127.0.0.1:1")
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().startswith("mtmct run: error: cannot start or join Ray at 127.0.0.1:1")
