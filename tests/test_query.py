"""Query by person image over a run stored from real PETS09 footage, on SQLite and PostgreSQL alike.

The stored run: one tracklet per (camera, identity) for eight people of mtmc-pets09-overlap, built from their gt
boxes in every 10th frame and embedded with the shared OMZ ReID model; queries use frames never stored.

The query person is chosen by a rule written before any score was seen (:func:`pick_query`), not by trying
people until one ranked well.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from conftest import shared_path
from mtmct.core.errors import MtmctError
from mtmct.query import QueryService, query_image, search_by_image
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from storage import Repository, open_database, upgrade

MTMCT = str(Path(sys.executable).with_name("mtmct"))
IDS = (1, 2, 3, 4, 5, 9, 13, 15)


def overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two tlwh boxes share any pixels."""
    return min(a[0] + a[2], b[0] + b[2]) > max(a[0], b[0]) and min(a[1] + a[3], b[1] + b[3]) > max(a[1], b[1])


def pick_query(gt_rows: np.ndarray, start: int, ids: tuple[int, ...] | None = None, people: int = 3,
               accept: Callable[[np.ndarray], bool] | None = None) -> tuple[int, int]:
    """The query rule, fixed before looking at any score: the first frame from ``start`` on that is not a multiple
    of 10 (never stored here) and shows at least ``people`` gt persons (of ``ids``) whose boxes overlap no other gt
    box; the query is the tallest of them (the best-resolved, unoccluded person) that ``accept`` (given its gt row)
    takes, e.g. one a tracked run holds under a global id. Returns (frame, person)."""
    for frame in np.unique(gt_rows[:, 0]).astype(int):
        if frame < start or frame % 10 == 0:
            continue
        rows = gt_rows[gt_rows[:, 0] == frame]
        free = [r for r in rows if (ids is None or int(r[1]) in ids)
                and not any(overlaps(r[2:6], o[2:6]) for o in rows if o[1] != r[1])]
        taken = [r for r in free if accept is None or accept(r)]
        if len(free) >= people and taken:
            return frame, int(max(taken, key=lambda r: r[5])[1])
    raise AssertionError(f"no frame from {start} on shows {people} separate people")



def video_frames(camera: str) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(shared_path("data", "mtmc-pets09-overlap", camera, "video.mp4")))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    cap.release()
    return frames


def gt(camera: str) -> np.ndarray:
    return np.loadtxt(shared_path("data", "mtmc-pets09-overlap", camera, "gt", "gt.txt"), delimiter=",")


def cut(frame: np.ndarray, row: np.ndarray) -> np.ndarray:
    x, y, w, h = (int(round(v)) for v in row[2:6])
    return frame[max(y, 0):y + h, max(x, 0):x + w]


@pytest.fixture(scope="module")
def pets():
    """Tracklets per camera (global_id = gt id), the config text naming the shared models, and query images."""
    from cameras.embedder import load_embedder

    reid, detector = shared_path("models", "omz-person-reid-0277"), shared_path("models", "yolox-nano-coco")
    embedder = load_embedder(reid)
    frames = {c: video_frames(c) for c in ("c1", "c2")}
    tracklets = {}
    for cam in frames:
        rows = gt(cam)
        tracklets[cam] = []
        for pid in IDS:
            mine = rows[(rows[:, 1] == pid) & (rows[:, 0] % 10 == 0)][:12]
            crops = [cut(frames[cam][int(r[0]) - 1], r) for r in mine]
            emb = embedder.embed(crops).mean(0)
            tracklets[cam].append(Tracklet(
                cam, pid, 0, mine[:, 0].astype(int), (mine[:, 0] - 1) / 10.0, mine[:, 2:6], np.ones(len(mine)),
                emb / np.linalg.norm(emb), crops=[cv2.imencode(".jpg", crops[len(crops) // 2])[1].tobytes()]))
    config = yaml.safe_dump({"name": "pets", "models": {"detector": str(detector), "reid": str(reid), "device": "cpu",
                                                        "conf": 0.3, "classes": None},
                             "cameras": [{"id": c, "source": str(shared_path("data", "mtmc-pets09-overlap", c,
                                                                             "video.mp4"))} for c in frames]})
    # from the middle of c1's 795 frames on: frame 544, person 3 (a 90 px tall box)
    frame, person = pick_query(gt("c1"), start=398, ids=IDS)
    row = next(r for r in gt("c1") if r[1] == person and r[0] == frame)
    return {"tracklets": tracklets, "config": config, "crop": cut(frames["c1"][frame - 1], row),
            "scene": frames["c1"][frame - 1], "scene_gt": gt("c1")[gt("c1")[:, 0] == frame],
            "detector": detector, "person": person}


def store(url: str, pets: dict, run_id: str = "pets-1", cameras=("c1", "c2")) -> None:
    db = open_database(url)
    repo = Repository(db)
    repo.start_run(run_id, pets["config"], "pets", list(cameras))
    for cam in cameras:
        repo.write_camera(run_id, cam, None, pets["tracklets"][cam])
    repo.write_identities(run_id, [GlobalIdentity(pid, [(c, pid) for c in cameras]) for pid in IDS])
    repo.finish_run(run_id)
    db.close()


@pytest.fixture
def cache(monkeypatch, tmp_path) -> Path:
    """Where this test's index cache may go: the server cache root; SQLite's lies beside its file in tmp_path."""
    monkeypatch.setenv("MTMCT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def cache_files(db_url: str, cache: Path) -> list[Path]:
    where = Path(db_url.removeprefix("sqlite:///") + ".query-index") if db_url.startswith("sqlite") else cache
    return sorted(p for p in where.rglob("*") if p.is_file()) if where.exists() else []


@pytest.fixture
def stored(db_url, pets, cache) -> str:
    store(db_url, pets)
    return db_url


def write_jpeg(path: Path, img: np.ndarray) -> Path:
    cv2.imwrite(str(path), img)
    return path


@pytest.mark.parametrize("mode", ["auto", "crop"])
def test_crop_finds_the_person_first_in_both_cameras(stored, pets, mode):
    results = query_image(pets["crop"], stored, top_k=5, mode=mode)
    assert len(results) == 1 and results[0].box is None  # the whole image is the query
    best, second = results[0].matches[:2]
    assert (best.run_id, best.global_id, best.cameras) == ("pets-1", pets["person"], ["c1", "c2"])
    assert best.camera_id in ("c1", "c2") and best.track_id == pets["person"] and best.rank == 1
    # measured: 0.789 against 0.330 for the next identity (after the rule chose the person); asserting 0.6 and a
    # 0.3 lead leaves room for model or decoder noise, not for a weaker match or a near swap
    assert 0.6 < best.score <= 1.0 and best.score > second.score + 0.3
    assert {m.global_id for m in results[0].matches} <= set(IDS) and len(results[0].matches) == 5
    stored_times = pets["tracklets"]["c2"][IDS.index(pets["person"])].times
    assert best.times["c2"] == (stored_times[0], stored_times[-1])
    assert best.crop[:2] == b"\xff\xd8"  # a JPEG


def test_search_by_image_is_json_ready(stored, pets):
    ok, buf = cv2.imencode(".png", pets["crop"])
    out = json.loads(json.dumps(search_by_image(buf.tobytes(), stored, run_id="pets-1", top_k=3)))
    best = out["queries"][0]["matches"][0]
    assert best["global_id"] == pets["person"] and best["cameras"] == ["c1", "c2"] and len(out["queries"][0]["matches"]) == 3
    assert base64.b64decode(best["crop_jpeg_base64"])[:2] == b"\xff\xd8"


def test_scene_gives_one_query_per_detected_person(stored, pets):
    from cameras.detector import load_detector

    people = load_detector(pets["detector"], conf=0.3).detect(pets["scene"])
    assert len(people) >= 3
    results = query_image(pets["scene"], stored, top_k=3)  # auto: people fill only part of the frame
    assert len(results) == len(people) and all(r.box is not None and len(r.matches) == 3 for r in results)
    # the query box on the query person's gt box finds that person first
    x, y, w, h = next(r[2:6] for r in pets["scene_gt"] if r[1] == pets["person"])
    boxes = np.array([r.box for r in results])
    iw = np.clip(np.minimum(boxes[:, 2], x + w) - np.maximum(boxes[:, 0], x), 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], y + h) - np.maximum(boxes[:, 1], y), 0, None)
    iou = iw * ih / ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + w * h - iw * ih)
    assert iou.max() > 0.5
    assert results[int(iou.argmax())].matches[0].global_id == pets["person"]


def test_index_cache_is_reused_warm_and_rebuilt_when_stale(stored, pets, cache):
    assert cache_files(stored, cache) == []
    query_image(pets["crop"], stored, mode="crop")
    files = cache_files(stored, cache)
    assert [p.suffix for p in files] == [".faiss", ".npz"]
    stamp = [p.stat().st_mtime_ns for p in files]
    db = open_database(stored)
    runs = ["pets-1"]
    key = f"reid={yaml.safe_load(pets['config'])['models']['reid']}"
    service = QueryService()
    assert service.index(Repository(db), runs, key).source == "disk"
    assert service.index(Repository(db), runs, key).source == "memory"
    warm = QueryService().index(Repository(db), runs, key)  # another process' view: the file, not memory
    assert warm.source == "disk" and len(warm) == 2 * len(IDS)
    query_image(pets["crop"], stored, mode="crop")
    assert [p.stat().st_mtime_ns for p in cache_files(stored, cache)] == stamp  # nothing rewritten
    db.close()

    store(stored, pets, run_id="pets-2", cameras=("c2",))  # a new run with the same model: the cache is stale
    results = query_image(pets["crop"], stored, top_k=20, mode="crop")
    assert {m.run_id for m in results[0].matches} == {"pets-1", "pets-2"}
    assert len(results[0].matches) == 2 * len(IDS)  # identities of both runs, one entry each
    after = cache_files(stored, cache)
    assert len(after) == 2 and after != files  # a new index file replaced the old one
    assert query_image(pets["crop"], stored, run_id="pets-2", mode="crop")[0].matches[0].run_id == "pets-2"


# ---- the command line ----------------------------------------------------------------------------------------

def mtmct(*args: str) -> subprocess.CompletedProcess:
    from mtmct.cli import COMMANDS

    cmd = [MTMCT] if "query" in COMMANDS else [  # until mtmct/cli.py registers the command
        sys.executable, "-c", "import sys, mtmct.cli as c; c.COMMANDS.append('query'); sys.exit(c.main())"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_cli_table_json_and_crops(stored, pets, tmp_path):
    image = write_jpeg(tmp_path / "person.jpg", pets["crop"])
    res = mtmct("query", str(image), "--db", stored, "--top-k", "3", "--as", "crop")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "query 1 (whole image)" and lines[1].split()[:3] == ["rank", "run", "global"]
    assert lines[2].split()[:3] == ["1", "pets-1", str(pets["person"])] and "c1,c2" in lines[2]
    res = mtmct("query", str(image), "--db", stored, "--json", "--save-crops", str(tmp_path / "crops"))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    best = out["queries"][0]["matches"][0]
    assert best["global_id"] == pets["person"] and Path(best["crop"]).read_bytes()[:2] == b"\xff\xd8"


def _bad_case(case: str, url: str, tmp_path: Path) -> list[str]:
    text = tmp_path / "photo.jpg"
    text.write_text("this is not an image\n")
    crop = write_jpeg(tmp_path / "crop.jpg", np.full((128, 64, 3), 120, np.uint8))
    blank = write_jpeg(tmp_path / "blank.jpg", np.full((360, 288, 3), 200, np.uint8))
    return {
        "text renamed .jpg": [str(text), "--db", url],
        "blank scene": [str(blank), "--db", url, "--as", "scene"],
        "unreachable database": [str(crop), "--db", "postgresql+psycopg://postgres@127.0.0.1:1/x"],
        "missing sqlite file": [str(crop), "--db", f"sqlite:///{tmp_path / 'none' / 'mtmct.db'}"],
        "unknown run id": [str(crop), "--db", url, "--run", "nope"],
        "empty database": [str(crop), "--db", url],
    }[case]


@pytest.mark.parametrize("case", ["text renamed .jpg", "blank scene", "unreachable database", "missing sqlite file",
                                  "unknown run id", "empty database"])
def test_cli_bad_input_one_line_error_writes_nothing(case, db_url, pets, cache, tmp_path):
    if case in ("unreachable database", "missing sqlite file") and "postgresql" in db_url:
        pytest.skip("does not depend on the database kind")
    if case == "empty database":
        upgrade(db_url)
    else:
        store(db_url, pets)
    args = _bad_case(case, db_url, tmp_path)
    res = mtmct("query", *args)
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mtmct query: error:"), res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert cache_files(db_url, cache) == [] and not (tmp_path / "none").exists()


def test_bad_input_raises_mtmct_error(stored):
    with pytest.raises(MtmctError, match="not an image"):
        query_image(b"GIF89a but not really", stored)
    with pytest.raises(MtmctError, match="unknown run id"):
        query_image(np.zeros((128, 64, 3), np.uint8), stored, run_id="nope", mode="crop")
    with pytest.raises(MtmctError, match="mode"):
        query_image(np.zeros((128, 64, 3), np.uint8), stored, mode="face")  # type: ignore[arg-type]


def test_one_service_answers_20_threads_at_once(stored, pets):
    """Module-level model caches shared by threads failed here ("Infer Request is busy"): one service, 20 threads,
    every query answered with the same best identity and score; a cold index is built once, not per thread."""
    from concurrent.futures import ThreadPoolExecutor

    service = QueryService()
    db = open_database(stored)
    try:
        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(lambda _: service.query(Repository(db), pets["crop"], mode="crop", top_k=3),
                                    range(20)))
    finally:
        db.close()
    assert {(r[0].matches[0].global_id, round(r[0].matches[0].score, 4)) for r in results} == {
        (pets["person"], round(results[0][0].matches[0].score, 4))}
