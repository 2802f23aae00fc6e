"""Market-1501 folders as a training set and a held query/gallery split for ``mtmct reid train``.

``--data DIR`` is either a Market-1501 root (``bounding_box_train/`` to train on; ``query/`` and
``bounding_box_test/`` to evaluate on when present) or one folder of Market-named crops (what
``mtmct dataset reid-from-mot`` writes). For a single folder without ``--query/--gallery``, every fifth identity
(by id, starting with the third) is held out of training and evaluated: its earlier half of frames is the gallery, its later
half the queries (moved to camera ``C + 1000`` so the Market rule "same camera is junk" does not drop them).
Held-out identities are people the network never trained on, as on a new site.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mtmct.core.errors import MtmctError
from mtmct.core.models.preprocess import ImagePreprocess
from mtmct.eval_reid import MARKET_NAME, MarketSet, read_market_folder
from mtmct.reid_train import CropSet, resize_crop

log = logging.getLogger(__name__)

HOLD_EVERY = 5  # one identity in five is held out of a single training folder for evaluation
QUERY_CAMERA_SHIFT = 1000


@dataclass
class TrainFolders:
    """What ``--data`` (and ``--query/--gallery``) name: images to train on and the split to score each epoch."""

    train: MarketSet
    query: MarketSet | None
    gallery: MarketSet | None


def read_train_folders(data: str | Path, query: str | Path | None = None,
                       gallery: str | Path | None = None) -> TrainFolders:
    """Resolve ``--data`` into train / query / gallery sets (see the module docstring)."""
    data = Path(data)
    if (query is None) != (gallery is None):
        raise MtmctError("give both --query and --gallery, or neither")
    if not data.is_dir():
        raise MtmctError(f"--data {data} is not a folder")
    root = (data / "bounding_box_train").is_dir()
    train = read_market_folder(data / "bounding_box_train" if root else data)
    if query is not None:
        return TrainFolders(train, read_market_folder(query), read_market_folder(gallery))
    if root and (data / "query").is_dir() and (data / "bounding_box_test").is_dir():
        return TrainFolders(train, read_market_folder(data / "query"), read_market_folder(data / "bounding_box_test"))
    return hold_out(train)


def hold_out(train: MarketSet) -> TrainFolders:
    """Hold every ``HOLD_EVERY``-th identity out of ``train`` as a query/gallery split (module docstring)."""
    ids = np.unique(train.pids[train.pids > 0])
    held = set(ids[2::HOLD_EVERY].tolist())
    if not held or len(ids) - len(held) < 2:
        log.warning("%s: %d identities, too few to hold any out; training without evaluation", train.folder, len(ids))
        return TrainFolders(train, None, None)
    keep = np.asarray([p not in held for p in train.pids])
    q_idx, g_idx = [], []
    frames = np.asarray([int(MARKET_NAME.match(p.name).group(4)) for p in train.paths])
    for pid in sorted(held):
        idx = np.flatnonzero(train.pids == pid)
        idx = idx[np.argsort(frames[idx], kind="stable")]
        half = len(idx) // 2
        g_idx += idx[:half].tolist()
        q_idx += idx[half:].tolist()

    def subset(index: list[int] | np.ndarray, cam_shift: int = 0) -> MarketSet:
        index = np.asarray(index, np.int64)
        return MarketSet(train.folder, [train.paths[i] for i in index], train.pids[index], train.cams[index] + cam_shift)

    log.info("%s: holding out %d of %d identities for evaluation", train.folder, len(held), len(ids))
    return TrainFolders(subset(np.flatnonzero(keep)), subset(q_idx, QUERY_CAMERA_SHIFT), subset(g_idx))


def load_crops(images: MarketSet, preprocess: ImagePreprocess) -> CropSet:
    """The set's identities (id > 0; distractors and junk left out) as training crops at the network's size."""
    keep = np.flatnonzero(images.pids > 0)
    if not len(keep):
        raise MtmctError(f"{images.folder} has no labelled images (ids above 0) to train on")
    ids = np.unique(images.pids[keep])
    if len(ids) < 2:
        raise MtmctError(f"{images.folder}: training needs at least 2 identities, found {len(ids)}")
    crops = []
    for i in tqdm(keep, desc="reading crops", unit="img", leave=False):
        img = cv2.imread(str(images.paths[i]), cv2.IMREAD_COLOR)
        if img is None:
            raise MtmctError(f"cannot read image {images.paths[i]}")
        crops.append(resize_crop(img, preprocess))
    labels = np.searchsorted(ids, images.pids[keep])
    return CropSet(np.stack(crops), labels, images.cams[keep])
