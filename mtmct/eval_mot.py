"""Single-camera MOT metrics: CLEAR and identity metrics from py-motmetrics, HOTA from TrackEval.

Rows are MOTChallenge rows ``frame, id, x, y, w, h, ...``. Ground truth is cleaned as the MOTChallenge
evaluation (TrackEval's ``MotChallenge2DBox``) does:

* MOT15 layout (10 columns, ``conf`` then world coordinates): every row counts except those whose
  ``conf`` flag is 0 (MOTChallenge's "ignore this entry"; TrackEval drops them for MOT15 as well).
* MOT16/17/20 layout (9 columns ``flag, class, visibility``): predictions matched (IoU >= 0.5) to a
  distractor box (person on vehicle, static person, distractor, reflection) are removed, then only
  ``flag == 1`` pedestrians are kept as ground truth.

Both metric libraries then see the same cleaned frames, matched at IoU >= 0.5.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import numpy as np

from mtmct.core.mot_io import read_mot, rows_by_frame

log = logging.getLogger(__name__)

GtFormat = Literal["auto", "mot15", "mot17"]
PEDESTRIAN = 1
DISTRACTOR_CLASSES = (2, 7, 8, 12)  # person_on_vehicle, static_person, distractor, reflection
IOU_THRESHOLD = 0.5
KEYS = ("mota", "motp", "idf1", "idp", "idr", "hota", "deta", "assa", "idsw", "fp", "fn", "mt", "ml",
        "precision", "recall", "num_frames", "num_gt", "num_gt_ids")
_MM_NAMES = {"mota": "mota", "motp": "motp", "idf1": "idf1", "idp": "idp", "idr": "idr", "idsw": "num_switches",
             "fp": "num_false_positives", "fn": "num_misses", "mt": "mostly_tracked", "ml": "mostly_lost",
             "precision": "precision", "recall": "recall", "num_frames": "num_frames", "num_gt": "num_objects",
             "num_gt_ids": "num_unique_objects"}


@dataclass(frozen=True)
class _Frames:
    """Cleaned per-frame ids and tlwh boxes, ready for either metric library."""

    gt_ids: list[np.ndarray]
    gt_boxes: list[np.ndarray]
    pred_ids: list[np.ndarray]
    pred_boxes: list[np.ndarray]


def _as_rows(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    if rows.size == 0:
        return np.zeros((0, max(rows.shape[-1] if rows.ndim == 2 else 6, 6)))
    if rows.ndim != 2 or rows.shape[1] < 6:
        raise ValueError(f"MOT rows need at least 6 columns (frame,id,x,y,w,h), got shape {rows.shape}")
    return rows


def _gt_format(gt: np.ndarray, gt_format: GtFormat) -> str:
    if gt_format != "auto":
        return gt_format
    return "mot17" if gt.shape[1] == 9 else "mot15"


def _box_iou(a_tlwh: np.ndarray, b_tlwh: np.ndarray) -> np.ndarray:
    return _trackeval()._BaseDataset._calculate_box_ious(a_tlwh, b_tlwh, box_format="xywh")


def _prepare(gt: np.ndarray, pred: np.ndarray, gt_format: GtFormat) -> _Frames:
    from scipy.optimize import linear_sum_assignment

    fmt = _gt_format(gt, gt_format)
    frames = np.union1d(gt[:, 0], pred[:, 0]).astype(int)
    out = _Frames([], [], [], [])
    gt_at, pred_at = rows_by_frame(gt), rows_by_frame(pred)
    for frame in frames:
        g, p = gt_at.get(frame, gt[:0]), pred_at.get(frame, pred[:0])
        if fmt == "mot17":
            if len(g) and len(p):  # drop predictions that sit on a distractor: they are neither TP nor FP
                scores = _box_iou(g[:, 2:6], p[:, 2:6])
                scores[scores < IOU_THRESHOLD - np.finfo(float).eps] = 0
                rows, cols = linear_sum_assignment(-scores)
                hit = scores[rows, cols] > np.finfo(float).eps
                rows, cols = rows[hit], cols[hit]
                drop = cols[np.isin(g[rows, 7].astype(int), DISTRACTOR_CLASSES)]
                p = np.delete(p, drop, axis=0)
            g = g[(g[:, 6] != 0) & (g[:, 7].astype(int) == PEDESTRIAN)]
        elif gt.shape[1] > 6:
            g = g[g[:, 6] != 0]
        out.gt_ids.append(g[:, 1].astype(np.int64))
        out.gt_boxes.append(g[:, 2:6])
        out.pred_ids.append(p[:, 1].astype(np.int64))
        out.pred_boxes.append(p[:, 2:6])
    return out


def _accumulate(frames: _Frames):
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for gid, gbox, pid, pbox in zip(frames.gt_ids, frames.gt_boxes, frames.pred_ids, frames.pred_boxes):
        acc.update(gid, pid, mm.distances.iou_matrix(gbox, pbox, max_iou=1 - IOU_THRESHOLD))
    return acc


@functools.cache
def _trackeval() -> SimpleNamespace:
    """TrackEval's base dataset class and HOTA, imported once; its package prints about optional datasets on
    import, so mute that."""
    with contextlib.redirect_stdout(io.StringIO()):
        from trackeval.datasets._base_dataset import _BaseDataset
        from trackeval.metrics import HOTA
    return SimpleNamespace(_BaseDataset=_BaseDataset, HOTA=HOTA)


def _hota(frames: _Frames) -> dict:
    """TrackEval's per-sequence HOTA result (arrays over the 19 IoU thresholds)."""
    te = _trackeval()
    _, gt_idx = np.unique(np.concatenate([np.zeros(0, np.int64), *frames.gt_ids]), return_inverse=True)
    _, pr_idx = np.unique(np.concatenate([np.zeros(0, np.int64), *frames.pred_ids]), return_inverse=True)
    cuts_g = np.cumsum([len(x) for x in frames.gt_ids])[:-1]
    cuts_p = np.cumsum([len(x) for x in frames.pred_ids])[:-1]
    data = {
        "num_gt_dets": int(sum(len(x) for x in frames.gt_ids)),
        "num_tracker_dets": int(sum(len(x) for x in frames.pred_ids)),
        "num_gt_ids": int(gt_idx.max() + 1) if gt_idx.size else 0,
        "num_tracker_ids": int(pr_idx.max() + 1) if pr_idx.size else 0,
        "gt_ids": np.split(gt_idx, cuts_g),
        "tracker_ids": np.split(pr_idx, cuts_p),
        "similarity_scores": [_box_iou(g, p) for g, p in zip(frames.gt_boxes, frames.pred_boxes)],
    }
    return te.HOTA().eval_sequence(data)


def _row(mm_row: Mapping, hota: dict) -> dict[str, float]:
    row = {key: float(mm_row[name]) for key, name in _MM_NAMES.items()}
    row["motp"] = 1.0 - row["motp"] if np.isfinite(row["motp"]) else float("nan")  # motmetrics gives 1 - IoU
    for key, name in (("hota", "HOTA"), ("deta", "DetA"), ("assa", "AssA")):
        row[key] = float(np.mean(hota[name]))
    for key in ("idsw", "fp", "fn", "mt", "ml", "num_frames", "num_gt", "num_gt_ids"):
        row[key] = int(row[key])
    return {key: row[key] for key in KEYS}


def evaluate_sequences(
    sequences: Mapping[str, tuple[np.ndarray, np.ndarray]], gt_format: GtFormat = "auto"
) -> list[dict]:
    """Per-sequence metric rows (``sequence`` = name) plus a last ``OVERALL`` row pooled over all of them.

    ``sequences`` maps a name to ``(gt_rows, pred_rows)``. The overall row pools detections and ids as the
    MOTChallenge benchmark does (not an average of per-sequence figures).
    """
    import motmetrics as mm

    if not sequences:
        raise ValueError("evaluate_sequences: no sequences given")
    names = list(sequences)
    frames = {n: _prepare(_as_rows(sequences[n][0]), _as_rows(sequences[n][1]), gt_format) for n in names}
    hotas = {n: _hota(f) for n, f in frames.items()}
    summary = mm.metrics.create().compute_many(
        [_accumulate(frames[n]) for n in names], metrics=list(_MM_NAMES.values()), names=names,
        generate_overall=True)
    rows = [{"sequence": n, **_row(summary.loc[n], hotas[n])} for n in names]
    te = _trackeval()
    overall_hota = te.HOTA().combine_sequences(hotas)
    rows.append({"sequence": "OVERALL", **_row(summary.loc["OVERALL"], overall_hota)})
    return rows


def evaluate_mot(gt_rows: np.ndarray, pred_rows: np.ndarray, gt_format: GtFormat = "auto") -> dict[str, float]:
    """Metrics of one sequence: keys ``mota, idf1, hota, idsw, fp, fn, mt, ml, precision, recall, ...``."""
    row = evaluate_sequences({"seq": (gt_rows, pred_rows)}, gt_format)[0]
    del row["sequence"]
    return row


def evaluate_mot_files(
    pairs: Mapping[str, tuple[str | Path, str | Path]], gt_format: GtFormat = "auto"
) -> list[dict]:
    """Like :func:`evaluate_sequences` over ``name -> (gt.txt, pred.txt)`` paths."""
    loaded = {name: (read_mot(gt), read_mot(pred)) for name, (gt, pred) in pairs.items()}
    rows = evaluate_sequences(loaded, gt_format)
    for row in rows:
        log.info("%s: MOTA %.3f IDF1 %.3f HOTA %.3f IDSW %d", row["sequence"], row["mota"], row["idf1"],
                 row["hota"], row["idsw"])
    return rows
