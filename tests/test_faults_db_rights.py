"""A database that refuses writes: one line, and nothing already stored is lost.

Found: a database role without write rights gave a 50-60 line traceback; INSERT revoked mid-run threw the
finished camera's work away. Now both are one line naming what the role lacks; the cameras stored before stay, and
`--resume` finishes the run once the rights are back. PostgreSQL roles here; a read-only SQLite file likewise.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import make_url

from conftest import PG_SERVER, _admin, shared_path
from storage import Repository, open_database, upgrade
from storage.schema import Base

MTMCT = str(Path(sys.executable).with_name("mtmct"))
TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)  # every table mtmct writes, as the schema grows


@pytest.fixture
def role_db() -> Iterator[tuple[str, str, object]]:
    """A fresh migrated database and a role of its own: (the role's URL, the role, the admin connection)."""
    admin = _admin()
    name, role = f"mtmct_rights_{uuid.uuid4().hex[:8]}", f"mtmct_role_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.execute(f'CREATE ROLE "{role}" LOGIN')
    upgrade(f"{PG_SERVER}/{name}")
    url = make_url(PG_SERVER).set(username=role, password=None, database=name).render_as_string(hide_password=False)
    try:
        yield url, role, name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        admin.close()


def _grant(db: str, sql: str) -> None:
    """Run ``sql`` as the server's admin inside database ``db`` (grants are per database)."""
    import psycopg

    server = make_url(PG_SERVER)
    with psycopg.connect(host=server.host, port=server.port or 5432, user=server.username, password=server.password,
                         dbname=db, autocommit=True) as conn:
        conn.execute(sql)


def _config(tmp_path: Path) -> Path:
    """A short camera beside a longer one, so the rights can go between their stores."""
    cfg = {"name": "rights",
           "models": {"detector": str(shared_path("models", "yolox-nano-coco")),
                      "reid": str(shared_path("models", "omz-person-reid-0287"))},
           "cameras": [{"id": "short", "source": str(shared_path("data", "epfl-lab-2cam", "Double1.mp4"))},
                       {"id": "long", "source": str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4"))}]}
    path = tmp_path / "rights.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(config: Path, url: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, "run", str(config), "--out", str(out), "--db", url, "--max-frames", "100",
                           "--num-cpus", "1", *extra], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("rights", ["SELECT", None], ids=["read-only", "no-rights"])
def test_a_read_only_role_is_one_line(role_db, tmp_path, rights):
    url, role, name = role_db
    if rights:
        _grant(name, f'GRANT SELECT ON {TABLES}, alembic_version TO "{role}"')
    done = _run(_config(tmp_path), url, tmp_path / "out")
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()
    assert len(last) == 1, done.stderr
    assert "permission denied for table" in last[0] and "needs SELECT, INSERT, UPDATE and DELETE" in last[0]


@pytest.mark.slow
def test_insert_revoked_mid_run_keeps_the_stored_camera(role_db, tmp_path):
    url, role, name = role_db
    _grant(name, f'GRANT SELECT, INSERT, UPDATE, DELETE ON {TABLES} TO "{role}"')
    _grant(name, f'GRANT SELECT ON alembic_version TO "{role}"')
    config = _config(tmp_path)
    # one CPU: the cameras run one after the other, so the short one is stored long before the long one ends
    proc = subprocess.Popen([MTMCT, "run", str(config), "--out", str(tmp_path / "out"), "--db", url,
                             "--max-frames", "100", "--num-cpus", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    repo = Repository(open_database(url))
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if repo.stored_cameras("rights"):
                    break
            except Exception:  # noqa: BLE001 - the run row is not there yet
                pass
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before the rights could be taken away"
        _grant(name, f'REVOKE INSERT ON boxes, tracklets, tracklet_crops FROM "{role}"')
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 2, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("mtmct run: error: cannot store camera long of run 'rights': ") and "Traceback" not in err
    assert "permission denied" in line and "1 camera stored before is kept: short" in line and "--resume" in line
    assert repo.stored_cameras("rights") == ["short"] and repo.run_status("rights") == "running"

    _grant(name, f'GRANT INSERT ON boxes, tracklets, tracklet_crops TO "{role}"')
    resumed = _run(config, url, tmp_path / "out", "--run-id", "rights", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert repo.run_status("rights") == "finished" and repo.stored_cameras("rights") == ["long", "short"]


def test_a_read_only_sqlite_file_is_one_line(tmp_path):
    """SQLite opened read-only (``mode=ro``: file modes do not stop root, who runs CI here)."""
    path = tmp_path / "ro.db"
    upgrade(f"sqlite:///{path}")
    done = _run(_config(tmp_path), f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path / "out")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "readonly database" in lines[0] and "write access to the SQLite file" in lines[0], lines
