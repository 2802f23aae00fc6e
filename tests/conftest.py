"""Shared fixtures: where ../shared is, and a sandboxed $HOME so Paddle/Ray/matplotlib never write to the user's."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import uuid

import pytest

# Paddle bundles its own zlib symbols; a Cython module (scipy, sklearn, lap) imported after paddle then
# crashes in inflateReset2 unless Python's zlib module was loaded first. mtmct.core.models.paddle_backend does the same.
import zlib  # noqa: F401  (must precede any paddle import)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MTMCT_SHARED", ROOT.parent / "shared")).resolve()

_home = tempfile.mkdtemp(prefix="mtmct-test-home-")
os.environ["HOME"] = _home
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_home, "mpl"))
os.environ.setdefault("MTMCT_MODEL_HOME", os.path.join(_home, "models"))
os.environ.setdefault("RAY_TMPDIR", os.path.join(_home, "ray"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip (fail under CI=true) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent: put the project's shared/ folder beside the checkout"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: shared data is required)")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def test_output() -> Path:
    """A folder kept after the run for artefacts a person may want to look at (videos, screenshots)."""
    out = ROOT / "test-output"
    out.mkdir(exist_ok=True)
    return out


# ---- databases: the same tests run on a fresh PostgreSQL database and on a SQLite file ----------------------

PG_SERVER = os.environ.get("MTMCT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def _admin():
    import psycopg

    from storage.engine import create_db_engine

    url = create_db_engine(PG_SERVER + "/postgres").url
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                           dbname="postgres", connect_timeout=3, autocommit=True)


@pytest.fixture(scope="session")
def pg_url():
    """A uniquely named, migrated PostgreSQL database for this session, dropped at the end."""
    try:
        admin = _admin()
    except Exception as exc:  # noqa: BLE001 - any reason the server is unusable
        reason = f"PostgreSQL at {PG_SERVER} is unreachable ({' '.join(str(exc).split())}); set MTMCT_TEST_PG"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: PostgreSQL is required)")
        pytest.skip(reason)
    name = f"mtmct_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    from storage.migrate import upgrade

    try:
        upgrade(url)
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database of each engine: a fresh SQLite file, or the session's PostgreSQL database truncated."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mtmct.db'}"
    url = request.getfixturevalue("pg_url")
    from sqlalchemy import text

    from storage.engine import create_db_engine

    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE runs CASCADE"))
    engine.dispose()
    return url


