"""Metric-learning training of a ReID network in Paddle, shared by ``mtmct reid train`` and ``mtmct reid adapt``.

The recipe is the strong baseline of person ReID (Luo et al. 2019, as PaddleClas's ReID configs and the seed
project of this product use it): identity classification with label smoothing on a BatchNorm "neck" of the
embedding, plus a batch-hard triplet loss on the embedding itself, over P identities x K images per batch.

Two kinds of labels share it. Supervised sets (``mtmct dataset reid-from-mot``, Market-1501) tell every pair of
identities apart. Pseudo-labels from a run's own tracklets (``mtmct.reid_adapt``) do not: two tracklets of one
camera may be one person seen twice. :class:`CropSet` therefore carries which label pairs are *known* to be
different people, and the triplet loss only pushes those apart; the identity loss, which pushes every label away
from every other, is weighted by the caller (off for pseudo-labels, where measurement showed it hurts).

What a training folder holds (``OUT``)::

    x2paddle_code.py + model.pdparams   the trained network (trainable: continue or adapt it again)
    model.pdmodel + model.pdiparams     Paddle Inference copy: ``models.reid: OUT``
    mtmct.yaml                          preprocessing + what it was trained from and how it scored
    onnx/model.onnx                     ONNX copy (paddle2onnx), for ONNX Runtime users
    checkpoints/last.pdparams           network, head, optimizer and history after the latest epoch (--resume)
"""

from __future__ import annotations

# Paddle bundles its own zlib symbols; Cython modules imported after paddle crash unless zlib came first.
import zlib  # noqa: F401

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from mtmct.core.errors import MtmctError
from mtmct.core.models.preprocess import ImagePreprocess
from mtmct.reid_convert import CODE_FILE, PARAMS_FILE, load_trainable

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoints/last.pdparams"


@dataclass
class CropSet:
    """Training crops at the network's input size with their labels.

    ``different[a, b]`` is True when labels a and b are known to be different people; None means every two
    labels are (a labelled set).
    """

    images: np.ndarray  # (N, H, W, 3) uint8 BGR, already resized to the network's input size
    labels: np.ndarray  # (N,) int64 in 0..L-1
    cams: np.ndarray  # (N,) int64
    different: np.ndarray | None = None  # (L, L) bool

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, np.int64)
        self.cams = np.asarray(self.cams, np.int64)
        if not len(self.images) == len(self.labels) == len(self.cams):
            raise ValueError("images, labels and cams must have one entry per crop")

    @property
    def num_labels(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def known_different(self) -> np.ndarray:
        """(L, L) bool, False on the diagonal."""
        if self.different is not None:
            return self.different
        return ~np.eye(self.num_labels, dtype=bool)


@dataclass
class TrainConfig:
    """How to train; each value's trade-off is in its comment."""

    epochs: int = 8  # passes over the crops; more fits the site better and may forget the source's generality
    ids_per_batch: int = 8  # P: more identities per batch give harder negatives, at more memory and time per step
    crops_per_id: int = 4  # K: images of one identity per batch; the triplet needs at least 2
    lr: float = 1e-4  # Adam's peak rate, decayed to 0 along a cosine; converted backbones have no BatchNorm left
    # (folded into their convolutions), so keep it small
    weight_decay: float = 5e-4
    margin: float = 0.3  # triplet margin on L2-normalised embeddings (distances in [0, 2])
    id_weight: float = 1.0  # identity classification; 0 for pseudo-labels that may split one person
    triplet_weight: float = 1.0
    label_smoothing: float = 0.1
    steps_per_epoch: int = 0  # 0: one pass over the crops (N / batch)
    seed: int = 0
    device: str = "cpu"  # cpu or gpu (paddlepaddle-gpu)

    @property
    def batch_size(self) -> int:
        return self.ids_per_batch * self.crops_per_id


@dataclass
class TrainResult:
    out: Path
    history: list[dict] = field(default_factory=list)  # per epoch: epoch, loss, seconds, and rank1/map if evaluated
    seconds: float = 0.0


def set_device(device: str) -> None:
    """Select Paddle's device; a GPU asked for where Paddle has none is a one-line error."""
    import paddle

    if device == "gpu":
        if not paddle.device.is_compiled_with_cuda() or paddle.device.cuda.device_count() == 0:
            raise MtmctError("--device gpu: this Paddle has no CUDA device (install paddlepaddle-gpu on a GPU machine)")
        paddle.set_device("gpu")
    elif device == "cpu":
        paddle.set_device("cpu")
    else:
        raise MtmctError(f"device must be cpu or gpu, got {device!r}")


def normalise(batch: np.ndarray, preprocess: ImagePreprocess) -> np.ndarray:
    """(N, H, W, 3) uint8 BGR at input size -> (N, 3, H, W) float32 as the embedder feeds the model."""
    x = batch[..., ::-1] if preprocess.rgb else batch
    x = x.astype(np.float32) * preprocess.scale
    x -= np.asarray(preprocess.mean, np.float32)
    x /= np.asarray(preprocess.std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def resize_crop(crop: np.ndarray, preprocess: ImagePreprocess) -> np.ndarray:
    h, w = preprocess.size
    return cv2.resize(crop, (w, h), interpolation=preprocess.interpolation)


def augment(batch: np.ndarray, rng: np.random.Generator, pad: int = 10, erase_p: float = 0.5) -> np.ndarray:
    """Horizontal flip, pad-and-crop shift and random erasing: the strong baseline's augmentations."""
    n, h, w, _ = batch.shape
    out = np.empty_like(batch)
    padded = np.pad(batch, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    for i in range(n):
        dy, dx = rng.integers(0, 2 * pad + 1, size=2)
        img = padded[i, dy:dy + h, dx:dx + w]
        out[i] = img[:, ::-1] if rng.random() < 0.5 else img
        if rng.random() < erase_p:
            area = rng.uniform(0.02, 0.3) * h * w
            aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
            eh, ew = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            if 0 < eh < h and 0 < ew < w:
                y0, x0 = rng.integers(0, h - eh), rng.integers(0, w - ew)
                out[i, y0:y0 + eh, x0:x0 + ew] = rng.integers(0, 256, size=(eh, ew, 3), dtype=np.uint8)
    return out


class PKSampler:
    """Batches of P labels x K crops in which every label has a known-different label beside it, when it has one.

    Random P labels from a pseudo-labelled set rarely hold two tracklets known to differ (they must coexist in
    one camera), so each batch grows from a random seed label by adding labels known to differ from those already
    in it, then fills up at random.
    """

    def __init__(self, data: CropSet, ids_per_batch: int, crops_per_id: int, rng: np.random.Generator) -> None:
        self.p, self.k, self.rng = ids_per_batch, crops_per_id, rng
        self.by_label = [np.flatnonzero(data.labels == label) for label in range(data.num_labels)]
        self.usable = np.asarray([i for i, idx in enumerate(self.by_label) if len(idx)], np.int64)
        self.different = data.known_different()
        if len(self.usable) < 2:
            raise MtmctError(f"training needs at least 2 identities with crops, got {len(self.usable)}")

    def batch(self) -> np.ndarray:
        chosen = [int(self.rng.choice(self.usable))]
        while len(chosen) < min(self.p, len(self.usable)):
            pool = np.flatnonzero(self.different[chosen].any(axis=0))
            pool = np.setdiff1d(np.intersect1d(pool, self.usable), chosen)
            if not len(pool):
                pool = np.setdiff1d(self.usable, chosen)
            chosen.append(int(self.rng.choice(pool)))
        rows = [self.rng.choice(self.by_label[c], size=self.k, replace=len(self.by_label[c]) < self.k)
                for c in chosen]
        return np.concatenate(rows)


def batch_hard_triplet(feats: Any, labels: Any, different: Any, margin: float) -> Any:
    """Mean over anchors of max(0, d(a, hardest positive) - d(a, hardest known negative) + margin).

    ``feats`` (B, D) L2-normalised; ``different`` (B, B) bool. Anchors without a positive or a known negative
    in the batch add nothing.
    """
    import paddle

    sim = feats @ feats.T
    dist = paddle.sqrt(paddle.clip(2.0 - 2.0 * sim, min=1e-12))
    same = labels.unsqueeze(1) == labels.unsqueeze(0)
    eye = paddle.eye(len(labels)).astype("bool")
    pos = paddle.logical_and(same, paddle.logical_not(eye))
    big = paddle.full_like(dist, 4.0)
    hardest_pos = paddle.where(pos, dist, paddle.zeros_like(dist)).max(axis=1)
    hardest_neg = paddle.where(different, dist, big).min(axis=1)
    valid = paddle.logical_and(pos.any(axis=1), different.any(axis=1)).astype("float32")
    losses = paddle.nn.functional.relu(hardest_pos - hardest_neg + margin) * valid
    return losses.sum() / paddle.clip(valid.sum(), min=1.0)


class _Head:
    """BNNeck + linear identity classifier on the embedding (training only; never exported)."""

    def __init__(self, dim: int, classes: int) -> None:
        import paddle

        self.neck = paddle.nn.BatchNorm1D(dim)
        self.neck.bias.stop_gradient = True
        self.fc = paddle.nn.Linear(dim, classes, bias_attr=False)

    def parameters(self) -> list:
        return [p for p in [*self.neck.parameters(), *self.fc.parameters()] if not p.stop_gradient]

    def state_dict(self) -> dict:
        return {**{f"neck.{k}": v for k, v in self.neck.state_dict().items()},
                **{f"fc.{k}": v for k, v in self.fc.state_dict().items()}}

    def set_state_dict(self, state: dict) -> None:
        self.neck.set_state_dict({k[5:]: v for k, v in state.items() if k.startswith("neck.")})
        self.fc.set_state_dict({k[3:]: v for k, v in state.items() if k.startswith("fc.")})

    def logits(self, feats: Any) -> Any:
        return self.fc(self.neck(feats))


def embed_images(network: Any, images: np.ndarray, preprocess: ImagePreprocess, batch_size: int = 64) -> np.ndarray:
    """(N, D) L2-normalised embeddings of crops already at input size, network in eval mode."""
    import paddle

    network.eval()
    out = []
    with paddle.no_grad():
        for start in range(0, len(images), batch_size):
            x = paddle.to_tensor(normalise(images[start:start + batch_size], preprocess))
            out.append(network(x).numpy().reshape(len(x), -1))
    feats = np.concatenate(out).astype(np.float32) if out else np.zeros((0, 1), np.float32)
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)


class NetworkEmbedder:
    """A training network behind the ``CropEmbedder`` interface, so ``mtmct.eval_reid`` scores it unchanged."""

    def __init__(self, network: Any, preprocess: ImagePreprocess, batch_size: int = 64) -> None:
        self.network, self.preprocess, self.batch_size = network, preprocess, batch_size

    def embed(self, crops: list[np.ndarray]) -> np.ndarray:
        if not crops:
            return np.zeros((0, 1), np.float32)
        images = np.stack([resize_crop(c, self.preprocess) for c in crops])
        return embed_images(self.network, images, self.preprocess, self.batch_size)


def train(model_dir: str | Path, data: CropSet, out: str | Path, config: TrainConfig,
          evaluate: Callable[[NetworkEmbedder], dict] | None = None, resume: bool = False,
          about: dict | None = None) -> TrainResult:
    """Fine-tune the trainable network in ``model_dir`` (``mtmct models convert`` output or an earlier ``OUT``)
    on ``data``; writes ``out`` (see the module docstring) and returns the per-epoch history.

    ``evaluate`` scores the network after each epoch (rank-1/mAP of a held query/gallery split). ``resume``
    continues from ``out/checkpoints/last.pdparams``. ``about`` goes into ``out/mtmct.yaml`` (data, source).
    """
    import paddle

    set_device(config.device)
    model_dir, out = Path(model_dir), Path(out)
    preprocess = read_preprocess(model_dir)
    if data.images.shape[1:3] != tuple(preprocess.size):
        raise ValueError(f"crops are {data.images.shape[1:3]}, the network takes {preprocess.size}")
    if config.crops_per_id < 2:
        raise MtmctError("crops_per_id must be at least 2 (a triplet needs a positive)")
    paddle.seed(config.seed)
    rng = np.random.default_rng(config.seed)
    network = load_trainable(model_dir)
    dim = int(embed_images(network, data.images[:1], preprocess).shape[1])
    head = _Head(dim, max(data.num_labels, 1))
    params = [p for p in network.parameters() if not p.stop_gradient] + head.parameters()
    steps = config.steps_per_epoch or max(1, len(data.labels) // config.batch_size)
    # decaying to 0 over the whole run settles the weights: with a flat rate, rank-1 swung by 0.2 between epochs
    schedule = paddle.optimizer.lr.CosineAnnealingDecay(config.lr, T_max=steps * config.epochs)
    optimizer = paddle.optimizer.Adam(schedule, parameters=params,
                                      weight_decay=paddle.regularizer.L2Decay(config.weight_decay))
    history: list[dict] = []
    first_epoch = 0
    checkpoint = out / CHECKPOINT
    if resume:
        if not checkpoint.exists():
            raise MtmctError(f"--resume: {checkpoint} does not exist (nothing to continue)")
        state = paddle.load(str(checkpoint))
        network.set_state_dict(state["network"])
        head.set_state_dict(state["head"])
        optimizer.set_state_dict(state["optimizer"])
        schedule.set_state_dict(state["schedule"])
        history, first_epoch = state["history"], int(state["epoch"])
        rng = np.random.default_rng([config.seed, first_epoch])
        log.info("resuming %s after epoch %d", out, first_epoch)
    elif evaluate is not None:  # the starting point, so every epoch compares with it
        history.append({"epoch": 0, **_scores(evaluate(NetworkEmbedder(network, preprocess)))})
        log.info("epoch 0 (start): rank-1 %.3f, mAP %.3f", history[0]["rank1"], history[0]["map"])
    out.mkdir(parents=True, exist_ok=True)
    if not resume and model_dir.resolve() != out.resolve():
        # OUT starts as a copy of the start, so a training killed before its export resumes from OUT alone
        for name in (CODE_FILE, PARAMS_FILE, "mtmct.yaml"):
            shutil.copyfile(model_dir / name, out / name)
    sampler = PKSampler(data, config.ids_per_batch, config.crops_per_id, rng)
    different = data.known_different()
    started = time.perf_counter()
    for epoch in range(first_epoch + 1, config.epochs + 1):
        network.train()
        head.neck.train()
        t0, losses = time.perf_counter(), []
        with tqdm(range(steps), desc=f"epoch {epoch}/{config.epochs}", unit="step", leave=False) as bar:
            for _ in bar:
                idx = sampler.batch()
                x = paddle.to_tensor(normalise(augment(data.images[idx], rng), preprocess))
                labels = paddle.to_tensor(data.labels[idx])
                feats = network(x)
                loss = config.triplet_weight * batch_hard_triplet(
                    paddle.nn.functional.normalize(feats, axis=1), labels,
                    paddle.to_tensor(different[np.ix_(data.labels[idx], data.labels[idx])]), config.margin)
                if config.id_weight > 0:
                    loss = loss + config.id_weight * paddle.nn.functional.cross_entropy(
                        head.logits(feats), labels, label_smoothing=config.label_smoothing)
                loss.backward()
                optimizer.step()
                optimizer.clear_grad()
                schedule.step()
                losses.append(float(loss))
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": round(time.perf_counter() - t0, 1)}
        if evaluate is not None:
            row.update(_scores(evaluate(NetworkEmbedder(network, preprocess))))
        history.append(row)
        log.info("epoch %d: %s", epoch, ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in row.items() if k != "epoch"))
        _save_checkpoint(checkpoint, network, head, optimizer, schedule, epoch, history)
    export(network, model_dir, out, preprocess, about={**(about or {}), "train": asdict(config),
                                                        "history": history})
    return TrainResult(out, history, time.perf_counter() - started)


def _scores(result: dict) -> dict:
    return {k: round(float(result[k]), 4) for k in ("rank1", "map") if k in result}


def _save_checkpoint(path: Path, network: Any, head: _Head, optimizer: Any, schedule: Any, epoch: int,
                     history: list) -> None:
    """Written to a temporary name and renamed, so a kill mid-save leaves the previous checkpoint whole."""
    import paddle

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    paddle.save({"network": network.state_dict(), "head": head.state_dict(), "optimizer": optimizer.state_dict(),
                 "schedule": schedule.state_dict(), "epoch": epoch, "history": history}, str(tmp))
    tmp.replace(path)


def read_preprocess(model_dir: Path) -> ImagePreprocess:
    """The crop preprocessing recorded beside a trainable network (``mtmct.yaml``)."""
    manifest = Path(model_dir) / "mtmct.yaml"
    data = yaml.safe_load(manifest.read_text()) if manifest.exists() else None
    values = (data or {}).get("preprocess")
    if not values:
        raise MtmctError(f"{manifest} records no preprocessing; convert the model with `mtmct models convert`")
    return ImagePreprocess(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def export(network: Any, source_dir: Path, out: Path, preprocess: ImagePreprocess, about: dict | None = None,
           onnx: bool = True) -> Path:
    """Write ``out`` as a model folder: trainable (code + weights), Paddle Inference, mtmct.yaml, ONNX."""
    import paddle
    from paddle.static import InputSpec

    out.mkdir(parents=True, exist_ok=True)
    network.eval()
    if (source_dir / CODE_FILE).resolve() != (out / CODE_FILE).resolve():
        shutil.copyfile(source_dir / CODE_FILE, out / CODE_FILE)
    paddle.save(network.state_dict(), str(out / PARAMS_FILE))
    h, w = preprocess.size
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:  # same file system: the moves are renames
        paddle.jit.save(network, f"{tmp}/model", input_spec=[InputSpec([None, 3, h, w], "float32", "images")])
        for name in ("model.pdmodel", "model.pdiparams"):
            shutil.move(f"{tmp}/{name}", str(out / name))
    values = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(preprocess).items()}
    manifest = {"preprocess": values, **json.loads(json.dumps(about or {}, default=str))}
    (out / "mtmct.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    if onnx:
        to_onnx(out)
    log.info("exported %s", out)
    return out


def to_onnx(model_dir: Path) -> Path | None:
    """``model_dir/onnx/model.onnx`` through paddle2onnx (its own folder: a model folder holds one format)."""
    target = model_dir / "onnx" / "model.onnx"
    target.parent.mkdir(exist_ok=True)
    proc = subprocess.run([str(Path(sys.executable).with_name("paddle2onnx")), "--model_dir", str(model_dir),
                           "--model_filename", "model.pdmodel", "--params_filename", "model.pdiparams",
                           "--save_file", str(target), "--opset_version", "12"], capture_output=True, text=True)
    if proc.returncode != 0 or not target.exists():
        log.warning("paddle2onnx could not export %s (the Paddle model is complete): %s", model_dir,
                    (proc.stdout + proc.stderr).strip().splitlines()[-1:] or "no output")
        return None
    return target
