"""The dashboard says which ReID model a run's embeddings come from: its config's ``models.reid``, or the version
adapted to the run by ``mtmct reid adapt`` (every version listed, newest first), in the runs JSON and pages; and a
search of an adapted run embeds the photo with the adapted model stored in the database.

Tiny runs through the Repository API (test_storage's hand-made tracklets, 512-d), no Ray and no video. The adapted
model is a real one: ../shared's OSNet (512-d, ONNX) packed as ``mtmct reid adapt`` packs its output, and the
adapted run's embeddings are that model's embeddings of Market-1501 person crops, so the search has a right answer
among close ones (the same person from another camera, the query's mirror image).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import shared_path
from mtmct.adapted_model import adapted_folder, pack_model
from mtmct.core.tracklet import GlobalIdentity
from mtmct.dashboard import create_app
from storage import Repository, open_database
from test_storage import make_tracklets

ADAPTED, PLAIN = "campus/adapted", "plain"  # a run id with a slash: the API's {run_id:path}
CAMERAS = ("c1", "c2")
QUERY = "0001_c1s1_001051_00.jpg"  # person_search_demo_query; its tracklet is TARGET
TARGET = ("c2", 3)


def osnet() -> Path:
    return shared_path("models", "osnet-x0_25-msmt17")


def config(reid: Path, detector: Path) -> str:
    """The runs' config: the search detects people with ``detector``; ``reid`` (256-d) is not what an adapted
    run's 512-d embeddings come from, so a search that embedded with it would be refused (dimension mismatch)."""
    return (f"name: reid-dash\nmodels: {{reid: {reid}, detector: {detector}, conf: 0.3}}\n"
            "cameras: [{id: c1, source: /nowhere/c1.mp4}, {id: c2, source: /nowhere/c2.mp4}]\n")


def crops() -> dict[str, np.ndarray]:
    """Market-1501 person crops (BGR) by file name, the query first, then each mirrored."""
    root = shared_path("data", "market1501-mini")
    files = sorted((root / "person_search_demo_query").glob("*.jpg"), key=lambda p: p.name != QUERY)
    files += sorted((root / "fastreid_test_data").glob("*.jpg"))
    images = {p.name: cv2.imread(str(p)) for p in files}
    images.update({f"mirror-{name}": image[:, ::-1].copy() for name, image in list(images.items())})
    return images


def adapted_embeddings(repo: Repository, run_id: str) -> dict[tuple[str, int], np.ndarray]:
    """Every tracklet of the run embedded by OSNet from a crop of its own: TARGET from the query crop."""
    from cameras.embedder import load_embedder

    images = crops()
    vectors = load_embedder(osnet()).embed(list(images.values()))
    keys = sorted((s.camera_id, s.track_id) for s in repo.tracklet_spans(run_id))
    keys.remove(TARGET)
    assert len(vectors) >= len(keys) + 1
    return {TARGET: vectors[0], **dict(zip(keys, vectors[1:]))}


def report(start: str, before: dict, after: dict, seconds: float) -> dict:
    """What ``mtmct reid adapt`` stores (mtmct/run_adaptation.py): its start model, the run before, each round."""
    rounds = [{"round": 1, "tracklets": 10, "crops": 80, "cross_camera_links": 0, "train_s": 4.2, **after}]
    return {"start_model": start, "before": before, "rounds": rounds, "train": {"epochs": 6}, "seconds": seconds}


V1 = dict(before={"identities": 12, "multi_camera": 0, "idf1": 0.5}, after={"identities": 9, "multi_camera": 3,
                                                                           "idf1": 0.75})
V2 = dict(before={"identities": 9, "multi_camera": 3}, after={"identities": 8, "multi_camera": 4})  # no gt: no IDF1


def store_runs(url: str, versions: int = 1) -> Repository:
    """Runs PLAIN (never adapted) and ADAPTED (``versions`` adaptations: v1 from OSNet, v2 from v1) in ``url``."""
    shared = shared_path("models")
    repo = Repository(open_database(url))
    for run_id, seed in ((PLAIN, 10), (ADAPTED, 20)):
        repo.start_run(run_id, config(shared / "omz-person-reid-0277", shared / "yolox-nano-coco"), "test", CAMERAS)
        for i, camera in enumerate(CAMERAS):
            repo.write_camera(run_id, camera, None, make_tracklets(camera, dim=512, seed=seed + i))
        repo.write_identities(run_id, [GlobalIdentity(1, [("c1", 1), ("c2", 2)])])
        repo.finish_run(run_id)
    embeddings = adapted_embeddings(repo, ADAPTED)
    ids = [GlobalIdentity(g, [key]) for g, key in enumerate(sorted(embeddings), start=1)]
    v1 = pack_model(osnet())
    assert repo.write_adaptation(ADAPTED, "osnet-x0_25-msmt17-adapted-v1", v1,
                                 report(str(osnet()), **V1, seconds=61.5), embeddings, ids) == 1
    if versions > 1:
        second_adaptation(repo, v1)
    return repo


def second_adaptation(repo: Repository, v1: bytes) -> None:
    """Version 2, adapted from version 1's unpacked folder (as ``mtmct reid adapt`` does a second time): OSNet
    again, packed with one more file so that its archive differs; the same embeddings."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "v2"
        shutil.copytree(osnet(), folder)
        (folder / "adapted.txt").write_text("round 1 of 1\n")
        v2 = pack_model(folder)
    start = str(adapted_folder(hashlib.sha256(v1).hexdigest()))
    embeddings = adapted_embeddings(repo, ADAPTED)
    ids = [GlobalIdentity(g, [key]) for g, key in enumerate(sorted(embeddings), start=1)]
    assert repo.write_adaptation(ADAPTED, "osnet-x0_25-msmt17-adapted-v2", v2, report(start, **V2, seconds=30.0),
                                 embeddings, ids) == 2


def entry(runs: list[dict], run_id: str) -> dict:
    return next(r for r in runs if r["id"] == run_id)


@pytest.fixture
def client(db_url: str):  # type: ignore[no-untyped-def]
    repo = store_runs(db_url)
    with TestClient(create_app(db_url)) as c:
        c.repo = repo
        yield c
    repo.db.close()


def test_the_api_names_the_config_model_or_the_adapted_version(client: TestClient) -> None:
    plain = client.get(f"/api/runs/{PLAIN}").json()
    assert plain["reid_model"]["name"] == str(shared_path("models", "omz-person-reid-0277"))
    assert plain["reid_model"]["adapted"] is False and plain["reid_model"]["version"] is None
    assert plain["reid_models"] == []

    detail = client.get(f"/api/runs/{ADAPTED}").json()
    model = detail["reid_model"]
    assert (model["name"], model["version"], model["adapted"]) == ("osnet-x0_25-msmt17-adapted-v1", 1, True)
    assert model["start_model"] == str(osnet()) and model["start_version"] is None
    assert model["before"] == V1["before"] and model["after"] == V1["after"] and model["seconds"] == 61.5
    created = datetime.fromisoformat(model["created_at"])
    assert timedelta(0) <= datetime.now(timezone.utc) - created < timedelta(minutes=5)
    assert model["sha256"] == client.repo.reid_model(ADAPTED).sha256
    assert detail["reid_models"] == [model] and [c["camera_id"] for c in detail["camera_list"]] == list(CAMERAS)
    listed = client.get("/api/runs").json()
    assert entry(listed, ADAPTED)["reid_model"] == model and entry(listed, PLAIN)["reid_model"] == plain["reid_model"]

    second_adaptation(client.repo, client.repo.reid_model(ADAPTED).archive)
    for run in (client.get(f"/api/runs/{ADAPTED}").json(), entry(client.get("/api/runs").json(), ADAPTED)):
        assert [(m["version"], m["name"]) for m in run["reid_models"]] == [
            (2, "osnet-x0_25-msmt17-adapted-v2"), (1, "osnet-x0_25-msmt17-adapted-v1")]  # newest first
        newest = run["reid_models"][0]
        assert run["reid_model"] == newest and newest["start_version"] == 1  # adapted from v1's unpacked folder
        assert (newest["before"], newest["after"]) == (V2["before"] | {"idf1": None}, V2["after"] | {"idf1": None})
        assert run["reid_models"][1]["created_at"] <= newest["created_at"]
    assert entry(client.get("/api/runs").json(), PLAIN)["reid_models"] == []

    page = client.get("/").text  # the runs list: the current model in the run's row
    row = page[page.index(f'data-run="{ADAPTED}"'):]
    row = row[:row.index("</tr>")]
    assert "osnet-x0_25-msmt17-adapted-v2" in row and 'data-version="2"' in row and "2 versions" in row
    plain_row = page[page.index(f'data-run="{PLAIN}"'):]
    assert "omz-person-reid-0277" in plain_row[:plain_row.index("</tr>")]
    run_page = client.get(f"/runs/{ADAPTED}").text  # the run page: every version, newest first
    table = run_page[run_page.index('id="reid-versions"'):]
    assert table.index('data-version="2"') < table.index('data-version="1"')
    assert "0 → 3" in table and "0.500 → 0.750" in table and "3 → 4" in table


def test_search_of_the_adapted_run_embeds_with_the_adapted_model(client: TestClient) -> None:
    query = (shared_path("data", "market1501-mini", "person_search_demo_query") / QUERY).read_bytes()
    res = client.post("/api/search", files={"file": (QUERY, query, "image/jpeg")},
                      data={"run_id": ADAPTED, "top_k": "3"})
    assert res.status_code == 200, res.text
    matches = res.json()["queries"][0]["matches"]
    assert [(m["run_id"], m["camera_id"], m["track_id"]) for m in matches][0] == (ADAPTED, *TARGET)
    # the very crop by the very model: cosine 1 (the next, its mirror image, 0.993 by OSNet)
    assert matches[0]["score"] == pytest.approx(1.0, abs=1e-3) and matches[1]["score"] < matches[0]["score"]
    assert matches[0]["url"] == f"/runs/{ADAPTED}/identities/{matches[0]['global_id']}"


# ---- in a browser ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite database with both runs, ADAPTED at version 2 (the browser tests' ``base`` serves it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reid-dash') / 'mtmct.db'}"
    store_runs(url, versions=2).db.close()
    return url


def test_the_run_page_shows_the_adapted_model(browser, base: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(base + "/")
    row = browser.find_element(By.CSS_SELECTOR, f'tr[data-run="{ADAPTED}"]')
    assert "osnet-x0_25-msmt17-adapted-v2 v2" in row.find_element(By.CSS_SELECTOR, ".reid-model").text
    plain = browser.find_element(By.CSS_SELECTOR, f'tr[data-run="{PLAIN}"] .reid-model').text
    assert plain.startswith("omz-person-reid-0277")
    row.find_element(By.CSS_SELECTOR, "a.run-link").click()
    assert browser.current_url.endswith(f"/runs/{ADAPTED}")
    text = browser.find_element(By.ID, "reid-model").text
    assert text.startswith("ReID model: osnet-x0_25-msmt17-adapted-v2 v2") and "from v1" in text
    versions = browser.find_elements(By.CSS_SELECTOR, "#reid-versions tbody tr")
    assert [v.find_element(By.CSS_SELECTOR, ".reid-name").text for v in versions] == [
        "osnet-x0_25-msmt17-adapted-v2", "osnet-x0_25-msmt17-adapted-v1"]
    assert versions[1].find_element(By.CSS_SELECTOR, ".idf1").text == "0.500 → 0.750"
