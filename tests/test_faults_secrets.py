"""Secrets and crashes of issue 11 at the dashboard: no camera password in any answer or log line, a 503 that does
not describe the database, and a 500 with the security headers and no traceback.

The data, on SQLite and PostgreSQL (``db_url``): run ``new`` stored through the Repository API with a camera whose
source is ``rtsp://admin:CamPass123@host/stream`` (storage masks it) and run ``old`` whose rows are then
overwritten by SQL with the unmasked text, as a version before storage masked would have stored it. Its second
camera is a readable MOT frame folder whose own name holds ``?token=CamPass123``, so the video page, frames and
trajectories render (200) with that source on the page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from mtmct.core.tracklet import GlobalIdentity, Tracklet
from mtmct.dashboard import create_app
from test_dashboard_api import load_camera_config_cameras, mot_folder

SECRET = "CamPass123"
RTSP = f"rtsp://admin:{SECRET}@host/stream"
HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}
FRAMES = 12


def _config(folder: Path) -> str:
    # c2 in block style, unquoted: mask_secrets masks a query value up to the next space, closing quote included
    return (f"name: leaky\ncameras:\n  - {{id: c1, source: '{RTSP}', fps: 10}}\n  - id: c2\n    source: {folder}\n"
            f"topology:\n  - {{a: c1, b: c2, min_s: 1, max_s: 10}}\nmodels: {{reid: null}}\n")


def _store(url: str, run_id: str, folder: Path) -> None:
    """A finished run: c1 (the rtsp camera) failed with an error quoting its source; c2 tracked one person, who is
    global identity 1; the crop is a real JPEG."""
    from storage import Repository, open_database

    repo = Repository(open_database(url))
    try:
        config = _config(folder)
        repo.start_run(run_id, config, "leaky", load_camera_config_cameras(config))
        frames = np.arange(2, 11)
        boxes = np.stack([np.linspace(10, 100, 9), np.full(9, 20.0), np.full(9, 30.0), np.full(9, 60.0)], 1)
        crop = cv2.imencode(".jpg", np.full((64, 32, 3), 128, np.uint8))[1].tobytes()
        repo.write_camera(run_id, "c1", None, [], frames=0,
                          error=f"cannot open {RTSP}: 401 Unauthorized")
        repo.write_camera(run_id, "c2", None, [Tracklet("c2", 1, 0, frames, (frames - 1) / 7, boxes, np.ones(9),
                                                        None, crops=[crop])], frames=FRAMES)
        repo.write_identities(run_id, [GlobalIdentity(1, [("c2", 1)])])
        repo.finish_run(run_id)
    finally:
        repo.db.close()


def _unmask(url: str, run_id: str, folder: Path) -> None:
    """Overwrite the run's config, sources and error with the raw text, as an older version stored them."""
    from sqlalchemy import text

    from storage.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE runs SET config = :c WHERE id = :r"), {"c": _config(folder), "r": run_id})
            conn.execute(text("UPDATE cameras SET source = :s, error = :e WHERE run_id = :r AND camera_id = 'c1'"),
                         {"s": RTSP, "e": f"cannot open {RTSP}", "r": run_id})
            conn.execute(text("UPDATE cameras SET source = :s WHERE run_id = :r AND camera_id = 'c2'"),
                         {"s": str(folder), "r": run_id})
            stored = conn.execute(text("SELECT count(*) FROM cameras WHERE run_id = :r AND source LIKE :p"),
                                  {"r": run_id, "p": f"%{SECRET}%"}).scalar_one()
    finally:
        engine.dispose()
    assert stored == 2, "the old run must hold the unmasked sources, or this test proves nothing"


@pytest.fixture
def leaky(db_url: str, tmp_path: Path) -> str:
    """``db_url`` holding runs ``new`` (stored masked) and ``old`` (unmasked, as an older version stored it)."""
    folder = mot_folder(tmp_path / f"cam?token={SECRET}" / "seq", n=FRAMES)
    _store(db_url, "new", folder)
    _store(db_url, "old", folder)
    _unmask(db_url, "old", folder)
    return db_url


# values each path parameter takes: the runs, unknown and invalid ones, and the secret itself (echoed in a 404)
VALUES = {
    "run_id": ["old", "new", "nope", f"rtsp:%2F%2Fadmin:{SECRET}@host"],
    "camera_id": ["c1", "c2", "nope"],
    "global_id": ["1", "999", "x", str(2**70)],
    "frame": ["1", "5", "0", str(10**12)],
}
EXTRA = ["/nope", "/api/nope", "/static/player.js", "/static/nope.js", "/runs/old/cameras/c2/video?frame=0",
         "/runs/old/cameras/c2/video?frame=3", "/api/runs/old/timeline?cameras=nope", "/api/runs/old/flows?bin_s=0",
         f"/api/runs/old/timeline?cameras={RTSP}", "/runs/old?start=5&end=1"]


def _paths(path: str) -> Iterator[str]:
    """``path`` (a route's template) with every combination of VALUES for its parameters."""
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    for name in names:
        assert name in VALUES, f"route {path} has a parameter {name!r} this test does not fill: add it to VALUES"

    def fill(template: str, rest: list[str]) -> Iterator[str]:
        if not rest:
            yield template
            return
        for value in VALUES[rest[0]]:
            yield from fill(re.sub(r"{%s(?::\w+)?}" % rest[0], value, template, count=1), rest[1:])

    yield from fill(path, names)


def _routes(routes: list, prefix: str = "") -> Iterator[tuple[str, Route]]:  # type: ignore[type-arg]
    """(full path, route) of every route, through included routers (FastAPI keeps those as one entry each)."""
    for route in routes:
        if hasattr(route, "original_router"):  # an included APIRouter
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif not isinstance(route, Mount):  # /static: EXTRA
            assert isinstance(route, APIRoute | Route), route
            yield prefix + route.path, route


def _requests(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) for every route of ``app`` (so a new route is covered without editing this test)."""
    out: list[tuple[str, str]] = []
    for path, route in _routes(app.routes):
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                out += [(method, p) for p in _paths(path)]
    return out + [("GET", p) for p in EXTRA]


def _search(client: TestClient, run_id: str, crop: bytes) -> list:  # type: ignore[type-arg]
    return [client.post("/api/search", files={"file": ("crop.jpg", crop, "image/jpeg")}, data=data)
            for data in ({"run_id": run_id}, {}, {"run_id": RTSP}, {"top_k": "0"})]


def test_no_answer_nor_log_line_shows_a_camera_password(leaky: str, caplog: pytest.LogCaptureFixture) -> None:
    """Every route (pages, API, frames, docs) with good, unknown and bad parameters, as a browser and as an API
    client: the password appears in no status line, header or body, and in no log record."""
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    crop = cv2.imencode(".jpg", np.full((128, 64, 3), 120, np.uint8))[1].tobytes()
    seen: dict[int, int] = {}
    with TestClient(create_app(leaky), raise_server_exceptions=False) as client:
        answers = []
        for method, path in _requests(client.app):
            if method == "POST":
                answers += [(path, r) for r in _search(client, "old", crop)]
                continue
            assert method == "GET", (method, path)
            for accept in ("text/html", "application/json"):
                answers.append((path, client.get(path, headers={"accept": accept})))
        leaks = []
        for path, res in answers:
            seen[res.status_code] = seen.get(res.status_code, 0) + 1
            assert res.status_code < 500, (path, res.status_code, res.text[:300])
            for name, value in HEADERS.items():
                assert res.headers.get(name) == value, (path, name)
            if SECRET in res.content.decode("latin-1") + str(res.headers):
                leaks.append((res.status_code, path, res.text[:300]))
        assert not leaks, f"{len(leaks)} of {len(answers)} answers show the password:\n" + "\n".join(map(str, leaks))
    # the secret was there to leak: the old run's pages and frames rendered it before masking
    assert seen.get(200, 0) >= 20 and seen.get(404, 0) >= 10 and seen.get(422, 0) >= 5, seen
    old = TestClient(create_app(leaky)).get("/api/runs/old").json()["camera_list"]
    assert [c["source"] for c in old] == ["rtsp://admin:***@host/stream", old[1]["source"]]
    assert "token=***" in old[1]["source"] and "***" in old[0]["error"]
    video = TestClient(create_app(leaky)).get("/runs/old/cameras/c2/video").text
    assert "token=***" in video  # the page still names its source, masked
    # the server's records (httpx's are this test's client quoting the URLs it was told to request)
    server = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    # the old run's source reached the log (the frame folder source logs its path when opened), masked
    assert any("token=***" in r.getMessage() for r in server if r.name.startswith("cameras")), "nothing to mask"
    formatter = logging.Formatter()
    for record in server:
        assert SECRET not in formatter.format(record), formatter.format(record)


def test_every_route_is_requested() -> None:
    """The enumeration covers the app's routes: a route whose parameters VALUES cannot fill fails here first."""
    app = create_app("sqlite:///nowhere.db")
    paths = {p for _, p in _requests(app)}
    routes = list(_routes(app.routes))
    assert len([r for _, r in routes if isinstance(r, APIRoute)]) >= 15, routes  # the routers were walked
    for _, route in routes:
        assert any(re.fullmatch(route.path_regex, p.split("?")[0]) for p in paths), route.path


DB_PASSWORD = "DbPass456"


@pytest.mark.parametrize("url", [f"postgresql+psycopg://dbuser:{DB_PASSWORD}@127.0.0.1:1/secretdbname",
                                 "sqlite:///{tmp}/secretdbname.db"])
def test_a_503_does_not_describe_the_database(url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An unreachable server or a missing file: the answer says "database unavailable" and where to look (the
    server log), never the host, port, user, database name or path; the log has the detail, password masked."""
    caplog.set_level(logging.INFO)
    url = url.format(tmp=tmp_path)
    secret_parts = ["127.0.0.1", "port", "dbuser", "secretdbname", DB_PASSWORD, str(tmp_path), "psycopg",
                    "Connection refused", "Traceback"]
    with TestClient(create_app(url), raise_server_exceptions=False) as client:
        for path in ("/api/health", "/api/runs", "/api/runs/x", "/", "/runs/x", "/search"):
            for accept in ("text/html", "application/json"):
                res = client.get(path, headers={"accept": accept})
                assert res.status_code == 503, (path, res.text[:300])
                if "html" in res.headers["content-type"]:
                    message = re.search(r'<p id="error-message">([^<]*)</p>', res.text)[1]
                else:
                    message = res.json()["error"]
                assert message.startswith("database unavailable") and "log" in message, message
                for part in secret_parts:
                    assert part not in res.text, (path, accept, part, res.text[-400:])
                assert res.headers["x-frame-options"] == "DENY"
    assert "secretdbname" in caplog.text, "the operator's log must say which database failed"
    assert DB_PASSWORD not in caplog.text


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_crash_is_a_generic_500_with_the_security_headers(accept: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """An exception no handler expects: a one-line 500 (JSON for the API, the error page for a browser) with CSP,
    X-Frame-Options and nosniff like every other answer; the traceback is logged, masked, and not sent."""
    from storage import Repository

    from test_dashboard_api import load_bench

    url = f"sqlite:///{tmp_path / 'x.db'}"
    load_bench().build_run(url, identities=2).db.close()

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError(f"boom while reading {RTSP}")

    monkeypatch.setattr(Repository, "list_runs", boom)
    with TestClient(create_app(url), raise_server_exceptions=False) as client:
        for path in ("/api/runs", "/", "/runs/synthetic"):
            res = client.get(path, headers={"accept": accept})
            assert res.status_code == 500, (path, res.text[:300])
            assert "frame-ancestors 'none'" in res.headers.get("content-security-policy", ""), res.headers
            for name, value in HEADERS.items():
                assert res.headers.get(name) == value, (path, name, res.headers)
            assert "boom" not in res.text and "Traceback" not in res.text and SECRET not in res.text
            if path.startswith("/api/") or accept == "application/json":
                assert list(res.json()) == ["error"] and "\n" not in res.json()["error"]
                assert res.json()["error"].startswith("internal server error")
            else:
                assert res.headers["content-type"].startswith("text/html")
                assert "internal server error" in res.text
    assert "RuntimeError: boom while reading rtsp://admin:***@host/stream" in caplog.text
    assert SECRET not in caplog.text
