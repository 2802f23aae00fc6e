"""YOLOX (Megvii) ONNX detectors with the raw, undecoded head, e.g. the COCO YOLOX-Nano.

Preprocessing follows YOLOX's own ``ValTransform``: letterbox into the input size keeping the aspect ratio,
image in the top-left corner, padding 114, BGR 0..255, no mean/std. The head is decoded here
(``decode_in_inference=False`` exports) and boxes go through class-aware NMS from OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from cameras.detector import Detector
from mtmct.core.models.backend import Backend
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError

STRIDES = (8, 16, 32)
PAD_VALUE = 114


class YoloxDetector(Detector):
    """YOLOX ONNX model: output [1, anchors, 4 + 1 + classes] (dx, dy, log w, log h, objectness, class probs)."""

    def __init__(
        self, backend: Backend, conf: float = 0.3, classes: list[int] | None = None, nms_iou: float = 0.5
    ) -> None:
        """``classes=None`` keeps COCO person (0) only.

        ``nms_iou``: a box overlapping a better box of its class by more than this is dropped. Raising it
        keeps people who overlap in a crowd but lets duplicate boxes on one person through; lowering it removes
        duplicates but also the person partly hidden behind another. On MOT17-mini (conf 0.3) 0.45, YOLOX's
        demo value, gives recall 0.427 / precision 0.826, 0.5 gives 0.433 / 0.811, 0.7 gives 0.449 / 0.690.
        """
        super().__init__(backend, conf, [0] if classes is None else classes)
        self.nms_iou = float(nms_iou)
        shape = backend.input_shapes[0]
        if len(shape) != 4 or shape[2] <= 0 or shape[3] <= 0:
            raise MtmctError(f"{backend.model_file}: YOLOX needs a fixed NCHW input size, got {shape}")
        self.input_name = backend.input_names[0]
        self.input_hw = (shape[2], shape[3])
        self._grids, self._strides = make_grids(self.input_hw)
        n_out = backend.output_shapes[0][1]
        if n_out not in (-1, len(self._grids)):
            raise MtmctError(
                f"{backend.model_file}: {n_out} anchor points, but strides {STRIDES} "
                f"on input {self.input_hw} give {len(self._grids)}"
            )

    def _detect(self, frame: np.ndarray) -> Detections:
        blob, ratio = letterbox(frame, self.input_hw)
        out = np.asarray(self.backend.infer({self.input_name: blob})[0], np.float32)[0]
        scores_all = out[:, 4:5] * out[:, 5:]
        cls = scores_all.argmax(1)
        scores = scores_all[np.arange(len(cls)), cls]
        keep = scores >= self.conf
        if not keep.any():
            return Detections.empty()
        out, cls, scores = out[keep], cls[keep], scores[keep]
        xy = (out[:, :2] + self._grids[keep]) * self._strides[keep]
        wh = np.exp(out[:, 2:4]) * self._strides[keep]
        tlwh = np.concatenate([xy - wh / 2, wh], axis=1) / ratio
        idx = cv2.dnn.NMSBoxesBatched(tlwh.tolist(), scores.tolist(), cls.tolist(), self.conf, self.nms_iou)
        idx = np.asarray(idx, np.int64).reshape(-1)
        return Detections.from_tlwh(tlwh[idx], scores[idx], cls[idx])


def letterbox(frame: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """NCHW float32 blob with the frame resized by ``ratio`` into the top-left corner, padded with 114."""
    h, w = input_hw
    ratio = min(h / frame.shape[0], w / frame.shape[1])
    nh, nw = int(frame.shape[0] * ratio), int(frame.shape[1] * ratio)
    canvas = np.full((h, w, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), ratio


def make_grids(input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per anchor point its (x, y) cell and stride, in YOLOX's output order (stride 8 first, row-major)."""
    grids, strides = [], []
    for s in STRIDES:
        gh, gw = input_hw[0] // s, input_hw[1] // s
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs, ys], -1).reshape(-1, 2))
        strides.append(np.full((gh * gw, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)
