"""Ground-plane (world) tracking metrics: MOTA, MODA, IDF1, IDP, IDR, ID switches on ``frame,id,X,Y`` rows in metres.

This is the protocol of ../shared/data/pets09-multiview/SOURCE.txt (EVALUATION): per frame, ground-truth rows and
predictions inside the footprint polygon (when one is given) are matched one-to-one at Euclidean distance
``<= max_distance`` metres by a py-motmetrics accumulator (a previous match is kept while it stays within the
distance, the rest by Hungarian assignment), over the union of the frames of both files. IDF1/IDP/IDR are
py-motmetrics' global identity matching over the same distances. ``mean_distance`` is the mean distance in metres
of the matched pairs (motmetrics' MOTP with Euclidean distances), ``moda = 1 - (fn + fp) / num_gt``.

Rows are ``frame, id, X, Y``: one row per (frame, id) in each file (a global id in predictions).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mtmct.core.errors import MtmctError
from mtmct.core.json_file import read_json
from mtmct.core.mot_io import MAX_FRAME, rows_by_frame

DEFAULT_MAX_DISTANCE = 1.0  # metres, SOURCE.txt's protocol
COLUMNS = "frame,id,X,Y"
_MM_NAMES = {"mota": "mota", "idf1": "idf1", "idp": "idp", "idr": "idr", "idsw": "num_switches",
             "fp": "num_false_positives", "fn": "num_misses", "matches": "num_detections",
             "precision": "precision", "recall": "recall", "mean_distance": "motp",
             "num_gt_ids": "num_unique_objects", "num_frames": "num_frames"}


@dataclass(frozen=True)
class WorldMetrics:
    """Ground-plane metrics. ``num_gt`` / ``num_pred`` count the rows scored (inside the footprint, if any);
    ``gt_outside`` / ``pred_outside`` the rows the footprint left out. Undefined ratios (no gt, no match) are NaN."""

    mota: float
    moda: float
    idf1: float
    idp: float
    idr: float
    idsw: int
    fp: int
    fn: int
    matches: int
    precision: float
    recall: float
    mean_distance: float
    num_gt: int
    num_pred: int
    num_gt_ids: int
    num_pred_ids: int
    num_frames: int
    gt_outside: int
    pred_outside: int
    max_distance: float
    footprint: bool

    def to_dict(self) -> dict:
        """Plain dict for JSON: NaN/inf become None (strict JSON has no NaN)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def read_world(path: str | Path) -> np.ndarray:
    """(N, 4) float64 rows ``frame, id, X, Y`` sorted by (frame, id); blank lines and ``#`` comments skipped.

    Exactly four columns, finite numbers, whole frames from 1, whole ids, one row per (frame, id); any other line
    is an :class:`MtmctError` naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise MtmctError(f"world file {path} does not exist")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MtmctError(f"cannot read world file {path}: {exc}") from exc
    rows: list[list[float]] = []
    seen: dict[tuple[int, int], int] = {}
    for n, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}:{n}"
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 4:
            hint = " (a MOT box file? give ground-plane rows)" if len(parts) >= 6 else ""
            raise MtmctError(f"{where}: expected 4 columns {COLUMNS}, got {len(parts)}{hint}: {text[:80]!r}")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise MtmctError(f"{where}: not a number in {text[:80]!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise MtmctError(f"{where}: non-finite value in {text[:80]!r}")
        frame, ident = values[0], values[1]
        if frame < 1 or frame != int(frame) or frame > MAX_FRAME:
            raise MtmctError(f"{where}: frame must be a whole number from 1 to {MAX_FRAME:,}, got {parts[0]}")
        if ident != int(ident):
            raise MtmctError(f"{where}: id must be a whole number, got {parts[1]}")
        key = (int(frame), int(ident))
        if key in seen:
            raise MtmctError(f"{where}: frame {key[0]} id {key[1]} already given on line {seen[key]} "
                             "(one row per frame and id)")
        seen[key] = n
        rows.append(values)
    if not rows:
        return np.zeros((0, 4))
    data = np.asarray(rows, np.float64)
    return data[np.lexsort((data[:, 1], data[:, 0]))]


def read_footprint(path: str | Path) -> np.ndarray:
    """(K, 2) polygon vertices (metres) of a JSON file ``{"polygon": [[X, Y], ...]}``, K >= 3, non-zero area."""
    path = Path(path)
    data = read_json(path, "footprint file")
    polygon = data.get("polygon") if isinstance(data, dict) else None
    if not isinstance(polygon, list):
        raise MtmctError(f'{path}: expected {{"polygon": [[X, Y], ...]}} (a list of points in metres)')
    points = []
    for i, point in enumerate(polygon):
        ok = (isinstance(point, list) and len(point) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in point))
        if not ok:
            raise MtmctError(f"{path}: polygon point {i} is not a pair of finite numbers [X, Y]: "
                             f"{json.dumps(point)[:60]}")
        points.append(point)
    if len(points) < 3:
        raise MtmctError(f"{path}: the polygon needs at least 3 points, got {len(points)}")
    poly = np.asarray(points, np.float64)
    x, y = poly[:, 0], poly[:, 1]
    if abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2 <= 1e-12:
        raise MtmctError(f"{path}: the polygon has zero area")
    return poly


def _as_world_rows(rows, what: str) -> np.ndarray:
    rows = np.asarray(rows, np.float64)
    if rows.size == 0:
        return np.zeros((0, 4))
    if rows.ndim != 2 or rows.shape[1] != 4:
        raise MtmctError(f"{what} rows must be {COLUMNS} (N x 4), got shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise MtmctError(f"{what} rows hold non-finite values")
    keys = rows[:, :2].astype(np.int64)
    if len(np.unique(keys, axis=0)) != len(keys):
        raise MtmctError(f"{what} rows repeat a (frame, id): one row per frame and id")
    return rows


def inside(points_xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Boolean mask of the points inside the polygon (matplotlib's even-odd test; a point exactly on an edge may
    fall either way)."""
    from matplotlib.path import Path as PolygonPath

    if not len(points_xy):
        return np.zeros(0, bool)
    return PolygonPath(polygon).contains_points(points_xy)


def world_metrics(gt_rows, pred_rows, footprint: np.ndarray | None = None,
                  max_distance: float = DEFAULT_MAX_DISTANCE) -> WorldMetrics:
    """Score ``pred_rows`` against ``gt_rows`` (both ``frame, id, X, Y``) on the ground plane; see the module doc."""
    import motmetrics as mm

    if not (isinstance(max_distance, (int, float)) and math.isfinite(max_distance) and max_distance > 0):
        raise MtmctError(f"the match distance must be a positive number of metres, got {max_distance}")
    gt, pred = _as_world_rows(gt_rows, "ground-truth"), _as_world_rows(pred_rows, "prediction")
    gt_outside = pred_outside = 0
    if footprint is not None:
        keep_g, keep_p = inside(gt[:, 2:4], footprint), inside(pred[:, 2:4], footprint)
        gt_outside, pred_outside = int((~keep_g).sum()), int((~keep_p).sum())
        gt, pred = gt[keep_g], pred[keep_p]
    gt_at, pred_at = rows_by_frame(gt), rows_by_frame(pred)
    acc = mm.MOTAccumulator(auto_id=True)
    for frame in np.union1d(gt[:, 0], pred[:, 0]).astype(int):
        g, p = gt_at.get(frame, gt[:0]), pred_at.get(frame, pred[:0])
        d2 = mm.distances.norm2squared_matrix(g[:, 2:4], p[:, 2:4], max_d2=max_distance ** 2)
        acc.update(g[:, 1].astype(np.int64), p[:, 1].astype(np.int64), np.sqrt(d2))
    summary = mm.metrics.create().compute(acc, metrics=list(_MM_NAMES.values()), name="world")
    m = {key: float(summary.loc["world", name]) for key, name in _MM_NAMES.items()}
    counts = {key: int(m[key]) for key in ("idsw", "fp", "fn", "matches", "num_gt_ids", "num_frames")}
    num_gt = len(gt)
    return WorldMetrics(
        mota=m["mota"] if num_gt else float("nan"),
        moda=1.0 - (counts["fn"] + counts["fp"]) / num_gt if num_gt else float("nan"),
        idf1=m["idf1"], idp=m["idp"], idr=m["idr"], precision=m["precision"], recall=m["recall"],
        mean_distance=m["mean_distance"] if counts["matches"] else float("nan"),
        num_gt=num_gt, num_pred=len(pred), num_pred_ids=int(len(np.unique(pred[:, 1]))),
        gt_outside=gt_outside, pred_outside=pred_outside, max_distance=float(max_distance),
        footprint=footprint is not None, **counts)


def evaluate_world_files(gt: str | Path, pred: str | Path, footprint: str | Path | None = None,
                         max_distance: float = DEFAULT_MAX_DISTANCE) -> WorldMetrics:
    """:func:`world_metrics` over files (footprint optional); every bad input is one :class:`MtmctError`."""
    if not (math.isfinite(max_distance) and max_distance > 0):
        raise MtmctError(f"--max-distance must be a positive number of metres, got {max_distance}")
    gt_rows, pred_rows = read_world(gt), read_world(pred)
    polygon = read_footprint(footprint) if footprint is not None else None
    return world_metrics(gt_rows, pred_rows, polygon, max_distance)


TABLE_KEYS = ("mota", "moda", "idf1", "idp", "idr", "idsw", "fp", "fn", "precision", "recall", "dist_m")


def world_table(m: WorldMetrics) -> str:
    """A short text table, like ``mtmct eval mot``'s."""
    values = {**asdict(m), "dist_m": m.mean_distance}
    cells = "".join(f"{values[k]:>10d}" if isinstance(values[k], int) else f"{values[k]:>10.3f}" for k in TABLE_KEYS)
    scope = (f"; inside the footprint (left out: {m.gt_outside} gt rows, {m.pred_outside} predictions)"
             if m.footprint else "")
    return (f"{m.num_gt} gt rows ({m.num_gt_ids} ids), {m.num_pred} predictions ({m.num_pred_ids} ids), "
            f"{m.num_frames} frames, matched within {m.max_distance:g} m{scope}\n"
            + "".join(f"{k:>10}" for k in TABLE_KEYS) + "\n" + cells)
