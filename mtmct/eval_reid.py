"""ReID retrieval metrics under the Market-1501 protocol: CMC rank-1/5/10 and mAP over query/gallery folders.

File names carry the ground truth: ``PPPP_cCsS_FFFFFF_NN.jpg`` (person id, camera, sequence, frame, box). Per
query, the protocol of Zheng et al. (ICCV 2015, ``market_evaluation/utils/compute_AP.m``) treats as *junk*,
removed from the ranking, every gallery image of id -1 and every image of the query's id taken by the
query's camera (finding the same person in the same camera is too easy); id 0000 images (distractors) stay in
the gallery as wrong matches. A query whose id has no image in another camera is skipped and counted.

AP is the mean of the precision at each true match's rank (non-interpolated), as in the Python code most
results are reported with (torchreid, fast-reid, reid-strong-baseline ``eval_func``) and as sklearn's
``average_precision_score`` for untied scores. It is written in numpy here because sklearn scores ties as one
threshold, while the protocol ranks every gallery image. The original MATLAB sums trapezoids of the
precision-recall curve instead (precision just before and at each hit), which is never higher: 0.555
against 0.578 on the PETS09-S2L1 test set; compare numbers only under the same definition.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from tqdm import tqdm

from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

MARKET_NAME = re.compile(r"^(-1|\d+)_c(\d+)s(\d+)_(\d+)_(\d+)\.(?:jpe?g|png|bmp)$", re.IGNORECASE)
RANKS = (1, 5, 10)


class CropEmbedder(Protocol):
    """What evaluation needs from an embedder: crops in, L2-normalised rows out."""

    batch_size: int

    def embed(self, crops: list[np.ndarray]) -> np.ndarray: ...


@dataclass(frozen=True)
class MarketSet:
    """The images of one folder with the person id and camera parsed from each file name."""

    folder: Path
    paths: list[Path]
    pids: np.ndarray
    cams: np.ndarray


def read_market_folder(folder: str | Path) -> MarketSet:
    """Parse a folder of Market-1501-named images; other files are ignored (logged), none parseable is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MtmctError(f"{folder} is not a folder of Market-1501-style images")
    paths, pids, cams = [], [], []
    ignored = 0
    for path in sorted(folder.iterdir()):
        m = MARKET_NAME.match(path.name)
        if not m or not path.is_file():
            ignored += 1
            continue
        paths.append(path)
        pids.append(int(m.group(1)))
        cams.append(int(m.group(2)))
    if ignored:
        log.info("%s: ignored %d files not named PPPP_cCsS_FFFFFF_NN.jpg", folder, ignored)
    if not paths:
        raise MtmctError(f"{folder} holds no images named like Market-1501 (PPPP_cCsS_FFFFFF_NN.jpg)")
    unreadable = next((p for p in paths if not cv2.haveImageReader(str(p))), None)
    if unreadable is not None:  # checked before the progress bar starts, so the error stays one line
        raise MtmctError(f"{unreadable} is not an image OpenCV can read")
    return MarketSet(folder, paths, np.asarray(pids, np.int64), np.asarray(cams, np.int64))


def embed_images(paths: list[Path], embedder: CropEmbedder, desc: str = "embedding") -> np.ndarray:
    """(N, D) embeddings of image files, read and embedded in chunks so a large gallery never sits in memory."""
    chunk = max(1, embedder.batch_size) * 8
    feats = []
    with tqdm(total=len(paths), desc=desc, unit="img") as bar:
        for start in range(0, len(paths), chunk):
            crops = []
            for path in paths[start:start + chunk]:
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    raise MtmctError(f"cannot read image {path}")
                crops.append(image)
            feats.append(embedder.embed(crops))
            bar.update(len(crops))
    return np.concatenate(feats).astype(np.float32)


def market_metrics(dist: np.ndarray, q_pids: np.ndarray, q_cams: np.ndarray, g_pids: np.ndarray,
                   g_cams: np.ndarray, ranks: tuple[int, ...] = RANKS) -> dict:
    """CMC at ``ranks`` and mAP from a (Q, G) distance matrix (smaller = closer) under the Market-1501 rules.

    Returns ``rank<k>`` and ``map`` over the evaluated queries, and ``skipped``: queries without a true match
    outside their own camera (ids <= 0 never have one). Ties keep gallery order (stable sort).
    """
    dist = np.asarray(dist)
    if dist.shape != (len(q_pids), len(g_pids)):
        raise ValueError(f"distance shape {dist.shape} does not match {len(q_pids)} queries x {len(g_pids)} gallery")
    order = np.argsort(dist, axis=1, kind="stable")
    first_hit, aps = [], []
    for i in range(len(q_pids)):
        pids, cams = g_pids[order[i]], g_cams[order[i]]
        junk = (pids == -1) | ((pids == q_pids[i]) & (cams == q_cams[i]))
        hits = np.flatnonzero((pids == q_pids[i])[~junk]) if q_pids[i] > 0 else np.zeros(0, np.int64)
        if not len(hits):
            continue
        first_hit.append(hits[0])
        aps.append(float(np.mean(np.arange(1, len(hits) + 1) / (hits + 1))))
    skipped = len(q_pids) - len(aps)
    if not aps:
        raise MtmctError(f"none of the {len(q_pids)} queries has a true match in the gallery from another camera")
    first = np.asarray(first_hit)
    result = {f"rank{k}": float(np.mean(first < k)) for k in ranks}
    result.update(map=float(np.mean(aps)), skipped=skipped)
    return result


def evaluate_sets(query: MarketSet, gallery: MarketSet, embedder: CropEmbedder, rerank: bool = False) -> dict:
    """Embed both sets, rank the gallery for every query by cosine distance (optionally re-ranked), score."""
    from fusion.rerank import cosine_distance
    from fusion.rerank import rerank as k_reciprocal

    q = embed_images(query.paths, embedder, "query")
    g = embed_images(gallery.paths, embedder, "gallery")
    dist = cosine_distance(q, g)
    if rerank:  # dense (Q+G)^2: fine for Market-1501's 23k images on a workstation, not for far larger sets
        dist = k_reciprocal(dist, cosine_distance(q, q), cosine_distance(g, g), k1=20, k2=6, lambda_value=0.3)
    result = market_metrics(dist, query.pids, query.cams, gallery.pids, gallery.cams)
    result.update(queries=len(query.paths), gallery=len(gallery.paths))
    log.info("%d queries (%d skipped), %d gallery images: rank-1 %.3f, mAP %.3f", result["queries"],
             result["skipped"], result["gallery"], result["rank1"], result["map"])
    return result


def evaluate_reid(query_dir: str | Path, gallery_dir: str | Path, embedder: CropEmbedder,
                  rerank: bool = False) -> dict:
    """Market-1501 evaluation of two folders: ``rank1``, ``rank5``, ``rank10``, ``map`` (0..1), ``queries``
    (query images read), ``gallery`` (gallery images, junk included), ``skipped`` (queries without a valid
    match, left out of the averages). ``rerank`` applies k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)."""
    return evaluate_sets(read_market_folder(query_dir), read_market_folder(gallery_dir), embedder, rerank)
