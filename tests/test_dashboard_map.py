"""The ground map (issue 12): /api/runs/{id}/world and the /runs/{id}/map page over a real calibrated run on SQLite
(the two det-only PETS09 views of configs/cameras/pets09-multiview.yaml, 60 frames: no model runs), and in headless Chromium: one
path per identity, one field of view per camera, the time slider moves the positions, a click opens the identity.
The screenshot goes to test-output/dashboard/map.png and /tmp/mtmct-map.png."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from conftest import ROOT, shared_path
from mtmct.dashboard import create_app
from test_dashboard_api import load_bench

RUN_ID, PLAIN = "pets09-map", "plain"
CAMERAS = ("v5", "v6")
MAX_FRAMES = 60
bench = load_bench()


def _config(folder: Path) -> Path:
    """pets09-multiview.yaml with absolute paths and only its det: views (cameras known by their detections), the
    cheapest real calibrated run."""
    example = ROOT / "configs" / "cameras" / "pets09-multiview.yaml"
    data = yaml.safe_load(example.read_text())
    base = example.parent

    def absolute(path: str) -> str:
        return str((base / path).resolve())

    data["models"] = {**data["models"], "detector": absolute(data["models"]["detector"]),
                      "reid": absolute(data["models"]["reid"])}
    data["cameras"] = [c for c in data["cameras"] if c["id"] in CAMERAS]
    data["topology"] = [link for link in data["topology"] if {link["a"], link["b"]} <= set(CAMERAS)]
    for cam in data["cameras"]:
        det = cam["source"].startswith("det:")
        cam["source"] = ("det:" if det else "") + absolute(cam["source"].removeprefix("det:"))
        cam["calibration"] = {**cam["calibration"], "file": absolute(cam["calibration"]["file"])}
    path = folder / "pets09-multiview.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One real calibrated run (RUN_ID) and one synthetic uncalibrated run (PLAIN) in a fresh SQLite file."""
    from mtmct.pipeline import run_cameras
    from storage import upgrade

    shared_path("data", "pets09-multiview")
    folder = tmp_path_factory.mktemp("map")
    db = f"sqlite:///{folder / 'mtmct.db'}"
    upgrade(db)
    run_cameras(_config(folder), folder / "out", progress=False, max_frames=MAX_FRAMES, use_ray=False, db=db,
                run_id=RUN_ID, handle_signals=False)
    bench.build_run(db, PLAIN, identities=4, cameras=2)
    return db


@pytest.fixture(scope="module")
def client(url: str) -> TestClient:
    with TestClient(create_app(url)) as c:
        yield c


def footprint() -> np.ndarray:
    return np.asarray(json.loads(shared_path("data", "pets09-multiview", "footprint_world.json").read_text())
                      ["polygon"], np.float64)


def test_world_api_gives_each_identity_a_path_in_metres_and_each_camera_its_view(client: TestClient) -> None:
    res = client.get(f"/api/runs/{RUN_ID}/world", params={"step": 0})
    assert res.status_code == 200, res.text
    data = res.json()
    assert data["message"] is None and data["run_id"] == RUN_ID
    n = client.get(f"/api/runs/{RUN_ID}").json()["identities"]
    assert 0 < len(data["identities"]) <= n
    points = np.array([p for i in data["identities"] for p in i["points"]])
    assert points.shape[1] == 3 and len(points) >= MAX_FRAMES
    lo, hi = footprint().min(axis=0), footprint().max(axis=0)
    inside = np.all((points[:, 1:] >= lo - 2.0) & (points[:, 1:] <= hi + 2.0), axis=1)  # metres, not pixels
    assert inside.mean() > 0.9, (points[:, 1:].min(axis=0), points[:, 1:].max(axis=0), lo, hi)
    assert 0 <= data["start"] < data["end"] <= MAX_FRAMES / 10
    for ident in data["identities"]:
        times = [p[0] for p in ident["points"]]
        assert times == sorted(set(times))  # one position per identity and time
        assert ident["url"] == f"/runs/{RUN_ID}/identities/{ident['global_id']}"
        assert ident["colour"].startswith("#") and len(ident["colour"]) == 7
    b = data["bounds"]
    assert b["min_x"] <= points[:, 1].min() and b["max_y"] >= points[:, 2].max()
    assert [c["camera_id"] for c in data["cameras"]] == list(CAMERAS)
    for cam in data["cameras"]:
        poly = np.asarray(cam["polygon"])
        assert len(poly) >= 3 and np.isfinite(poly).all()
        assert np.abs(poly).max() < 40  # 30 m from the camera at most, in a scene of ~30 m
    coarse = client.get(f"/api/runs/{RUN_ID}/world", params={"step": 2}).json()
    assert sum(len(i["points"]) for i in coarse["identities"]) < len(points)
    assert all(len(i["points"]) <= MAX_FRAMES / 10 / 2 + 2 for i in coarse["identities"])


def test_world_api_errors_and_an_uncalibrated_run(client: TestClient) -> None:
    for path in ("/api/runs/nope/world", "/runs/nope/map"):
        res = client.get(path)
        assert res.status_code == 404 and "unknown run id" in res.json()["error"]
    assert client.get(f"/api/runs/{RUN_ID}/world", params={"step": -1}).status_code == 422
    plain = client.get(f"/api/runs/{PLAIN}/world")
    assert plain.status_code == 200
    data = plain.json()
    assert data["identities"] == [] and data["cameras"] == [] and data["bounds"] is None
    assert "not calibrated" in data["message"]
    page = client.get(f"/runs/{PLAIN}/map", headers={"accept": "text/html"})
    assert page.status_code == 200 and "not calibrated" in page.text and "<svg" not in page.text
    assert 'id="map-link"' not in client.get(f"/runs/{PLAIN}", headers={"accept": "text/html"}).text
    assert 'id="map-link"' in client.get(f"/runs/{RUN_ID}", headers={"accept": "text/html"}).text


# ---- the page in a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base(url: str) -> str:
    server, port = bench.serve(create_app(url))
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    pytest.importorskip("selenium")
    if not (Path(bench.CHROMIUM).exists() and Path(bench.CHROMEDRIVER).exists()):
        pytest.skip(f"browser tests need {bench.CHROMIUM} and {bench.CHROMEDRIVER}: install Debian's chromium and "
                    "chromium-driver (`make test` does it as root)")
    profile = tempfile.mkdtemp(prefix="mtmct-chrome-")
    driver = bench.chrome(profile)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_map_page_in_a_browser(browser, base: str, client: TestClient, test_output: Path,
                               tmp_path_factory: pytest.TempPathFactory) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    data = client.get(f"/api/runs/{RUN_ID}/world").json()
    d.get(f"{base}/runs/{RUN_ID}")
    d.find_element(By.ID, "map-link").click()
    WebDriverWait(d, 20).until(lambda d: d.current_url.endswith(f"/runs/{RUN_ID}/map"))
    paths = d.find_elements(By.CSS_SELECTOR, "#world-map path.traj")
    assert sorted(int(p.get_attribute("data-gid")) for p in paths) == sorted(i["global_id"] for i in data["identities"])
    fovs = d.find_elements(By.CSS_SELECTOR, "#world-map polygon.fov")
    assert [f.get_attribute("data-camera") for f in fovs] == list(CAMERAS)
    assert {t.text for t in d.find_elements(By.CSS_SELECTOR, "#world-map text.fov-label")} == set(CAMERAS)
    assert d.find_elements(By.CSS_SELECTOR, "#world-map text.tick-x") and "m" in d.find_element(
        By.CSS_SELECTOR, "#world-map .scale-bar").text

    def positions() -> dict[str, tuple[float, float]]:
        return d.execute_script(
            "const out = {}; document.querySelectorAll('#world-map circle.dot').forEach(c => {"
            " if (c.getAttribute('visibility') === 'visible') out[c.dataset.gid] = [+c.getAttribute('cx'),"
            " +c.getAttribute('cy')]; }); return out;")

    def slide(t: float) -> None:
        d.execute_script("const s = document.getElementById('map-time'); s.value = arguments[0];"
                         "s.dispatchEvent(new Event('input'));", t)

    slide(1.0)
    before = positions()
    assert before and int(d.find_element(By.ID, "map-count").text) == len(before)
    slide(4.0)
    after = positions()
    assert after and d.find_element(By.ID, "map-time-label").text == "4.0 s"
    moved = [g for g in set(before) & set(after) if np.hypot(*np.subtract(before[g], after[g])) > 2]
    assert moved, (before, after)  # people walked between 1 s and 4 s
    trail = d.find_element(By.CSS_SELECTOR, f'#world-map polyline.trail[data-gid="{moved[0]}"]')
    assert len(trail.get_attribute("points").split()) >= 2

    shots = test_output / "dashboard"
    shots.mkdir(exist_ok=True)
    shot = tmp_path_factory.getbasetemp() / "map.png"  # stable: the session's pytest temp dir
    d.save_screenshot(str(shot))
    shutil.copyfile(shot, shots / "map.png")
    shutil.copyfile(shot, "/tmp/mtmct-map.png")
    print(f"map screenshot: {shot} (copied to /tmp/mtmct-map.png)")

    # click a path where it is on top (another path may cross it): the identity page of the one clicked
    target = d.execute_script(
        "for (const p of document.querySelectorAll('#world-map path.traj')) {"
        " const n = p.getTotalLength(); for (const f of [0.5, 0.25, 0.75, 0.1, 0.9]) {"
        "  const q = p.getPointAtLength(n * f), m = p.getScreenCTM();"
        "  window.scrollBy(0, q.y * m.d + m.f - window.innerHeight / 2);"
        "  const k = p.getScreenCTM(), x = q.x * k.a + k.e, y = q.y * k.d + k.f;"
        "  if (document.elementFromPoint(x, y) === p) return [p.dataset.gid, x, y]; } } return null;")
    assert target is not None
    gid, x, y = target
    actions = ActionBuilder(d)
    actions.pointer_action.move_to_location(int(x), int(y)).click()
    actions.perform()
    WebDriverWait(d, 20).until(lambda d: d.current_url.endswith(f"/runs/{RUN_ID}/identities/{gid}"))
    assert d.find_element(By.ID, "identity-id").text == f"g{gid}"
