"""Turn trained Paddle checkpoints into inference folders that :func:`mtmct.core.models.backend.load_backend` loads.

``export_model`` wraps PaddleDetection's own export (the same steps as its ``tools/export_model.py``), so a
detector trained with PaddleDetection deploys here unchanged, NMS included. ``export_reid`` writes a ReID
network in PaddleClas's inference layout, which is how PP-LCNet ReID models ship.
"""

from __future__ import annotations

# Paddle bundles its own zlib symbols; Cython modules (scipy, sklearn, lap) imported after paddle crash in
# inflateReset2 unless Python's zlib module was loaded first. Keep this import above any paddle import.
import zlib  # noqa: F401

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def export_model(config: str | Path, weights: str | Path, out_dir: str | Path) -> Path:
    """Export a PaddleDetection checkpoint to ``out_dir`` (model.pdmodel, model.pdiparams, infer_cfg.yml).

    ``config`` is the PaddleDetection YAML the checkpoint was trained with (``_BASE_`` includes resolve relative
    to it); ``weights`` the ``.pdparams`` file (the suffix may be left off, as PaddleDetection allows).
    """
    config, out_dir = Path(config), Path(out_dir)
    if not config.is_file():
        raise MtmctError(f"PaddleDetection config {config} does not exist")
    if config.suffix not in (".yml", ".yaml"):
        raise MtmctError(f"PaddleDetection config {config} is not a .yml file")
    weights = Path(weights)
    if weights.suffix != ".pdparams":
        weights = weights.with_name(weights.name + ".pdparams")
    if not weights.is_file():
        raise MtmctError(f"weights {weights} do not exist (expected a PaddleDetection .pdparams checkpoint)")

    import paddle
    from ppdet.core.workspace import load_config
    from ppdet.engine import Trainer

    try:
        cfg = load_config(str(config))
    except (OSError, yaml.YAMLError, KeyError, AssertionError) as exc:
        raise MtmctError(f"cannot read PaddleDetection config {config}: {exc}") from exc
    cfg.use_gpu = False  # exporting is a trace, not a run; it needs no GPU
    dataset = cfg.get("TestDataset")
    anno = getattr(dataset, "anno_path", None)
    if anno and not getattr(dataset, "dataset_dir", None) and (config.parent / anno).is_file():
        # the label list shipped beside the config, so infer_cfg.yml gets the model's own label_list
        dataset.anno_path = str(config.parent / anno)
    cfg.weights = str(weights)

    trainer = Trainer(cfg, mode="test")
    try:
        state = paddle.load(str(weights))
    except Exception as exc:  # paddle.load raises pickle/unpack errors of many types for a damaged file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MtmctError(f"cannot read weights {weights}: {reason}") from exc
    if not isinstance(state, dict):
        raise MtmctError(f"weights {weights} hold no state dict (expected a PaddleDetection .pdparams checkpoint)")
    _check_weights_fit(trainer.model, state, weights, config)
    trainer.load_weights(str(weights))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".export-") as tmp:
        with _full_graph_trace():
            trainer.export(tmp)  # writes tmp/<config stem>/
        (produced,) = [p for p in Path(tmp).iterdir() if p.is_dir()]
        for f in produced.iterdir():
            shutil.move(str(f), str(out_dir / f.name))
    for name in ("model.pdmodel", "model.pdiparams", "infer_cfg.yml"):
        if not (out_dir / name).exists():
            raise MtmctError(f"PaddleDetection export of {config} wrote no {name} into {out_dir}")
    log.info("exported %s with %s to %s", config.name, weights.name, out_dir)
    return out_dir


@contextmanager
def _full_graph_trace() -> Iterator[None]:
    """Paddle 2.6 traces with SOT (partial graphs) by default; ppdet 2.6's export needs the whole program."""
    old = os.environ.get("ENABLE_FALL_BACK")
    os.environ["ENABLE_FALL_BACK"] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ENABLE_FALL_BACK", None)
        else:
            os.environ["ENABLE_FALL_BACK"] = old


def _check_weights_fit(model: Any, state: dict, weights: Path, config: Path) -> None:
    """PaddleDetection silently skips mismatched tensors; exporting a half-random model would be worse than failing."""
    own = model.state_dict()
    bad = [k for k, v in own.items() if k not in state or list(state[k].shape) != list(v.shape)]
    if bad:
        raise MtmctError(f"weights {weights} do not fit {config.name}: {len(bad)} of {len(own)} tensors are missing "
                         f"or differently shaped (first: {bad[0]}); was the checkpoint trained with this config?")


def export_reid(
    out_dir: str | Path,
    network: Any | None = None,
    size: tuple[int, int] = (256, 128),
    mean: list[float] = IMAGENET_MEAN,
    std: list[float] = IMAGENET_STD,
) -> Path:
    """Save a ReID ``paddle.nn.Layer`` as PaddleClas inference files (inference.pdmodel/.pdiparams/.yml).

    ``network`` defaults to PaddleDetection's PP-LCNet embedding (the PP-Tracking ReID architecture), small
    (scale 0.5, 128-d) and freshly initialised: a stand-in for tests; pass a trained network to deploy one.
    The input is NCHW RGB of ``size`` (height, width) with a dynamic batch.
    """
    import paddle
    from paddle.static import InputSpec

    if network is None:
        from ppdet.modeling.reid.pplcnet_embedding import PPLCNetEmbedding

        network = PPLCNetEmbedding(scale=0.5, input_ch=1280, output_ch=128)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    network.eval()
    h, w = size
    paddle.jit.save(network, str(out_dir / "inference"), input_spec=[InputSpec([None, 3, h, w], "float32", "x")])
    infer_yml = {
        "PreProcess": {
            "transform_ops": [
                {"ResizeImage": {"size": [w, h], "interpolation": "bilinear", "backend": "cv2"}},
                {"NormalizeImage": {"scale": "1.0/255.0", "mean": list(mean), "std": list(std), "order": "hwc"}},
                {"ToCHWImage": None},
            ]
        },
        "PostProcess": None,
    }
    (out_dir / "inference.yml").write_text(yaml.safe_dump(infer_yml, sort_keys=False))
    log.info("exported ReID network %s to %s", type(network).__name__, out_dir)
    return out_dir
