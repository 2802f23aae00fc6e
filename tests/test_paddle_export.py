"""Paddle end to end: PaddleDetection config -> checkpoint -> export -> Paddle Inference -> detections, embeddings.

The PicoDet weights are random (no network here), re-scaled so scores differ between boxes; the point is the
plumbing: preprocessing, the in-graph NMS output, ``scale_factor`` mapping boxes to original pixels.
"""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle: see tests/conftest.py)

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from cameras.detector import load_detector
from cameras.embedder import load_embedder
from mtmct.core.models.backend import load_backend
from mtmct.cli import main
from mtmct.core.errors import MtmctError
from mtmct.core.models.export import export_model, export_reid
from mtmct.core.models.paddle_preprocess import det_preprocess, reid_preprocess
from conftest import ROOT, shared_path

PICODET_CONFIG = ROOT / "configs" / "ppdet" / "picodet_s_192_lcnet_pedestrian.yml"


def _random_picodet_weights(path: Path) -> Path:
    """Build PicoDet from the config and save He-scaled random weights (PaddleDetection's own init makes every
    score the prior, so NMS would see ties only)."""
    import paddle
    from ppdet.core.workspace import load_config
    from ppdet.engine import Trainer

    paddle.seed(0)
    model = Trainer(load_config(str(PICODET_CONFIG)), mode="test").model
    for name, v in model.state_dict().items():
        if v.ndim == 4:
            v.set_value(paddle.randn(v.shape) * (2.0 / float(np.prod(v.shape[1:]))) ** 0.5)
        if "head_cls" in name and name.endswith("bias"):
            v.set_value(paddle.zeros_like(v))  # scores near 0.5 instead of the 0.01 prior, above the NMS threshold
    paddle.save(model.state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def picodet_weights(tmp_path_factory) -> Path:
    return _random_picodet_weights(tmp_path_factory.mktemp("ckpt") / "picodet.pdparams")


@pytest.fixture(scope="module")
def picodet_dir(tmp_path_factory, picodet_weights) -> Path:
    out = tmp_path_factory.mktemp("export") / "picodet"
    assert main(["models", "export", str(PICODET_CONFIG), str(picodet_weights), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    cap = cv2.VideoCapture(str(shared_path("data", "pets09-s2l1", "video.avi")))
    ok, img = cap.read()
    cap.release()
    assert ok
    return img


def _smooth_image(h: int, w: int) -> np.ndarray:
    """Gradients and blocks: content that survives resizing, unlike noise."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (h + w)], axis=-1).astype(np.uint8)
    cv2.rectangle(img, (w // 4, h // 5), (w // 4 + w // 8, h // 5 + h // 2), (20, 40, 200), -1)
    return img


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda z: np.prod(z[:, 2:] - z[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def test_export_writes_inference_folder(picodet_dir):
    assert {"model.pdmodel", "model.pdiparams", "infer_cfg.yml"} <= {p.name for p in picodet_dir.iterdir()}
    cfg = yaml.safe_load((picodet_dir / "infer_cfg.yml").read_text())
    assert cfg["label_list"] == ["pedestrian"]
    assert cfg["arch"] == "GFL" and cfg["NMS"]["keep_top_k"] == 100
    backend = load_backend(picodet_dir)
    assert backend.name == "paddle" and "image" in backend.input_names
    assert backend.input_shapes[backend.input_names.index("image")] == [-1, 3, 192, 192]
    assert backend.output_shapes == [[-1, 6], [-1]]  # bbox rows, bbox_num


@pytest.mark.parametrize("source", ["frame", "synthetic"])
def test_detector_boxes_in_image_pixels(picodet_dir, frame, source):
    img = frame if source == "frame" else _smooth_image(300, 500)
    det = load_detector(picodet_dir, conf=0.0)
    assert type(det).__name__ == "PaddleDetector" and det.labels == ["pedestrian"]
    raw = det._detect(img)  # before Detector.detect clips
    h, w = img.shape[:2]
    assert 0 < len(raw) <= 100
    assert (raw.xyxy[:, 2:] > raw.xyxy[:, :2]).all()
    # every box holds its anchor point, so it overlaps the image in original pixels (the graph does not clip)
    assert ((raw.xyxy[:, 0] < w) & (raw.xyxy[:, 2] > 0) & (raw.xyxy[:, 1] < h) & (raw.xyxy[:, 3] > 0)).all()
    # the graph divides network-space boxes by scale_factor (y, x): feed ones to get those and compare
    feed = det.preprocess(img)
    assert feed["image"].shape == (1, 3, 192, 192)
    np.testing.assert_allclose(feed["scale_factor"], [[192 / h, 192 / w]], rtol=1e-6)
    unit = {k: np.ones_like(v) if k == "scale_factor" else v for k, v in feed.items()}
    net = det.backend.infer({k: unit[k] for k in det.backend.input_names})[0][: len(raw)]
    sy, sx = feed["scale_factor"][0]
    np.testing.assert_allclose(raw.xyxy, net[:, 2:6] / [sx, sy, sx, sy], rtol=1e-4, atol=1e-2)
    dets = det.detect(img)
    assert 0 < len(dets) <= 100 and (dets.classes == 0).all()
    assert ((dets.scores >= 0.0) & (dets.scores <= 1.0)).all()
    assert np.ptp(dets.scores) > 0  # real scores, not ties


def test_conf_filters_scores(picodet_dir, frame):
    everything = load_detector(picodet_dir, conf=0.0).detect(frame)
    conf = float(np.median(everything.scores))
    kept = load_detector(picodet_dir, conf=conf).detect(frame)
    assert 0 < len(kept) < len(everything)
    assert ((kept.scores >= conf) & (kept.scores <= 1.0)).all()
    assert len(load_detector(picodet_dir, conf=0.99).detect(frame)) == 0  # scores sit near 0.5


def test_scale_factor_maps_boxes_back(picodet_dir, frame):
    det = load_detector(picodet_dir, conf=0.0)
    small = det.detect(frame)
    big = det.detect(cv2.resize(frame, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR))
    best = _iou(small.xyxy[:10] * 2, big.xyxy).max(axis=1)
    assert (best > 0.9).mean() >= 0.8, best
    assert np.allclose(small.xyxy[0] * 2, big.xyxy[0], atol=6)


def test_export_rejects_missing_or_unfit_inputs(tmp_path, picodet_weights):
    with pytest.raises(MtmctError, match="config"):
        export_model(tmp_path / "nope.yml", picodet_weights, tmp_path / "out")
    with pytest.raises(MtmctError, match="weights"):
        export_model(PICODET_CONFIG, tmp_path / "nope.pdparams", tmp_path / "out")
    import paddle

    paddle.save({"unrelated": paddle.zeros([2])}, str(tmp_path / "other.pdparams"))
    with pytest.raises(MtmctError, match="do not fit"):
        export_model(PICODET_CONFIG, tmp_path / "other.pdparams", tmp_path / "out")
    (tmp_path / "junk.pdparams").write_bytes(b"not a checkpoint")
    with pytest.raises(MtmctError, match="cannot read weights"):
        export_model(PICODET_CONFIG, tmp_path / "junk.pdparams", tmp_path / "out")
    # the CLI turns it into a one-line error and exit code 2
    assert main(["models", "export", str(tmp_path / "nope.yml"), str(picodet_weights), "--out", str(tmp_path)]) == 2


def _write_infer_cfg(folder: Path, steps: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "infer_cfg.yml").write_text(yaml.safe_dump({"Preprocess": steps}))
    return folder


def test_det_preprocess_keep_ratio_and_pad(tmp_path):
    folder = _write_infer_cfg(tmp_path / "m", [
        {"type": "Resize", "target_size": [320, 320], "keep_ratio": True, "interp": 1},
        {"type": "NormalizeImage", "mean": [0, 0, 0], "std": [1, 1, 1], "is_scale": True},
        {"type": "Permute"},
        {"type": "PadStride", "stride": 32},
    ])
    pre, _ = det_preprocess(folder)
    feed = pre(np.full((200, 400, 3), 255, np.uint8))
    assert feed["image"].shape == (1, 3, 160, 320)  # 160 is already a multiple of 32
    np.testing.assert_allclose(feed["scale_factor"], [[0.8, 0.8]])
    np.testing.assert_allclose(feed["im_shape"], [[160, 320]])
    assert feed["image"].max() == pytest.approx(1.0)
    feed = pre(np.zeros((100, 300, 3), np.uint8))  # 320/300 -> 107 x 320, padded to 128
    assert feed["image"].shape == (1, 3, 128, 320) and feed["im_shape"][0, 0] == 107


def test_det_preprocess_errors(tmp_path):
    with pytest.raises(MtmctError, match="infer_cfg.yml"):
        det_preprocess(tmp_path)
    with pytest.raises(MtmctError, match="Mosaic"):
        det_preprocess(_write_infer_cfg(tmp_path / "bad", [{"type": "Mosaic"}]))


@pytest.fixture(scope="module")
def reid_dir(tmp_path_factory) -> Path:
    import paddle

    paddle.seed(0)
    return export_reid(tmp_path_factory.mktemp("reid") / "pplcnet", mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])


def test_reid_export_loads_as_embedder(reid_dir, frame):
    assert {"inference.pdmodel", "inference.pdiparams", "inference.yml"} <= {p.name for p in reid_dir.iterdir()}
    emb = load_embedder(reid_dir, batch_size=4)
    assert emb.backend.input_shapes[0] == [-1, 3, 256, 128] and emb.backend.allow_dynamic_batch()
    assert emb.preprocess.size == (256, 128) and emb.preprocess.rgb
    assert emb.preprocess.mean == (0.5, 0.5, 0.5) and emb.preprocess.std == (0.25, 0.25, 0.25)
    assert emb.preprocess.scale == pytest.approx(1 / 255)
    boxes = np.array([[10, 20, 60, 140], [200, 100, 250, 220], [0, 0, 479, 359], [300, 50, 340, 130],
                      [100, 200, 160, 330]], np.float32)
    feats = emb.embed_boxes(frame, boxes)
    assert feats.shape == (5, emb.dim) and emb.dim == 128
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    one_by_one = np.concatenate([emb.embed_boxes(frame, b[None]) for b in boxes])
    np.testing.assert_allclose(feats, one_by_one, atol=1e-4)
    assert emb.embed([]).shape == (0, 128)


def test_reid_preprocess_from_ppdet_config_and_errors(tmp_path):
    folder = _write_infer_cfg(tmp_path / "det_style", [
        {"type": "Resize", "target_size": [192, 64], "keep_ratio": False, "interp": 1},
        {"type": "NormalizeImage", "mean": [0.1, 0.2, 0.3], "std": [1, 1, 1], "is_scale": True},
        {"type": "Permute"},
    ])
    pre = reid_preprocess(folder, default_size=(256, 128))
    assert pre.size == (192, 64) and pre.mean == (0.1, 0.2, 0.3)
    with pytest.raises(MtmctError, match="neither inference.yml"):
        reid_preprocess(tmp_path / "empty")
    (tmp_path / "clas").mkdir()
    (tmp_path / "clas" / "inference.yml").write_text(
        yaml.safe_dump({"PreProcess": {"transform_ops": [{"RandAugment": {}}]}}))
    with pytest.raises(MtmctError, match="RandAugment"):
        reid_preprocess(tmp_path / "clas")


def test_paddle_backend_errors(tmp_path, reid_dir):
    import paddle

    if not (paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0):
        with pytest.raises(MtmctError, match="--device gpu"):
            load_backend(reid_dir, device="gpu")
    (tmp_path / "model.pdmodel").write_bytes((reid_dir / "inference.pdmodel").read_bytes())
    with pytest.raises(MtmctError, match="pdiparams"):
        load_backend(tmp_path)
