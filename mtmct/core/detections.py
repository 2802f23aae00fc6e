"""Detections: the one value carried from detector through embedder to tracker."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Row-aligned arrays for N boxes of one frame, in image pixels.

    ``dets[dets.scores > 0.5]`` selects rows; every stage returns a new value instead of mutating.
    """

    xyxy: np.ndarray  # (N, 4) float32: x0, y0, x1, y1
    scores: np.ndarray  # (N,) float32
    classes: np.ndarray  # (N,) int64
    embeddings: np.ndarray | None = None  # (N, D) float32, L2-normalised

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        if len(scores) != n or len(classes) != n:
            raise ValueError(f"Detections: {n} boxes but {len(scores)} scores and {len(classes)} classes")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "classes", classes)
        if self.embeddings is not None:
            emb = np.asarray(self.embeddings, dtype=np.float32)
            if emb.ndim != 2 or len(emb) != n:
                raise ValueError(f"Detections: embeddings of shape {emb.shape} do not match {n} boxes")
            object.__setattr__(self, "embeddings", emb)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    @classmethod
    def from_tlwh(cls, tlwh: np.ndarray, scores: np.ndarray, classes: np.ndarray | None = None) -> Detections:
        """From MOTChallenge-style top-left + size boxes."""
        tlwh = np.asarray(tlwh, dtype=np.float32).reshape(-1, 4)
        xyxy = tlwh.copy()
        xyxy[:, 2:] += xyxy[:, :2]
        classes = np.zeros(len(tlwh), np.int64) if classes is None else classes
        return cls(xyxy, scores, classes)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | int | list[int]) -> Detections:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        emb = None if self.embeddings is None else self.embeddings[index]
        return Detections(self.xyxy[index], self.scores[index], self.classes[index], emb)

    @property
    def tlwh(self) -> np.ndarray:
        """Boxes as top-left + width/height, the MOTChallenge layout."""
        out = self.xyxy.copy()
        out[:, 2:] -= out[:, :2]
        return out

    @property
    def areas(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def with_embeddings(self, embeddings: np.ndarray) -> Detections:
        return replace(self, embeddings=embeddings)

    @staticmethod
    def concat(parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        emb = None
        if all(p.embeddings is not None for p in parts):
            emb = np.concatenate([p.embeddings for p in parts])
        return Detections(
            np.concatenate([p.xyxy for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.classes for p in parts]),
            emb,
        )
