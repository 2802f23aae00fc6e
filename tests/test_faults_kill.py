"""SIGKILL at random points, then ``--resume``: always the uninterrupted run's result (issue 11), on SQLite and
PostgreSQL.

test_run_resume.py kills at one chosen moment (a camera stored). Here the moments are drawn from a seeded
``random.Random(SEED)`` over the wall time of an uninterrupted reference run, so they land anywhere: before the
run row exists, while Ray starts, while cameras run, between one camera stored and the next, during fusion, while
the output files are written, or after the run ended. Whatever the point, the whole process group (the CLI and
Ray's own processes) gets SIGKILL, the run is completed as a user would (``--resume``; without it when the kill came
before the run was registered and the CLI says the id is unknown), and the database rows and the output files must
equal the reference's, with no temp file left behind. Each point prints its time and the phase it hit (read from
what the database held at the kill), so a failure names the phase.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
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
from test_run_resume import MTMCT, QUERIES, ROOT, _snapshot

SEED = 20240611  # fixed: the same kill points on every run of this file
K = 1  # kill points per engine (each engine draws its own); each costs a partial run and a resume (~35 s on 2 cores)
SHORT_FRAMES = 10  # the short camera's clip, cut at test time, so one camera is stored well before the other
MAX_FRAMES = "30"  # the long camera's frames (--max-frames)
OUTPUTS = ("mtmct_result.txt", "tracklets.jsonl")
ENGINES = ("sqlite", "postgresql")


def _kill_fractions() -> dict[str, list[float]]:
    """Each engine's K kill points as fractions of its reference wall time, drawn from ``Random(SEED)``: one
    uniform draw in each of K equal slices (stratified), so the few points still spread over the whole run."""
    rng = random.Random(SEED)
    return {engine: [(i + rng.random()) / K for i in range(K)] for engine in ENGINES}


FRACTIONS = _kill_fractions()


def _config(folder: Path) -> Path:
    """Two cameras as in test_run_resume.py, the short one cut to SHORT_FRAMES frames so that, with the long one
    at MAX_FRAMES, a stretch of the run has one camera stored and one still running."""
    cap = cv2.VideoCapture(str(shared_path("data", "epfl-lab-2cam", "Double1.mp4")))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    clip, writer = folder / "short.avi", None
    for _ in range(SHORT_FRAMES):
        ok, image = cap.read()
        assert ok, "Double1.mp4 is shorter than expected"
        if writer is None:
            writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), fps, image.shape[1::-1])
        writer.write(image)
    cap.release()
    writer.release()
    cfg = {
        "name": "kill",
        "models": {"detector": str(shared_path("models", "yolox-nano-coco")),
                   "reid": str(shared_path("models", "omz-person-reid-0287"))},
        "tracker": str(ROOT / "configs" / "trackers" / "deepsort.yaml"),
        "cameras": [{"id": "short", "source": str(clip), "fps": fps},
                    {"id": "long", "source": str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4"))}],
        "topology": [{"a": "short", "b": "long", "min_s": 0, "max_s": 30}],
    }
    path = folder / "cameras.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _command(config: Path, url: str, out: Path, run_id: str, *extra: str) -> list[str]:
    return [MTMCT, "run", str(config), "--out", str(out), "--db", url, "--run-id", run_id, "--max-frames", MAX_FRAMES,
            *extra]


def _outputs(out: Path) -> dict[str, str]:
    return {name: (out / name).read_text() for name in OUTPUTS}


def _leftovers(out: Path) -> list[str]:
    """Temp files of atomic writes (``.<name>.*.tmp``) and MOT sinks (``.<name>.part``) under ``out``."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.name.endswith((".part", ".tmp")))


@dataclass
class Reference:
    engine: str
    config: Path
    url: str
    folder: Path
    wall_s: float
    snapshot: dict[str, list]
    outputs: dict[str, str]


@pytest.fixture(scope="module", params=ENGINES)
def db_url(request, tmp_path_factory) -> str:
    """One database per engine for the whole module (the reference and every kill point, run ids apart). Named
    like conftest's ``db_url`` so its tier marking applies: only the postgresql case is marked postgres."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db-sqlite') / 'mtmct.db'}"
    url = request.getfixturevalue("pg_url")
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE runs CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def reference(db_url, tmp_path_factory) -> Reference:
    """The one uninterrupted run per engine (expensive: shared by its K kill points); its wall time, from the
    process start to its exit, is the span the kill points are drawn over. Kept in memory, not just in the
    database, so nothing another test does to the database can change what the kills are compared with."""
    engine = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    folder = tmp_path_factory.mktemp(f"kill-{engine}")
    config = _config(folder)
    start = time.monotonic()
    run = subprocess.run(_command(config, db_url, folder / "reference", "reference"), capture_output=True, text=True,
                         timeout=300)
    wall_s = time.monotonic() - start
    assert run.returncode == 0, run.stderr[-3000:]
    repo = Repository(open_database(db_url))
    assert repo.run_status("reference") == "finished"
    assert sorted(repo.stored_cameras("reference")) == ["long", "short"]
    assert _leftovers(folder / "reference") == []
    snap = _snapshot(db_url, "reference")
    assert len(snap["boxes"]) > 10 and snap["identities"], "the reference run found nobody: nothing to compare"
    print(f"\n[{engine}] reference run: {wall_s:.1f} s; kill points at "
          + ", ".join(f"{f * wall_s:.1f} s" for f in FRACTIONS[engine]))
    return Reference(engine, config, db_url, folder, wall_s, snap, _outputs(folder / "reference"))


def _phase(url: str, run_id: str) -> str:
    """What the killed run had reached, from what the database holds."""
    repo = Repository(open_database(url))
    runs = repo.list_runs(run_id)
    if not runs:
        return "no run row yet"
    if repo.run_status(run_id) == "finished":
        return "finished (the kill came after the run)"
    if runs[0].identities:
        return "identities stored, outputs / finish pending"
    stored = repo.stored_cameras(run_id)
    if not stored:
        return "run row, no camera stored (Ray start / cameras running)"
    if len(stored) < 2:
        return f"some cameras stored ({', '.join(stored)})"
    return "all cameras stored, fusion pending"


def _kill_at(cmd: list[str], at_s: float, logs: Path) -> bool:
    """Start ``cmd`` in its own process group and SIGKILL the whole group ``at_s`` seconds after the start; whether
    the run was still going (False: it had already exited, which the test accepts too)."""
    with open(logs.with_suffix(".out"), "w") as stdout, open(logs.with_suffix(".err"), "w") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, start_new_session=True)  # files: no pipe stall
    start = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - start < at_s:
            time.sleep(0.02)
        alive = proc.poll() is None
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and Ray's GCS, raylet and workers: no clean-up
        except ProcessLookupError:
            pass  # the group is gone already
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return alive


@pytest.mark.slow
@pytest.mark.parametrize("point", range(K), ids=[f"kill{i}" for i in range(K)])
def test_sigkill_at_a_random_point_then_resume_equals_uninterrupted_run(reference: Reference, point: int) -> None:
    ref, run_id = reference, f"kill{point}"
    out = ref.folder / run_id
    at_s = FRACTIONS[ref.engine][point] * ref.wall_s
    alive = _kill_at(_command(ref.config, ref.url, out, run_id), at_s, ref.folder / run_id)
    phase = _phase(ref.url, run_id)
    print(f"\n[{ref.engine}] {run_id}: SIGKILL at {at_s:.1f} s of {ref.wall_s:.1f} s "
          f"({at_s / ref.wall_s:.0%}){'' if alive else ' (run had already exited)'}: {phase}")

    resumed = subprocess.run(_command(ref.config, ref.url, out, run_id, "--resume"), capture_output=True, text=True,
                             timeout=300)
    if resumed.returncode != 0 and f"--resume: unknown run id '{run_id}'" in resumed.stderr:
        # killed before the run row was written: nothing to resume, so the user starts it again
        assert phase == "no run row yet", resumed.stderr[-3000:]
        resumed = subprocess.run(_command(ref.config, ref.url, out, run_id), capture_output=True, text=True,
                                 timeout=300)
    assert resumed.returncode == 0, f"{phase}: {resumed.stderr[-3000:]}"

    repo = Repository(open_database(ref.url))
    assert repo.run_status(run_id) == "finished"
    got = _snapshot(ref.url, run_id)
    for table in QUERIES:
        assert got[table] == ref.snapshot[table], f"{table} differs from the uninterrupted run after a kill in: {phase}"
    assert _outputs(out) == ref.outputs, f"output files differ from the uninterrupted run after a kill in: {phase}"
    assert _leftovers(out) == [], f"temp files left after a kill in: {phase}"
