"""Golden cross-camera accuracy of ``mtmct run`` on a real overlapping pair: mtmc-pets09-overlap.

Runs what ``mtmct run configs/cameras/pets09-overlap.yaml`` runs (one Ray actor per camera with the shared YOLOX
detector and OMZ person-reid-0277, then fusion with the config's ``fusion:`` section), scores
``mtmct_result.txt`` as ``mtmct eval mtmc`` does, and checks that the output keeps fusion's rules. Measured:
cross-camera IDF1 0.810 (IDP 0.875, IDR 0.754, MOTA 0.768, 27 ids for 19 people); the bar, 0.80, is also the
redesign's acceptance figure (issue 9), a point below: a fusion regression of more than a point fails. (Before
simultaneous-overlap and motion-continuation evidence fusion reached 0.58.) About 2 minutes on CPU. Run with
``pytest -s`` for the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, shared_path

from fusion.fusion import fuse
from fusion.topology import Topology
from mtmct.core.camera_config import load_camera_config
from mtmct.eval_mtmc import evaluate_mtmc, identity_metrics, read_mtmc
from mtmct.core.boxes import iou, tlwh_to_xyxy
from mtmct.core.mot_io import read_mot
from mtmct.pipeline import run_cameras

MIN_IDF1 = 0.80  # measured 0.811 on the stored tracklets, every threshold self-calibrated (no fusion key)
GAP_SETS = {  # camera set -> (IDF1 bar, fully linked bar); measured: see BENCHMARKS.md (fusion)
    "pets09-gap2": (0.82, 12),  # measured IDF1 0.840, fully linked 13 of 16 (issue 10 asks 0.70 and 12)
    "pets09-gap2-calibrated": (0.85, 14),  # measured IDF1 0.867, fully linked 14 of 16 (issue 12 asks 0.78 and 14)
    "tud-campus-gap2": (0.74, 2),  # measured IDF1 0.751, fully linked 2 of 4
}
# the uncalibrated set is scored on the calibrated run's tracklets without their ground positions: the tracker never
# uses the calibration, so they are the tracklets an uncalibrated run gives (checked: the same IDF1 and links)
WITHOUT_GROUND = {"pets09-gap2": "pets09-gap2-calibrated"}


@pytest.fixture(scope="module")
def golden(tmp_path_factory, pg_url):
    """The one pipeline run every test here reads (about 2 minutes): its result and the data folder."""
    data = shared_path("data", "mtmc-pets09-overlap")
    shared_path("models", "yolox-nano-coco"), shared_path("models", "omz-person-reid-0277")
    result = run_cameras(ROOT / "configs" / "cameras" / "pets09-overlap.yaml", tmp_path_factory.mktemp("golden"),
                         progress=False, db=pg_url, run_id="pets09-overlap-golden")
    assert not result.failed, [c.error for c in result.failed]
    assert all(c.frames == 795 for c in result.cameras)
    return data, result


@pytest.mark.slow
def test_one_person_is_never_two_tracklets_of_one_camera_at_once(golden):
    _, result = golden
    by_id: dict[int, list] = {}
    for t in result.tracklets:
        assert t.global_id is not None
        by_id.setdefault(t.global_id, []).append(t)
    for gid, members in by_id.items():
        for i, x in enumerate(members):
            for y in members[i + 1:]:
                assert x.camera_id != y.camera_id or not x.overlaps_in_time(y), (gid, x.key, y.key)


@pytest.mark.slow
def test_pets09_overlap_cross_camera_idf1(golden):
    data, result = golden
    r = evaluate_mtmc(read_mtmc(data / "mtmc_gt.txt"), read_mtmc(result.result_file))
    cams = "  ".join(f"{c} IDF1 {m['idf1']:.3f}" for c, m in sorted(r["per_camera"].items()))
    print(f"\nmtmc-pets09-overlap IDF1 {r['idf1']:.3f}  IDP {r['idp']:.3f}  IDR {r['idr']:.3f}  MOTA {r['mota']:.3f}"
          f"  ids {len(result.identities)} (19 people)  {cams}")
    assert r["idf1"] >= MIN_IDF1, f"cross-camera IDF1 {r['idf1']:.3f} below {MIN_IDF1}"


@pytest.mark.slow
def test_query_by_a_crop_from_c1_finds_its_identity_in_both_cameras(golden, pg_url, tmp_path):
    data, result = golden
    _query_crop_from_c1_finds_its_identity_in_both_cameras(data, result, pg_url, tmp_path)


def _query_crop_from_c1_finds_its_identity_in_both_cameras(data: Path, result, db_url: str, tmp_path: Path) -> None:
    """The storage acceptance: `mtmct query` with a crop of a person cut from c1's video returns that person's
    global identity first, with both cameras. The person is chosen by rule, not by hand: the largest gt box in
    c1 of someone both cameras see, at a frame where the run tracked them (IoU >= 0.5)."""
    gt1, gt2 = read_mot(data / "c1" / "gt" / "gt.txt"), read_mot(data / "c2" / "gt" / "gt.txt")
    both = np.intersect1d(gt1[:, 1], gt2[:, 1])
    pred = [ln.split(",") for ln in result.result_file.read_text().splitlines()]
    pred = np.array([[float(v) for v in p[1:]] for p in pred if p[0] == "c1"])  # global_id, frame, x, y, w, h
    candidates = gt1[np.isin(gt1[:, 1], both)]
    for row in candidates[np.argsort(-candidates[:, 5])]:
        here = pred[pred[:, 1] == row[0]]
        overlaps = iou(tlwh_to_xyxy(row[2:6]), tlwh_to_xyxy(here[:, 2:6]))[0] if len(here) else here[:, 0]
        if len(here) and overlaps.max() >= 0.5:
            expected = int(here[np.argmax(overlaps), 0])
            break
    else:
        pytest.fail("no gt person of c1 was tracked")
    cap = cv2.VideoCapture(str(data / "c1" / "video.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(row[0]) - 1)
    ok, frame = cap.read()
    cap.release()
    assert ok
    x, y, w, h = row[2:6].astype(int)
    crop_file = tmp_path / "person.jpg"
    cv2.imwrite(str(crop_file), frame[max(y, 0):y + h, max(x, 0):x + w])
    res = subprocess.run([str(Path(sys.executable).with_name("mtmct")), "query", str(crop_file), "--db", db_url,
                          "--run", "pets09-overlap-golden", "--as", "crop", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    top = json.loads(res.stdout)["queries"][0]["matches"][0]
    print(f"query: gt person {int(row[1])} at c1 frame {int(row[0])} -> global id {top['global_id']} "
          f"(expected {expected}), score {top['score']:.3f}, cameras {top['cameras']}")
    assert top["global_id"] == expected
    assert sorted(top["cameras"]) == ["c1", "c2"]


@pytest.fixture(scope="module", params=sorted(set(GAP_SETS) - set(WITHOUT_GROUND)))
def gap_run(request, tmp_path_factory):
    """One pipeline run per camera set without overlap (pets09-gap2-calibrated about 2 minutes, tud-campus-gap2
    seconds)."""
    name = request.param
    data = shared_path("data", f"mtmc-{name.removesuffix('-calibrated')}")
    shared_path("models", "yolox-nano-coco"), shared_path("models", "omz-person-reid-0277")
    result = run_cameras(ROOT / "configs" / "cameras" / f"{name}.yaml", tmp_path_factory.mktemp(name),
                         progress=False, run_id=f"{name}-golden")
    assert not result.failed, [c.error for c in result.failed]
    return name, data, result


@pytest.mark.slow
def test_gap_sets_cross_camera_idf1_and_fully_linked_people(gap_run):
    """Cameras that do not see the same ground, one shared default fusion config (no per-set values): IDF1 and
    the people seen by both cameras whom one id holds in every camera they visit."""
    name, data, result = gap_run
    gt = read_mtmc(data / "mtmc_gt.txt")
    scored = {name: (read_mtmc(result.result_file), len(result.identities))}
    for plain in (k for k, v in WITHOUT_GROUND.items() if v == name):
        cfg = load_camera_config(ROOT / "configs" / "cameras" / f"{plain}.yaml")
        tracklets = [replace(t, global_id=None, world=None) for t in result.tracklets]
        identities = fuse(tracklets, Topology.from_config(cfg), cfg.fusion)
        scored[plain] = ([(t.camera_id, t.global_id, int(f), *map(float, b)) for t in tracklets
                          for f, b in zip(t.frames, t.boxes)], len(identities))
    for each, (pred, n_ids) in scored.items():
        r, ids = evaluate_mtmc(gt, pred), identity_metrics(gt, pred)
        print(f"\n{each} IDF1 {r['idf1']:.3f}  fully linked {ids.fully_linked} of {ids.multi_camera}  ids {n_ids}")
        min_idf1, min_linked = GAP_SETS[each]
        assert r["idf1"] >= min_idf1, f"{each}: cross-camera IDF1 {r['idf1']:.3f} below {min_idf1}"
        assert ids.fully_linked >= min_linked, f"{each}: {ids.fully_linked} fully linked, below {min_linked}"
