"""The dashboard's live view (issue 13): who is where now, hand-overs, the newest ids and id changes, as JSON
(``/api/runs/{run}/live``), as server-sent events that follow what a live run stores, and in headless Chromium on a
real ``mtmct run --live --realtime``, where a new identity must appear without the page being reloaded.

The API tests store a small run by hand through the repository, as :mod:`mtmct.live_ids` does (tracklets of a
camera still running, ids, the id history), on SQLite and PostgreSQL; the browser test runs the shipped
pets09-overlap config live (its first 150 frames at 10 fps) and watches the page."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from conftest import shared_path
from mtmct.core.id_history import MERGE, Assignment, IdChange
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from mtmct.dashboard import create_app
from storage import Repository, open_database
from test_dashboard_api import load_bench

ROOT = Path(__file__).resolve().parents[1]
MTMCT = str(Path(sys.executable).with_name("mtmct"))
CONFIG = ROOT / "configs" / "cameras" / "pets09-overlap.yaml"


def tracklet(camera: str, track: int, start: float, end: float) -> Tracklet:
    """A person seen from ``start`` to ``end`` seconds (10 fps)."""
    frames = np.arange(int(start * 10) + 1, int(end * 10) + 2)
    n = len(frames)
    return Tracklet(camera, track, 0, frames, (frames - 1) / 10.0, np.tile(np.float32([10, 10, 20, 50]), (n, 1)),
                    np.ones(n, np.float32), None)


def live_run(url: str) -> Repository:
    """c1 finished: g1 from 0 to 10 s, g2 from 2 to 4 s; c2 still running: g1 again from 8 s to 15 s (a hand-over
    c1 -> c2); ids given 7 s and 12 s into the footage, then an id 3 merged into 1."""
    repo = Repository(open_database(url))
    repo.start_run("r", "cfg", "live test", ["c1", "c2"])
    repo.write_camera("r", "c1", None, [tracklet("c1", 1, 0, 10), tracklet("c1", 2, 2, 4)])
    repo.write_camera("r", "c2", None, [tracklet("c2", 1, 8, 15)], running=True)
    repo.append_id_decisions("r", [Assignment(("c1", 2), 2, 7.0, 3.0), Assignment(("c1", 1), 1, 12.0, 2.0),
                                   Assignment(("c2", 1), 3, 17.0, 2.0)], [])
    repo.append_id_decisions("r", [], [IdChange(18.0, 3, 1, MERGE)])
    repo.write_identities("r", [GlobalIdentity(1, [("c1", 1), ("c2", 1)]), GlobalIdentity(2, [("c1", 2)])])
    return repo


def test_live_json_says_who_is_where_now_hand_overs_new_ids_and_changes(db_url: str) -> None:
    live_run(db_url)
    with TestClient(create_app(db_url)) as client:
        live = client.get("/api/runs/r/live", params={"now_s": 5}).json()
        assert (live["status"], live["live"], live["present"], live["identities_total"]) == ("running", True, 15.0, 2)
        now = {c["camera_id"]: (c["status"], c["present"], [p["global_id"] for p in c["people"]])
               for c in live["cameras"]}
        assert now == {"c1": ("finished", 10.0, [1]), "c2": ("running", 15.0, [1])}  # g2 left c1 at 4 s
        assert [(h["global_id"], h["from_camera"], h["to_camera"], h["entered"]) for h in live["handovers"]] == [
            (1, "c1", "c2", 8.0)]
        assert [(i["global_id"], i["given"], i["cameras"]) for i in live["identities"]] == [
            (1, 12.0, ["c1", "c2"]), (2, 7.0, ["c1"])]  # newest first
        assert [(c["reason"], c["old_id"], c["new_id"]) for c in live["changes"]] == [("merge", 3, 1)]
        wide = client.get("/api/runs/r/live", params={"now_s": 60}).json()
        assert [p["global_id"] for p in wide["cameras"][0]["people"]] == [1, 2]
        page = client.get("/runs/r/live", headers={"accept": "text/html"})
        assert page.status_code == 200 and 'data-gid="2"' in page.text and "c1 → c2" in page.text
        assert client.get("/api/runs/nope/live").status_code == 404
        assert client.get("/api/runs/nope/live/events").json()["error"] == "unknown run id 'nope'"
        assert client.get("/api/runs/r/live", params={"now_s": 0}).status_code == 422


def events(response: httpx.Response):  # type: ignore[no-untyped-def]
    """(event, data) pairs of a server-sent event stream as they arrive."""
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and name:
            yield name, json.loads("\n".join(data))
            name, data = None, []


def test_the_event_stream_follows_what_the_run_stores_and_ends_with_it(db_url: str) -> None:
    repo = live_run(db_url)
    server, port = load_bench().serve(create_app(db_url))
    try:
        with httpx.stream("GET", f"http://127.0.0.1:{port}/api/runs/r/live/events", timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            name, first = next(stream)
            assert name == "live" and [i["global_id"] for i in first["identities"]] == [1, 2]
            # what the live run stores next: a new person in c2, then their id, then the run ends
            repo.write_camera("r", "c2", None, [tracklet("c2", 1, 8, 15), tracklet("c2", 2, 14, 20)], running=True)
            repo.append_id_decisions("r", [Assignment(("c2", 2), 4, 22.0, 2.0)], [])
            repo.write_identities("r", [GlobalIdentity(1, [("c1", 1), ("c2", 1)]), GlobalIdentity(2, [("c1", 2)]),
                                        GlobalIdentity(4, [("c2", 2)])])
            deadline, seen = time.monotonic() + 20, []
            for name, data in stream:
                if name == "live":
                    seen = [i["global_id"] for i in data["identities"]]
                    if 4 in seen:
                        break
                assert time.monotonic() < deadline
            assert seen[0] == 4  # the newest first
            repo.finish_run("r")
            assert [name for name, _ in stream][-1] == "end"  # and the stream closes
    finally:
        server.should_exit = True


def test_a_new_identity_appears_on_the_live_page_without_a_reload(browser, tmp_path: Path,
                                                                  test_output: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    shared_path("data", "mtmc-pets09-overlap")
    out = tmp_path / "out"
    url = f"sqlite:///{out / 'mtmct.db'}"
    proc = subprocess.Popen([MTMCT, "run", str(CONFIG), "--out", str(out), "--live", "--realtime", "--max-frames",
                             "150", "--live-delay", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    server = None
    try:
        deadline = time.monotonic() + 120
        while not (out / "mtmct.db").exists() or not _registered(url):
            assert proc.poll() is None and time.monotonic() < deadline, "the live run did not register"
            time.sleep(0.2)
        server, port = load_bench().serve(create_app(url))
        d = browser
        d.get(f"http://127.0.0.1:{port}/runs/pets09-overlap/live")
        d.execute_script("window.notReloaded = true;")
        at_load = set(gids(d, "#live-identities li[data-gid]"))
        WebDriverWait(d, 180).until(lambda d: gids(d, "#live-identities li.new"))
        fresh = set(gids(d, "#live-identities li.new"))
        assert fresh and not fresh & at_load and d.execute_script("return window.notReloaded === true")
        assert d.find_element(By.ID, "live-connection").text in ("live", "run ended")
        (test_output / "dashboard").mkdir(exist_ok=True)
        d.save_screenshot(str(test_output / "dashboard" / "live.png"))
        WebDriverWait(d, 180).until(lambda d: d.find_element(By.ID, "live-connection").text == "run ended")
        assert d.execute_script("return window.notReloaded === true")
        assert d.find_element(By.ID, "run-status").text == "finished"  # the header follows too
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-2000:]
        total = len({t.global_id for t in Repository(open_database(url)).load_tracklets("pets09-overlap")})
        assert d.find_element(By.ID, "live-total").text == str(total)  # the last event is the run's end state
    finally:
        if proc.poll() is None:
            proc.kill()
        if server is not None:
            server.should_exit = True


def gids(driver, css: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The ``data-gid`` of the elements matching ``css``, read in one script: the page redraws its lists on every
    event, so element handles held across calls go stale."""
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0])).map(e => e.dataset.gid)",
                                 css)


def _registered(url: str) -> bool:
    try:
        return bool(Repository(open_database(url, upgrade=False)).list_runs("pets09-overlap"))
    except Exception:  # noqa: BLE001 - the run is still creating its database
        return False
