"""Shared ReID models rank the true match first on real crops: Market-1501 always, PETS09-S2L1 mostly.

Market-1501: the two crops of person 0001 (two cameras) query each other in a gallery of the match plus every
other crop in market1501-mini/fastreid_test_data; every model ranks the match first.

PETS09 selection rule (from the ground truth only, fixed before looking at scores; no pair is hand-picked):
- a box is usable when it lies fully inside the frame, is at least 45 px tall (the median gt box is 50 px) and
  overlaps no other gt box (IoU 0, so a crop shows one person);
- queries: every identity at every 5th frame f (1, 6, 11, ...: every half second) where it is usable, frame f + 50 (5 s later)
  shows it usable too and shows at least 3 usable people; the gallery is every usable box of f + 50.
- score: rank-1, the share of queries whose true match is the most similar gallery crop.
The rule keeps crops partly hidden by the information sign in the middle of the scene (a static occluder the gt
does not mark): an earlier version dropped boxes touching a sign box placed by hand after seeing scores, and then
claimed every model ranks every match first. Measured rank-1 over the 194 queries (MIN_RANK1) is asserted about
0.015 (3 queries) lower: a preprocessing or backend regression fails, a borderline query or two does not.
"""

from __future__ import annotations

import cv2
import motmetrics as mm
import numpy as np
import pytest
from conftest import shared_path

from cameras.embedder import Embedder, load_embedder
from mtmct.core.mot_io import read_mot

MODELS = {
    "reid-0277": "omz-person-reid-0277/FP16",
    "reid-0287": "omz-person-reid-0287/FP16-INT8",
    "osnet-x0_25": "osnet-x0_25-msmt17",
}
MIN_HEIGHT = 45.0
STRIDE = 5
GAP = 50
MIN_GALLERY = 3
MIN_RANK1 = {  # PETS09 rank-1 bars, about 0.015 below the measured figure in the comment (194 queries)
    "reid-0277": 0.955,  # measured 0.969 (188/194)
    "reid-0287": 0.97,  # measured 0.985 (191/194)
    "osnet-x0_25": 0.865,  # measured 0.881 (171/194)
}


@pytest.fixture(scope="module", params=list(MODELS))
def embedder(request) -> tuple[str, Embedder]:
    return request.param, load_embedder(shared_path("models", *MODELS[request.param].split("/")))


def market(name: str) -> np.ndarray:
    folder = "person_search_demo_query" if name.startswith("0001_") else "fastreid_test_data"
    return cv2.imread(str(shared_path("data", "market1501-mini", folder, name + ".jpg")))


@pytest.mark.parametrize("query,match", [("0001_c1s1_001051_00", "0001_c6s1_009601_00"),
                                         ("0001_c6s1_009601_00", "0001_c1s1_001051_00")])
def test_market_cross_camera_match_ranks_first(embedder, query: str, match: str) -> None:
    others = sorted(p.stem for p in shared_path("data", "market1501-mini", "fastreid_test_data").glob("*.jpg"))
    assert len(others) == 5
    gallery = [match, *others]
    feats = embedder[1].embed([market(n) for n in [query, *gallery]])
    sims = feats[1:] @ feats[0]
    assert gallery[int(sims.argmax())] == match, dict(zip(gallery, sims.round(3)))


@pytest.fixture(scope="module")
def pets() -> tuple[list[np.ndarray], np.ndarray]:
    """All decoded video frames (index k is MOT frame k + 1) and the gt rows."""
    gt = read_mot(shared_path("data", "pets09-s2l1", "gt", "gt.txt"))
    cap = cv2.VideoCapture(str(shared_path("data", "pets09-s2l1", "video.avi")))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    assert len(frames) == 795
    return frames, gt


def usable_boxes(gt: np.ndarray, frame: int, width: int, height: int) -> dict[int, np.ndarray]:
    """id -> tlwh of the boxes of one frame that make a clean one-person crop (see the module docstring)."""
    rows = gt[gt[:, 0] == frame]
    tlwh = rows[:, 2:6]
    x0, y0, x1, y1 = tlwh[:, 0], tlwh[:, 1], tlwh[:, 0] + tlwh[:, 2], tlwh[:, 1] + tlwh[:, 3]
    inside = (x0 >= 1) & (y0 >= 1) & (x1 <= width - 1) & (y1 <= height - 1)
    overlap = np.nan_to_num(1.0 - mm.distances.iou_matrix(tlwh, tlwh, max_iou=1.0), nan=0.0)
    np.fill_diagonal(overlap, 0.0)
    ok = inside & (tlwh[:, 3] >= MIN_HEIGHT) & (overlap.max(axis=1, initial=0.0) <= 0.0)
    return {int(i): box for i, box in zip(rows[ok, 1], tlwh[ok])}


@pytest.fixture(scope="module")
def pets_cases(pets) -> list[tuple[int, int]]:
    """(identity, query frame) pairs by the selection rule."""
    frames, gt = pets
    h, w = frames[0].shape[:2]
    usable = {f: usable_boxes(gt, f, w, h) for f in range(1, len(frames) + 1)}
    cases = [(pid, f) for f in range(1, len(frames) + 1 - GAP, STRIDE) for pid in sorted(usable[f])
             if pid in usable[f + GAP] and len(usable[f + GAP]) >= MIN_GALLERY]
    assert len(cases) == 194 and len({pid for pid, _ in cases}) >= 15
    return cases


def to_xyxy(tlwh: np.ndarray) -> np.ndarray:
    return np.concatenate([tlwh[..., :2], tlwh[..., :2] + tlwh[..., 2:]], axis=-1)


def test_pets_same_person_later_ranks_first(embedder, pets, pets_cases) -> None:
    name, model = embedder
    frames, gt = pets
    h, w = frames[0].shape[:2]
    feats: dict[int, dict[int, np.ndarray]] = {}  # frame -> id -> embedding, each usable box embedded once
    for f in sorted({f for _, f in pets_cases} | {f + GAP for _, f in pets_cases}):
        boxes = usable_boxes(gt, f, w, h)
        ids = sorted(boxes)
        emb = model.embed_boxes(frames[f - 1], to_xyxy(np.stack([boxes[i] for i in ids])))
        feats[f] = dict(zip(ids, emb))
    wrong = []
    for pid, f in pets_cases:
        ids = sorted(feats[f + GAP])
        sims = np.stack([feats[f + GAP][i] for i in ids]) @ feats[f][pid]
        if ids[int(sims.argmax())] != pid:
            wrong.append((pid, f, ids[int(sims.argmax())]))
    rank1 = 1 - len(wrong) / len(pets_cases)
    print(f"\n{name}: rank-1 {rank1:.4f} ({len(pets_cases) - len(wrong)}/{len(pets_cases)}); missed {wrong}")
    assert rank1 >= MIN_RANK1[name], f"{name} rank-1 {rank1:.4f} below {MIN_RANK1[name]}: missed {wrong}"
