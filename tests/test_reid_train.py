"""`mtmct reid train`: the losses and sampler on hand-built cases, the held-out split rule, and a short real training
of the converted OSNet (../shared) through the CLI: outputs, resume, exports that agree with the network.

Training set for the end-to-end test: PETS09-S2L1 every 40th frame, boxes at least 40 px tall (a written rule,
small enough for two CPU epochs of three steps); it checks the mechanics, not accuracy (that is the adaptation
golden in test_reid_adapt.py and the tables in BENCHMARKS.md).
"""

from __future__ import annotations

import zlib  # noqa: F401  (before paddle)

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import shared_path
from mtmct.core.errors import MtmctError
from mtmct.eval_reid import MarketSet
from mtmct.reid_folders import HOLD_EVERY, QUERY_CAMERA_SHIFT, hold_out, read_train_folders
from mtmct.reid_train import CropSet, PKSampler

MTMCT = str(Path(sys.executable).with_name("mtmct"))


def mtmct(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([MTMCT, *args], capture_output=True, text=True, env=os.environ.copy(), timeout=timeout)


def triplet(feats: np.ndarray, labels: list[int], different: np.ndarray, margin: float = 0.3) -> float:
    import paddle

    from mtmct.reid_train import batch_hard_triplet

    f = paddle.to_tensor(feats / np.linalg.norm(feats, axis=1, keepdims=True), dtype="float32")
    return float(batch_hard_triplet(f, paddle.to_tensor(np.asarray(labels)), paddle.to_tensor(different), margin))


def numpy_triplet(feats: np.ndarray, labels: np.ndarray, different: np.ndarray, margin: float = 0.3) -> float:
    """Batch-hard triplet written out per anchor."""
    f = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    dist = np.linalg.norm(f[:, None] - f[None], axis=2)
    losses = []
    for i in range(len(f)):
        pos = [j for j in range(len(f)) if j != i and labels[j] == labels[i]]
        neg = [j for j in range(len(f)) if different[i, j]]
        if pos and neg:
            losses.append(max(0.0, max(dist[i, pos]) - min(dist[i, neg]) + margin))
    return float(np.mean(losses)) if losses else 0.0


def test_triplet_pushes_apart_only_pairs_known_to_differ():
    # labels 0 and 1 look alike (close), label 2 is far: the hardest *known* negative decides the loss
    feats = np.asarray([[1, 0], [1, 0.05], [1, 0.1], [1, 0.12], [0, 1], [0, 1.1]], np.float32)
    labels = [0, 0, 1, 1, 2, 2]
    lab = np.asarray(labels)
    all_known = lab[:, None] != lab[None]
    only_far = all_known & ((lab[:, None] == 2) | (lab[None] == 2))  # 0 and 1 might be one person: not pushed
    loose = triplet(feats, labels, only_far)
    tight = triplet(feats, labels, all_known)
    assert loose == pytest.approx(0.0, abs=1e-6)  # every anchor's known negative (label 2) is far beyond the margin
    assert tight == pytest.approx(numpy_triplet(feats, lab, all_known), abs=1e-5)
    assert tight > 0.15  # labels 0 and 1 are 0.05-0.1 apart, far inside the margin once they must differ
    # an anchor without any known negative in the batch adds nothing, even if its positives are far
    none = np.zeros((6, 6), bool)
    assert triplet(feats, labels, none) == 0.0


def test_sampler_puts_a_known_different_label_beside_each_seed():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(40), 5)
    different = np.zeros((40, 40), bool)
    for a in range(0, 40, 2):  # only pairs (0,1), (2,3), ... are known to differ
        different[a, a + 1] = different[a + 1, a] = True
    data = CropSet(np.zeros((200, 4, 2, 3), np.uint8), labels, np.zeros(200), different)
    sampler = PKSampler(data, ids_per_batch=4, crops_per_id=3, rng=rng)
    for _ in range(50):
        idx = sampler.batch()
        chosen = labels[idx]
        assert len(idx) == 12 and all(np.sum(chosen == c) == 3 for c in np.unique(chosen))
        assert different[np.ix_(np.unique(chosen), np.unique(chosen))].any()
    # random P of 40 labels would hold a known pair in only ~15 % of batches; the sampler always does


def test_single_folder_holds_out_every_fifth_identity_split_by_time(tmp_path):
    paths, pids, cams = [], [], []
    for pid in range(1, 13):
        for frame in range(1, 9):
            paths.append(tmp_path / f"{pid:04d}_c1s1_{frame:06d}_00.jpg")
            pids.append(pid)
            cams.append(1)
    split = hold_out(MarketSet(tmp_path, paths, np.asarray(pids), np.asarray(cams)))
    held = sorted(range(1, 13))[2::HOLD_EVERY]
    assert held == [3, 8]
    assert not set(held) & set(split.train.pids.tolist())
    assert set(split.query.pids.tolist()) == set(held) == set(split.gallery.pids.tolist())
    assert (split.query.cams == 1 + QUERY_CAMERA_SHIFT).all() and (split.gallery.cams == 1).all()
    frames = lambda s: [int(p.name.split("_")[2]) for p in s.paths]  # noqa: E731
    assert max(frames(split.gallery)) < min(frames(split.query))  # gallery earlier, queries later


def test_query_without_gallery_is_one_line_error(tmp_path):
    with pytest.raises(MtmctError, match="both --query and --gallery"):
        read_train_folders(tmp_path, query=tmp_path)


@pytest.fixture(scope="module")
def train_set(tmp_path_factory) -> Path:
    pets = shared_path("data", "pets09-s2l1")
    out = tmp_path_factory.mktemp("reid-train") / "crops"
    res = mtmct("dataset", "reid-from-mot", "--video", str(pets / "video.avi"), "--gt", str(pets / "gt" / "gt.txt"),
                "--camera-id", "1", "--every", "40", "--min-height", "40", "--out", str(out))
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def trained(train_set, tmp_path_factory) -> tuple[Path, int, subprocess.CompletedProcess]:
    """Two epochs, SIGKILLed once the first epoch's checkpoint is written, then --resume: what a user whose
    training was interrupted would do. Returns OUT, the killed process's exit code and the resume's output."""
    import signal
    import time

    out = tmp_path_factory.mktemp("reid-model") / "model"
    osnet = str(shared_path("models", "osnet-x0_25-msmt17"))
    common = ["--data", str(train_set), "--out", str(out), "--ids-per-batch", "4", "--crops-per-id", "2",
              "--epochs", "2"]
    first = subprocess.Popen([MTMCT, "reid", "train", *common, "--init", osnet], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=os.environ.copy())
    checkpoint, deadline = out / "checkpoints" / "last.pdparams", time.monotonic() + 300
    while not checkpoint.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    killed = first.wait(timeout=30)
    second = mtmct("reid", "train", *common, "--resume")
    assert second.returncode == 0, second.stderr
    return out, killed, second


def test_training_writes_a_model_folder_the_registry_loads(trained):
    out, _, second = trained
    for name in ("model.pdmodel", "model.pdiparams", "model.pdparams", "x2paddle_code.py", "mtmct.yaml",
                 "onnx/model.onnx", "checkpoints/last.pdparams"):
        assert (out / name).is_file(), name
    manifest = yaml.safe_load((out / "mtmct.yaml").read_text())
    epochs = [row["epoch"] for row in manifest["history"]]
    assert epochs == [0, 1, 2]  # the start's scores, epoch 1 (before the kill), epoch 2 (after the resume)
    assert all("rank1" in row and "map" in row for row in manifest["history"])  # the held-out split, every epoch
    assert "epoch   2" in second.stdout and "mAP" in second.stdout


def test_a_killed_training_resumes_where_it_stopped(trained):
    import paddle

    out, killed, second = trained
    assert killed == -9  # killed mid-training, before its export: OUT held only the start copy and a checkpoint
    state = paddle.load(str(out / "checkpoints" / "last.pdparams"))
    assert state["epoch"] == 2
    assert "epoch   1" in second.stdout  # the first epoch's row came from the checkpoint, not a new run of it
    assert second.stdout.count("(start)") == 1


def test_exports_give_the_networks_embeddings(trained, train_set):
    """Paddle Inference (what `models.reid: OUT` loads) and ONNX Runtime embed as the trained network does."""
    import cv2

    from cameras.embedder import load_embedder
    from mtmct.reid_convert import load_trainable
    from mtmct.reid_train import NetworkEmbedder, read_preprocess

    out, _, _ = trained
    crops = [cv2.imread(str(p)) for p in sorted(train_set.glob("*.jpg"))[:16]]
    reference = NetworkEmbedder(load_trainable(out), read_preprocess(out)).embed(crops)
    for model in (out, out / "onnx" / "model.onnx"):
        got = load_embedder(model).embed(crops)
        assert np.min(np.sum(got * reference, axis=1)) >= 0.9999, model
    start = load_embedder(shared_path("models", "osnet-x0_25-msmt17")).embed(crops)
    assert np.min(np.sum(start * reference, axis=1)) < 0.9999  # training changed the weights


@pytest.mark.parametrize("args, message", [
    ([], "give --init"),
    (["--resume"], "holds no network"),
    (["--init", "models/nothing-here"], "does not exist"),
])
def test_train_errors_are_one_line(train_set, tmp_path, args, message):
    res = mtmct("reid", "train", "--data", str(train_set), "--out", str(tmp_path / "m"), *args)
    assert res.returncode != 0
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_gpu_on_a_cpu_paddle_is_one_line_error(train_set, tmp_path):
    import paddle

    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this Paddle has CUDA: the GPU path is checked on the GPU machine (BENCHMARKS.md)")
    res = mtmct("reid", "train", "--data", str(train_set), "--out", str(tmp_path / "m"), "--init",
                str(shared_path("models", "osnet-x0_25-msmt17")), "--device", "gpu")
    assert res.returncode != 0 and "no CUDA device" in res.stderr, res.stderr
