"""Preprocessing read from Paddle exports: PaddleDetection ``infer_cfg.yml`` and PaddleClas ``inference.yml``.

PaddleDetection detectors take the image plus ``im_shape`` (network input size) and ``scale_factor``
(network / original, per axis) so their in-graph post-processing maps boxes back to original pixels; the
pipeline here reproduces PaddleDetection's deploy preprocessing in numpy/cv2 and tracks both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from mtmct.core.errors import MtmctError
from mtmct.core.models.preprocess import ImagePreprocess


# PaddleDetection's interp codes are cv2's; PaddleClas names them
_CLAS_INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "linear": cv2.INTER_LINEAR,
                "bicubic": cv2.INTER_CUBIC, "cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA,
                "lanczos": cv2.INTER_LANCZOS4}


@dataclass
class _Sample:
    """An image in flight plus what ppdet models need besides it."""

    image: np.ndarray
    im_shape: np.ndarray  # (h, w) of the network input before padding
    scale_factor: np.ndarray  # (scale_y, scale_x): network input / original


Op = Callable[[_Sample], _Sample]


def _resize(target_size: int | list[int], keep_ratio: bool = True, interp: int = cv2.INTER_LINEAR, **_: Any) -> Op:
    th, tw = (target_size, target_size) if isinstance(target_size, int) else target_size

    def op(s: _Sample) -> _Sample:
        h, w = s.image.shape[:2]
        if keep_ratio:  # fit the short side to min(target) unless the long side would pass max(target)
            sy = sx = min(min(th, tw) / min(h, w), max(th, tw) / max(h, w))
        else:
            sy, sx = th / h, tw / w
        img = cv2.resize(s.image, None, fx=sx, fy=sy, interpolation=int(interp))
        return _Sample(img, np.array(img.shape[:2], np.float32), np.array([sy, sx], np.float32))

    return op


def _letterbox(target_size: int | list[int], **_: Any) -> Op:
    th, tw = (target_size, target_size) if isinstance(target_size, int) else target_size

    def op(s: _Sample) -> _Sample:
        h, w = s.image.shape[:2]
        ratio = min(th / h, tw / w)
        nw, nh = round(w * ratio), round(h * ratio)
        padw, padh = (tw - nw) / 2, (th - nh) / 2
        img = cv2.resize(s.image, (nw, nh), interpolation=cv2.INTER_AREA)
        img = cv2.copyMakeBorder(img, round(padh - 0.1), round(padh + 0.1), round(padw - 0.1), round(padw + 0.1),
                                 cv2.BORDER_CONSTANT, value=(127.5, 127.5, 127.5))
        return _Sample(img, np.array([nh, nw], np.float32), np.array([ratio, ratio], np.float32))

    return op


def _normalize(mean: list[float], std: list[float], is_scale: bool = True, norm_type: str = "mean_std", **_: Any) -> Op:
    def op(s: _Sample) -> _Sample:
        img = s.image.astype(np.float32)
        if is_scale:
            img *= 1.0 / 255.0
        if norm_type == "mean_std":
            img = (img - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
        return _Sample(img, s.im_shape, s.scale_factor)

    return op


def _permute(**_: Any) -> Op:
    return lambda s: _Sample(s.image.transpose(2, 0, 1), s.im_shape, s.scale_factor)


def _pad_stride(stride: int = 0, **_: Any) -> Op:
    def op(s: _Sample) -> _Sample:
        if stride <= 0:
            return s
        c, h, w = s.image.shape  # after Permute, as in PaddleDetection
        ph, pw = int(np.ceil(h / stride) * stride), int(np.ceil(w / stride) * stride)
        img = np.zeros((c, ph, pw), np.float32)
        img[:, :h, :w] = s.image
        return _Sample(img, s.im_shape, s.scale_factor)

    return op


_DET_OPS: dict[str, Callable[..., Op]] = {
    "Resize": _resize,
    "LetterBoxResize": _letterbox,
    "NormalizeImage": _normalize,
    "Permute": _permute,
    "PadStride": _pad_stride,
}


@dataclass
class DetPreprocess:
    """One BGR frame -> the ``image``, ``im_shape`` and ``scale_factor`` inputs of a PaddleDetection model."""

    ops: list[Op] = field(default_factory=list)

    def __call__(self, frame_bgr: np.ndarray) -> dict[str, np.ndarray]:
        h, w = frame_bgr.shape[:2]
        s = _Sample(frame_bgr[:, :, ::-1], np.array([h, w], np.float32), np.ones(2, np.float32))  # models take RGB
        for op in self.ops:
            s = op(s)
        image = np.ascontiguousarray(s.image, np.float32)
        if image.ndim == 3 and image.shape[-1] == 3:  # an export without Permute still takes NCHW
            image = image.transpose(2, 0, 1)
        return {"image": image[None], "im_shape": s.im_shape[None], "scale_factor": s.scale_factor[None]}


def read_yaml(path: Path) -> dict:
    if not path.exists():
        raise MtmctError(f"{path.parent} has no {path.name}: a Paddle export needs it beside the model")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MtmctError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise MtmctError(f"{path}: expected a mapping at the top level")
    return data


def _split_op(item: Any, path: Path) -> tuple[str, dict]:
    """PaddleDetection writes ``{type: Resize, ...}``; PaddleClas writes ``{ResizeImage: {...}}``."""
    if isinstance(item, dict) and "type" in item:
        return str(item["type"]), {k: v for k, v in item.items() if k != "type"}
    if isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
        return str(name), dict(args or {})
    raise MtmctError(f"{path}: cannot read preprocessing step {item!r}")


def det_preprocess(model_dir: Path) -> tuple[DetPreprocess, dict]:
    """The detector preprocessing of a PaddleDetection export, and its whole ``infer_cfg.yml``."""
    path = Path(model_dir) / "infer_cfg.yml"
    cfg = read_yaml(path)
    ops = []
    for item in cfg.get("Preprocess") or []:
        name, args = _split_op(item, path)
        if name not in _DET_OPS:
            raise MtmctError(f"{path}: preprocessing op '{name}' is not supported (known: {', '.join(_DET_OPS)})")
        ops.append(_DET_OPS[name](**args))
    if not ops:
        raise MtmctError(f"{path}: no Preprocess list; is this a PaddleDetection export?")
    return DetPreprocess(ops), cfg


def reid_preprocess(model_dir: Path, default_size: tuple[int, int] = (256, 128)) -> ImagePreprocess:
    """The crop preprocessing of a Paddle ReID export as an ``ImagePreprocess`` (from PaddleClas or PaddleDetection)."""
    model_dir = Path(model_dir)
    values: dict[str, Any] = {"size": tuple(default_size), "rgb": True}
    if (model_dir / "inference.yml").exists():
        path = model_dir / "inference.yml"
        steps = (read_yaml(path).get("PreProcess") or {}).get("transform_ops")
        if not steps:
            raise MtmctError(f"{path}: no PreProcess.transform_ops list; is this a PaddleClas export?")
        for item in steps:
            name, args = _split_op(item, path)
            if name == "ResizeImage":
                if "size" not in args:
                    raise MtmctError(f"{path}: ResizeImage without size (resize_short cannot give a fixed crop size)")
                size = args["size"]
                w, h = (size, size) if isinstance(size, int) else size  # PaddleClas sizes are (w, h)
                values["size"] = (int(h), int(w))
                values["interpolation"] = _CLAS_INTERP.get(str(args.get("interpolation", "bilinear")).lower(),
                                                           cv2.INTER_LINEAR)
            elif name == "NormalizeImage":
                if str(args.get("order", "hwc")).lower() != "hwc":
                    raise MtmctError(f"{path}: NormalizeImage order '{args['order']}' is not supported (use hwc)")
                values["scale"] = _number(args.get("scale", 1.0 / 255.0), path)
                values["mean"] = tuple(float(v) for v in args.get("mean", (0.485, 0.456, 0.406)))
                values["std"] = tuple(float(v) for v in args.get("std", (0.229, 0.224, 0.225)))
            elif name not in ("ToCHWImage", "DecodeImage"):
                raise MtmctError(f"{path}: preprocessing op '{name}' is not supported for ReID "
                                 "(known: ResizeImage, NormalizeImage, ToCHWImage)")
    elif (model_dir / "infer_cfg.yml").exists():
        path = model_dir / "infer_cfg.yml"
        for item in read_yaml(path).get("Preprocess") or []:
            name, args = _split_op(item, path)
            if name == "Resize":
                ts = args.get("target_size", default_size)
                values["size"] = (int(ts), int(ts)) if isinstance(ts, int) else (int(ts[0]), int(ts[1]))
                values["interpolation"] = int(args.get("interp", cv2.INTER_LINEAR))
            elif name == "NormalizeImage":
                values["scale"] = 1.0 / 255.0 if args.get("is_scale", True) else 1.0
                if args.get("norm_type", "mean_std") == "mean_std":
                    values["mean"] = tuple(float(v) for v in args["mean"])
                    values["std"] = tuple(float(v) for v in args["std"])
                else:
                    values["mean"], values["std"] = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
            elif name not in ("Permute",):
                raise MtmctError(f"{path}: preprocessing op '{name}' is not supported for ReID "
                                 "(known: Resize, NormalizeImage, Permute)")
    else:
        raise MtmctError(f"{model_dir} has neither inference.yml (PaddleClas) nor infer_cfg.yml (PaddleDetection): "
                         "cannot tell the model's preprocessing")
    return ImagePreprocess(**values)


def _number(value: Any, path: Path) -> float:
    """PaddleClas writes scales as expressions such as ``1.0/255.0``; read them without eval."""
    if isinstance(value, (int, float)):
        return float(value)
    try:
        num, _, den = str(value).partition("/")
        return float(num) / float(den) if den else float(num)
    except ValueError as exc:
        raise MtmctError(f"{path}: cannot read number '{value}'") from exc
