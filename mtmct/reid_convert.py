"""Bring an ONNX ReID model into Paddle as a network that trains, so ``mtmct reid train``/``adapt`` can start from it.

x2paddle 1.6.0 translates the ONNX graph op by op into Paddle dygraph code. :func:`onnx_to_paddle` writes one
folder that is both forms of the model::

    OUT/x2paddle_code.py     the network as Paddle code (class ONNXModel; its main() holds x2paddle's own path
                             to the weights, so load with load_trainable instead)
    OUT/model.pdparams       its weights (paddle.load -> state dict)            -> trainable: load_trainable(OUT)
    OUT/model.pdmodel        the same network saved for Paddle Inference
    OUT/model.pdiparams      (+ model.pdiparams.info)                           -> inference: models.reid: OUT
    OUT/mtmct.yaml           the source model's crop preprocessing, so the embedder feeds both forms alike

The ONNX export of a PyTorch model has its BatchNorm folded into the convolutions, so the converted backbone
trains without BatchNorm (only the embedding head keeps one): start fine-tuning with a small learning rate.
"""

from __future__ import annotations

# Paddle bundles its own zlib symbols; Cython modules (scipy, sklearn, lap) imported after paddle crash in
# inflateReset2 unless Python's zlib module was loaded first. Keep this import above any paddle import.
import zlib  # noqa: F401

import importlib.util
import logging
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from mtmct.core.errors import MtmctError
from mtmct.core.models.backend import detect_format, load_backend

log = logging.getLogger(__name__)

CODE_FILE = "x2paddle_code.py"
PARAMS_FILE = "model.pdparams"
NETWORK_CLASS = "ONNXModel"

# Run in a child interpreter: x2paddle calls logging.basicConfig, switches Paddle between static and dygraph
# modes, and prints a line per graph node; none of that may reach the caller's process. onnx.version is
# imported by hand because x2paddle reads onnx.version.version, which onnx no longer imports on its own.
_CONVERT = """
import sys, zlib, warnings
warnings.simplefilter("ignore")
import onnx.version
from x2paddle.convert import onnx2paddle
onnx2paddle(sys.argv[1], sys.argv[2], disable_feedback=True)
"""


def onnx_to_paddle(src: str | Path, out_dir: str | Path) -> Path:
    """Convert the ONNX model at ``src`` (a .onnx file or a folder holding one) into ``out_dir``; returns out_dir.

    The folder gets the trainable network (``load_trainable``) and a Paddle Inference copy the registry loads
    (``models.reid: out_dir``); see the module docstring for the files. Nothing is downloaded (x2paddle's
    usage report is turned off); an existing ``out_dir`` has its model files replaced.
    """
    onnx_file = _onnx_source(Path(src))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    preprocess = _preprocess_of(onnx_file)
    log.info("converting %s to Paddle with x2paddle", onnx_file)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".convert-") as tmp:
        work = Path(tmp) / "out"
        proc = subprocess.run([sys.executable, "-c", _CONVERT, str(onnx_file.resolve()), str(work)],
                              cwd=tmp, capture_output=True, text=True)
        log.debug("x2paddle output:\n%s%s", proc.stdout, proc.stderr)
        produced = [work / CODE_FILE, work / PARAMS_FILE, work / "inference_model" / "model.pdmodel",
                    work / "inference_model" / "model.pdiparams"]
        if proc.returncode != 0 or not all(p.exists() for p in produced):
            raise MtmctError(f"x2paddle cannot convert {onnx_file}: {_last_line(proc.stdout + proc.stderr)}")
        for f in [work / CODE_FILE, work / PARAMS_FILE, *sorted((work / "inference_model").iterdir())]:
            shutil.move(str(f), str(out_dir / f.name))
    manifest = {"source": str(onnx_file), "converter": "x2paddle 1.6.0", "preprocess": preprocess}
    (out_dir / "mtmct.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    log.info("converted %s: trainable %s + %s, inference model.pdmodel in %s",
             onnx_file.name, CODE_FILE, PARAMS_FILE, out_dir)
    return out_dir


def load_trainable(model_dir: str | Path) -> Any:
    """The converted network as a ``paddle.nn.Layer`` with its weights, in train mode, ready for an optimizer.

    x2paddle stores shape constants as int64 parameters; they are frozen here (stop_gradient) so that an
    optimizer over ``parameters()`` touches only the float weights.
    """
    import paddle

    model_dir = Path(model_dir)
    code, params = model_dir / CODE_FILE, model_dir / PARAMS_FILE
    if not code.exists() or not params.exists():
        raise MtmctError(f"{model_dir} holds no converted network ({CODE_FILE} + {PARAMS_FILE}); "
                         "make one with `mtmct models convert`")
    # a module name of its own per folder, so two converted models never share one sys.modules entry
    spec = importlib.util.spec_from_file_location(f"mtmct_converted_{abs(hash(str(code.resolve())))}", code)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paddle.disable_static()
    # the generated code names its parameters explicitly; a fresh name scope lets a process build it twice
    with paddle.utils.unique_name.guard():
        network = getattr(module, NETWORK_CLASS)()
    # model.pdparams also keeps the ONNX initializers under their own names (unused copies); only missing
    # tensors matter
    missing, unused = network.set_state_dict(paddle.load(str(params)))
    if missing:
        raise MtmctError(f"{params} does not fit {code}: {len(missing)} tensors missing (first: {missing[0]})")
    log.debug("%s: %d unused tensors in %s", code, len(unused), params.name)
    for p in network.parameters():
        if not paddle.is_floating_point(p):
            p.stop_gradient = True
    network.train()
    return network


def _onnx_source(src: Path) -> Path:
    """The .onnx file a source names, or a one-line reason why it names none."""
    if not src.exists():
        raise MtmctError(f"source {src} does not exist (give a .onnx file or a folder holding one)")
    if src.is_file() and src.suffix.lower() != ".onnx":
        raise MtmctError(f"source {src} is not an .onnx file; only ONNX models can be converted")
    kind, model_file = detect_format(src)
    if kind != "onnx":
        raise MtmctError(f"source {src} is a {kind} model, not ONNX; only ONNX models can be converted")
    return model_file


def _preprocess_of(onnx_file: Path) -> dict:
    """The source's crop preprocessing as manifest values; loading the model also rejects a file that is no ONNX."""
    from cameras.embedder import preprocess_for

    backend = load_backend(onnx_file)
    values = asdict(preprocess_for(backend, onnx_file))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"
