"""Model backends: one small interface over Paddle Inference, ONNX Runtime and OpenVINO.

The backend is chosen by the files present in a model folder (or the file given):
``model.pdmodel``/``inference.pdmodel`` + ``.pdiparams`` -> Paddle Inference, ``*.onnx`` -> ONNX Runtime,
``*.xml`` + ``*.bin`` -> OpenVINO. Each implementation is imported lazily, so a missing optional runtime
fails only when a model needs it, with a message naming the package to install.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

DEVICES = ("cpu", "gpu")

# name -> (module:class, pip package that provides the runtime)
_BACKENDS: dict[str, tuple[str, str]] = {
    "paddle": ("mtmct.core.models.paddle_backend:PaddleBackend", "paddlepaddle (or paddlepaddle-gpu)"),
    "onnx": ("mtmct.core.models.onnx_backend:OnnxBackend", "onnxruntime (or onnxruntime-gpu)"),
    "openvino": ("mtmct.core.models.openvino_backend:OpenVinoBackend", "openvino"),
}

PADDLE_MODEL_NAMES = ("model.pdmodel", "inference.pdmodel")


class Backend(ABC):
    """Runs one model: named float32 inputs in, output arrays out (in the model's output order)."""

    name: str = ""

    def __init__(self, model_file: Path, device: str = "cpu", threads: int | None = None) -> None:
        """``threads`` caps the CPU threads of one inference (None: the runtime's default, all cores);
        one per camera actor lets several cameras share a machine without oversubscribing it."""
        self.model_file = Path(model_file)
        self.device = check_device_name(device)
        if threads is not None and threads < 1:
            raise MtmctError(f"threads must be at least 1, got {threads}")
        self.threads = threads

    @property
    @abstractmethod
    def input_names(self) -> list[str]: ...

    @property
    @abstractmethod
    def input_shapes(self) -> list[list[int]]:
        """Declared input shapes; -1 marks a dynamic dimension."""

    @property
    @abstractmethod
    def output_shapes(self) -> list[list[int]]:
        """Declared output shapes; -1 marks a dynamic dimension."""

    @abstractmethod
    def infer(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]: ...

    def allow_dynamic_batch(self) -> bool:
        """Let the first input take any number of rows; False when the model cannot (callers then loop)."""
        return self.input_shapes[0][0] == -1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_file}, device={self.device})"


def check_device_name(device: str) -> str:
    if device not in DEVICES:
        raise MtmctError(f"unknown device '{device}': use one of {', '.join(DEVICES)}")
    return device


def detect_format(path: Path) -> tuple[str, Path]:
    """Which backend a model path needs and the file it loads: ('paddle'|'onnx'|'openvino', file)."""
    path = Path(path)
    if not path.exists():
        raise MtmctError(f"model path {path} does not exist")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return "onnx", path
        if suffix == ".xml":
            if not path.with_suffix(".bin").exists():
                raise MtmctError(f"OpenVINO model {path} has no weights file {path.with_suffix('.bin').name}")
            return "openvino", path
        if suffix == ".pdmodel":
            return "paddle", path
        raise MtmctError(f"model file {path} is not .onnx, .xml (OpenVINO) or .pdmodel (Paddle)")
    for name in PADDLE_MODEL_NAMES:
        if (path / name).exists():
            return "paddle", path / name
    onnx = sorted(path.glob("*.onnx"))
    if onnx:
        return "onnx", onnx[0]
    xml = sorted(p for p in path.rglob("*.xml") if p.with_suffix(".bin").exists())
    if xml:
        # prefer full precision over quantised variants when a folder holds several
        xml.sort(key=lambda p: ("INT8" in str(p), len(str(p))))
        return "openvino", xml[0]
    raise MtmctError(
        f"no model found in {path}: expected model.pdmodel + model.pdiparams + infer_cfg.yml (Paddle), "
        "a .onnx file, or an OpenVINO .xml + .bin pair"
    )


def load_backend(path: str | Path, device: str = "cpu", threads: int | None = None) -> Backend:
    """Load the model at ``path`` (folder or file) on the backend its files call for."""
    check_device_name(device)
    kind, model_file = detect_format(Path(path))
    target, package = _BACKENDS[kind]
    module_name, cls_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MtmctError(f"{model_file} needs the {kind} backend: install {package} ({exc})") from exc
    backend = getattr(module, cls_name)(model_file, device, threads)
    log.info("loaded %r", backend)
    return backend


def shape_of(dims) -> list[int]:
    """Normalise a runtime's shape (symbolic names, None, Dimension objects) to ints with -1 for dynamic."""
    out = []
    for d in dims:
        if hasattr(d, "is_static"):  # OpenVINO Dimension: int() of it is not its length
            out.append(d.get_length() if d.is_static else -1)
            continue
        try:
            v = int(d)
            out.append(v if v > 0 else -1)
        except (TypeError, ValueError):
            out.append(-1)
    return out
