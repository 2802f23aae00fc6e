"""SSD-style detectors whose graph ends in a DetectionOutput layer, e.g. OpenVINO OMZ pedestrian-detection-adas-0002.

The model does its own decoding and NMS; output [1, 1, N, 7] rows are
(image_id, label, conf, x0, y0, x1, y1) with the box normalised to 0..1 and image_id < 0 ending the list.
Preprocessing is a plain resize to the input size, BGR 0..255 (OMZ folds mean/scale into the IR).
"""

from __future__ import annotations

import cv2
import numpy as np

from cameras.detector import Detector
from mtmct.core.models.backend import Backend
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError

# Caffe SSD reserves label 0 for background, so a one-class OMZ pedestrian/person model reports label 1.
PEDESTRIAN_LABELS = {1: 0}


class SsdDetector(Detector):
    """DetectionOutput model; labels mapped by ``label_map`` so person is class 0 as everywhere downstream."""

    def __init__(
        self,
        backend: Backend,
        conf: float = 0.3,
        classes: list[int] | None = None,
        label_map: dict[int, int] | None = None,
    ) -> None:
        """``label_map`` model label -> our class; labels it does not name are kept as the model gives them.

        The default ``{1: 0}`` suits one-class pedestrian/person SSDs (OMZ pedestrian-detection-adas-0002,
        person-detection-retail-0013: 1 = pedestrian) so person comes out as 0 like COCO models; pass
        ``{}`` to keep raw labels, or another map for multi-class SSDs. ``classes=None`` keeps every class.
        """
        super().__init__(backend, conf, classes)
        self.label_map = dict(PEDESTRIAN_LABELS if label_map is None else label_map)
        shape = backend.input_shapes[0]
        if len(shape) != 4 or shape[2] <= 0 or shape[3] <= 0:
            raise MtmctError(f"{backend.model_file}: SSD needs a fixed NCHW input size, got {shape}")
        self.input_name = backend.input_names[0]
        self.input_hw = (shape[2], shape[3])

    def _detect(self, frame: np.ndarray) -> Detections:
        h, w = self.input_hw
        img = cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
        blob = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)
        rows = np.asarray(self.backend.infer({self.input_name: blob})[0], np.float32).reshape(-1, 7)
        end = np.flatnonzero(rows[:, 0] < 0)
        rows = rows[: end[0]] if len(end) else rows
        rows = rows[rows[:, 2] >= self.conf]
        xyxy = rows[:, 3:7] * np.array([frame.shape[1], frame.shape[0]] * 2, np.float32)
        labels = rows[:, 1].astype(np.int64)
        classes = np.array([self.label_map.get(int(label), int(label)) for label in labels], np.int64)
        return Detections(xyxy, rows[:, 2], classes)
