"""PaddleDetection exports with post-processing and NMS in the graph (PicoDet, PP-YOLOE pedestrian models)."""

from __future__ import annotations

import logging

import numpy as np

from mtmct.core.models.backend import Backend
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.core.models.paddle_preprocess import det_preprocess

from cameras.detector import Detector

log = logging.getLogger(__name__)


class PaddleDetector(Detector):
    """Feeds ``image``/``im_shape``/``scale_factor`` by name; reads ``bbox`` rows [class, score, x0, y0, x1, y1].

    The graph maps boxes back to original pixels through ``scale_factor``, so no rescaling happens here.
    """

    def __init__(self, backend: Backend, conf: float = 0.3, classes: list[int] | None = None) -> None:
        super().__init__(backend, conf=conf, classes=classes)
        folder = backend.model_file.parent
        self.preprocess, cfg = det_preprocess(folder)
        self.labels: list[str] = [str(x) for x in cfg.get("label_list") or []]
        if "image" not in backend.input_names:
            raise MtmctError(f"{backend.model_file}: inputs {backend.input_names} have no 'image'; "
                             "is this a PaddleDetection detector export?")
        if len(backend.output_shapes) < 2:
            raise MtmctError(f"{backend.model_file}: expected 'bbox' and 'bbox_num' outputs (export with NMS inside, "
                             f"export.post_process and export.nms true), got {len(backend.output_shapes)} output(s)")

    def _detect(self, frame: np.ndarray) -> Detections:
        feed = self.preprocess(frame)
        outputs = self.backend.infer({name: feed[name] for name in self.backend.input_names})
        bbox, bbox_num = np.asarray(outputs[0], np.float32), np.asarray(outputs[1]).reshape(-1)
        rows = bbox.reshape(-1, 6)[: int(bbox_num[0]) if len(bbox_num) else 0]
        # an empty result comes back as one row of class -1 on some exports
        rows = rows[(rows[:, 0] >= 0) & (rows[:, 1] >= self.conf)]
        return Detections(rows[:, 2:6], rows[:, 1], rows[:, 0].astype(np.int64))
