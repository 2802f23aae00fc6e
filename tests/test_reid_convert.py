"""`mtmct models convert`: the shared ONNX OSNet brought into Paddle must embed as ONNX Runtime does, and train.

Checked before any training (issue 16, item 2): per-sample cosine >= 0.999 between the converted Paddle network
and ONNX Runtime, on real PETS09 person crops cut at gt boxes (preprocessed by the embedder's own
``preprocess_for``) and on random input; the Paddle Inference copy loads through the registry and embeds the same;
one backward pass gives finite, non-zero gradients.
"""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle, see mtmct/core/models/export.py)

from pathlib import Path

import cv2
import numpy as np
import pytest

from cameras.embedder import crop_boxes, load_embedder, preprocess_for
from conftest import shared_path
from mtmct.cli import main
from mtmct.core.errors import MtmctError
from mtmct.core.models.backend import load_backend
from mtmct.core.mot_io import read_mot
from mtmct.reid_convert import load_trainable, onnx_to_paddle

MIN_COSINE = 0.999  # x2paddle's translation is exact up to float32 rounding (measured 1.000000)


@pytest.fixture(scope="module")
def osnet_onnx() -> Path:
    return shared_path("models", "osnet-x0_25-msmt17", "osnet_x0_25_msmt17.onnx")


@pytest.fixture(scope="module")
def converted(osnet_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnx_to_paddle(osnet_onnx.parent, tmp_path_factory.mktemp("osnet") / "paddle")


@pytest.fixture(scope="module")
def person_crops() -> list[np.ndarray]:
    """Every person of the most crowded of PETS09-S2L1's first 50 frames, cut at their gt boxes."""
    data = shared_path("data", "pets09-s2l1")
    rows = read_mot(data / "gt" / "gt.txt")
    early = rows[rows[:, 0] <= 50, 0].astype(int)
    busiest = int(np.bincount(early).argmax())
    rows = rows[rows[:, 0] == busiest]
    cap = cv2.VideoCapture(str(data / "video.avi"))
    for _ in range(busiest):  # read through rather than seek: AVI seeking may land on a keyframe
        ok, frame = cap.read()
    cap.release()
    assert ok and len(rows) >= 5, f"cannot read frame {busiest} of PETS09-S2L1 ({len(rows)} people)"
    x, y, w, h = rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    return crop_boxes(frame, np.stack([x, y, x + w, y + h], axis=1))


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def test_converted_network_embeds_as_onnx(converted: Path, osnet_onnx: Path, person_crops: list[np.ndarray]) -> None:
    import paddle

    onnx = load_backend(osnet_onnx)
    real = preprocess_for(onnx, osnet_onnx)(person_crops)
    noise = np.random.default_rng(0).normal(size=(4, 3, 256, 128)).astype(np.float32)
    network = load_trainable(converted)
    network.eval()
    for batch in (real, noise):
        expected = onnx.infer({onnx.input_names[0]: batch})[0]
        with paddle.no_grad():
            got = network(paddle.to_tensor(batch)).numpy()
        assert got.shape == expected.shape == (len(batch), 512)
        cos = _cosines(got, expected)
        assert cos.min() >= MIN_COSINE, cos


def test_inference_copy_loads_as_a_reid_model(converted: Path, osnet_onnx: Path, person_crops: list[np.ndarray]) -> None:
    paddle_embedder = load_embedder(converted)
    assert paddle_embedder.backend.name == "paddle"
    assert paddle_embedder.preprocess == load_embedder(osnet_onnx).preprocess
    cos = (paddle_embedder.embed(person_crops) * load_embedder(osnet_onnx).embed(person_crops)).sum(axis=1)
    assert cos.min() >= MIN_COSINE, cos


def test_converted_network_trains(converted: Path) -> None:
    import paddle

    network = load_trainable(converted)
    assert network.training
    trainable = [p for p in network.parameters() if not p.stop_gradient]
    assert sum(int(np.prod(p.shape)) for p in trainable) > 100_000  # OSNet x0.25: ~0.2M weights
    paddle.seed(0)
    out = network(paddle.randn([2, 3, 256, 128]))
    out.pow(2).mean().backward()
    grads = [p.grad.numpy() for p in trainable if p.grad is not None]
    assert len(grads) > 0.9 * len(trainable)
    assert all(np.isfinite(g).all() for g in grads)
    assert sum(float(np.abs(g).sum()) for g in grads) > 0


@pytest.mark.parametrize("make_src, reason", [
    (lambda d: d / "missing.onnx", "does not exist"),
    (lambda d: (d / "notes.txt").write_text("x") and d / "notes.txt", "is not an .onnx file"),
    (lambda d: (d / "bad.onnx").write_bytes(b"\x00garbage") and d / "bad.onnx", "cannot load ONNX model"),
])
def test_bad_source_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture, make_src, reason: str) -> None:
    src = make_src(tmp_path)
    with pytest.raises(MtmctError, match=reason):
        onnx_to_paddle(src, tmp_path / "out")
    assert main(["models", "convert", str(src), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mtmct models: error:") and reason in err and "\n" not in err


def test_load_trainable_needs_a_converted_folder(tmp_path: Path) -> None:
    with pytest.raises(MtmctError, match="mtmct models convert"):
        load_trainable(tmp_path)
