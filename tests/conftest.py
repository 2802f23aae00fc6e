"""Shared fixtures: where ../shared is, and a sandboxed $HOME so Paddle/Ray/matplotlib never write to the user's.

Also the test tiers. Every test that reaches ../shared or PostgreSQL is marked ``shared`` or ``postgres`` here, at
collection, by reading the tests' source: a test is marked when its function, a fixture it uses, or a helper
either of them calls (in its module, a sibling test module it imports from, or this file) names ``shared_path`` /
``SHARED`` (shared) or ``pg_url`` / ``_admin`` / ``PG_SERVER`` (postgres), and the ``db_url`` fixture's
``postgresql`` case is marked postgres. ``make test-fast`` deselects them with ``-m`` and sets ``MTMCT_FAST=1``,
under which reaching ../shared or PostgreSQL from an unmarked test fails (never skips): a test the rule missed
shows up at once instead of skipping its way to green.
"""

from __future__ import annotations

import ast
import functools
import os
import shutil
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


FAST = os.environ.get("MTMCT_FAST", "") not in ("", "0")


def _fast_guard(what: str) -> None:
    if FAST:
        pytest.fail(f"MTMCT_FAST=1 (make test-fast) but this test reaches {what}: the conftest marking rule missed "
                    "it; make the dependency visible (call shared_path / use pg_url) or mark it by hand")


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip (fail under CI=true) when it is absent."""
    _fast_guard("../shared")
    path = SHARED.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent: put the project's shared/ folder beside the checkout"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: shared data is required)")
        pytest.skip(reason)
    return path


def pets_frames(n: int) -> list:
    """The first ``n`` frames of PETS09-S2L1 (480x360 BGR), decoded by OpenCV directly, not by the code under test:
    real footage for tests that build their own clips, folders and streams."""
    import cv2

    cap = cv2.VideoCapture(str(shared_path("data", "pets09-s2l1", "video.avi")))
    try:
        return [cap.read()[1] for _ in range(n)]
    finally:
        cap.release()


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
    _fast_guard("PostgreSQL")
    import psycopg

    from storage.engine import create_db_engine

    url = create_db_engine(PG_SERVER + "/postgres").url
    return psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                           dbname="postgres", connect_timeout=3, autocommit=True)


@pytest.fixture(scope="session")
def pg_url():
    """A uniquely named, migrated PostgreSQL database for this session, dropped at the end."""
    _fast_guard("PostgreSQL")
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
        conn.execute(text("TRUNCATE runs, run_leases CASCADE"))
    engine.dispose()
    return url




# ---- tiers: mark what needs ../shared or PostgreSQL (see the module docstring) ------------------------------

NEEDS = {"shared": {"shared_path", "SHARED"}, "postgres": {"pg_url", "_admin", "PG_SERVER"}}
TESTS = Path(__file__).resolve().parent


@functools.cache
def _module_names(module: str) -> tuple[dict[str, set[str]], dict[str, str]]:
    """For tests/<module>.py: top-level function -> the names it mentions (arguments included, since fixtures
    arrive by argument name; top-level statements count as ``<module>``), and names imported from sibling
    test modules or conftest -> that module."""
    tree = ast.parse((TESTS / f"{module}.py").read_text())
    refs: dict[str, set[str]] = {"<module>": set()}
    imports: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            names |= {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
                      and n.value.isidentifier()}  # request.getfixturevalue("pg_url")
            refs[node.name] = names
        elif isinstance(node, ast.ImportFrom) and node.module and (TESTS / f"{node.module}.py").is_file():
            imports.update({a.asname or a.name: node.module for a in node.names})
        elif not isinstance(node, (ast.Import, ast.ImportFrom, ast.ClassDef)):
            refs["<module>"] |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return refs, imports


@functools.cache
def _needs(module: str, name: str, kind: str, _seen: frozenset = frozenset()) -> bool:
    """Whether ``module.name`` reaches one of NEEDS[kind], through the functions and fixtures it names."""
    key = (module, name)
    if key in _seen or name == "db_url":  # db_url's cases differ: its postgresql case is marked by parameter
        return False
    refs, imports = _module_names(module)
    if name not in refs:
        if name in imports:
            return _needs(imports[name], name, kind, _seen | {key})
        if module != "conftest":  # a fixture or helper from conftest, by name
            return _needs("conftest", name, kind, _seen | {key})
        return False
    mentioned = refs[name]
    if mentioned & NEEDS[kind]:
        return True
    return any(_needs(module, other, kind, _seen | {key}) for other in mentioned if other != name)


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ARG001 - pytest's hook signature
    for item in items:
        module = Path(str(item.fspath)).stem
        names = [item.originalname, "<module>", *item.fixturenames]
        for kind in NEEDS:
            if kind in item.keywords:
                continue
            if any(_needs(module, n, kind) for n in names):
                item.add_marker(getattr(pytest.mark, kind))
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("db_url") == "postgresql" and "postgres" not in item.keywords:
            item.add_marker(pytest.mark.postgres)


# ---- the dashboard in a real browser: a module's `url` fixture names its database ------------------------


@pytest.fixture(scope="module")
def base(url: str) -> str:
    """The dashboard of ``url`` served on a free loopback port for the module's browser tests."""
    from mtmct.dashboard import create_app
    from test_dashboard_api import load_bench

    server, port = load_bench().serve(create_app(url))
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Headless Debian Chromium through chromedriver, with a throwaway profile."""
    from test_dashboard_api import load_bench

    bench = load_bench()
    if not (Path(bench.CHROMIUM).exists() and Path(bench.CHROMEDRIVER).exists()):
        pytest.skip(f"browser tests need {bench.CHROMIUM} and {bench.CHROMEDRIVER}: install Debian's chromium and "
                    "chromium-driver (`make test` does it as root)")
    profile = tempfile.mkdtemp(prefix="mtmct-chrome-")
    driver = bench.chrome(profile)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
