"""Detector interface and the factory that picks an implementation from a model's files and outputs."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from mtmct.core.models.backend import Backend, load_backend
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.core.models.registry import resolve_model

# arch -> module:class; imported lazily so e.g. the Paddle path costs nothing for an ONNX user
_DETECTORS = {
    "ppdet": "cameras.paddle_detector:PaddleDetector",
    "oneshot": "cameras.oneshot_detector:OneShotDetector",
    "yolox": "cameras.yolox_detector:YoloxDetector",
    "ssd": "cameras.ssd_detector:SsdDetector",
}


class Detector(ABC):
    """Finds objects in one BGR frame; boxes come back in that frame's pixels."""

    def __init__(self, backend: Backend, conf: float = 0.3, classes: list[int] | None = None) -> None:
        """``conf`` trades recall for precision; ``classes`` keeps only those labels (None keeps all)."""
        self.backend = backend
        self.conf = float(conf)
        self.classes = None if classes is None else list(classes)

    @abstractmethod
    def _detect(self, frame: np.ndarray) -> Detections:
        """All detections above ``self.conf``, before the class filter."""

    def detect(self, frame: np.ndarray) -> Detections:
        shape = getattr(frame, "shape", None)
        if not isinstance(frame, np.ndarray) or frame.ndim != 3 or shape[2] != 3 or 0 in shape:
            raise ValueError(f"detect: expected a non-empty HxWx3 BGR image array, got {type(frame).__name__} {shape}")
        dets = self._detect(frame)
        if self.classes is not None and len(dets):
            dets = dets[np.isin(dets.classes, self.classes)]
        h, w = frame.shape[:2]
        xyxy = dets.xyxy.copy()
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
        return Detections(xyxy, dets.scores, dets.classes, dets.embeddings)[keep]


def guess_detector_arch(backend: Backend) -> str:
    """Tell the model family from its format and output layout when no manifest names it."""
    if backend.name == "paddle":
        from mtmct.core.models.paddle_preprocess import read_yaml

        cfg_file = backend.model_file.parent / "infer_cfg.yml"
        arch = read_yaml(cfg_file).get("arch") if cfg_file.exists() else None
        return "oneshot" if arch in ("FairMOT", "JDE") else "ppdet"
    shapes = backend.output_shapes
    if len(shapes) == 1 and len(shapes[0]) == 4 and shapes[0][-1] == 7:
        return "ssd"  # [1, 1, N, 7]: image, label, conf, box (OpenVINO DetectionOutput)
    if len(shapes) == 1 and len(shapes[0]) == 3 and shapes[0][-1] > 5:
        return "yolox"  # [1, anchors, 5 + classes]: raw YOLOX head
    raise MtmctError(
        f"cannot tell what kind of detector {backend.model_file} is (outputs {shapes}); "
        "supported: PaddleDetection exports, YOLOX ONNX, SSD-style OpenVINO IR"
    )


def load_detector(
    model: str | Path,
    device: str = "cpu",
    conf: float = 0.3,
    classes: list[int] | None = None,
    arch: str | None = None,
    threads: int | None = None,
) -> Detector:
    """A detector from a registry name or a path to a model folder/file.

    ``classes=None`` keeps the model's default: person only for COCO models, everything for pedestrian models.
    """
    path = resolve_model(str(model))
    backend = load_backend(path, device, threads)
    arch = arch or guess_detector_arch(backend)
    if arch not in _DETECTORS:
        raise MtmctError(f"unknown detector architecture '{arch}': choose one of {', '.join(_DETECTORS)}")
    module_name, cls_name = _DETECTORS[arch].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls(backend, conf=conf, classes=classes)
