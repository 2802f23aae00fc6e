"""Embed a camera's stored tracklets again with another ReID model (an adapted one), from the camera's source.

The pooled embedding is made as the tracklet builder makes it during tracking: every box of the tracklet is
embedded and weighted by :func:`cameras.tracklet_builder.box_weights` (score x size x (1 - occlusion)), then
the weighted mean is L2-normalised. One difference: the "typical height" a box's size is compared with is the
median of all the camera's boxes, where tracking could only know the heights seen so far.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Iterable

import numpy as np
from tqdm import tqdm

from cameras.embedder import Embedder
from cameras.open_source import open_source
from cameras.tracklet_builder import box_weights
from mtmct.core.boxes import tlwh_to_xyxy
from mtmct.core.errors import MtmctError
from mtmct.core.tracklet import Tracklet

log = logging.getLogger(__name__)


def reembed_tracklets(tracklets: Iterable[Tracklet], source: str, embedder: Embedder, fps: float | None = None,
                      min_height: float = 50.0, progress: bool = True) -> dict[tuple[str, int], np.ndarray]:
    """New pooled embeddings, by tracklet key, for one camera's ``tracklets`` read again from ``source``.

    ``min_height`` is the tracklet builder's floor of the typical height (``tracklets.min_height``).
    """
    tracklets = list(tracklets)
    if not tracklets:
        return {}
    if len({t.camera_id for t in tracklets}) > 1:
        raise ValueError("reembed_tracklets takes the tracklets of one camera")
    by_frame: dict[int, list[tuple[int, np.ndarray, float]]] = defaultdict(list)  # frame -> (tracklet, xyxy, score)
    for i, t in enumerate(tracklets):
        for f, box, score in zip(t.frames, tlwh_to_xyxy(t.boxes), t.scores):
            by_frame[int(f)].append((i, box, float(score)))
    heights = np.concatenate([t.boxes[:, 3] for t in tracklets])
    typical = max(min_height, float(np.median(heights)))
    sums = np.zeros((len(tracklets), embedder.dim), np.float64)
    plain = np.zeros((len(tracklets), embedder.dim), np.float64)  # unweighted, for tracklets whose weights are all 0
    last = max(by_frame)
    camera = tracklets[0].camera_id
    with open_source(source, fps=fps) as src, \
            tqdm(total=last, desc=f"re-embed {camera}", unit="frame", leave=False, disable=not progress) as bar:
        for frame in src:
            if frame.index > last:
                break
            bar.update(1)
            rows = by_frame.get(frame.index)
            if not rows:
                continue
            xyxy = np.stack([r[1] for r in rows])
            feats = embedder.embed_boxes(frame.image, xyxy)
            weights = box_weights(xyxy, np.asarray([r[2] for r in rows]), typical)
            for (i, _, _), feat, w in zip(rows, feats, weights):
                sums[i] += w * feat
                plain[i] += feat
    seen = np.abs(plain).sum(axis=1) > 0
    if not seen.all():
        missing = [tracklets[i].key for i in np.flatnonzero(~seen)][:3]
        raise MtmctError(f"camera {camera}: source {source} ended before the frames of tracklets {missing}")
    pooled = np.where((np.abs(sums).sum(axis=1) > 1e-9)[:, None], sums, plain)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return {t.key: pooled[i].astype(np.float32) for i, t in enumerate(tracklets)}
