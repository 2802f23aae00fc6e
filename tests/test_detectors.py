"""Contract tests run over every shared detector: empty input, clipping, class filter, misuse, frame sizes."""

from __future__ import annotations

import cv2
import motmetrics as mm
import numpy as np
import pytest
from conftest import shared_path

from cameras.detector import Detector, load_detector
from mtmct.core.detections import Detections

MODELS = {
    "yolox-nano": "yolox-nano-coco",  # COCO: person 0, car 2
    "adas-0002": "omz-pedestrian-detection-adas-0002/FP16",  # pedestrian label 1 mapped to person 0
}


@pytest.fixture(scope="module", params=list(MODELS))
def detector(request) -> Detector:
    return load_detector(shared_path("models", *MODELS[request.param].split("/")), conf=0.3)


@pytest.fixture(scope="module")
def street() -> np.ndarray:
    """MOT17-09 frame 1 at half size (960x540): four clearly visible pedestrians."""
    frame = cv2.imread(str(shared_path("data", "mot17-mini", "train", "MOT17-09-FRCNN", "img1", "000001.jpg")))
    return cv2.resize(frame, (960, 540), interpolation=cv2.INTER_AREA)


def test_black_frame_gives_empty_detections(detector: Detector) -> None:
    dets = detector.detect(np.zeros((480, 640, 3), np.uint8))
    assert isinstance(dets, Detections) and len(dets) == 0


def test_people_found_as_class_0_inside_frame(detector: Detector, street: np.ndarray) -> None:
    dets = detector.detect(street)
    h, w = street.shape[:2]
    assert len(dets) >= 3
    assert set(dets.classes.tolist()) == {0}
    assert (dets.scores >= detector.conf).all()
    assert (dets.xyxy[:, :2] >= 0).all() and (dets.xyxy[:, 2] <= w).all() and (dets.xyxy[:, 3] <= h).all()
    assert (dets.xyxy[:, 2:] > dets.xyxy[:, :2]).all()


def test_classes_filter(detector: Detector, street: np.ndarray) -> None:
    cls = type(detector)
    assert len(cls(detector.backend, conf=0.3, classes=[0]).detect(street)) == len(detector.detect(street))
    assert len(cls(detector.backend, conf=0.3, classes=[5]).detect(street)) == 0  # no buses here


def test_yolox_keeps_other_coco_classes_on_request() -> None:
    detector = load_detector(shared_path("models", "yolox-nano-coco"), conf=0.3, classes=[0, 2])
    frame = cv2.imread(str(shared_path("data", "mot17-mini", "train", "MOT17-10-FRCNN", "img1", "000001.jpg")))
    found = set(detector.detect(frame).classes.tolist())
    assert found <= {0, 2} and 0 in found


@pytest.mark.parametrize("bad", [None, np.zeros((48, 64), np.uint8), np.zeros((48, 64, 4), np.uint8)],
                         ids=["none", "gray", "bgra"])
def test_non_image_raises_value_error(detector: Detector, bad) -> None:
    with pytest.raises(ValueError):
        detector.detect(bad)


@pytest.mark.parametrize("scale", [1.5, 2.0])
def test_boxes_follow_the_frame_size(detector: Detector, street: np.ndarray, scale: float) -> None:
    """An upscaled frame gives the same people with boxes scaled by the same factor, in its own pixels."""
    base = detector.detect(street)
    big_frame = cv2.resize(street, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    big = detector.detect(big_frame)
    iou = 1.0 - mm.distances.iou_matrix(base.tlwh, big.tlwh / scale, max_iou=1.0)
    best = np.nan_to_num(iou, nan=0.0).max(axis=1)
    assert (best >= 0.7).mean() >= 0.8, best
    assert big.xyxy[:, 2].max() > street.shape[1] or big.xyxy[:, 3].max() > street.shape[0]
