"""ReID embedders: person crops in, L2-normalised appearance vectors out, in batches.

One implementation serves all three backends; what differs between models is only the preprocessing
(:class:`ImagePreprocess`), read from the model's own config (Paddle), a ``mtmct.yaml`` manifest beside the model,
or the convention of its format: ONNX ReID models follow torchreid (RGB, /255, ImageNet mean/std), OpenVINO OMZ
models fold mean/scale into the IR and take raw BGR.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import yaml

from mtmct.core.models.backend import Backend, load_backend
from mtmct.core.errors import MtmctError
from mtmct.core.models.preprocess import BGR_RAW, IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess
from mtmct.core.models.registry import resolve_model

log = logging.getLogger(__name__)



@dataclass
class Embedder:
    """Embeds person crops with a ReID model; ``batch_size`` trades latency for throughput."""

    backend: Backend
    preprocess: ImagePreprocess = field(default_factory=ImagePreprocess)
    batch_size: int = 32

    def __post_init__(self) -> None:
        self._batched = self.backend.allow_dynamic_batch()
        if not self._batched:
            log.info("%s takes one crop at a time", self.backend.model_file)
        self._input = self.backend.input_names[0]
        self.dim = int(self.backend.output_shapes[0][-1])

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        """(N, dim) float32, each row L2-normalised; an empty list gives (0, dim)."""
        if not crops:
            return np.zeros((0, self.dim), np.float32)
        step = self.batch_size if self._batched else 1
        out = []
        for start in range(0, len(crops), step):
            batch = self.preprocess(crops[start:start + step])
            feats = self.backend.infer({self._input: batch})[0]
            out.append(np.asarray(feats, np.float32).reshape(len(batch), -1))
        feats = np.concatenate(out)
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        return feats / np.maximum(norms, 1e-12)

    def embed_boxes(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        """Embed the boxes of one frame; boxes are clipped to the frame and at least one pixel big."""
        return self.embed(crop_boxes(frame, xyxy))


def crop_boxes(frame: np.ndarray, xyxy: np.ndarray) -> list[np.ndarray]:
    h, w = frame.shape[:2]
    crops = []
    for x0, y0, x1, y1 in np.asarray(xyxy, np.float32).reshape(-1, 4):
        x0i = int(np.clip(np.floor(x0), 0, w - 1))
        y0i = int(np.clip(np.floor(y0), 0, h - 1))
        x1i = int(np.clip(np.ceil(x1), x0i + 1, w))
        y1i = int(np.clip(np.ceil(y1), y0i + 1, h))
        crops.append(frame[y0i:y1i, x0i:x1i])
    return crops


def read_manifest(model_path: Path) -> dict:
    """Options from ``mtmct.yaml`` beside the model, if the user wrote one (keys as ImagePreprocess fields)."""
    folder = model_path if model_path.is_dir() else model_path.parent
    manifest = folder / "mtmct.yaml"
    if not manifest.exists():
        return {}
    data = yaml.safe_load(manifest.read_text()) or {}
    if not isinstance(data, dict):
        raise MtmctError(f"{manifest}: expected a mapping of options")
    return data


def preprocess_for(backend: Backend, model_path: Path) -> ImagePreprocess:
    """The preprocessing a ReID model expects: manifest, then the model's own config, then its format's convention."""
    manifest = read_manifest(model_path).get("preprocess")
    if manifest:
        known = set(ImagePreprocess.__dataclass_fields__)
        unknown = set(manifest) - known
        if unknown:
            raise MtmctError(f"mtmct.yaml preprocess: unknown keys {sorted(unknown)}; known: {sorted(known)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in manifest.items()}
        return ImagePreprocess(**values)
    shape = backend.input_shapes[0]
    size = (shape[2], shape[3]) if len(shape) == 4 and shape[2] > 0 and shape[3] > 0 else (256, 128)
    if backend.name == "paddle":
        from mtmct.core.models.paddle_preprocess import reid_preprocess

        return reid_preprocess(backend.model_file.parent, default_size=size)
    if backend.name == "openvino":
        return replace(BGR_RAW, size=size)
    return ImagePreprocess(size=size)


def load_embedder(model: str | Path, device: str = "cpu", batch_size: int = 32, threads: int | None = None) -> Embedder:
    """An embedder from a registry name or a path to a ReID model folder/file."""
    path = resolve_model(str(model))
    backend = load_backend(path, device, threads)
    return Embedder(backend, preprocess_for(backend, path), batch_size=batch_size)
