"""One-shot tracking end to end: a FairMOT built from configs/ppdet, exported through paddledet with random weights,
loaded with Paddle Inference and tracked on real footage with JDE association (`mtmct track`, the API, `Module`).

The weights are random (no network here), so the boxes mean nothing; what is tested is the plumbing: the export's
two outputs read as boxes in original pixels with their embeddings, no ReID model, the JDE tracker picked with the
export's own thresholds, ids that stay put on a static scene, and the PaddleHub-style entry.
"""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle: see tests/conftest.py)

from pathlib import Path

import cv2
import numpy as np
import pytest

import mtmct
from cameras.detector import load_detector
from cameras.jde import JdeTracker
from cameras.oneshot_detector import OneShotDetector
from mtmct.cli import main
from mtmct.core.detections import Detections
from mtmct.core.errors import MtmctError
from mtmct.core.models.registry import PPDET_CONFIGS, REGISTRY, pull
from conftest import ROOT, pets_frames

FAIRMOT_CONFIG = ROOT / "configs" / "ppdet" / "fairmot_hrnetv2_w18_dlafpn_576x320.yml"
EMBEDDING_DIM = 128  # the config's FairMOTEmbeddingHead.ch_emb


def _random_fairmot_weights(path: Path) -> Path:
    """FairMOT from the config with PaddleDetection's own init, rescaled so the heads see the image: the backbone's
    features come out near 1e-7, so the heads' first convolutions are scaled up, and the heatmap's last one made
    positive with a bias that leaves a few peaks above the tracker's 0.4 (boxes of a few cells: size bias)."""
    import paddle
    from ppdet.core.workspace import load_config
    from ppdet.engine import Trainer

    paddle.seed(0)
    model = Trainer(load_config(str(FAIRMOT_CONFIG)), mode="test").model
    sd = model.state_dict()
    for name in ("detector.head.heatmap.0", "detector.head.size.0", "detector.head.offset.0", "reid.reid.0"):
        sd[name + ".conv.weight"].set_value(sd[name + ".conv.weight"] * 1e6)
    sd["detector.head.heatmap.2.conv.weight"].set_value(sd["detector.head.heatmap.2.conv.weight"].abs() * 30)
    sd["detector.head.heatmap.2.conv.bias"].set_value(paddle.full([1], -7.0))
    sd["detector.head.size.2.conv.weight"].set_value(sd["detector.head.size.2.conv.weight"] * 10)
    sd["detector.head.size.2.conv.bias"].set_value(paddle.to_tensor([3.0, 8.0, 3.0, 8.0]))
    paddle.save(model.state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def fairmot_dir(tmp_path_factory) -> Path:
    weights = _random_fairmot_weights(tmp_path_factory.mktemp("ckpt") / "fairmot.pdparams")
    out = tmp_path_factory.mktemp("export") / "fairmot"
    assert main(["models", "export", str(FAIRMOT_CONFIG), str(weights), "--out", str(out)]) == 0
    return out


def _folder(path: Path, frames: list[np.ndarray]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        cv2.imwrite(str(path / f"{i:06d}.jpg"), frame)
    return path


def test_the_export_reads_as_boxes_with_embeddings(fairmot_dir):
    """Paddle Inference runs the export; rows come back in the frame's pixels with unit embeddings of the head's
    size, and the tracker settings are the export's own (its infer_cfg.yml `tracker`: conf_thres, tracked_thresh)."""
    det = load_detector(fairmot_dir, conf=0.4)
    assert isinstance(det, OneShotDetector) and det.backend.name == "paddle" and det.arch == "FairMOT"
    frame = pets_frames(1)[0]
    dets = det.detect(frame)
    assert len(dets) >= 3
    h, w = frame.shape[:2]
    assert (dets.xyxy >= 0).all() and (dets.xyxy[:, [0, 2]] <= w).all() and (dets.xyxy[:, [1, 3]] <= h).all()
    assert (np.median(dets.xyxy[:, 2:] - dets.xyxy[:, :2], axis=0) > 5).all()  # extents in pixels, not grid cells
    assert dets.embeddings.shape == (len(dets), EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(dets.embeddings, axis=1), 1.0, atol=1e-5)
    assert len(np.unique(dets.embeddings.round(4), axis=0)) > 1  # the embedding depends on where the box is
    assert det.tracker_config() == {"type": "jde", "conf": 0.4, "max_appearance_distance": 0.4}


def test_ids_stay_put_on_a_static_scene_without_a_reid_model(fairmot_dir, tmp_path):
    """The same real frame eight times: every box is the same person throughout, so the ids of frame 1 are the ids
    of every frame, none new; JDE association was picked and no ReID model ran (the boxes carry embeddings)."""
    folder = _folder(tmp_path / "static", pets_frames(1) * 8)
    result = mtmct.track(str(folder), out=tmp_path / "out", detector=str(fairmot_dir), progress=False)
    assert result.error is None and result.frames == 8 and result.embedded == 0
    ids_by_frame = {f: set(result.rows[result.rows[:, 0] == f, 1].astype(int)) for f in range(1, 9)}
    assert ids_by_frame[1] and all(ids == ids_by_frame[1] for ids in ids_by_frame.values())


def test_track_cli_and_module_run_the_export_end_to_end(fairmot_dir, tmp_path, capsys):
    """`mtmct track --detector EXPORT --tracker jde` on real frames writes MOT rows in pixels and an annotated video;
    `mtmct.Module(name=EXPORT).mot_predict(...)`, PaddleHub's call, writes the same rows."""
    folder = _folder(tmp_path / "clip", pets_frames(12))
    out = tmp_path / "cli"
    assert main(["track", str(folder), "--detector", str(fairmot_dir), "--tracker", "jde", "--out", str(out),
                 "--save-video"]) == 0
    rows = np.loadtxt(out / "clip.txt", delimiter=",", ndmin=2)
    assert len(rows) and set(rows[:, 0].astype(int)) <= set(range(1, 13))
    assert (rows[:, 2] >= 0).all() and (rows[:, 2] + rows[:, 4] <= 480 + 1e-3).all()
    assert (rows[:, 3] + rows[:, 5] <= 360 + 1e-3).all()
    assert (out / "clip.mp4").stat().st_size > 0

    result = mtmct.Module(name=str(fairmot_dir)).mot_predict(str(folder), output_dir=str(tmp_path / "hub"),
                                                             visualization=False)
    hub_rows = np.loadtxt(tmp_path / "hub" / "mot_outputs" / "clip.txt", delimiter=",", ndmin=2)
    np.testing.assert_allclose(hub_rows, rows, atol=1e-2)
    assert result.embedded == 0
    with pytest.raises(MtmctError, match="unknown module"):
        mtmct.Module(name="no_such_module")


def test_registry_lists_the_published_one_shot_models_and_offline_pull_prints_the_export():
    """PaddleHub's module names are registry models; a checkpoint entry's offline pull says how to export it with
    the shipped config (which exists), in one line."""
    for name in ("fairmot_dla34", "jde_darknet53_30e_1088x608", "fairmot_hrnetv2_w18_dlafpn_30e_576x320"):
        assert REGISTRY[name].task == "oneshot"
    entry = REGISTRY["fairmot_dla34"]
    assert (PPDET_CONFIGS / entry.config).is_file()
    with pytest.raises(MtmctError) as info:
        pull(entry.name, url="http://127.0.0.1:9/fairmot_dla34_30e_1088x608.pdparams")
    message = str(info.value)
    assert "mtmct models export" in message and str(PPDET_CONFIGS / entry.config) in message and entry.url in message
    assert "\n" not in message


def test_jde_association_keeps_both_ids_through_a_crossing():
    """Two people walk through each other (boxes overlapping for several frames), each box carrying its person's
    embedding: both keep their ids from the first frame to the last, with embeddings and (IoU round alone, as for
    a detector that gives none) without."""
    looks = np.eye(2, 8, dtype=np.float32)

    def ids(with_look: bool) -> list[tuple[int, int]]:
        tracker, out = JdeTracker(), []
        for t in range(30):
            a, b = 100 + 8 * t, 332 - 8 * t  # x of person A (walking right) and B (walking left)
            xyxy = np.array([[a, 100, a + 40, 200], [b, 104, b + 40, 204]], np.float32)
            rows = tracker.update(Detections(xyxy, [0.9, 0.9], [0, 0], looks if with_look else None))
            by_det = dict(zip(rows.det_index.tolist(), rows.ids.tolist()))
            out.append((by_det.get(0, 0), by_det.get(1, 0)))
        return out

    for with_look in (True, False):
        pairs = ids(with_look)
        assert all(p == pairs[0] for p in pairs) and 0 not in pairs[0], (with_look, pairs)


def test_a_camera_set_runs_the_one_shot_model_on_every_camera(fairmot_dir, tmp_path):
    """`mtmct run` with a FairMOT export as the set's detector and `tracker: {type: jde}`: each camera tracks with the
    export's own embeddings (no ReID model in the config at all), tracklets carry 128-d embeddings, fusion runs."""
    frames = pets_frames(10)
    for cam, crop in (("c1", slice(0, 300)), ("c2", slice(180, 480))):  # two overlapping views of the scene
        _folder(tmp_path / cam, [f[:, crop] for f in frames])
    config = tmp_path / "oneshot.yaml"
    config.write_text(f"name: oneshot\nmodels: {{detector: {fairmot_dir}}}\ntracker: {{type: jde}}\n"
                      f"cameras:\n  - {{id: c1, source: {tmp_path / 'c1'}, fps: 10}}\n"
                      f"  - {{id: c2, source: {tmp_path / 'c2'}, fps: 10}}\n"
                      "topology:\n  - {a: c1, b: c2, overlap: true}\n")
    from mtmct.pipeline import run_cameras

    result = run_cameras(config, tmp_path / "out", progress=False, use_ray=False, handle_signals=False)
    assert not [c.error for c in result.cameras if c.error]
    assert result.tracklets and {t.camera_id for t in result.tracklets} == {"c1", "c2"}
    assert all(t.embedding is not None and t.embedding.shape == (EMBEDDING_DIM,) for t in result.tracklets)
    assert all(c.embedded == 0 for c in result.cameras)  # no ReID model ran
