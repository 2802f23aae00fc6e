"""Golden ground-plane accuracy (issue 12): the shipped configs/cameras/pets09-multiview.yaml (View_001 footage,
View_005 and View_006 as detections, all calibrated in metres) run once through `mtmct run`, then scored on the
world plane with `mtmct eval world` against ../shared/data/pets09-multiview/gt_world.txt inside its footprint.

The same stored tracklets are re-fused for View_001 alone and with each detection-only view (the table of the
issue). Bars sit a little below what was measured (printed with -s): a real regression fails, noise passes.
Measured (the config estimates the views' clock offsets, about -0.01 s and -0.04 s): all three views MOTA 0.913,
IDF1 0.863; View_001 alone 0.873 / 0.906; 001+005 0.929 / 0.889; 001+006 0.920 / 0.855.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import shared_path
from fusion.clock_offset import apply_clock_offsets
from fusion.fusion import fuse_report
from fusion.topology import Topology
from mtmct.core.camera_config import load_camera_config
from mtmct.eval_world import read_footprint, read_world, world_metrics
from mtmct.world_trajectories import world_rows
from storage import Repository, open_database

MTMCT = str(Path(sys.executable).with_name("mtmct"))
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cameras" / "pets09-multiview.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    shared_path("data", "pets09-multiview")  # skips without ../shared
    out = tmp_path_factory.mktemp("multiview")
    done = subprocess.run([MTMCT, "run", str(CONFIG), "--out", str(out)], capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def _scores(cameras: list[str], out: Path) -> dict:
    cfg = load_camera_config(CONFIG)
    tracklets = [t for t in Repository(open_database(f"sqlite:///{out / 'mtmct.db'}")).load_tracklets(cfg.name)
                 if t.camera_id in cameras]
    _, report = fuse_report(tracklets, Topology.from_config(cfg), cfg.fusion)
    data = shared_path("data", "pets09-multiview")
    placed = apply_clock_offsets(tracklets, report.clock_offsets)  # as the run writes mtmct_world.txt
    return world_metrics(read_world(data / "gt_world.txt"), world_rows(placed),
                         read_footprint(data / "footprint_world.json"), 1.0).to_dict()


def test_the_cli_scores_the_run_on_the_ground(run):
    data = shared_path("data", "pets09-multiview")
    done = subprocess.run([MTMCT, "eval", "world", "--gt", str(data / "gt_world.txt"), "--pred",
                           str(run / "mtmct_world.txt"), "--footprint", str(data / "footprint_world.json"), "--json"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    scores = json.loads(done.stdout)
    print(f"\nall three views: MOTA {scores['mota']:.3f} IDF1 {scores['idf1']:.3f} IDSW {scores['idsw']}")
    assert scores["mota"] >= 0.90 and scores["idf1"] >= 0.85  # the acceptance; measured 0.913 / 0.863
    again = _scores(["v1", "v5", "v6"], run)  # re-fusing the stored tracklets gives what the run wrote
    assert {k: scores[k] for k in ("mota", "idf1", "idsw")} == pytest.approx({k: again[k] for k in ("mota", "idf1",
                                                                                                   "idsw")})


def test_each_detection_only_view_adds_to_view_001(run):
    table = {name: _scores(cams, run) for name, cams in
             (("001", ["v1"]), ("001+005", ["v1", "v5"]), ("001+006", ["v1", "v6"]), ("all", ["v1", "v5", "v6"]))}
    for name, s in table.items():
        print(f"{name:8s} MOTA {s['mota']:.3f} MODA {s['moda']:.3f} IDF1 {s['idf1']:.3f} IDSW {s['idsw']}")
    alone = table["001"]
    assert alone["mota"] >= 0.86 and alone["idf1"] >= 0.89
    for name in ("001+005", "001+006"):  # a view known only by its detections adds coverage on the ground
        assert table[name]["mota"] >= alone["mota"] + 0.03 and table[name]["moda"] >= alone["moda"] + 0.03
