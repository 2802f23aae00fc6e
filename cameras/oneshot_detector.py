"""One-shot MOT models exported by PaddleDetection (FairMOT, JDE): the boxes and their ReID embeddings from one
network, so no separate ReID model runs.

An export (``model.pdmodel`` + ``model.pdiparams`` + ``infer_cfg.yml`` with ``arch: FairMOT`` or ``JDE``) takes
``image``/``im_shape``/``scale_factor`` like PaddleDetection's detectors and returns two outputs: ``pred_dets`` rows
[class, score, x0, y0, x1, y1] already in original pixels, and ``pred_embs`` (one embedding per row). The
association is JDE's (:class:`cameras.jde.JdeTracker`); the export's own ``tracker`` settings become its config.
"""

from __future__ import annotations

import numpy as np

from cameras.detector import Detector
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.core.models.backend import Backend
from mtmct.core.models.paddle_preprocess import det_preprocess

ONE_SHOT_ARCHS = ("FairMOT", "JDE")


class OneShotDetector(Detector):
    """Reads ``pred_dets`` and ``pred_embs``; detections come back with L2-normalised embeddings."""

    one_shot = True  # the camera loop needs no ReID model: the boxes carry their embeddings

    def __init__(self, backend: Backend, conf: float = 0.3, classes: list[int] | None = None) -> None:
        super().__init__(backend, conf=conf, classes=classes)
        self.preprocess, cfg = det_preprocess(backend.model_file.parent)
        self.arch = str(cfg.get("arch"))
        self.labels: list[str] = [str(x) for x in cfg.get("label_list") or []]
        self.tracker_settings: dict = dict(cfg.get("tracker") or {})
        shapes = backend.output_shapes
        if len(shapes) < 2 or shapes[0][-1] != 6:
            raise MtmctError(f"{backend.model_file}: a one-shot ({'/'.join(ONE_SHOT_ARCHS)}) export gives "
                             f"pred_dets [N, 6] and pred_embs [N, D]; got outputs {shapes}")

    def tracker_config(self) -> dict:
        """JDE association with the export's own thresholds where it has them."""
        out: dict = {"type": "jde"}
        # FairMOT's exports name the score bound conf_thres, JDE's det_thresh
        names = (("conf", "conf_thres"), ("conf", "det_thresh"), ("max_appearance_distance", "tracked_thresh"))
        for ours, theirs in names:
            if isinstance(self.tracker_settings.get(theirs), (int, float)):
                out[ours] = float(self.tracker_settings[theirs])
        return out

    def _detect(self, frame: np.ndarray) -> Detections:
        feed = self.preprocess(frame)
        outputs = self.backend.infer({name: feed[name] for name in self.backend.input_names})
        rows = np.asarray(outputs[0], np.float32).reshape(-1, 6)
        embs = np.asarray(outputs[1], np.float32).reshape(len(rows), -1)
        # an empty result comes back as one row of class -1; non-finite rows come from broken weights
        keep = (rows[:, 0] >= 0) & (rows[:, 1] >= self.conf) & np.isfinite(rows).all(axis=1)
        rows, embs = rows[keep], embs[keep]
        norms = np.linalg.norm(embs, axis=1, keepdims=True)
        return Detections(rows[:, 2:6], rows[:, 1], rows[:, 0].astype(np.int64), embs / np.maximum(norms, 1e-12))
