"""`mtmct run CONFIG --live --realtime`: global ids appear in the database while the footage still runs, every id
decision is stored as history, and the run ends with the offline fusion's grouping under the ids given live.

The shipped configs/cameras/pets09-overlap.yaml (two overlapping cameras at 10 fps), its first 250 frames (25 s
in real time); the test polls the run's SQLite database as a dashboard would. A second run is killed (SIGKILL) half
way and resumed: the ids it gave are kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from fusion.fusion import fuse
from fusion.online_fusion import replay
from fusion.topology import Topology
from mtmct.core.camera_config import load_camera_config
from mtmct.core.errors import MtmctError
from mtmct.core.id_history import Assignment
from mtmct.pipeline import run_cameras
from storage import Repository, open_database

ROOT = Path(__file__).resolve().parents[1]
MTMCT = str(Path(sys.executable).with_name("mtmct"))
CONFIG = ROOT / "configs" / "cameras" / "pets09-overlap.yaml"
RUN = "pets09-overlap"
GIVEN_BEFORE_KILL = 6  # ids given before the kill: a few seconds into the footage, well before its end


def test_live_run_shows_ids_across_cameras_before_the_footage_ends(tmp_path: Path) -> None:
    shared_path("data", "mtmc-pets09-overlap")
    out = tmp_path / "out"
    proc = subprocess.Popen([MTMCT, "run", str(CONFIG), "--out", str(out), "--live", "--realtime", "--max-frames",
                             "250", "--live-delay", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_live, repo = [], None
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            repo = repo or Repository(open_database(f"sqlite:///{out / 'mtmct.db'}", upgrade=False))
            spans = repo.tracklet_spans("pets09-overlap")
            both = {s.global_id for s in spans if s.global_id is not None and s.camera_id == "c1"} & \
                   {s.global_id for s in spans if s.global_id is not None and s.camera_id == "c2"}
            working = [c for c in repo.list_cameras("pets09-overlap") if c.status != "finished"]
            if both and working:  # while a camera still works: not the offline fusion at the end
                seen_live.append(len(both))
        except Exception:  # noqa: BLE001 - the run has not created its database yet
            pass
        time.sleep(0.5)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    assert seen_live, "no identity spanning both cameras was in the database while the run went on"

    repo = Repository(open_database(f"sqlite:///{out / 'mtmct.db'}"))
    tracklets = repo.load_tracklets("pets09-overlap")
    stored = {t.key: t.global_id for t in tracklets}
    first, history = repo.id_decisions("pets09-overlap")
    assert replay(first, history) == stored  # the final ids are what the stored history says
    assert len(first) == len(tracklets) and any(a.time < max(t.end_time for t in tracklets) for a in first)
    closes = {t.key: t.end_time for t in tracklets}  # someone who stayed in view had an id before their track closed
    assert any(a.time < closes[a.tracklet] for a in first), "no track got its id from a piece while still open"
    cfg = load_camera_config(CONFIG)
    offline = fuse(sorted((replace(t, global_id=None) for t in tracklets), key=lambda t: t.key),
                   Topology.from_config(cfg), cfg.fusion)
    live_groups = {}
    for key, gid in stored.items():
        live_groups.setdefault(gid, []).append(key)
    assert sorted(sorted(g) for g in live_groups.values()) == sorted(sorted(i.members) for i in offline)


def test_a_killed_live_run_resumes_with_the_ids_it_gave(tmp_path: Path) -> None:
    """SIGKILL to the whole process group (the CLI and Ray) once ids have been given while both cameras run, then
    ``--live --resume``: every tracklet and id decision stored before the kill is still there, each id given before
    it is the tracklet's id at the end unless a decision recorded after the restart changed it, the cameras went on
    after what they stored (their whole footage in the MOT files), and the final ids are what the history says."""
    shared_path("data", "mtmc-pets09-overlap")
    out = tmp_path / "out"
    cmd = [MTMCT, "run", str(CONFIG), "--out", str(out), "--live", "--realtime", "--max-frames", "250",
           "--live-delay", "2"]
    url = f"sqlite:///{out / 'mtmct.db'}"
    with open(tmp_path / "killed.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
        repo, deadline = None, time.monotonic() + 300
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    repo = repo or Repository(open_database(url, upgrade=False))
                    if len(repo.id_decisions(RUN)[0]) >= GIVEN_BEFORE_KILL:
                        break
                except Exception:  # noqa: BLE001 - the run has not created its database yet
                    pass
                time.sleep(0.5)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and Ray's processes: no clean-up of any kind
            proc.wait(timeout=60)
    repo = Repository(open_database(url))
    first, history = repo.id_decisions(RUN)
    assert len(first) >= GIVEN_BEFORE_KILL, (tmp_path / "killed.log").read_text()[-2000:]
    earlier = repo.load_tracklets(RUN)
    before = {t.key: (t.start_frame, t.end_frame) for t in earlier}
    given = replay(first, history)
    stopped = {c.camera_id: c.frames for c in repo.list_cameras(RUN) if c.status == "running"}
    assert stopped and all(0 < f < 250 for f in stopped.values()), "the kill did not land while cameras ran"

    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    repo = Repository(open_database(url))
    tracklets = repo.load_tracklets(RUN)
    stored = {t.key: t.global_id for t in tracklets}
    assert {t.key: (t.start_frame, t.end_frame) for t in tracklets if t.key in before} == before  # nothing lost
    assert len(tracklets) > len(before)  # and the cameras went on
    first2, history2 = repo.id_decisions(RUN)
    assert first2[:len(first)] == first and history2[:len(history)] == history  # the history goes on, unrewritten
    assert replay(first2, history2) == stored
    changed_later = {c.old_id for c in history2[len(history):]}
    kept = [key for key, gid in given.items() if stored[key] == gid]
    assert all(stored[key] == gid or gid in changed_later for key, gid in given.items())
    assert kept, f"none of the {len(given)} ids given before the kill was kept"
    # every frame of the footage processed, or dropped to keep up with it
    assert {c.camera_id: (c.status, c.frames + c.dropped) for c in repo.list_cameras(RUN)} == \
           {"c1": ("finished", 250), "c2": ("finished", 250)}
    for cam, frames in stopped.items():  # the MOT file holds the boxes stored before the kill and those after it
        rows = np.loadtxt(out / "cameras" / f"{cam}.txt", delimiter=",", ndmin=2)
        in_file = {(int(f), int(k)) for f, k in rows[:, :2]}
        assert {(int(f), t.track_id) for t in earlier if t.camera_id == cam for f in t.frames} <= in_file
        assert rows[:, 0].max() > frames
    print(f"killed with {len(first)} ids given, {stopped} frames stored; {len(kept)} of {len(given)} ids kept, "
          f"{len(first2)} given in all, {len(history2)} changes; "
          f"dropped {[c.dropped for c in repo.list_cameras(RUN)]}")


def test_resuming_a_live_run_offline_is_refused_in_one_line(tmp_path: Path) -> None:
    """A live run's ids have a history; an offline --resume would renumber them, so it is refused before any work."""
    shared_path("data", "mtmc-pets09-overlap")
    url = f"sqlite:///{tmp_path / 'live.db'}"
    cfg = load_camera_config(CONFIG)
    repo = Repository(open_database(url))
    repo.start_run("live", "name: live\ncameras: []\n", cfg.name, [c.id for c in cfg.cameras])
    repo.append_id_decisions("live", [Assignment(("c1", 1), 1, 5.0, 3.0)], [])
    with pytest.raises(MtmctError, match="was live") as excinfo:
        run_cameras(cfg, tmp_path / "out", db=url, run_id="live", resume=True, use_ray=False, progress=False,
                    handle_signals=False)
    assert "\n" not in str(excinfo.value)
    assert [c.status for c in repo.list_cameras("live")] == ["pending", "pending"]  # nothing was run
