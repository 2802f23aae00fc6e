"""TrackRows: what a tracker reports for one frame, as row-aligned arrays (the tracks' counterpart of Detections).

The tracker's live ``Track`` objects stay inside the tracker; every later stage (MOT writer, annotator, tracklet
builder) reads this value. Each row carries the embedding of the detection the track was assigned this frame,
copied from the assignment itself, so two tracks whose boxes coincide can never swap features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mtmct.core.boxes import xyxy_to_tlwh


@dataclass(frozen=True)
class TrackRows:
    """N confirmed tracks of one frame: ``ids`` (the tracker instance's), corner boxes ``xyxy`` (the filtered
    state), detector ``scores`` and ``classes`` of the matched detections, ``embeddings`` ``(N, D)`` of those
    detections (None when tracking without ReID; a NaN row where the tracker matched the box without ReID), and ``det_index``: the row of the frame's detections each track
    was assigned (-1 where a row was built by hand with no detections behind it)."""

    ids: np.ndarray
    xyxy: np.ndarray
    scores: np.ndarray
    classes: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    det_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        ids = np.asarray(self.ids, np.int64).reshape(-1)
        n = len(ids)
        arrays = {
            "ids": ids,
            "xyxy": np.asarray(self.xyxy, np.float64).reshape(-1, 4),
            "scores": np.asarray(self.scores, np.float64).reshape(-1),
            "classes": np.zeros(n, np.int64) if self.classes is None else np.asarray(self.classes, np.int64).reshape(-1),
            "det_index": np.full(n, -1, np.int64) if self.det_index is None
            else np.asarray(self.det_index, np.int64).reshape(-1),
        }
        if self.embeddings is not None:
            emb = np.asarray(self.embeddings, np.float32)
            arrays["embeddings"] = emb if emb.ndim == 2 else emb.reshape(n, -1)
        for name, value in arrays.items():
            if len(value) != n:
                raise ValueError(f"TrackRows: {name} has {len(value)} rows but there are {n} ids; rows must be aligned")
            object.__setattr__(self, name, value)

    @classmethod
    def empty(cls) -> TrackRows:
        return cls(np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: np.ndarray | slice | list[int]) -> TrackRows:
        """Rows by boolean mask, slice or index list, e.g. ``rows[rows.scores >= 0.5]``."""
        emb = None if self.embeddings is None else self.embeddings[index]
        return TrackRows(self.ids[index], self.xyxy[index], self.scores[index], self.classes[index], emb,
                         self.det_index[index])

    @property
    def tlwh(self) -> np.ndarray:
        """Top-left + size, for MOT files and tables only."""
        return xyxy_to_tlwh(self.xyxy)
