"""The ground map (issue 12): /api/runs/{id}/world and the /runs/{id}/map page over a real calibrated run on SQLite
(the two det-only PETS09 views of configs/cameras/pets09-multiview.yaml, 60 frames: no model runs, with a floor plan
drawn here), and in headless Chromium: the plan under the paths where its scale and origin put it, one path per
identity, one field of view per camera, the time slider moves the positions, a click opens the identity.
The screenshot goes to test-output/dashboard/map.png and /tmp/mtmct-map.png."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from conftest import ROOT, shared_path
from mtmct.dashboard import create_app
from mtmct.world_trajectories import GroundFilter
from test_dashboard_api import load_bench

RUN_ID, PLAIN = "pets09-map", "plain"
CAMERAS = ("v5", "v6")
MAX_FRAMES = 60
bench = load_bench()
# the floor plan: 300 x 260 px at 0.1 m a pixel from (-21, 9), so X -21..9 and Y -17..9 m, PETS09's footprint
PLAN_PX, PLAN_MPP, PLAN_ORIGIN = (300, 260), 0.1, (-21.0, 9.0)
PLAN_EXTENT = (-21.0, 9.0 - 26.0, -21.0 + 30.0, 9.0)  # x0, y0, x1, y1 = min and max corners in metres
PLAN_BGR = (200, 225, 240)  # the plan's floor colour (light beige), looked for in the screenshot


def _floor_plan(path: Path) -> Path:
    """A small plan: a beige floor with walls, written by OpenCV."""
    width, height = PLAN_PX
    image = np.full((height, width, 3), PLAN_BGR, np.uint8)
    cv2.rectangle(image, (2, 2), (width - 3, height - 3), (60, 60, 60), 4)
    cv2.line(image, (150, 0), (150, 100), (60, 60, 60), 4)
    cv2.imwrite(str(path), image)
    return path


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
    _floor_plan(folder / "plan.png")
    data["floor_plan"] = {"image": "plan.png", "metres_per_pixel": PLAN_MPP, "origin": list(PLAN_ORIGIN)}
    path = folder / "pets09-multiview.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("map")


@pytest.fixture(scope="module")
def url(folder: Path) -> str:
    """One real calibrated run (RUN_ID, with folder/plan.png as its floor plan) and one synthetic uncalibrated run
    (PLAIN) in a fresh SQLite file."""
    from mtmct.pipeline import run_cameras
    from storage import upgrade

    shared_path("data", "pets09-multiview")
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
    # times on the reference view's clock: the other view, whose clock fusion found ahead, may see first (frame 0)
    assert -0.1 - 1e-9 <= data["start"] < data["end"] <= MAX_FRAMES / 10
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


def test_world_api_draws_the_trajectories_the_run_wrote(client: TestClient, folder: Path) -> None:
    """The map shows mtmct_world.txt's rows (views fused, wrong sightings gated out), not a raw average of the
    boxes' foot points (which jumps metres within one identity where a far-field view's feet are off): the same
    identities, the same positions frame by frame, the times on one clock, no step beyond GroundFilter.jump."""
    written = np.loadtxt(folder / "out" / "mtmct_world.txt", delimiter=",", ndmin=2)
    data = client.get(f"/api/runs/{RUN_ID}/world", params={"step": 0}).json()
    drawn = {i["global_id"]: np.asarray(i["points"]) for i in data["identities"]}
    assert sorted(drawn) == np.unique(written[:, 1]).astype(int).tolist()
    per_frame = []
    for gid, points in drawn.items():
        mine = written[written[:, 1] == gid]
        mine = mine[np.argsort(mine[:, 0])]
        assert len(points) == len(mine), gid
        assert np.allclose(points[:, 1:], mine[:, 2:], atol=1.5e-3), gid  # both rounded to the millimetre
        if len(mine) > 1:
            per_frame += (np.diff(points[:, 0]) / np.diff(mine[:, 0])).tolist()
            steps = np.linalg.norm(np.diff(points[:, 1:], axis=0), axis=1) / np.diff(mine[:, 0])
            assert steps.max() <= GroundFilter().jump, (gid, steps.max())
    assert per_frame and np.ptp(per_frame) < 2e-3  # one clock: every frame the same seconds apart


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


def test_world_api_places_the_floor_plan_by_its_scale_and_origin(client: TestClient, folder: Path) -> None:
    data = client.get(f"/api/runs/{RUN_ID}/world").json()
    plan = data["floor_plan"]
    assert plan["url"] == f"/runs/{RUN_ID}/floor-plan" and data["floor_plan_note"] is None
    assert [plan[k] for k in ("x0", "y0", "x1", "y1")] == pytest.approx(PLAN_EXTENT)
    b = data["bounds"]  # the map's extent holds the plan
    assert b["min_x"] <= PLAN_EXTENT[0] and b["min_y"] <= PLAN_EXTENT[1]
    assert b["max_x"] >= PLAN_EXTENT[2] and b["max_y"] >= PLAN_EXTENT[3]
    res = client.get(plan["url"])
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"
    assert res.content == (folder / "plan.png").read_bytes()
    assert client.get(f"/api/runs/{PLAIN}/world").json()["floor_plan"] is None
    for run, error in ((PLAIN, f"run {PLAIN!r} has no floor plan"), ("nope", "unknown run id")):
        res = client.get(f"/runs/{run}/floor-plan")
        assert res.status_code == 404 and error in res.json()["error"], res.text


def test_a_gone_floor_plan_leaves_the_map_and_says_why(client: TestClient, folder: Path) -> None:
    """The stored config still loads without its plan image: cameras and paths stay, a note names the file."""
    plan, away = folder / "plan.png", folder / "plan-away.png"
    plan.rename(away)
    try:
        data = client.get(f"/api/runs/{RUN_ID}/world").json()
        assert data["floor_plan"] is None and data["identities"] and len(data["cameras"]) == len(CAMERAS)
        assert data["floor_plan_note"] == (f"floor plan {plan} cannot be read (No such file or directory); "
                                           "drawn without it")
        page = client.get(f"/runs/{RUN_ID}/map", headers={"accept": "text/html"})
        assert page.status_code == 200 and 'id="floor-plan-note"' in page.text and "cannot be read" in page.text
        assert 'id="world-map"' in page.text and "<image" not in page.text
        res = client.get(f"/runs/{RUN_ID}/floor-plan")
        assert res.status_code == 404 and res.json()["error"] == (
            f"floor plan {plan} cannot be read (No such file or directory)")
    finally:
        away.rename(plan)
    original = plan.read_bytes()
    try:
        plan.write_text("not a picture")
        note = client.get(f"/api/runs/{RUN_ID}/world").json()["floor_plan_note"]
        assert note == f"floor plan {plan} is not an image; drawn without it"
        assert client.get(f"/runs/{RUN_ID}/floor-plan").status_code == 404
    finally:
        plan.write_bytes(original)


# ---- the page in a real browser (conftest's base and browser fixtures) ------------------------------------


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

    # the floor plan: first in the SVG (under everything), its corners where the page's metres->pixels put them
    svg = d.find_element(By.ID, "world-map")
    pad, scale = float(svg.get_attribute("data-pad")), float(svg.get_attribute("data-scale"))
    min_x, max_y = float(svg.get_attribute("data-min-x")), float(svg.get_attribute("data-max-y"))
    image = d.find_element(By.CSS_SELECTOR, "#world-map image.floor-plan")
    x0, y0, x1, y1 = PLAN_EXTENT
    expected = {"x": pad + (x0 - min_x) * scale, "y": pad + (max_y - y1) * scale,
                "width": (x1 - x0) * scale, "height": (y1 - y0) * scale}
    assert {k: float(image.get_attribute(k)) for k in expected} == pytest.approx(expected, abs=0.2)
    assert image.get_attribute("href") == f"/runs/{RUN_ID}/floor-plan"
    assert d.execute_script("return document.querySelector('#world-map path.traj')"
                            ".compareDocumentPosition(arguments[0]) & Node.DOCUMENT_POSITION_PRECEDING", image)

    def plan_pixels(png: bytes) -> int:
        shot = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        return int(np.all(np.abs(shot.astype(int) - PLAN_BGR) <= 3, axis=2).sum())

    # it is drawn: its floor colour fills much of the visible map once the image has loaded
    WebDriverWait(d, 10).until(lambda d: plan_pixels(d.get_screenshot_as_png()) > 20_000)

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
    # the slider snaps to its steps from the run's start (a frame before 0 s here): 4.0 lands on 3.9 or 4.0
    value = float(d.execute_script("return document.getElementById('map-time').value"))
    assert after and abs(value - 4.0) < 0.5 and d.find_element(By.ID, "map-time-label").text == f"{value:.1f} s"
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
    assert plan_pixels(shot.read_bytes()) > 20_000  # the saved screenshot shows the plan
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
