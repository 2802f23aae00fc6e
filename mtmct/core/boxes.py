"""Box geometry, once: corner (xyxy) boxes inside the project, top-left + size (tlwh) only at files and tables.

Every stage that needs an overlap, a conversion or where a person stands calls these, so the tracker, the
tracklet builder, evaluation and fusion can never disagree on what a box means.
"""

from __future__ import annotations

import numpy as np


def as_boxes(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` float64 view of any box-like input (a single box becomes one row)."""
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def tlwh_to_xyxy(tlwh: np.ndarray) -> np.ndarray:
    b = as_boxes(tlwh).copy()
    b[:, 2:] += b[:, :2]
    return b


def xyxy_to_tlwh(xyxy: np.ndarray) -> np.ndarray:
    b = as_boxes(xyxy).copy()
    b[:, 2:] -= b[:, :2]
    return b


def iou(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of corner boxes, ``(N, M)``; 0 for disjoint or degenerate boxes."""
    a, b = as_boxes(a_xyxy)[:, None, :], as_boxes(b_xyxy)[None, :, :]
    inter_wh = np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None)
    inter = inter_wh[..., 0] * inter_wh[..., 1]
    area_a = np.prod(np.clip(a[..., 2:] - a[..., :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def foot_points(xyxy: np.ndarray) -> np.ndarray:
    """Bottom-centre of each corner box, ``(N, 2)``: where the person stands, the point a ground plane maps."""
    b = as_boxes(xyxy)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], axis=1)
