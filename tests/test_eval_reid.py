"""`mtmct eval reid`: the Market-1501 protocol checked against an independent computation and hand-built cases.

Acceptance set: PETS09-S2L1 frames 1-400 as camera 1 (gallery) and 401-795 as camera 2 (queries), every 10th
frame, boxes at least 40 px tall, both cut by `mtmct dataset reid-from-mot`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path
from mtmct.core.errors import MtmctError
from mtmct.eval_reid import market_metrics

MTMCT = str(Path(sys.executable).with_name("mtmct"))
MODEL = ("models", "omz-person-reid-0277")


def mtmct(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def eval_json(query: Path, gallery: Path, *extra: str) -> dict:
    res = mtmct("eval", "reid", "--query", str(query), "--gallery", str(gallery), "--reid",
                str(shared_path(*MODEL)), "--json", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def pets_sets(tmp_path_factory) -> tuple[Path, Path]:
    pets = shared_path("data", "pets09-s2l1")
    root = tmp_path_factory.mktemp("pets-reid")
    for camera, frames, name in (("1", "1:400", "gallery"), ("2", "401:795", "query")):
        res = mtmct("dataset", "reid-from-mot", "--video", str(pets / "video.avi"), "--gt",
                    str(pets / "gt" / "gt.txt"), "--camera-id", camera, "--frames", frames, "--every", "10",
                    "--min-height", "40", "--out", str(root / name))
        assert res.returncode == 0, res.stderr
    return root / "query", root / "gallery"


def independent_market_eval(query: Path, gallery: Path) -> dict:
    """The protocol written out plainly: per query, walk the gallery by distance, drop junk, note the hits."""
    from cameras.embedder import load_embedder

    def parse(folder: Path) -> tuple[list[Path], list[int], list[int]]:
        paths = sorted(folder.glob("*.jpg"))
        pid_cam = [(int(p.name.split("_")[0]), int(p.name.split("_")[1][1:].split("s")[0])) for p in paths]
        return paths, [pc[0] for pc in pid_cam], [pc[1] for pc in pid_cam]

    import cv2

    embedder = load_embedder(shared_path(*MODEL))
    (qp, qid, qcam), (gp, gid, gcam) = parse(query), parse(gallery)
    qf = embedder.embed([cv2.imread(str(p)) for p in qp])
    gf = embedder.embed([cv2.imread(str(p)) for p in gp])
    dist = 1.0 - qf @ gf.T
    aps, trapezoid_aps, first = [], [], []
    for i in range(len(qp)):
        kept = [j for j in np.argsort(dist[i], kind="stable")
                if gid[j] != -1 and not (gid[j] == qid[i] and gcam[j] == qcam[i])]
        good = [gid[j] == qid[i] for j in kept]
        if not any(good):
            continue
        ranks = [r for r, g in enumerate(good) if g]  # 0-based positions of the true matches
        first.append(ranks[0])
        aps.append(sum((n + 1) / (r + 1) for n, r in enumerate(ranks)) / len(ranks))
        # MATLAB compute_AP: trapezoids between the precision just before and at each hit
        trapezoid_aps.append(sum(((n / r if r else 1.0) + (n + 1) / (r + 1)) / 2
                                 for n, r in enumerate(ranks)) / len(ranks))
    first_arr = np.asarray(first)
    return {"rank1": float(np.mean(first_arr < 1)), "rank5": float(np.mean(first_arr < 5)),
            "map": float(np.mean(aps)), "map_trapezoid": float(np.mean(trapezoid_aps)),
            "evaluated": len(aps), "queries": len(qp)}


def test_pets_cli_matches_independent_protocol_and_rerank_helps(pets_sets):
    query, gallery = pets_sets
    plain = eval_json(query, gallery)
    ref = independent_market_eval(query, gallery)
    assert plain["queries"] == ref["queries"] and plain["queries"] - plain["skipped"] == ref["evaluated"]
    assert plain["rank1"] == pytest.approx(ref["rank1"], abs=0.01)
    assert plain["rank5"] == pytest.approx(ref["rank5"], abs=0.01)
    assert plain["map"] == pytest.approx(ref["map"], abs=0.01)
    reranked = eval_json(query, gallery, "--rerank")
    print(f"\npets09 reid ({plain['queries']} queries): rank-1 {plain['rank1']:.4f} rank-5 {plain['rank5']:.4f} "
          f"mAP {plain['map']:.4f}; re-ranked rank-1 {reranked['rank1']:.4f} mAP {reranked['map']:.4f}")
    # small, similarly dressed people; measured with omz-person-reid-0277: rank-1 0.392, mAP 0.578, re-ranked
    # mAP 0.638; the bars sit about 0.015-0.02 below
    assert plain["rank1"] >= 0.375 and plain["map"] >= 0.56
    assert plain["rank1"] <= plain["rank5"] <= plain["rank10"]
    assert reranked["map"] >= 0.62 and reranked["map"] > plain["map"]


MINI = {"0001_c1s1_001051_00": "person_search_demo_query", "0001_c6s1_009601_00": "person_search_demo_query",
        **{n: "fastreid_test_data" for n in ("0022_c6s1_002976_01", "0027_c2s2_091032_02", "0032_c6s1_002851_01",
                                             "0048_c1s1_005351_01", "0065_c6s1_009501_02")}}


def mini_sets(root: Path, distractor: bool) -> tuple[Path, Path]:
    """Queries 0001 (c1) and 0022 (c6). Gallery: the true 0001 match from c6, the other Market crops, and exact
    copies of the query 0001 crop as same-camera 0001 and as id -1 (both junk: they rank first and must be
    ignored), optionally as a 0000 distractor (ranks first and counts as a miss). 0022 only has a same-camera
    copy in the gallery, so it has no valid match and is skipped."""
    def src(name: str) -> Path:
        return shared_path("data", "market1501-mini", MINI[name], name + ".jpg")

    query, gallery = root / "query", root / "gallery"
    query.mkdir()
    gallery.mkdir()
    for name in ("0001_c1s1_001051_00", "0022_c6s1_002976_01"):
        shutil.copy(src(name), query / f"{name}.jpg")
    for name in ("0001_c6s1_009601_00", "0027_c2s2_091032_02", "0032_c6s1_002851_01", "0048_c1s1_005351_01",
                 "0065_c6s1_009501_02"):
        shutil.copy(src(name), gallery / f"{name}.jpg")
    copies = ["0001_c1s1_002000_00", "-1_c3s1_000100_00"] + (["0000_c2s1_000200_00"] if distractor else [])
    for name in copies:
        shutil.copy(src("0001_c1s1_001051_00"), gallery / f"{name}.jpg")
    shutil.copy(src("0022_c6s1_002976_01"), gallery / "0022_c6s1_003000_01.jpg")
    return query, gallery


@pytest.mark.parametrize("distractor,expected", [
    (False, {"rank1": 1.0, "rank5": 1.0, "map": 1.0}),   # junk copies ignored: the true match is first
    (True, {"rank1": 0.0, "rank5": 1.0, "map": 0.5}),    # the 0000 copy is a wrong match ranked first
])
def test_junk_and_same_camera_are_ignored_distractors_count(tmp_path, distractor, expected):
    query, gallery = mini_sets(tmp_path, distractor)
    result = eval_json(query, gallery)
    assert result["queries"] == 2 and result["skipped"] == 1
    assert result["gallery"] == 8 + distractor
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-6), (key, result)


@pytest.mark.parametrize("row,pids,cams,expected_ap,expected_rank1", [
    ([0.1, 0.2, 0.3, 0.4], [5, 6, 5, 7], [2, 2, 2, 2], (1 + 2 / 3) / 2, 1.0),   # hits at ranks 1 and 3
    ([0.1, 0.2, 0.3, 0.4], [6, 5, 7, 5], [2, 2, 2, 2], (1 / 2 + 2 / 4) / 2, 0.0),  # hits at ranks 2 and 4
    ([0.1, 0.2, 0.3, 0.4], [5, -1, 6, 5], [1, 2, 2, 2], 1 / 2, 0.0),   # same-camera hit and -1 removed
    ([0.1, 0.2, 0.3, 0.4], [0, 5, 0, 5], [2, 2, 2, 2], (1 / 2 + 2 / 4) / 2, 0.0),  # 0000 distractors count
])
def test_market_metrics_hand_computed(row, pids, cams, expected_ap, expected_rank1):
    r = market_metrics(np.asarray([row]), np.asarray([5]), np.asarray([1]), np.asarray(pids), np.asarray(cams))
    assert r["map"] == pytest.approx(expected_ap) and r["rank1"] == expected_rank1 and r["skipped"] == 0


def test_market_metrics_ap_equals_sklearn_on_kept_gallery():
    """The numpy AP equals sklearn's average_precision_score per query once junk is removed (no ties)."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    q_pids, q_cams = rng.integers(1, 6, 20), rng.integers(1, 4, 20)
    g_pids, g_cams = rng.integers(-1, 6, 200), rng.integers(1, 4, 200)
    dist = rng.random((20, 200))
    aps = []
    for i in range(20):
        keep = (g_pids != -1) & ~((g_pids == q_pids[i]) & (g_cams == q_cams[i]))
        truth = g_pids[keep] == q_pids[i]
        if truth.any():
            aps.append(average_precision_score(truth, -dist[i, keep]))
    result = market_metrics(dist, q_pids, q_cams, g_pids, g_cams)
    assert result["map"] == pytest.approx(np.mean(aps)) and result["skipped"] == 20 - len(aps)


def test_no_query_with_a_match_raises():
    with pytest.raises(MtmctError, match="none of the 1 queries"):
        market_metrics(np.zeros((1, 2)), np.asarray([3]), np.asarray([1]), np.asarray([3, 4]), np.asarray([1, 2]))


@pytest.mark.parametrize("case", ["missing query dir", "empty gallery dir", "text file named like a crop"])
def test_bad_input_one_line_error(case, tmp_path):
    query, gallery = mini_sets(tmp_path, distractor=False)
    if case == "missing query dir":
        query = named = tmp_path / "nope"
    elif case == "empty gallery dir":
        gallery = named = tmp_path / "empty"
        gallery.mkdir()
    else:
        named = gallery / "0099_c2s1_000001_00.jpg"
        named.write_text("not an image\n")
    res = mtmct("eval", "reid", "--query", str(query), "--gallery", str(gallery), "--reid",
                str(shared_path(*MODEL)))
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mtmct eval: error:"), res.stderr
    assert str(named) in lines[0]
