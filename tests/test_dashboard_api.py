"""The dashboard's JSON API and pages through Starlette's TestClient (no browser).

The data: a real short run of configs/cameras/pets09-overlap.yaml (300 frames, both cameras) stored in a fresh
PostgreSQL database of its own (other tests truncate the session's shared one). :func:`pets_run` builds it once
per pytest process; tests/test_dashboard_browser.py reuses it.
"""

from __future__ import annotations

import atexit
import base64
import functools
import importlib.util
import tempfile
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, _admin, shared_path
from mtmct.dashboard import create_app

RUN_ID = "dash-pets09"
MAX_FRAMES = 300
QUERY = (250, 13)  # (c1 frame, gt person): a crop the run's ReID model ranks clearly (0.81 vs 0.49 next)
DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/x"


@functools.cache
def pets_run(server: str) -> str:
    """A fresh database on ``server`` holding run RUN_ID of pets09-overlap; dropped when the process exits."""
    from mtmct.pipeline import run_cameras
    from storage import upgrade

    shared_path("data", "mtmc-pets09-overlap")
    name = f"mtmct_dash_{uuid.uuid4().hex[:10]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    atexit.register(_drop, name)
    url = f"{server}/{name}"
    upgrade(url)
    run_cameras(ROOT / "configs" / "cameras" / "pets09-overlap.yaml", tempfile.mkdtemp(prefix="mtmct-dash-"),
                progress=False, max_frames=MAX_FRAMES, db=url, run_id=RUN_ID)
    return url


def _drop(name: str) -> None:
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def query_crop() -> tuple[np.ndarray, np.ndarray]:
    """The gt person QUERY cut from c1's video, and its gt tlwh box."""
    frame, person = QUERY
    cap = cv2.VideoCapture(str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
    ok, image = cap.read()
    cap.release()
    assert ok
    gt = np.loadtxt(shared_path("data", "mtmc-pets09-overlap", "c1", "gt", "gt.txt"), delimiter=",")
    box = gt[(gt[:, 0] == frame) & (gt[:, 1] == person)][0, 2:6]
    x, y, w, h = (int(round(v)) for v in box)
    return image[max(y, 0):y + h, max(x, 0):x + w], box


def true_identity(url: str) -> int:
    """The global id whose c1 box at the query frame covers the query person (IoU > 0.5)."""
    from storage import Repository, open_database

    _, gt_box = query_crop()
    db = open_database(url)
    try:
        for t in Repository(db).load_tracklets(RUN_ID):
            hit = np.flatnonzero(t.frames == QUERY[0])
            if t.camera_id == "c1" and len(hit) and t.global_id is not None and iou(t.boxes[hit[0]], gt_box) > 0.5:
                return t.global_id
    finally:
        db.close()
    raise AssertionError(f"no identity covers gt person {QUERY[1]} at c1 frame {QUERY[0]}")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[:2] + a[2:], b[:2] + b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    return inter / (float(a[2] * a[3] + b[2] * b[3]) - inter)


def jpeg_shape(data: bytes) -> tuple[int, ...]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image.shape


def load_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_dashboard", ROOT / "benchmarks" / "bench_dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def url(pg_url: str) -> str:
    return pets_run(pg_url.rsplit("/", 1)[0])


@pytest.fixture(scope="module")
def client(url: str) -> TestClient:
    with TestClient(create_app(url)) as c:
        yield c


@pytest.fixture(scope="module")
def video_shape() -> tuple[int, ...]:
    cap = cv2.VideoCapture(str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4")))
    ok, image = cap.read()
    cap.release()
    return image.shape


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert {"/api/health", "/api/runs", "/api/runs/{run_id}", "/api/runs/{run_id}/timeline",
            "/api/runs/{run_id}/graph", "/api/runs/{run_id}/flows", "/api/runs/{run_id}/identities/{global_id}",
            "/api/runs/{run_id}/identities/{global_id}/trajectory/{camera_id}.jpg",
            "/api/runs/{run_id}/cameras/{camera_id}/frames/{frame}.jpg", "/api/search"} <= set(doc["paths"])
    timeline = doc["paths"]["/api/runs/{run_id}/timeline"]["get"]
    assert timeline["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("TimelineOut")
    assert "ErrorOut" in timeline["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
    assert client.get("/docs").status_code == 200


def test_runs_list_and_detail(client: TestClient) -> None:
    run = next(r for r in client.get("/api/runs").json() if r["id"] == RUN_ID)
    assert run["status"] == "finished" and run["cameras"] == 2 and run["tracklets"] > 0 and run["identities"] > 0
    detail = client.get(f"/api/runs/{RUN_ID}").json()
    assert [(c["camera_id"], c["frames"], c["status"]) for c in detail["camera_list"]] == [
        ("c1", MAX_FRAMES, "finished"), ("c2", MAX_FRAMES, "finished")]
    page = client.get("/")
    assert page.status_code == 200 and f'href="/runs/{RUN_ID}"' in page.text
    assert client.get("/api/health").json() == {"database": "ok"}


def test_timeline_has_every_identity_and_filters(client: TestClient) -> None:
    full = client.get(f"/api/runs/{RUN_ID}/timeline").json()
    run = client.get(f"/api/runs/{RUN_ID}").json()
    assert len(full["rows"]) == run["identities"] and full["cameras"] == ["c1", "c2"]
    assert all(full["start"] <= v["start_time"] <= v["end_time"] <= full["end"] for r in full["rows"]
               for v in r["visits"])
    only_c1 = client.get(f"/api/runs/{RUN_ID}/timeline", params={"cameras": "c1"}).json()
    assert only_c1["rows"] and {v["camera_id"] for r in only_c1["rows"] for v in r["visits"]} == {"c1"}
    window = client.get(f"/api/runs/{RUN_ID}/timeline", params={"start": 10, "end": 12}).json()
    assert 0 < len(window["rows"]) < len(full["rows"])
    assert all(v["end_time"] >= 10 and v["start_time"] <= 12 for r in window["rows"] for v in r["visits"])
    page = client.get(f"/runs/{RUN_ID}")
    assert page.text.count('class="tl-row"') == len(full["rows"]) and 'class="bar"' in page.text


def test_graph_counts_transitions_between_the_overlapping_cameras(client: TestClient) -> None:
    graph = client.get(f"/api/runs/{RUN_ID}/graph").json()
    assert [n["camera_id"] for n in graph["nodes"]] == ["c1", "c2"]
    pairs = {(e["a"], e["b"]): e for e in graph["edges"]}
    assert set(pairs) <= {("c1", "c2"), ("c2", "c1")} and pairs
    timeline = client.get(f"/api/runs/{RUN_ID}/timeline").json()
    moves = sum(a["camera_id"] != b["camera_id"] for r in timeline["rows"] for a, b in zip(r["visits"], r["visits"][1:]))
    assert sum(e["count"] for e in graph["edges"]) == moves
    assert graph["topology"] == [{"a": "c1", "b": "c2", "overlap": True, "min_s": None, "max_s": None}]
    assert 'data-a="c1" data-b="c2"' in client.get(f"/runs/{RUN_ID}/graph").text


def test_flows_count_identities_entering_each_camera(client: TestClient) -> None:
    flows = client.get(f"/api/runs/{RUN_ID}/flows", params={"bin_s": 5}).json()
    graph = client.get(f"/api/runs/{RUN_ID}/graph").json()
    assert flows["bins"][0] == 0 and np.allclose(np.diff(flows["bins"]), 5)
    for node in graph["nodes"]:
        counts = flows["counts"][node["camera_id"]]
        assert len(counts) == len(flows["bins"])
        assert node["identities"] <= sum(counts) <= node["visits"]  # each visit enters once; an id at least once
    assert client.get(f"/runs/{RUN_ID}/flows", params={"bin_s": 5}).text.count("<tr>") == len(flows["bins"]) + 1


def test_identity_page_has_entries_crops_and_trajectories(client: TestClient, url: str,
                                                          video_shape: tuple[int, ...]) -> None:
    gid = true_identity(url)
    ident = client.get(f"/api/runs/{RUN_ID}/identities/{gid}").json()
    assert ident["global_id"] == gid and ident["cameras"]
    assert [c["entry_time"] for c in ident["cameras"]] == sorted(c["entry_time"] for c in ident["cameras"])
    for cam in ident["cameras"]:
        assert cam["entry_time"] <= cam["exit_time"] and cam["entry_frame"] <= cam["exit_frame"]
        image = client.get(cam["trajectory_url"])
        assert image.headers["content-type"] == "image/jpeg" and jpeg_shape(image.content) == video_shape
    crops = [c for t in ident["tracklets"] for c in t["crops_jpeg_base64"]]
    assert crops
    page = client.get(f"/runs/{RUN_ID}/identities/{gid}").text
    assert page.count('class="trajectory"') == len(ident["cameras"]) and page.count('class="crop"') == len(crops)


def test_annotated_frames_draw_the_stored_boxes(client: TestClient, video_shape: tuple[int, ...]) -> None:
    frame = client.get(f"/api/runs/{RUN_ID}/cameras/c1/frames/{QUERY[0]}.jpg")
    assert frame.status_code == 200 and jpeg_shape(frame.content) == video_shape
    cap = cv2.VideoCapture(str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, QUERY[0] - 1)
    raw = cap.read()[1]
    drawn = cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(drawn.astype(int) - raw).max() > 100  # boxes and labels, not only JPEG noise
    page = client.get(f"/runs/{RUN_ID}/cameras/c1/video", params={"frame": 5}).text
    assert f'data-last="{MAX_FRAMES}"' in page and "frames/5.jpg" in page


def test_search_finds_the_person_in_a_crop(client: TestClient, url: str) -> None:
    crop, _ = query_crop()
    res = client.post("/api/search", files={"file": ("person.png", cv2.imencode(".png", crop)[1].tobytes(),
                                                     "image/png")}, data={"run_id": RUN_ID, "top_k": "3"})
    assert res.status_code == 200, res.text
    matches = res.json()["queries"][0]["matches"]
    assert len(matches) == 3 and matches[0]["global_id"] == true_identity(url)
    assert matches[0]["url"] == f"/runs/{RUN_ID}/identities/{matches[0]['global_id']}"
    assert jpeg_shape(base64.b64decode(matches[0]["crop_jpeg_base64"]))


@pytest.mark.parametrize("path", [
    "/api/runs/nope", "/api/runs/nope/timeline", "/api/runs/nope/graph", "/api/runs/nope/flows",
    "/api/runs/nope/identities/1", f"/api/runs/{RUN_ID}/identities/99999", f"/api/runs/{RUN_ID}/identities/-1",
    f"/api/runs/{RUN_ID}/identities/99999/trajectory/c1.jpg", f"/api/runs/{RUN_ID}/cameras/c9/frames/1.jpg",
    f"/api/runs/{RUN_ID}/cameras/c1/frames/999999.jpg", "/runs/nope", f"/runs/{RUN_ID}/identities/99999",
    f"/runs/{RUN_ID}/cameras/c9/video", "/no/such/page"])
def test_unknown_ids_are_404_json(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code == 404 and res.headers["content-type"] == "application/json"
    assert set(res.json()) == {"error"} and "Traceback" not in res.text


@pytest.mark.parametrize("path", [
    f"/api/runs/{RUN_ID}/identities/abc", f"/api/runs/{RUN_ID}/cameras/c1/frames/0.jpg",
    f"/api/runs/{RUN_ID}/flows?bin_s=0", f"/api/runs/{RUN_ID}/flows?bin_s=nan", f"/api/runs/{RUN_ID}/timeline?start=x",
    f"/api/runs/{RUN_ID}/timeline?start=5&end=1", f"/api/runs/{RUN_ID}/timeline?cameras=c1,zz",
    f"/runs/{RUN_ID}/cameras/c1/video?frame=-3"])
def test_bad_parameters_are_422_json(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code == 422 and list(res.json()) == ["error"] and res.json()["error"]


def test_uploads_are_limited_in_size_and_type(client: TestClient) -> None:
    big = client.post("/api/search", files={"file": ("big.jpg", b"\xff" * (9 * 1024 * 1024), "image/jpeg")})
    assert big.status_code == 413 and "8 MB" in big.json()["error"]
    small = TestClient(create_app(client.app.state.store.url, max_upload_bytes=1000))
    crop, _ = query_crop()
    undeclared = small.post("/api/search", files={"file": ("p.png", cv2.imencode(".png", crop)[1].tobytes())})
    assert undeclared.status_code == 413  # the body is checked as read, not only the declared length
    for name, data in [("notes.txt", b"not an image at all"), ("empty.jpg", b""), ("fake.jpg", b"\xff\xd8\xff\xe0junk")]:
        res = client.post("/api/search", files={"file": (name, data, "image/jpeg")})
        assert res.status_code == 415 and "not an image" in res.json()["error"]
    assert client.post("/api/search").status_code == 422  # no file
    png = cv2.imencode(".png", crop)[1].tobytes()
    assert client.post("/api/search", files={"file": ("p.png", png)}, data={"top_k": "0"}).status_code == 422
    assert client.post("/api/search", files={"file": ("p.png", png)}, data={"run_id": "nope"}).status_code == 404


def test_unreachable_database_is_503_and_the_app_still_starts() -> None:
    with TestClient(create_app(DOWN)) as c:
        assert c.get("/openapi.json").status_code == 200
        for path in ("/api/health", "/api/runs", "/api/runs/x/timeline", "/", "/runs/x", "/search"):
            res = c.get(path)
            assert res.status_code == 503 and res.json()["error"].startswith("database unavailable"), path
            assert "Traceback" not in res.text
        crop, _ = query_crop()
        up = c.post("/api/search", files={"file": ("p.png", cv2.imencode(".png", crop)[1].tobytes())})
        assert up.status_code == 503


def test_a_missing_sqlite_file_is_503_and_not_created(tmp_path: Path) -> None:
    with TestClient(create_app(f"sqlite:///{tmp_path / 'none.db'}")) as c:
        assert c.get("/api/runs").status_code == 503
    assert not (tmp_path / "none.db").exists()


def test_unexpected_errors_are_500_json_without_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from storage import Repository

    url = f"sqlite:///{tmp_path / 'x.db'}"
    load_bench().build_run(url, identities=2).db.close()
    monkeypatch.setattr(Repository, "list_runs", lambda self: 1 / 0)
    res = TestClient(create_app(url), raise_server_exceptions=False).get("/api/runs")
    assert res.status_code == 500 and res.json() == {"error": "internal server error (logged on the server)"}


def test_timeline_renders_every_row_of_a_100_identity_3_camera_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    load_bench().build_run(url, identities=100, cameras=3).db.close()
    c = TestClient(create_app(url))
    page = c.get("/runs/synthetic")
    assert page.status_code == 200 and page.text.count('class="tl-row"') == 100
    visits = sum(len(r["visits"]) for r in c.get("/api/runs/synthetic/timeline").json()["rows"])
    assert page.text.count('class="bar"') == visits and visits >= 100
    assert page.text.count('class="cam-filter"') == 3
    # the synthetic run has no video sources: the trajectory is drawn on a grey canvas, still a JPEG
    assert jpeg_shape(c.get("/api/runs/synthetic/identities/1/trajectory/"
                            f"{c.get('/api/runs/synthetic/identities/1').json()['cameras'][0]['camera_id']}.jpg").content)


def test_serve_binds_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import uvicorn

    from mtmct.commands import serve

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, log_level: seen.update(host=host, port=port))
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    args = parser.parse_args(["serve", "--db", DOWN])
    args.verbose = False
    assert serve.run(args) == 0 and seen == {"host": "127.0.0.1", "port": 8000}
