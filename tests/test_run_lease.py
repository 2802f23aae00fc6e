"""One writer per run id (storage.run_lease), on SQLite and PostgreSQL.

Found: two `mtmct run --run-id mix` at once: the second "replaced" the first, finished, reported its run stored,
and was then silently overwritten by the first. Now the second is refused in one line naming the holder, unless
it asks to take over; then the first stops at its next write and stores nothing more. A lease left by a killed
run is taken without asking (its process is gone), so `--resume` right after a SIGKILL works.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import insert, select

from conftest import shared_path
from mtmct.core.tracklet import Tracklet
from storage import Repository, open_database, run_lease
from storage.run_lease import RunLocked, RunTakenOver
from storage.schema import Run, RunLease, TrackletRow

MTMCT = str(Path(sys.executable).with_name("mtmct"))
FRAMES = "30"


def _dead_pid() -> int:
    """A pid that is not running on this host: a finished child's."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant(repo: Repository, run_id: str, host: str, pid: int, silent_s: float) -> None:
    """A lease row as another writer would have left it, last renewed ``silent_s`` seconds ago."""
    then = datetime.now(timezone.utc) - timedelta(seconds=silent_s)
    with repo.db.write() as conn:
        conn.execute(insert(RunLease).values(run_id=run_id, owner="other", host=host, pid=pid, started_at=then,
                                             heartbeat_at=then))


def _tracklet(cam: str = "c1") -> Tracklet:
    return Tracklet(camera_id=cam, track_id=1, cls=0, frames=np.arange(1, 4), times=np.arange(3, dtype=float),
                    boxes=np.ones((3, 4), np.float32), scores=np.ones(3, np.float32), embedding=None)


def test_a_second_writer_is_refused_in_one_line_and_the_first_goes_on(db_url):
    first, second = Repository(open_database(db_url)), Repository(open_database(db_url))
    with first.hold("mix"):
        first.start_run("mix", "cfg", "mix", ["c1"])
        with pytest.raises(RunLocked) as info:
            with second.hold("mix"):
                pass
        message = str(info.value)
        assert "\n" not in message and f"pid {os.getpid()} on host {socket.gethostname()}" in message
        assert "--take-over" in message
        first.write_camera("mix", "c1", None, [_tracklet()])  # the holder is untouched
        first.finish_run("mix")
    assert first.run_status("mix") == "finished" and first.stored_cameras("mix") == ["c1"]
    assert run_lease.holder(first.db, "mix") is None  # released at the end


def test_take_over_stops_the_first_writer_at_its_next_write(db_url):
    first, second = Repository(open_database(db_url)), Repository(open_database(db_url))
    with first.hold("mix"):
        first.start_run("mix", "cfg-first", "mix", ["c1"])
        with second.hold("mix", take_over=True):
            second.start_run("mix", "cfg-second", "mix", ["c1"])
            with pytest.raises(RunTakenOver, match=r"run 'mix' was taken over by pid \d+ on host"):
                first.write_camera("mix", "c1", None, [_tracklet()])
            with pytest.raises(RunTakenOver):
                first.finish_run("mix")
            second.write_camera("mix", "c1", None, [_tracklet()])
            second.finish_run("mix")
        assert run_lease.holder(first.db, "mix") is None  # the taker released it; the first cannot drop it
    assert second.run_status("mix") == "finished"
    with second.db.engine.connect() as conn:  # the first's writes never landed: the second's config and tracklet
        assert conn.execute(select(Run.config).where(Run.id == "mix")).scalar_one() == "cfg-second"
        assert len(conn.execute(select(TrackletRow.track_id).where(TrackletRow.run_id == "mix")).all()) == 1


def test_a_lease_whose_process_is_gone_is_taken_without_asking(db_url):
    repo = Repository(open_database(db_url))
    _plant(repo, "killed", socket.gethostname(), _dead_pid(), silent_s=1)
    with repo.hold("killed"):  # what `--resume` after a SIGKILL needs
        assert run_lease.holder(repo.db, "killed").pid == os.getpid()


@pytest.mark.parametrize(("silent_s", "free"), [(run_lease.STALE_AFTER_S + 5, True), (1, False)])
def test_a_lease_on_another_host_is_free_only_once_it_stopped_renewing(db_url, silent_s, free):
    repo = Repository(open_database(db_url))
    _plant(repo, "far", "another-host.example", 4242, silent_s=silent_s)
    if free:
        with repo.hold("far"):
            assert run_lease.holder(repo.db, "far").host == socket.gethostname()
    else:
        with pytest.raises(RunLocked, match="pid 4242 on host another-host.example"):
            with repo.hold("far"):
                pass
        assert run_lease.holder(repo.db, "far").owner == "other"  # refused: nothing touched


def test_the_heartbeat_renews_the_lease(db_url):
    repo = Repository(open_database(db_url))
    with run_lease.held(repo.db, "beat", heartbeat_s=0.2):
        first = run_lease.holder(repo.db, "beat").heartbeat_at
        time.sleep(1.0)
        assert run_lease.holder(repo.db, "beat").heartbeat_at > first


# ---- two real `mtmct run` processes with one run id ---------------------------------------------------------

def _config(tmp_path: Path) -> Path:
    """Two cameras: Ray's start alone (seconds) gives a second run time to meet the first while it holds the
    lease, which it takes before starting Ray."""
    cfg = {"name": "mix",
           "models": {"detector": str(shared_path("models", "yolox-nano-coco")),
                      "reid": str(shared_path("models", "omz-person-reid-0287"))},
           "cameras": [{"id": "c1", "source": str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4"))},
                       {"id": "c2", "source": str(shared_path("data", "mtmc-pets09-overlap", "c2", "video.mp4"))}]}
    path = tmp_path / "mix.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _start(config: Path, url: str, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([MTMCT, "run", str(config), "--out", str(out), "--db", url, "--run-id", "mix",
                             "--max-frames", FRAMES, "--num-cpus", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_lease(proc: subprocess.Popen, repo: Repository) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if run_lease.holder(repo.db, "mix") is not None:
                return
        except Exception:  # noqa: BLE001 - the first run may still be creating the database
            pass
        time.sleep(0.05)
    pytest.fail(f"the first run never took the lease (exit {proc.poll()})")


def _last_line(stderr: str) -> str:
    """The CLI's one-line error: the last line (progress bars and Ray's banner come before it)."""
    return stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_two_runs_of_one_id_at_once(pg_url, tmp_path):
    """Refused without asking, the first intact; with --take-over the second's result is what stays. Real
    processes on PostgreSQL (the server case); the lease itself is tested on both engines above."""
    db_url = pg_url
    config = _config(tmp_path)
    repo = Repository(open_database(db_url))
    first = _start(config, db_url, tmp_path / "a")
    _wait_for_lease(first, repo)
    refused = subprocess.run([MTMCT, "run", str(config), "--out", str(tmp_path / "b"), "--db", db_url,
                              "--run-id", "mix", "--max-frames", FRAMES], capture_output=True, text=True, timeout=120)
    out, err = first.communicate(timeout=600)
    assert refused.returncode == 2, refused.stderr
    assert _last_line(refused.stderr).startswith("mtmct run: error: run 'mix' is being written by pid")
    assert first.returncode == 0, err
    assert repo.run_status("mix") == "finished" and repo.stored_cameras("mix") == ["c1", "c2"]
    assert not (tmp_path / "b" / "mtmct_result.txt").exists()  # the refused run wrote nothing

    victim = _start(config, db_url, tmp_path / "c")
    _wait_for_lease(victim, repo)
    taker = _start(config, db_url, tmp_path / "d", "--take-over")
    taker_out, taker_err = taker.communicate(timeout=600)
    victim_out, victim_err = victim.communicate(timeout=600)
    assert taker.returncode == 0, taker_err
    assert victim.returncode == 2, victim_err
    assert _last_line(victim_err).startswith("mtmct run: error: run 'mix' was taken over by pid"), victim_err
    assert "Traceback" not in victim_err
    assert repo.run_status("mix") == "finished" and repo.stored_cameras("mix") == ["c1", "c2"]
    assert (tmp_path / "d" / "mtmct_result.txt").exists() and not (tmp_path / "c" / "mtmct_result.txt").exists()
    assert run_lease.holder(repo.db, "mix") is None
