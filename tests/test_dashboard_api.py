"""The dashboard's JSON API and pages through Starlette's TestClient (no browser).

The data: a real short run of configs/cameras/pets09-overlap.yaml (300 frames, both cameras) stored in a fresh
PostgreSQL database of its own (other tests truncate the session's shared one). :func:`pets_run` builds it once
per pytest process; tests/test_dashboard_browser.py reuses it.
"""

from __future__ import annotations

import atexit
import base64
import functools
import html
import importlib.util
import re
import socket
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT, _admin, shared_path
from mtmct.core.fusion_report import FusionReport, LinkWindow, Threshold
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from mtmct.dashboard import create_app
from test_query import pick_query

RUN_ID = "dash-pets09"
MAX_FRAMES = 300
DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/x"
MTMCT = str(Path(sys.executable).with_name("mtmct"))


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


def gt_rows(camera: str) -> np.ndarray:
    gt = np.loadtxt(shared_path("data", "mtmc-pets09-overlap", camera, "gt", "gt.txt"), delimiter=",")
    return gt[gt[:, 0] <= MAX_FRAMES]


@functools.cache
def query_choice(url: str) -> tuple[int, int, int]:
    """(c1 frame, gt person, global id) of the search query, chosen before any score was seen.

    The person: test_query's written rule from the middle of the run's 300 frames on, among the people a fused c1
    tracklet covers at that frame (a box with IoU > 0.5 on the gt box). Its identity: the global id holding the
    most of that person's boxes over both cameras, since a fragment of the person may have been fused into
    someone else's identity (here a short duplicate track of gt 17 joined gt 9's identity).
    """
    from storage import Repository, open_database

    db = open_database(url)
    try:
        fused = [t for t in Repository(db).load_tracklets(RUN_ID) if t.global_id is not None]
    finally:
        db.close()
    gt = {cam: gt_rows(cam) for cam in ("c1", "c2")}
    votes: dict[tuple[int, int], int] = {}  # (gt person, global id) -> boxes
    for t in fused:
        for frame, box in zip(t.frames, t.boxes):
            rows = gt[t.camera_id][gt[t.camera_id][:, 0] == frame]
            best = max(rows, key=lambda r: iou(box, r[2:6]), default=None)
            if best is not None and iou(box, best[2:6]) > 0.5:
                votes[int(best[1]), t.global_id] = votes.get((int(best[1]), t.global_id), 0) + 1

    def covered(row: np.ndarray) -> bool:
        return any(t.camera_id == "c1" and iou(t.boxes[hit[0]], row[2:6]) > 0.5
                   for t in fused if len(hit := np.flatnonzero(t.frames == int(row[0]))))

    frame, person = pick_query(gt["c1"], start=MAX_FRAMES // 2, accept=covered)
    return frame, person, max((n, g) for (p, g), n in votes.items() if p == person)[1]


def query_crop(url: str) -> tuple[np.ndarray, np.ndarray]:
    """The gt person of :func:`query_choice` cut from c1's video, and its gt tlwh box."""
    frame, person, _ = query_choice(url)
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
    return query_choice(url)[2]


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
    at = query_choice(client.app.state.store.url)[0]
    frame = client.get(f"/api/runs/{RUN_ID}/cameras/c1/frames/{at}.jpg")
    assert frame.status_code == 200 and jpeg_shape(frame.content) == video_shape
    cap = cv2.VideoCapture(str(shared_path("data", "mtmc-pets09-overlap", "c1", "video.mp4")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, at - 1)
    raw = cap.read()[1]
    drawn = cv2.imdecode(np.frombuffer(frame.content, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(drawn.astype(int) - raw).max() > 100  # boxes and labels, not only JPEG noise
    page = client.get(f"/runs/{RUN_ID}/cameras/c1/video", params={"frame": 5}).text
    assert f'data-last="{MAX_FRAMES}"' in page and "frames/5.jpg" in page
    assert 'data-fps="10.0"' in page  # the config's fps: 10 override, what the run's timestamps used
    back = client.get(f"/api/runs/{RUN_ID}/cameras/c1/frames/3.jpg")  # a seek backwards reopens the video
    cap.set(cv2.CAP_PROP_POS_FRAMES, 2)
    drawn = cv2.imdecode(np.frombuffer(back.content, np.uint8), cv2.IMREAD_COLOR)
    assert np.median(np.abs(drawn.astype(int) - cap.read()[1])) <= 3  # frame 3 itself, not a neighbour


def test_search_finds_the_person_in_a_crop(client: TestClient, url: str) -> None:
    crop, _ = query_crop(url)
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
    crop, _ = query_crop(client.app.state.store.url)
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
        crop = np.full((128, 64, 3), 120, np.uint8)  # any person-sized image: the database fails first
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


def serve_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, "serve", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("db", ["missing sqlite file", "unreachable server"])
def test_serve_without_its_database_fails_at_start(db: str, tmp_path: Path) -> None:
    url = {"missing sqlite file": f"sqlite:///{tmp_path / 'none.db'}", "unreachable server": DOWN}[db]
    res = serve_cli("--db", url, "--port", str(load_bench().free_port()))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("mtmct serve: error:"), res.stderr
    assert res.stdout == "" and not (tmp_path / "none.db").exists()


def test_serve_on_a_busy_port_fails_before_its_banner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    load_bench().build_run(url, identities=2).db.close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        res = serve_cli("--db", url, "--port", str(taken.getsockname()[1]))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "in use" in lines[0], res.stderr
    assert res.stdout == ""  # no banner claiming a dashboard that never came up


def test_serve_binds_loopback_by_default_and_answers(tmp_path: Path) -> None:
    import httpx

    url = f"sqlite:///{tmp_path / 'x.db'}"
    load_bench().build_run(url, identities=2).db.close()
    port = load_bench().free_port()
    proc = subprocess.Popen([MTMCT, "serve", "--db", url, "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        assert banner.startswith(f"mtmct dashboard on http://127.0.0.1:{port}/"), banner
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).json() == {"database": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_20_concurrent_searches_all_answer_with_the_same_person(url: str) -> None:
    """Module-level model caches once failed 161 of 200 such requests ("Infer Request is busy"): 20 uploads at
    once to a real server (uvicorn, its thread pool) must all find the query person first."""
    import httpx

    server, port = load_bench().serve(create_app(url))
    crop, _ = query_crop(url)
    png = cv2.imencode(".png", crop)[1].tobytes()

    def search(_: int) -> httpx.Response:
        return httpx.post(f"http://127.0.0.1:{port}/api/search", files={"file": ("p.png", png, "image/png")},
                          data={"run_id": RUN_ID, "top_k": "3"}, timeout=120)

    try:
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(search, range(20)))
    finally:
        server.should_exit = True
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers if a.status_code != 200][:2]
    tops = {(a.json()["queries"][0]["matches"][0]["global_id"], a.json()["queries"][0]["matches"][0]["score"])
            for a in answers}
    assert len(tops) == 1 and next(iter(tops))[0] == true_identity(url)


def mot_folder(root: Path, n: int = 12, size: tuple[int, int] = (160, 120), fps: int = 7) -> Path:
    """A MOTChallenge sequence: seqinfo.ini (frameRate ``fps``) and img1/frame1.png ... frame12.png, unpadded so a
    plain name sort would put frame10 before frame2; frame k is filled with grey level 20 * k."""
    (root / "img1").mkdir(parents=True)
    (root / "seqinfo.ini").write_text(f"[Sequence]\nname=tiny\nimDir=img1\nframeRate={fps}\nseqLength={n}\n"
                                      f"imWidth={size[0]}\nimHeight={size[1]}\nimExt=.png\n")
    for k in range(1, n + 1):
        cv2.imwrite(str(root / "img1" / f"frame{k}.png"), np.full((size[1], size[0], 3), 20 * k, np.uint8))
    return root


def test_a_mot_frame_folder_camera_shows_its_frames(tmp_path: Path) -> None:
    from storage import Repository, open_database

    seq = mot_folder(tmp_path / "seq")
    url = f"sqlite:///{tmp_path / 'mot.db'}"
    repo = Repository(open_database(url))
    config = f"name: mot\ncameras:\n  - {{id: m1, source: {seq}}}\nmodels: {{reid: null}}\n"
    repo.start_run("mot", config, "mot", load_camera_config_cameras(config))
    frames = np.arange(2, 11)
    boxes = np.stack([np.linspace(10, 100, 9), np.full(9, 20.0), np.full(9, 30.0), np.full(9, 60.0)], 1)
    repo.write_camera("mot", "m1", None, [Tracklet("m1", 1, 0, frames, (frames - 1) / 7, boxes, np.ones(9), None)],
                      frames=12)
    repo.write_identities("mot", [GlobalIdentity(1, [("m1", 1)])])
    repo.finish_run("mot")
    repo.db.close()
    with TestClient(create_app(url)) as c:
        for k in (2, 10):  # natural order: frame10 is the tenth frame, not the second
            res = c.get(f"/api/runs/mot/cameras/m1/frames/{k}.jpg")
            assert res.status_code == 200 and res.headers["content-type"] == "image/jpeg"
            image = cv2.imdecode(np.frombuffer(res.content, np.uint8), cv2.IMREAD_COLOR)
            assert image.shape == (120, 160, 3)
            assert abs(int(np.median(image)) - 20 * k) <= 3  # the background is that frame's grey level
        assert c.get("/api/runs/mot/cameras/m1/frames/13.jpg").status_code == 404  # past the last image
        page = c.get("/runs/mot/cameras/m1/video").text
        assert 'data-fps="7.0"' in page and "at 7.0 fps" in page  # seqinfo.ini's frameRate, not a default
        ident = c.get("/api/runs/mot/identities/1").json()
        trajectory = c.get(ident["cameras"][0]["trajectory_url"])
        assert trajectory.status_code == 200 and jpeg_shape(trajectory.content) == (120, 160, 3)
        # drawn on the frame from the middle of the stay (frame 6, grey 120), not on a grey "unavailable" canvas
        assert abs(int(np.median(cv2.imdecode(np.frombuffer(trajectory.content, np.uint8), 1))) - 120) <= 3


def load_camera_config_cameras(text: str) -> list:
    import yaml

    from mtmct.core.camera_config import load_camera_config

    return list(load_camera_config(yaml.safe_load(text)).cameras)


@pytest.mark.parametrize("path", ["/runs/nope", f"/runs/{RUN_ID}/identities/99999", f"/runs/{RUN_ID}/cameras/c9/video",
                                  "/no/such/page"])
def test_unknown_ids_in_a_browser_get_a_404_page(client: TestClient, path: str) -> None:
    res = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert res.status_code == 404 and res.headers["content-type"].startswith("text/html")
    assert '<p id="error-message">' in res.text and "Traceback" not in res.text
    api = client.get("/api/runs/nope", headers={"Accept": "text/html"})  # the API answers JSON whoever asks
    assert api.status_code == 404 and api.json() == {"error": "unknown run id 'nope'"}


def test_api_docs_are_served_without_a_cdn(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    assets = [a for a in docs.text.split('"') if a.endswith((".js", ".css"))]
    assert assets and all(client.get(a).status_code == 200 for a in assets), assets


# ---- what fusion applied, beside what was observed ------------------------------------------------------------

def measured_report(repo, run_id: str) -> FusionReport:  # type: ignore[no-untyped-def]
    """A fusion report for bench_dashboard's synthetic run (config: c1-c2 and c2-c3 windows of 1-10 s), its values
    measured on the run's stored data the way calibration measures them, not typed in: the c1-c2 window learned as
    the range of that pair's transits (each identity's consecutive visits), c2-c3 as configured, c1-c3 (not
    configured) the default; the similarity threshold is the highest cosine between tracklets that cannot be one
    person (one camera, overlapping in time), counted with the cross-camera pairs of one identity as evidence."""
    spans = repo.tracklet_spans(run_id)
    by_id: dict[int, list] = {}
    for s in spans:
        by_id.setdefault(s.global_id, []).append(s)
    transits: dict[tuple[str, str], list[float]] = {}
    same = 0
    for visits in by_id.values():
        visits.sort(key=lambda v: v.start_time)
        same += sum(a.camera_id != b.camera_id for i, a in enumerate(visits) for b in visits[i + 1:])
        for a, b in zip(visits, visits[1:]):
            if a.camera_id != b.camera_id:
                transits.setdefault(tuple(sorted((a.camera_id, b.camera_id))), []).append(b.start_time - a.end_time)
    stored = repo.load_embeddings(run_id)
    row = {key[1:]: i for i, key in enumerate(stored.keys)}
    different = [(a, b) for i, a in enumerate(spans) for b in spans[i + 1:] if a.camera_id == b.camera_id
                 and a.start_time <= b.end_time and b.start_time <= a.end_time]
    unit = stored.matrix / np.linalg.norm(stored.matrix, axis=1, keepdims=True)
    cosines = [float(unit[row[a.camera_id, a.track_id]] @ unit[row[b.camera_id, b.track_id]]) for a, b in different]
    learned = transits["c1", "c2"]
    assert len(learned) >= 3 and len(different) >= 10, "the synthetic run no longer has the evidence this test needs"
    return FusionReport(
        thresholds=(Threshold("similarity", max(cosines), "calibrated", same=same, different=len(different),
                              rule="highest similarity among different-person pairs"),
                    Threshold("overlap_similarity", 0.5, "config"), Threshold("motion_gate", 0.3, "default")),
        links=(LinkWindow("c1", "c2", "calibrated", min_s=min(learned), max_s=max(learned), matches=len(learned)),
               LinkWindow("c2", "c3", "config", min_s=1.0, max_s=10.0),
               LinkWindow("c1", "c3", "default")),
        tracklets=len(spans), identities=len(by_id), notes=("c1-c3: not configured, linked on strong evidence",))


def row_text(page: str, element: str, **attrs: str) -> str:
    """The text of the first ``<element attr="...">`` of ``page``, tags dropped and whitespace collapsed."""
    match = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    found = re.search(f"<{element}{match}>(.*?)</{element}>", page, re.S)
    assert found, f"no <{element}{match}> on the page"
    return " ".join(html.unescape(re.sub("<[^>]+>", " ", found.group(1))).split())


def test_graph_shows_the_windows_and_thresholds_fusion_applied(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fused.db'}"
    bench = load_bench()
    repo = bench.build_run(url, identities=40, cameras=3)
    report = measured_report(repo, "synthetic")
    repo.write_fusion_report("synthetic", report)
    bench.build_run(url, run_id="plain", identities=10, cameras=2).db.close()  # stored without a report
    repo.db.close()
    with TestClient(create_app(url)) as c:
        graph = c.get("/api/runs/synthetic/graph").json()
        assert FusionReport.from_dict(graph["fusion"]) == report  # every value, through JSON, bit for bit
        page = c.get("/runs/synthetic/graph").text
        edges = {(e["a"], e["b"]): e for e in graph["edges"]}
        learned = report.links[0]
        row = row_text(page, "tr", data_a="c1", data_b="c2")
        assert (f"c1 – c2 1.0–10.0 s {learned.min_s:.1f}–{learned.max_s:.1f} s learned from {learned.matches} "
                f"matches {learned.matches}") in row
        for a, b in (("c1", "c2"), ("c2", "c1")):  # the observed transits sit in the same row as the window
            e = edges[a, b]
            assert f"{a}→{b}: {e['count']} · {e['median_s']:.1f} s" in row
            assert learned.min_s <= e["median_s"] <= learned.max_s
        assert row_text(page, "tr", data_a="c2", data_b="c3").startswith("c2 – c3 1.0–10.0 s 1.0–10.0 s configured 0")
        assert row_text(page, "tr", data_a="c1", data_b="c3").startswith("c1 – c3 not configured any time default 0")
        svg = row_text(page, "g", **{"class": "edge", "data_a": "c1", "data_b": "c2", "data_count":
                                     str(edges["c1", "c2"]["count"] + edges["c2", "c1"]["count"])})
        assert f"window: {learned.min_s:.1f}–{learned.max_s:.1f} s (learned from {learned.matches} matches)" in svg
        similarity = report.threshold("similarity")
        assert row_text(page, "tr", data_name="similarity", data_source="calibrated") == (
            f"similarity {similarity.value:.3f} calibrated {similarity.same} {similarity.different} "
            "highest similarity among different-person pairs")
        assert row_text(page, "tr", data_name="overlap_similarity", data_source="config") == (
            "overlap_similarity 0.500 config - - -")
        assert row_text(page, "tr", data_name="motion_gate", data_source="default").startswith("motion_gate 0.300")
        assert f"{report.tracklets} tracklets → {report.identities} identities" in page
        assert "linked on strong evidence" in page and 'id="no-fusion-report"' not in page

        plain = c.get("/api/runs/plain/graph").json()  # a run stored before reports were kept
        assert plain["fusion"] is None and plain["edges"] and plain["topology"]
        page = c.get("/runs/plain/graph")
        assert page.status_code == 200 and 'id="no-fusion-report"' in page.text and 'id="thresholds"' not in page.text
        assert row_text(page.text, "tr", data_a="c1", data_b="c2").startswith("c1 – c2 1.0–10.0 s - - -")
