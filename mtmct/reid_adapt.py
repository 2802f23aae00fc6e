"""Label-free site adaptation: training crops and pseudo-identities from a finished run's own tracklets.

No ground truth is read. The evidence a run holds about who is who:

- the crops of one tracklet show one person (the tracker kept them together frame after frame): one
  pseudo-identity per tracklet;
- two tracklets seen at the same moment are two people, in one camera and in two cameras that the topology does
  not declare overlapping: the only pairs the triplet loss pushes apart. Tracklets at different times, and
  simultaneous ones of overlapping cameras, may be one person seen twice and are left alone (pushing them apart
  would teach the model to split people);
- crops that show part of someone else (a box overlapping another of its frame) or too few pixels are left out,
  and a tracklet with too few clean crops adds nothing.

The crops are cut again from the cameras' sources at the stored boxes, evenly spread over each tracklet's
duration (pose and lighting change along a track; neighbouring frames repeat each other).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np
from tqdm import tqdm

from mtmct.core.boxes import iou
from mtmct.core.errors import MtmctError
from mtmct.core.models.preprocess import ImagePreprocess
from mtmct.core.tracklet import Tracklet
from mtmct.reid_train import CropSet, resize_crop

if TYPE_CHECKING:
    from fusion.topology import Topology

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PseudoLabelRules:
    """Which crops become training data; each value's trade-off in its comment."""

    crops_per_tracklet: int = 48  # at most this many, evenly spread: more variety per step; costs memory and
    # cutting time, and neighbouring frames repeat each other
    min_crops: int = 4  # a tracklet with fewer clean crops is left out (too little to learn a person from)
    min_height: float = 50.0  # pixels; smaller boxes show too little (the tracklet builder's `small` rule)
    max_overlap: float = 0.3  # IoU with any other box of the frame above which a crop shows two people


def select_boxes(tracklets: list[Tracklet], rules: PseudoLabelRules) -> dict[int, list[tuple[int, np.ndarray]]]:
    """Per tracklet (index into ``tracklets``): the (frame, xyxy) boxes to cut, for one camera's tracklets."""
    by_frame: dict[int, list[np.ndarray]] = defaultdict(list)
    for t in tracklets:
        for f, box in zip(t.frames, t.boxes):
            by_frame[int(f)].append(_xyxy(box))
    chosen: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, t in enumerate(tracklets):
        clean = []
        for f, box in zip(t.frames, t.boxes):
            xyxy = _xyxy(box)
            if xyxy[3] - xyxy[1] < rules.min_height:
                continue
            others = np.asarray(by_frame[int(f)], np.float32)
            overlaps = iou(xyxy[None], others)[0]
            if np.sort(overlaps)[-2:-1].max(initial=0.0) > rules.max_overlap:  # the largest besides itself
                continue
            clean.append((int(f), xyxy))
        if len(clean) < rules.min_crops:
            continue
        picks = np.unique(np.linspace(0, len(clean) - 1, min(rules.crops_per_tracklet, len(clean))).round().astype(int))
        chosen[i] = [clean[j] for j in picks]
    return chosen


def known_different(tracklets: list[Tracklet], topology: Topology) -> np.ndarray:
    """(L, L) bool: True where two tracklets are seen at the same moment where one person cannot be twice: in one
    camera, or in two cameras the topology does not declare overlapping (fusion's own rule: simultaneous
    sightings join only through an overlap link)."""
    from fusion.topology import OVERLAP

    cam = np.asarray([topology.camera_index(t.camera_id) for t in tracklets])
    start = np.asarray([t.start_time for t in tracklets])
    end = np.asarray([t.end_time for t in tracklets])
    simultaneous = np.maximum(start[:, None] - end[None], start[None] - end[:, None]) <= 0
    different = simultaneous & (topology.kind[cam[:, None], cam[None]] != OVERLAP)
    np.fill_diagonal(different, False)
    return different


def crops_from_run(tracklets: Iterable[Tracklet], sources: dict[str, str], preprocess: ImagePreprocess,
                   topology: Topology, rules: PseudoLabelRules = PseudoLabelRules(),
                   fps: dict[str, float | None] | None = None) -> tuple[CropSet, list[tuple[str, int]]]:
    """The pseudo-labelled training set of a run: crops cut from each camera's ``sources`` at the tracklets'
    boxes. Returns the set and, per label, the tracklet key it stands for."""
    from cameras.open_source import open_source

    by_camera: dict[str, list[Tracklet]] = defaultdict(list)
    for t in tracklets:
        by_camera[t.camera_id].append(t)
    missing = sorted(set(by_camera) - set(sources))
    if missing:
        raise MtmctError(f"the run's config has no source for camera(s) {missing}")
    images, labels, cams, keys, kept = [], [], [], [], []
    for cam_index, camera in enumerate(sorted(by_camera)):
        group = by_camera[camera]
        chosen = select_boxes(group, rules)
        wanted: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)  # frame -> (label, box)
        for i, boxes in chosen.items():
            label = len(keys)
            keys.append(group[i].key)
            kept.append(group[i])
            for frame, xyxy in boxes:
                wanted[frame].append((label, xyxy))
        if not wanted:
            continue
        last = max(wanted)
        with open_source(sources[camera], fps=(fps or {}).get(camera)) as source, \
                tqdm(total=last, desc=f"crops {camera}", unit="frame", leave=False) as bar:
            for frame in source:
                bar.update(1)
                if frame.index > last:
                    break
                for label, xyxy in wanted.get(frame.index, ()):
                    x0, y0, x1, y1 = _clip(xyxy, frame.image.shape)
                    if x1 <= x0 or y1 <= y0:
                        continue
                    images.append(resize_crop(frame.image[y0:y1, x0:x1], preprocess))
                    labels.append(label)
                    cams.append(cam_index)
    if len(keys) < 2:
        raise MtmctError(f"the run has {len(keys)} tracklet(s) with at least {rules.min_crops} clean crops; "
                         "adaptation needs more footage")
    different = known_different(kept, topology)
    log.info("pseudo-identities: %d tracklets, %d crops, %d known-different pairs", len(keys), len(images),
             int(different.sum()) // 2)
    return CropSet(np.stack(images), np.asarray(labels), np.asarray(cams), different), keys


def _xyxy(tlwh: np.ndarray) -> np.ndarray:
    x, y, w, h = (float(v) for v in tlwh)
    return np.asarray([x, y, x + w, y + h], np.float32)


def _clip(xyxy: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in xyxy)
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)
