"""Cross-camera (MTMC) metrics: IDF1 / IDP / IDR / MOTA over all cameras with global ids, plus per camera.

Rows are ``camera, global_id, frame, x, y, w, h`` (``mtmct_result.txt`` and ``mtmc_gt.txt``). The standard
trick makes py-motmetrics score identities across cameras: every (camera, frame) is one step of a single frame
axis, so the identity mapping that IDF1 optimises is global — a person who keeps one id in each camera but a
different one across cameras loses IDF1, while each camera's own scores (per_camera) are unchanged.
Boxes match at IoU >= 0.5.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from mtmct.core.errors import MtmctError
from mtmct.eval_mot import IOU_THRESHOLD
from mtmct.core.mot_io import rows_by_frame

Row = Sequence  # (camera, global_id, frame, x, y, w, h)
_MM_NAMES = {"idf1": "idf1", "idp": "idp", "idr": "idr", "mota": "mota", "motp": "motp", "idsw": "num_switches",
             "fp": "num_false_positives", "fn": "num_misses", "num_gt": "num_objects",
             "num_gt_ids": "num_unique_objects", "num_frames": "num_frames"}


def read_mtmc(path: str | Path) -> list[tuple[str, int, int, float, float, float, float]]:
    """Rows of a ``camera,global_id,frame,x,y,w,h`` text file (blank lines and ``#`` comments skipped).

    Exactly seven columns: a single-camera MOTChallenge file (``frame,id,x,y,w,h,score,...``, 9 or 10 columns)
    would otherwise read as camera = frame, frame = x, and score as nonsense instead of failing.
    """
    path = Path(path)
    if not path.is_file():
        raise MtmctError(f"MTMC file {path} does not exist")
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 7:
            hint = " (a single-camera MOT file? give cross-camera rows)" if len(parts) > 7 else ""
            raise MtmctError(f"{path}:{n}: expected 7 columns camera,global_id,frame,x,y,w,h, got {len(parts)}"
                             f"{hint}: {line!r}")
        try:
            rows.append((parts[0], int(float(parts[1])), int(float(parts[2])), *map(float, parts[3:7])))
        except ValueError as exc:
            raise MtmctError(f"{path}:{n}: {exc}") from exc
    return rows


def _by_camera(rows: Iterable[Row], what: str) -> dict[str, np.ndarray]:
    """camera -> (N, 6) array ``frame, id, x, y, w, h``."""
    grouped: dict[str, list] = {}
    for row in rows:
        if len(row) < 7:
            raise ValueError(f"{what} rows need camera,global_id,frame,x,y,w,h, got {tuple(row)!r}")
        grouped.setdefault(str(row[0]), []).append([row[2], row[1], *row[3:7]])
    return {cam: np.asarray(v, np.float64).reshape(-1, 6) for cam, v in grouped.items()}


def _accumulate(acc, gt: np.ndarray, pred: np.ndarray, start: int) -> int:
    """Add one camera's frames to ``acc`` as frame ids ``start, start + 1, ...``; returns the next free id."""
    import motmetrics as mm

    frames = np.union1d(gt[:, 0], pred[:, 0])
    gt_at, pred_at = rows_by_frame(gt), rows_by_frame(pred)
    for offset, frame in enumerate(frames):
        g, p = gt_at.get(int(frame), gt[:0]), pred_at.get(int(frame), pred[:0])
        dist = mm.distances.iou_matrix(g[:, 2:6], p[:, 2:6], max_iou=1 - IOU_THRESHOLD)
        acc.update(g[:, 1].astype(int), p[:, 1].astype(int), dist, frameid=start + offset)
    return start + len(frames)


def _summary(acc) -> dict[str, float]:
    import motmetrics as mm

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        df = mm.metrics.create().compute(acc, metrics=list(_MM_NAMES.values()))
    out = {}
    for key, name in _MM_NAMES.items():
        value = float(df[name].iloc[0])
        out[key] = value if key in {"idf1", "idp", "idr", "mota", "motp"} else int(value)
    out["motp"] = 1.0 - out["motp"] if np.isfinite(out["motp"]) else float("nan")  # motmetrics gives 1 - IoU
    return out


def evaluate_mtmc(gt_rows: Iterable[Row], pred_rows: Iterable[Row]) -> dict:
    """Cross-camera metrics of ``pred_rows`` against ``gt_rows`` (both ``camera, global_id, frame, x, y, w, h``).

    Returns idf1, idp, idr, mota, motp (mean IoU of matches, as ``eval_mot``), idsw, fp, fn, num_gt, num_gt_ids,
    num_frames over all cameras, and ``per_camera``: the same keys for each camera alone. A camera only in the
    predictions counts as false positives.
    """
    import motmetrics as mm

    gt, pred = _by_camera(gt_rows, "gt"), _by_camera(pred_rows, "pred")
    empty = np.zeros((0, 6))
    overall = mm.MOTAccumulator(auto_id=False)
    per_camera, next_id = {}, 0
    for cam in sorted(set(gt) | set(pred)):
        g, p = gt.get(cam, empty), pred.get(cam, empty)
        next_id = _accumulate(overall, g, p, next_id)
        acc = mm.MOTAccumulator(auto_id=False)
        _accumulate(acc, g, p, 0)
        per_camera[cam] = _summary(acc)
    return {**_summary(overall), "per_camera": per_camera}
