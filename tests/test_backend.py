"""Backend selection by files, the device switch, and the thread cap, over every shared model format."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from mtmct.core.models.backend import detect_format, load_backend
from mtmct.core.errors import MtmctError

MODELS = {  # folder -> (backend, has a GPU of its own kind here?)
    "yolox-nano-coco": "onnx",
    "osnet-x0_25-msmt17": "onnx",
    "omz-person-reid-0277": "openvino",
    "omz-pedestrian-detection-adas-0002": "openvino",
}


def _gpu_available(kind: str) -> bool:
    if kind == "onnx":
        import onnxruntime as ort

        return "CUDAExecutionProvider" in ort.get_available_providers()
    import openvino as ov

    return "GPU" in ov.Core().available_devices


@pytest.mark.parametrize("folder, kind", MODELS.items())
def test_backend_follows_the_files(folder, kind):
    path = shared_path("models", folder)
    assert detect_format(path)[0] == kind
    backend = load_backend(path, threads=1)
    assert backend.name == kind and backend.threads == 1
    shape = [d if d > 0 else 1 for d in backend.input_shapes[0]]
    out = backend.infer({backend.input_names[0]: np.zeros(shape, np.float32)})
    assert all(np.isfinite(o).all() for o in out)


@pytest.mark.parametrize("folder, kind", [("yolox-nano-coco", "onnx"), ("omz-person-reid-0277", "openvino")])
def test_gpu_request_without_gpu_is_a_clear_error(folder, kind):
    if _gpu_available(kind):
        pytest.skip(f"this machine has a GPU for {kind}")
    with pytest.raises(MtmctError, match="--device gpu"):
        load_backend(shared_path("models", folder), device="gpu")


@pytest.mark.parametrize("bad, message", [
    ("tpu", "unknown device"),
])
def test_unknown_device(bad, message):
    with pytest.raises(MtmctError, match=message):
        load_backend(shared_path("models", "yolox-nano-coco"), device=bad)


def test_folder_without_model_and_foreign_file(tmp_path):
    with pytest.raises(MtmctError, match="no model found"):
        detect_format(tmp_path)
    (tmp_path / "weights.pt").write_bytes(b"\0")
    with pytest.raises(MtmctError, match="not .onnx"):
        detect_format(tmp_path / "weights.pt")
    (tmp_path / "broken.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(MtmctError, match="cannot load ONNX model"):
        load_backend(tmp_path / "broken.onnx")
    with pytest.raises(MtmctError, match="threads"):
        load_backend(shared_path("models", "yolox-nano-coco"), threads=0)
