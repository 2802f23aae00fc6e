"""Golden: label-free ReID adaptation on the example pets09-gap2 run (issue 16), one pipeline run and one round.

The run is the example config's (`configs/cameras/pets09-gap2.yaml`: YOLOX-nano + omz-person-reid-0277);
`mtmct reid adapt --init osnet-x0_25-msmt17 --rounds 1` adapts from the converted OSNet with the command's
defaults otherwise (the default two rounds and the other sets are in BENCHMARKS.md: too long for CI). The ground
truth only scores (`--gt`); training never reads it. Scored:

- the own-footage ReID protocol of tests/test_eval_reid.py (PETS09-S2L1 frames 1-400 camera 1 gallery, 401-795
  camera 2 queries, every 10th frame, boxes >= 40 px), whose labels adaptation never sees: the start model
  scores rank-1 0.510 / mAP 0.559 there, reid-0277 0.392 / 0.578;
- cross-camera IDF1 of the re-fused run: the start model's embeddings on the same tracklets give 0.611
  (BENCHMARKS.md), the stored run (reid-0277) 0.840.

Bars sit a little below what this test measured on this machine (see each assertion).
"""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle)

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_path

ROOT = Path(__file__).resolve().parents[1]
MTMCT = str(Path(sys.executable).with_name("mtmct"))


def mtmct(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *map(str, args)], capture_output=True, text=True, env=os.environ.copy(),
                          timeout=timeout)


@pytest.fixture(scope="module")
def adapted(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("adapt-golden")
    db = f"sqlite:///{out / 'mtmct.db'}"
    gt = shared_path("data", "mtmc-pets09-gap2", "mtmc_gt.txt")
    run = mtmct("run", ROOT / "configs" / "cameras" / "pets09-gap2.yaml", "--out", out / "run", "--db", db)
    assert run.returncode == 0, run.stderr
    res = mtmct("reid", "adapt", "pets09-gap2", "--db", db, "--init", shared_path("models", "osnet-x0_25-msmt17"),
                "--rounds", "1", "--gt", gt, "--json")
    assert res.returncode == 0, res.stderr
    pets = shared_path("data", "pets09-s2l1")
    for camera, frames, name in (("1", "1:400", "gallery"), ("2", "401:795", "query")):
        cut = mtmct("dataset", "reid-from-mot", "--video", pets / "video.avi", "--gt", pets / "gt" / "gt.txt",
                    "--camera-id", camera, "--frames", frames, "--every", "10", "--min-height", "40",
                    "--out", out / name)
        assert cut.returncode == 0, cut.stderr
    from mtmct.adapted_model import materialise
    from storage.migrate import open_database
    from storage.repository import Repository

    model = materialise(Repository(open_database(db)).reid_model("pets09-gap2"))
    scored = mtmct("eval", "reid", "--query", out / "query", "--gallery", out / "gallery", "--reid", model, "--json")
    assert scored.returncode == 0, scored.stderr
    return {"report": json.loads(res.stdout), "reid": json.loads(scored.stdout)}


def test_adapted_model_retrieves_the_sites_people_better_than_its_start_and_reid_0277(adapted):
    reid = adapted["reid"]
    print(f"\nadapted model on PETS09-S2L1's own-footage protocol: rank-1 {reid['rank1']:.3f} mAP {reid['map']:.3f}")
    # measured here: mAP 0.647, rank-1 0.627 (start 0.559 / 0.510; reid-0277 0.578 / 0.392)
    assert reid["map"] >= 0.63
    assert reid["rank1"] >= 0.60


def test_adapted_run_links_people_across_the_blind_gap(adapted):
    report = adapted["report"]
    print(f"\ncross-camera IDF1: stored run {report['before']['idf1']:.3f}, adapted {report['rounds'][0]['idf1']:.3f} "
          f"({report['rounds'][0]['multi_camera']} identities in both cameras)")
    assert report["before"]["idf1"] >= 0.82  # the stored run (reid-0277): measured 0.840
    # measured here: 0.784, 15 identities in both cameras; the start model gives 0.611 here
    assert report["rounds"][0]["idf1"] >= 0.76
    assert report["rounds"][0]["multi_camera"] >= 13
