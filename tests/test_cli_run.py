"""`mtmct run` as a user runs it: config in, per-camera files, fused result, failures reported."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import shared_path
from mtmct.core.camera_config import load_camera_config

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


CAMERAS = "cameras:\n  - {id: c1, source: c1.mp4}\n  - {id: c2, source: c2.mp4}\n"
BAD_CONFIGS = [  # YAML text (``.inf`` is YAML's infinity), the start of the message after the file name
    (CAMERAS + "tracker: {max_agee: 3}\n", "tracker.max_agee: unknown key (known: type, max_age, n_init,"),
    (CAMERAS + "fusion: {simlarity: 0.4}\n", "fusion.simlarity: unknown key (known: similarity, overlap_similarity,"),
    (CAMERAS + "fusion: {similarity: high}\n", "fusion.similarity: must be a number, got 'high'"),
    ("cameras:\n  - {id: c1, source: c1.mp4, clock_offset: .inf}\n",
     "cameras[0].clock_offset: must be a finite number, got inf"),
    ("cameras:\n  - {id: c1, source: c1.mp4, fps: .inf}\n", "cameras[0].fps: must be a finite number, got inf"),
    (CAMERAS + "topology: {links: [{a: c1, b: c2, overlap: true}], overlap_gap_s: -1}\n",
     "topology.overlap_gap_s: must be greater than or equal to 0, got -1"),
    (CAMERAS + "tracklets: {min_frames: 0}\n", "tracklets.min_frames: must be greater than or equal to 1, got 0"),
    (CAMERAS + "tracker: tracker.yaml\n", "tracker: {tmp}/tracker.yaml: n_inti: unknown key (known: type, max_age,"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not a text (UTF-8) file, byte 0 is 0x89"),
]


@pytest.mark.parametrize("text,message", BAD_CONFIGS, ids=[m.split(":")[0] for _, m in BAD_CONFIGS])
def test_bad_config_fails_in_one_line_before_any_camera_runs(tmp_path, text, message):
    """Issue 9's acceptance: a typo, a word for a number, an infinite time exit 2 with one line naming the file
    and the key, before Ray, models or the database start (seconds, and nothing written)."""
    (tmp_path / "tracker.yaml").write_text("max_age: 30\nn_inti: 2\n")
    config = tmp_path / "cameras.yaml"
    config.write_bytes(text if isinstance(text, bytes) else text.encode())
    started = time.perf_counter()
    res = cli("run", str(config), "--out", str(tmp_path / "out"))
    elapsed = time.perf_counter() - started
    assert res.returncode == 2 and res.stdout == "", res.stderr
    assert len(res.stderr.splitlines()) == 1
    assert res.stderr.startswith(f"mtmct run: error: {config}: {message.format(tmp=tmp_path)}")
    assert not (tmp_path / "out").exists()  # no camera output, no database: nothing ran
    assert elapsed < 10, f"took {elapsed:.1f} s: something started before the config was checked"
    check = cli("config", "check", str(config))
    assert check.returncode == 2 and check.stderr.startswith(f"mtmct config: error: {config}: ")


def test_config_check_and_schema_commands(tmp_path):
    shipped = sorted((ROOT / "configs" / "cameras").glob("*.yaml"))
    res = cli("config", "check", *map(str, shipped))
    expected = []
    for p in shipped:
        cfg = load_camera_config(p)
        tracker = "tracker checked" if cfg.tracker is not None else "shipped tracker preset"
        expected.append(f"{p}: OK ({len(cfg.cameras)} cameras, {len(cfg.topology.links)} links, {tracker})")
    assert res.returncode == 0 and res.stdout.splitlines() == expected, res.stderr
    assert f"{ROOT / 'configs' / 'cameras' / 'pets09-multiview.yaml'}: OK (3 cameras, 3 links" in res.stdout
    res = cli("config", "schema", "--out", str(tmp_path / "schema.json"))
    assert res.returncode == 0
    assert (tmp_path / "schema.json").read_text() == (ROOT / "configs" / "cameras" / "schema.json").read_text()


def test_unreachable_ray_cluster_is_a_one_line_error(tmp_path):
    data = shared_path("data", "mtmc-pets09-overlap")
    config = _config(tmp_path, {"c1": str(data / "c1" / "video.mp4"), "c2": str(data / "c2" / "video.mp4")})
    res = cli("run", str(config), "--out", str(tmp_path / "out"), "--ray-address", "127.0.0.1:1")
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().startswith("mtmct run: error: cannot start or join Ray at 127.0.0.1:1")


@pytest.mark.parametrize("flag", ["--num-cpus", "--max-frames"])
def test_zero_cpus_or_frames_is_a_one_line_error_before_anything_runs(tmp_path, flag):
    """A pool of 0 slots would never start a camera: refused up front, like --max-frames 0."""
    config = tmp_path / "cameras.yaml"
    config.write_text(CAMERAS)
    res = cli("run", str(config), "--out", str(tmp_path / "out"), flag, "0")
    assert res.returncode == 2 and res.stderr == f"mtmct run: error: {flag} must be at least 1, got 0\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--live-pieces", "5"], "--live-delay and --live-pieces only go with --live"),
    (["--live", "--live-pieces", "-1"], "--live-pieces must be 0 (no pieces) or more seconds, got -1.0"),
    (["--live", "--live-pieces", "inf"], "--live-pieces must be 0 (no pieces) or more seconds, got inf"),
    (["--live", "--live-delay", "-2"], "--live-delay must be 0 or more seconds, got -2.0"),
])
def test_bad_live_options_are_one_line_errors_before_anything_runs(tmp_path, args, message):
    config = tmp_path / "cameras.yaml"
    config.write_text(CAMERAS)
    res = cli("run", str(config), "--out", str(tmp_path / "out"), *args)
    assert res.returncode == 2 and res.stderr == f"mtmct run: error: {message}\n"
    assert not (tmp_path / "out").exists()


def test_missing_gt_is_a_one_line_error_before_anything_runs(tmp_path):
    config = tmp_path / "cameras.yaml"
    config.write_text(CAMERAS)
    res = cli("run", str(config), "--out", str(tmp_path / "out"), "--gt", str(tmp_path / "none.txt"))
    assert res.returncode == 2 and res.stderr == f"mtmct run: error: --gt {tmp_path / 'none.txt'} does not exist\n"
    assert not (tmp_path / "out").exists()


def test_summary_shows_what_fusion_chose_and_the_scores_against_gt(tmp_path):
    """The example non-overlapping set (71 frames a camera): the summary prints each threshold with its source and
    the learned window, exactly as stored with the run, and `--gt` adds the same scores `mtmct eval mtmc` gives."""
    from storage import Repository, open_database

    gt = shared_path("data", "mtmc-tud-campus-gap2", "mtmc_gt.txt")
    out = tmp_path / "out"
    res = cli("run", str(ROOT / "configs" / "cameras" / "tud-campus-gap2.yaml"), "--out", str(out), "--gt", str(gt))
    assert res.returncode == 0, res.stderr
    db = open_database(f"sqlite:///{out / 'mtmct.db'}")
    try:
        report = Repository(db).fusion_report("tud-campus-gap2")
    finally:
        db.close()
    assert report is not None and report.thresholds and report.links
    lines = res.stdout.splitlines()
    shown = next(line for line in lines if line.startswith("fusion thresholds: "))
    for t in report.thresholds:
        assert f"{t.name} {t.value:.3f} ({t.source}" in shown
    for link in report.links:
        assert any(line.startswith(f"link {link.a}-{link.b}: ") and f"({link.source}" in line for line in lines)
    evaluated = cli("eval", "mtmc", "--gt", str(gt), "--pred", str(out / "mtmct_result.txt"))
    assert evaluated.returncode == 0, evaluated.stderr
    idf1 = next(line for line in lines if line.startswith("cross-camera IDF1 "))
    assert idf1.split(",")[0].split()[-1] == evaluated.stdout.split("ALL (global ids)")[1].split()[0]
    fully = next(line for line in lines if "fully linked" in line)
    assert fully in evaluated.stdout
