"""Label-free adaptation (`mtmct reid adapt`): the pseudo-label rules on hand-built tracklets, re-embedding that
reproduces tracking's pooling, and the whole command on real runs.

Real runs: mtmc-tud-campus-gap2 (71 frames x 2 cameras: the command's mechanics, storage, query, errors, fast)
and the golden on mtmc-pets09-gap2 (the example config's run, adapted from the converted OSNet with the
command's defaults except fewer epochs; what the defaults reach is in BENCHMARKS.md).
"""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle)

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from fusion.topology import Topology
from mtmct.core.tracklet import GlobalIdentity, Tracklet
from mtmct.reid_adapt import PseudoLabelRules, known_different, select_boxes
from mtmct.reid_train import CropSet
from mtmct.run_adaptation import merge_linked
from storage.migrate import open_database
from storage.repository import Repository

ROOT = Path(__file__).resolve().parents[1]
OSNET = "osnet-x0_25-msmt17"


def tracklet(camera: str, track_id: int, frames: range, x: float = 0.0, height: float = 100.0) -> Tracklet:
    n = len(frames)
    boxes = np.tile([x, 0.0, 40.0, height], (n, 1))
    return Tracklet(camera, track_id, 0, np.asarray(frames), np.asarray(frames) / 10.0, boxes, np.ones(n),
                    np.ones(4) / 2.0)


def test_crops_are_clean_spread_and_enough():
    rules = PseudoLabelRules(crops_per_tracklet=5, min_crops=4, min_height=50.0, max_overlap=0.3)
    alone = tracklet("c1", 1, range(1, 101), x=0.0)
    crossing = tracklet("c1", 2, range(1, 21), x=10.0)  # overlaps track 1 (IoU 0.6) in all its frames
    short = tracklet("c1", 3, range(200, 203), x=500.0)  # 3 frames: fewer than min_crops
    tiny = tracklet("c1", 4, range(300, 340), x=800.0, height=30.0)  # every box below min_height
    chosen = select_boxes([alone, crossing, short, tiny], rules)
    assert set(chosen) == {0}  # only the long, clean tracklet teaches anything
    frames = [f for f, _ in chosen[0]]
    assert len(frames) == 5 and min(frames) > 20  # frames 1-20 show track 2 too: left out
    assert frames[0] == 21 and frames[-1] == 100  # spread over the whole clean part, ends included


def topology(links: list[dict]) -> Topology:
    from fusion.topology import Topology
    from mtmct.core.config.topology import Link

    return Topology(["c1", "c2"], [Link(**link) for link in links])


def test_known_different_are_simultaneous_where_one_person_cannot_be_twice():
    a = tracklet("c1", 1, range(1, 50))
    b = tracklet("c1", 2, range(40, 90))  # in c1 with a at frames 40-49: two people
    c = tracklet("c1", 3, range(95, 120))  # after both: may be either of them again
    d = tracklet("c2", 1, range(1, 50))  # c2 while a and b are in c1
    transit = known_different([a, b, c, d], topology([{"a": "c1", "b": "c2"}]))
    assert transit[0, 1] and transit[1, 0] and not transit[0, 2] and not transit[1, 2]
    assert transit[0, 3] and transit[1, 3]  # cameras without overlap: nobody is in both at once
    overlap = known_different([a, b, c, d], topology([{"a": "c1", "b": "c2", "overlap": True}]))
    assert overlap[0, 1] and not overlap[0, 3] and not overlap[1, 3]  # overlapping views: d may be a or b
    assert not overlap.diagonal().any() and (transit == transit.T).all()


def test_second_round_merges_linked_groups_unless_fusion_joined_two_known_people():
    keys = [("c1", 1), ("c1", 2), ("c2", 1), ("c2", 2), ("c2", 3)]
    different = np.zeros((5, 5), bool)
    different[0, 1] = different[1, 0] = True  # c1/1 and c1/2 were seen together
    different[2, 3] = different[3, 2] = True  # so were c2/1 and c2/2
    data = CropSet(np.zeros((10, 4, 2, 3), np.uint8), np.repeat(np.arange(5), 2), np.zeros(10), different)
    identities = [GlobalIdentity(1, [("c1", 1), ("c2", 1)]),  # a hand-over: merged
                  GlobalIdentity(2, [("c1", 2), ("c2", 2), ("c2", 3)]),  # holds c2/2 and c2/3: not known apart
                  ]
    merged, count = merge_linked(data, keys, identities)
    assert count == 2 and merged.num_labels == 2
    labels = merged.labels[::2]
    assert labels[0] == labels[2] and labels[1] == labels[3] == labels[4]
    assert merged.known_different()[labels[0], labels[1]]  # c1/1 vs c1/2 now separates the two groups
    wrong = [GlobalIdentity(3, [("c1", 1), ("c1", 2), ("c2", 3)])]  # fusion put two people seen together in one
    unchanged, count = merge_linked(data, keys, wrong)
    assert count == 0 and unchanged.num_labels == 5


# ---- the command on a real run (mtmc-tud-campus-gap2) ---------------------------------------------------------

MTMCT = str(Path(sys.executable).with_name("mtmct"))


def mtmct(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=timeout)


@pytest.fixture(scope="module")
def adapted(tmp_path_factory) -> dict:
    """The example TUD-Campus gap2 run, stored, then adapted once (one round, two epochs of 4 steps: mechanics only).

    SQLite only, for CI time: what the command stores and reads goes through Repository methods that
    tests/test_reid_model_store.py and tests/test_dashboard_reid_model.py run on both engines."""
    out = tmp_path_factory.mktemp("adapt")
    url = f"sqlite:///{out / 'mtmct.db'}"
    shared_path("data", "mtmc-tud-campus-gap2")
    run = mtmct("run", str(ROOT / "configs" / "cameras" / "tud-campus-gap2.yaml"), "--out", str(out / "run"),
                "--db", url, "--run-id", "tud-adapt")
    assert run.returncode == 0, run.stderr
    repo = Repository(open_database(url))
    before = {t.key: t.embedding for t in repo.load_tracklets("tud-adapt")}
    adapt = mtmct("reid", "adapt", "tud-adapt", "--db", url, "--init", str(shared_path("models", OSNET)),
                  "--rounds", "1", "--epochs", "2", "--steps-per-epoch", "4", "--json")
    assert adapt.returncode == 0, adapt.stderr
    return {"url": url, "repo": repo, "before": before, "report": json.loads(adapt.stdout), "out": out}


def test_adapt_stores_a_versioned_model_with_the_run(adapted):
    report, repo = adapted["report"], adapted["repo"]
    assert report["version"] == 1 and report["name"].endswith("-v1") and len(report["rounds"]) == 1
    assert report["rounds"][0]["crops"] > 0 and report["rounds"][0]["tracklets"] >= 2
    stored = repo.reid_model("tud-adapt")
    assert stored is not None and stored.version == 1 and stored.report["start_model"].endswith(OSNET)
    listing = mtmct("reid", "models", "tud-adapt", "--db", adapted["url"])
    assert listing.returncode == 0 and report["name"] in listing.stdout and "v1" in listing.stdout


def test_the_runs_embeddings_now_come_from_the_adapted_model(adapted):
    """Stored embeddings changed, and equal what the stored model gives when the tracklets are embedded again."""
    from cameras.embedder import load_embedder
    from cameras.reembed import reembed_tracklets
    from mtmct.adapted_model import materialise

    repo = adapted["repo"]
    tracklets = [t for t in repo.load_tracklets("tud-adapt") if t.camera_id == "c1"]
    model = materialise(repo.reid_model("tud-adapt"))
    cfg = repo.run_config("tud-adapt")
    cam = next(c for c in cfg.cameras if c.id == "c1")
    again = reembed_tracklets(tracklets, str(cam.source), load_embedder(model), cam.fps, cfg.tracklets.min_height,
                              progress=False)
    for t in tracklets:
        assert float(t.embedding @ again[t.key]) > 0.9999
        old = adapted["before"][t.key]  # the run's own (reid-0277, 256-d) embedding
        assert old.shape != t.embedding.shape or float(old @ t.embedding) < 0.9999


def test_query_and_dashboard_search_use_the_adapted_model(adapted):
    from mtmct.adapted_model import materialise
    from mtmct.query_service import select_runs

    repo = adapted["repo"]
    model = materialise(repo.reid_model("tud-adapt"))
    assert Path(select_runs(repo, "tud-adapt", None, None).reid) == model
    crop = adapted["out"] / "run" / "crops"
    photo = sorted(crop.glob("c1_*_0.jpg"))[0]
    res = mtmct("query", str(photo), "--db", adapted["url"], "--run", "tud-adapt", "--as", "crop", "--json")
    assert res.returncode == 0, res.stderr
    top = json.loads(res.stdout)["queries"][0]["matches"][0]
    camera, track = photo.name.split("_")[:2]
    assert (top["camera_id"], top["track_id"]) == (camera, int(track))  # a tracklet's own crop finds it first


def test_a_second_adaptation_is_the_next_version_and_failures_change_nothing(adapted, tmp_path):
    url, repo = adapted["url"], adapted["repo"]
    kept = {t.key: t.embedding for t in repo.load_tracklets("tud-adapt")}
    bad = mtmct("reid", "adapt", "tud-adapt", "--db", url, "--init", str(shared_path("models", "omz-person-reid-0277")))
    assert bad.returncode != 0 and "cannot be trained" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    unknown = mtmct("reid", "adapt", "no-such-run", "--db", url, "--init", str(shared_path("models", OSNET)))
    assert unknown.returncode != 0 and "no-such-run" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1
    assert [m.version for m in repo.reid_models("tud-adapt")] == [1]
    assert all(np.array_equal(t.embedding, kept[t.key]) for t in repo.load_tracklets("tud-adapt"))
    again = mtmct("reid", "adapt", "tud-adapt", "--db", url, "--rounds", "1", "--epochs", "1", "--steps-per-epoch",
                  "2", "--json")
    assert again.returncode == 0, again.stderr  # from the run's own (adapted, trainable) model this time
    assert json.loads(again.stdout)["version"] == 2
    assert [m.version for m in repo.reid_models("tud-adapt")] == [1, 2]


def test_sigkill_mid_adaptation_leaves_the_run_as_it_was(adapted):
    """Killed while training: nothing of the adaptation is stored, and the next adaptation is not locked out."""
    import signal
    import time

    url, repo = adapted["url"], adapted["repo"]
    versions = [m.version for m in repo.reid_models("tud-adapt")]
    kept = {t.key: t.embedding for t in repo.load_tracklets("tud-adapt")}
    proc = subprocess.Popen([MTMCT, "reid", "adapt", "tud-adapt", "--db", url, "--rounds", "1", "--epochs", "50",
                             "--steps-per-epoch", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    deadline = time.monotonic() + 300
    seen = ""
    while "epoch 2/50" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stderr.read1(4096) if hasattr(proc.stderr, "read1") else proc.stderr.read(64)
    assert "epoch 2/50" in seen, seen[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert [m.version for m in repo.reid_models("tud-adapt")] == versions
    assert all(np.array_equal(t.embedding, kept[t.key]) for t in repo.load_tracklets("tud-adapt"))
    after = mtmct("reid", "adapt", "tud-adapt", "--db", url, "--rounds", "1", "--epochs", "1", "--steps-per-epoch",
                  "1", "--json")  # the killed process's hold on the run does not lock it
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["version"] == versions[-1] + 1
