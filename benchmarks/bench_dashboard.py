"""Dashboard benchmark: how fast the timeline page of a 100-identity, 3-camera run loads.

The run is synthetic (built through ``storage.Repository`` in a temporary SQLite file: tracklets with boxes and
JPEG crops, global ids, a topology) so the figure depends on the dashboard, not on a tracker. Measured:
1. server time: ``GET /runs/<id>`` through Starlette's TestClient (median and max of ``--repeat``);
2. browser time (when Debian's chromium and chromedriver are installed): the page's load event in headless
   Chromium against uvicorn on 127.0.0.1 (navigation start to loadEventEnd, median of ``--repeat``).

Run:  .venv/bin/python benchmarks/bench_dashboard.py [--identities 100] [--cameras 3] [--repeat 10]
"""

from __future__ import annotations

import argparse
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mtmct.core.tracklet import GlobalIdentity, Tracklet  # noqa: E402
from storage import Repository, open_database  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900")


def build_run(url: str, run_id: str = "synthetic", identities: int = 100, cameras: int = 3, fps: float = 10.0,
              seed: int = 0) -> Repository:
    """Store a fused run where each identity walks through 1..``cameras`` cameras (a tracklet with 3 crops per
    visit, 2-8 s between cameras) at staggered start times; returns the repository."""
    rng = np.random.default_rng(seed)
    cams = [f"c{i + 1}" for i in range(cameras)]
    # sources that do not exist (no footage): pages draw on grey canvases; the config still loads, so the graph
    # shows the topology
    config = yaml.safe_dump({"name": run_id, "cameras": [{"id": c, "source": f"/synthetic/{c}.mp4", "fps": fps}
                                                         for c in cams],
                             "topology": [{"a": a, "b": b, "min_s": 1.0, "max_s": 10.0} for a, b in zip(cams, cams[1:])]})
    repo = Repository(open_database(url))
    repo.start_run(run_id, config, run_id, cams)
    per_camera: dict[str, list[Tracklet]] = {c: [] for c in cams}
    members: list[GlobalIdentity] = []
    crop = cv2.imencode(".jpg", rng.integers(0, 255, (128, 64, 3), dtype=np.uint8))[1].tobytes()
    for gid in range(1, identities + 1):
        start = int(rng.integers(1, 600))
        route = list(rng.permutation(cams)[: int(rng.integers(1, cameras + 1))])
        ident = GlobalIdentity(gid, [])
        for cam in route:
            n = int(rng.integers(20, 80))
            frames = np.arange(start, start + n)
            x = np.linspace(rng.uniform(0, 300), rng.uniform(0, 300), n)
            boxes = np.stack([x, np.full(n, 100.0), np.full(n, 40.0), np.full(n, 100.0)], 1)
            track_id = len(per_camera[cam]) + 1
            per_camera[cam].append(Tracklet(cam, track_id, 0, frames, (frames - 1) / fps, boxes, np.ones(n),
                                            rng.standard_normal(64).astype(np.float32), crops=[crop] * 3,
                                            global_id=gid))
            ident.members.append((cam, track_id))
            start += n + int(rng.integers(20, 80))
        members.append(ident)
    for cam, tracklets in per_camera.items():
        repo.write_camera(run_id, cam, None, tracklets)
    repo.write_identities(run_id, members)
    repo.finish_run(run_id)
    return repo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app: object) -> tuple[object, int]:
    """uvicorn in a daemon thread on a free loopback port; returns (server, port) once it accepts connections."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start in 20 s")
        time.sleep(0.05)
    return server, port


def chrome(user_data_dir: str):  # type: ignore[no-untyped-def]
    """Headless Debian Chromium through Debian's chromedriver (no Selenium Manager, no network)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS + (f"--user-data-dir={user_data_dir}",):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--identities", type=int, default=100)
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--repeat", type=int, default=10)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from fastapi.testclient import TestClient

    from mtmct.dashboard import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t = time.perf_counter()
        build_run(url, identities=args.identities, cameras=args.cameras).db.close()
        print(f"synthetic run: {args.identities} identities, {args.cameras} cameras, built in "
              f"{time.perf_counter() - t:.2f} s")
        app = create_app(url)
        client = TestClient(app)
        client.get("/runs/synthetic").raise_for_status()  # warm: database opened, templates compiled
        times, size = [], 0
        for _ in range(args.repeat):
            t = time.perf_counter()
            r = client.get("/runs/synthetic")
            times.append(time.perf_counter() - t)
            size = len(r.content)
        rows = r.text.count('class="tl-row"')
        print(f"server  GET /runs/synthetic: median {1000 * statistics.median(times):.1f} ms, "
              f"max {1000 * max(times):.1f} ms ({rows} rows, {size / 1024:.0f} KiB HTML)")
        if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
            print("browser: skipped (install Debian's chromium and chromium-driver)")
            return
        server, port = serve(app)
        driver = chrome(tempfile.mkdtemp(prefix="chrome-", dir=tmp))
        try:
            loads = []
            for _ in range(args.repeat):
                driver.get(f"http://127.0.0.1:{port}/runs/synthetic")
                loads.append(driver.execute_script(
                    "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;"))
            shown = driver.execute_script("return document.querySelectorAll('.tl-row').length")
            print(f"browser load event (headless Chromium): median {statistics.median(loads):.0f} ms, "
                  f"max {max(loads):.0f} ms ({shown} rows)")
        finally:
            driver.quit()
            server.should_exit = True


if __name__ == "__main__":
    main()
