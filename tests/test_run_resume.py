"""Runs are safe to repeat and to interrupt: SIGKILL half-way, `--resume`, and the database equals an
uninterrupted run; re-running a run id replaces it. On PostgreSQL and SQLite alike.

More cameras than CPUs: eight short virtual cameras (cut from pets09-s2l1 at test time) on 2 CPUs run to the end,
and SIGINT / SIGTERM sent mid-run to the whole process group (what a terminal's Ctrl-C and a service manager do)
stop the run within seconds, with one line and exit 130 / 143; `--resume` then stores what the uninterrupted run
stored."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
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
    "fusion_report": "SELECT fusion_report FROM runs WHERE id = :r",  # what fusion chose, stored with the run
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


def _wait_for_a_stored_camera(proc: subprocess.Popen, url: str, run_id: str) -> Repository:
    """Poll the database until the running ``proc`` has stored a camera of ``run_id``: the moment to interrupt
    it, with work both done and left. Fails if the run ends first."""
    repo = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            repo = repo or Repository(open_database(url))
            if repo.stored_cameras(run_id):
                break
        except Exception:  # noqa: BLE001 - the run has not registered itself yet
            pass
        time.sleep(0.1)
    assert proc.poll() is None and repo is not None, "the run ended before it could be interrupted mid-way"
    return repo


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted_run(db_url, tmp_path):
    config = _config(tmp_path)
    proc = subprocess.Popen([MTMCT, "run", str(config), "--out", str(tmp_path / "a"), "--db", db_url,
                             "--run-id", "killed", "--max-frames", FRAMES],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        repo = _wait_for_a_stored_camera(proc, db_url, "killed")
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and Ray's GCS and raylet: no chance to clean up
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


# ---- eight cameras on two CPUs ----------------------------------------------------------------------------

CLIP_FRAMES = 20  # per virtual camera: a few seconds of work each, so eight of them queue on two CPUs


def _eight_cameras(folder: Path) -> Path:
    """Eight virtual cameras cut from pets09-s2l1: four time slices of CLIP_FRAMES frames, each seen by a left
    and a right 320x240 crop that overlap by half, so fusion links people across cameras too."""
    cap = cv2.VideoCapture(str(shared_path("data", "pets09-s2l1", "video.avi")))
    frames = []
    while len(frames) < 4 * CLIP_FRAMES:
        ok, image = cap.read()
        assert ok, "pets09-s2l1 is shorter than expected"
        frames.append(image)
    cap.release()
    cameras, topology = [], []
    for k in range(8):
        part, x0 = k // 2, (k % 2) * 160
        path = folder / f"v{k}.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
        for image in frames[part * CLIP_FRAMES:(part + 1) * CLIP_FRAMES]:
            writer.write(image[60:300, x0:x0 + 320])
        writer.release()
        cameras.append({"id": f"v{k}", "source": str(path), "fps": 10})
        if k % 2:
            topology.append({"a": f"v{k - 1}", "b": f"v{k}", "overlap": True})
    cfg = {
        "name": "eight",
        "models": {"detector": str(shared_path("models", "yolox-nano-coco")),
                   "reid": str(shared_path("models", "omz-person-reid-0287"))},
        "tracker": str(ROOT / "configs" / "trackers" / "deepsort.yaml"),
        "cameras": cameras,
        "topology": topology,
    }
    path = folder / "cameras.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run_eight(config: Path, url: str, out: Path, run_id: str, *extra: str) -> list[str]:
    return [MTMCT, "run", str(config), "--out", str(out), "--db", url, "--run-id", run_id, "--num-cpus", "2", *extra]


@dataclass
class Eight:
    config: Path
    url: str
    folder: Path
    reference: dict[str, list]
    run: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def eight(tmp_path_factory) -> Eight:
    """The one uninterrupted eight-camera run of this module: the 2-CPU test checks it, the signal tests compare
    their resumed runs with it (same SQLite database, run ids apart)."""
    folder = tmp_path_factory.mktemp("eight")
    config = _eight_cameras(folder)
    url = f"sqlite:///{folder / 'mtmct.db'}"
    run = subprocess.run(_run_eight(config, url, folder / "straight", "straight"), capture_output=True, text=True,
                         timeout=300)  # the old code hung here forever: cameras 3-8 never got a CPU
    return Eight(config, url, folder, _snapshot(url, "straight"), run)


@pytest.mark.slow
def test_eight_cameras_on_two_cpus_run_to_the_end(eight):
    assert eight.run.returncode == 0, eight.run.stderr[-3000:]
    for k in range(8):
        assert f"camera v{k}: {CLIP_FRAMES} frames" in eight.run.stdout
    repo = Repository(open_database(eight.url))
    assert repo.run_status("straight") == "finished"
    assert repo.stored_cameras("straight") == [f"v{k}" for k in range(8)]
    ref = eight.reference
    assert [row[:3] for row in ref["cameras"]] == [(f"v{k}", CLIP_FRAMES, "finished") for k in range(8)]
    assert {row[0] for row in ref["tracklets"]} == {f"v{k}" for k in range(8)}  # every camera saw people
    assert any(row[1] > 1 for row in ref["identities"])  # the overlapping crops are linked
    # the progress shows the queue, and never more cameras at once than the 2 CPUs
    progress = [tuple(map(int, m)) for m in re.findall(r"(\d+) running, (\d+) queued", eight.run.stderr)]
    assert (2, 6) in progress, eight.run.stderr[-2000:]
    assert max(running for running, _ in progress) == 2 and progress[-1] == (0, 0)
    assert "v7 (queued)" in eight.run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_run_stops_cleanly_and_resume_equals_uninterrupted_run(eight, sig):
    name, run_id = sig.name, sig.name.lower()
    logs = eight.folder / f"{run_id}.out", eight.folder / f"{run_id}.err"
    with open(logs[0], "w") as stdout, open(logs[1], "w") as stderr:  # files: a full pipe would stall the run
        proc = subprocess.Popen(_run_eight(eight.config, eight.url, eight.folder / run_id, run_id),
                                stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        repo = _wait_for_a_stored_camera(proc, eight.url, run_id)
        sent = time.monotonic()
        os.killpg(proc.pid, sig)  # the whole group, Ray's own processes included, as a terminal or systemd does
        proc.wait(timeout=60)
        stop_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out, err = logs[0].read_text(), logs[1].read_text()

    assert proc.returncode == 128 + sig, err[-3000:]
    assert stop_s < 10, f"{name}: {stop_s:.1f} s from the signal to the exit"
    stored = repo.stored_cameras(run_id)
    assert 1 <= len(stored) < 8
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("mtmct run:")]
    assert lines == [f"mtmct run: interrupted ({name}): {len(stored)} of 8 cameras stored; finish with --resume"]
    for crash in ("Traceback", "***", "Error", "raylet", "core_worker", "(CameraWorker"):
        assert crash not in err, f"{name}: {crash!r} on stderr:\n{err[-3000:]}"
    assert "camera v" not in out  # no summary: the run did not finish
    assert repo.run_status(run_id) == "running"  # left unfinished for --resume

    resumed = subprocess.run(_run_eight(eight.config, eight.url, eight.folder / run_id, run_id, "--resume"),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert repo.run_status(run_id) == "finished"
    got = _snapshot(eight.url, run_id)
    for table in QUERIES:
        assert got[table] == eight.reference[table], f"{table} differs after {name} and --resume"
