"""Runs are safe to repeat and to interrupt: SIGKILL half-way, `--resume`, and the database equals an
uninterrupted run; re-running a run id replaces it. On PostgreSQL and SQLite alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from conftest import shared_path
from storage import Repository, open_database
from storage.engine import create_db_engine

MTMCT = str(Path(sys.executable).with_name("mtmct"))
ROOT = Path(__file__).resolve().parents[1]
FRAMES = "250"  # the long camera; the short one has 98 frames, so a kill lands between them with margin

QUERIES = {  # everything a run stores, without its run id, in a stable order
    "cameras": "SELECT camera_id, frames, status, error FROM cameras WHERE run_id = :r ORDER BY camera_id",
    "boxes": "SELECT camera_id, frame, time, track_id, x, y, w, h, score, cls FROM boxes WHERE run_id = :r "
             "ORDER BY camera_id, frame, track_id",
    "tracklets": "SELECT camera_id, track_id, cls, start_frame, end_frame, start_time, end_time, n_frames, quality, "
                 "flags, embedding, global_id FROM tracklets WHERE run_id = :r ORDER BY camera_id, track_id",
    "crops": "SELECT camera_id, track_id, idx, jpeg FROM tracklet_crops WHERE run_id = :r "
             "ORDER BY camera_id, track_id, idx",
    "identities": "SELECT global_id, n_cameras, n_tracklets, first_time, last_time FROM identities "
                  "WHERE run_id = :r ORDER BY global_id",
}


def _snapshot(url: str, run_id: str) -> dict[str, list]:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        out = {name: [tuple(row) for row in conn.execute(text(sql), {"r": run_id})] for name, sql in QUERIES.items()}
    engine.dispose()
    return out


def _config(tmp_path: Path) -> Path:
    """A short camera (98 frames) beside a longer one, so a kill can land after one camera is stored."""
    cfg = {
        "name": "resume",
        "models": {"detector": str(shared_path("models", "yolox-nano-coco")),
                   "reid": str(shared_path("models", "omz-person-reid-0287"))},
        "tracker": str(ROOT / "configs" / "trackers" / "deepsort.yaml"),
        "cameras": [{"id": "short", "source": str(shared_path("data", "epfl-lab-2cam", "Double1.mp4"))},
                    {"id": "long", "source": str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4"))}],
        "topology": [{"a": "short", "b": "long", "min_s": 0, "max_s": 30}],
    }
    path = tmp_path / "cameras.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(config: Path, url: str, out: Path, run_id: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, "run", str(config), "--out", str(out), "--db", url, "--run-id", run_id,
                           "--max-frames", FRAMES, *extra], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted_run(db_url, tmp_path):
    config = _config(tmp_path)
    proc = subprocess.Popen([MTMCT, "run", str(config), "--out", str(tmp_path / "a"), "--db", db_url,
                             "--run-id", "killed", "--max-frames", FRAMES],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    repo = None
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                repo = repo or Repository(open_database(db_url))
                if repo.stored_cameras("killed"):
                    break
            except Exception:  # noqa: BLE001 - the run has not registered itself yet
                pass
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed mid-way"
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its Ray workers, no chance to clean up
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert repo.run_status("killed") == "running"  # left marked unfinished
    assert repo.stored_cameras("killed") == ["short"]  # the finished camera is kept, consistently

    resumed = _run(config, db_url, tmp_path / "a", "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "camera short: " in resumed.stdout
    straight = _run(config, db_url, tmp_path / "b", "straight")
    assert straight.returncode == 0, straight.stderr

    assert repo.run_status("killed") == repo.run_status("straight") == "finished"
    a, b = _snapshot(db_url, "killed"), _snapshot(db_url, "straight")
    for table in QUERIES:
        assert a[table] == b[table], f"{table} differs after resume"
    assert len(a["boxes"]) > 100 and len(a["identities"]) > 0

    again = _run(config, db_url, tmp_path / "b", "straight")  # same id again: replaced, not duplicated
    assert again.returncode == 0, again.stderr
    assert _snapshot(db_url, "straight") == b
    runs = [r.id for r in repo.list_runs()]
    assert sorted(runs) == ["killed", "straight"]
