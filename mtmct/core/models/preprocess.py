"""Crop preprocessing for ReID models: resize, channel order, scale and normalisation, laid out as NCHW.

Lives in the foundation because both the embedders (``cameras``) and the Paddle config reader
(:mod:`mtmct.core.models.paddle_preprocess`) build it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImagePreprocess:
    """Resize a crop to ``size`` (height, width), reorder channels, scale, normalise, and lay out as NCHW."""

    size: tuple[int, int] = (256, 128)
    rgb: bool = True
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: int = cv2.INTER_LINEAR

    def __call__(self, crops: list[np.ndarray]) -> np.ndarray:
        h, w = self.size
        batch = np.empty((len(crops), h, w, 3), np.float32)
        for i, crop in enumerate(crops):
            img = cv2.resize(crop, (w, h), interpolation=self.interpolation)
            if self.rgb:
                img = img[:, :, ::-1]
            batch[i] = img
        batch *= self.scale
        batch -= np.asarray(self.mean, np.float32)
        batch /= np.asarray(self.std, np.float32)
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


BGR_RAW = ImagePreprocess(rgb=False, scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
