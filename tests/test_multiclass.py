"""Two object classes through the whole product, on real footage: people and cars in PETS09 (its two overlapping
views, where parked and passing cars stand beside the walkers), tracked, fused, stored, queried and shown.

Inputs by rule, not by score: the example camera set ``pets09-overlap`` with ``models.classes: [0, 2]`` (COCO person
and car, the detector's own ids) and its first 150 frames per camera (the first stretch long enough for both classes
to be tracked in both views); the query photos are crops of the longest stored tracklet of each class.
"""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle: see tests/conftest.py)

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mtmct.core.camera_config import load_camera_config
from mtmct.dashboard.app import create_app
from mtmct.pipeline import run_cameras
from mtmct.query import query_image
from storage import Repository, open_database
from conftest import ROOT, shared_path

PERSON, CAR = 0, 2
FRAMES = 150


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[str, str]:
    """(database URL, run id) of the two-class run, stored in SQLite."""
    shared_path("data", "mtmc-pets09-overlap")
    cfg = load_camera_config(ROOT / "configs" / "cameras" / "pets09-overlap.yaml")
    cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"classes": (PERSON, CAR)})})
    out = tmp_path_factory.mktemp("two-classes")
    db = f"sqlite:///{out / 'mtmct.db'}"
    result = run_cameras(cfg, out, progress=False, max_frames=FRAMES, use_ray=False, db=db, run_id="two-classes",
                         handle_signals=False)
    assert not [c.error for c in result.cameras if c.error]
    return db, "two-classes"


def _tracklets(db_url: str, run_id: str) -> list:
    db = open_database(db_url, reader=True)
    try:
        repo = Repository(db)
        return repo.load_tracklets(run_id, crops=True)
    finally:
        db.close()


def test_both_classes_are_stored_and_no_identity_mixes_them(run):
    db_url, run_id = run
    tracklets = _tracklets(db_url, run_id)
    classes = {t.cls for t in tracklets}
    assert classes == {PERSON, CAR}
    by_gid: dict[int, set[int]] = {}
    for t in tracklets:
        if t.global_id is not None:
            by_gid.setdefault(t.global_id, set()).add(t.cls)
    assert by_gid and all(len(c) == 1 for c in by_gid.values())
    assert {c for cs in by_gid.values() for c in cs} == {PERSON, CAR}  # both classes were fused into identities


def test_a_query_can_keep_to_one_class(run):
    """A car crop asked among cars finds only car identities, and among people only people; unfiltered, the
    car's own identity ranks first (the person ReID model still tells this car from the rest)."""
    db_url, run_id = run
    tracklets = _tracklets(db_url, run_id)
    class_of = {t.global_id: t.cls for t in tracklets if t.global_id is not None}
    car = max((t for t in tracklets if t.cls == CAR and t.crops), key=len)
    crop = car.crops[0]
    for wanted in ([CAR], [PERSON]):
        (res,) = query_image(crop, db_url, run_id=run_id, mode="crop", classes=wanted)
        assert res.matches and {class_of[m.global_id] for m in res.matches} == set(wanted)
    (res,) = query_image(crop, db_url, run_id=run_id, mode="crop")
    assert class_of[res.matches[0].global_id] == CAR


def test_the_dashboard_shows_and_filters_classes(run):
    """The timeline API and page carry each identity's class and filter by it; an unknown class is a 422."""
    db_url, run_id = run
    with TestClient(create_app(db_url)) as client:
        full = client.get(f"/api/runs/{run_id}/timeline").json()
        assert full["all_classes"] == [PERSON, CAR] and {r["cls"] for r in full["rows"]} == {PERSON, CAR}
        cars = client.get(f"/api/runs/{run_id}/timeline", params={"classes": str(CAR)}).json()
        assert cars["rows"] and {r["cls"] for r in cars["rows"]} == {CAR}
        assert len(cars["rows"]) < len(full["rows"])
        assert client.get(f"/api/runs/{run_id}/timeline", params={"classes": "7"}).status_code == 422
        page = client.get(f"/runs/{run_id}", params={"classes": str(CAR)}).text
        assert 'id="class-filter"' in page and page.count('class="class-badge"') == len(cars["rows"])


@pytest.mark.parametrize("argv", [["query", "photo.jpg", "--class", "car", "--db", "sqlite:///x.db"],
                                  ["track", "video.mp4", "--classes", "0,-2", "--out", "o"]])
def test_bad_class_ids_are_one_line_errors(argv, capsys):
    from mtmct.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mtmct ") and "class ids" in err[0]
