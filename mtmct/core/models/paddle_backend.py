"""Paddle Inference backend for PaddleDetection / PaddleClas exports (``*.pdmodel`` + ``*.pdiparams``)."""

from __future__ import annotations

# Paddle bundles its own zlib symbols; Cython modules (scipy, sklearn, lap) imported after paddle crash in
# inflateReset2 unless Python's zlib module was loaded first. Keep this import above any paddle import.
import zlib  # noqa: F401

import logging
import os
from pathlib import Path

import numpy as np

from mtmct.core.models.backend import Backend, shape_of
from mtmct.core.errors import MtmctError

log = logging.getLogger(__name__)


class PaddleBackend(Backend):
    """Runs a saved inference program with zero-copy input/output handles."""

    name = "paddle"

    def __init__(self, model_file: Path, device: str = "cpu", threads: int | None = None) -> None:
        super().__init__(model_file, device, threads)
        import paddle
        from paddle import inference

        params = self.model_file.with_suffix(".pdiparams")
        if not params.exists():
            raise MtmctError(f"Paddle model {self.model_file} has no weights file {params.name} beside it")
        config = inference.Config(str(self.model_file), str(params))
        config.disable_glog_info()
        config.switch_ir_optim(True)
        config.enable_memory_optim()
        if device == "gpu":
            if not paddle.is_compiled_with_cuda() or paddle.device.cuda.device_count() == 0:
                raise MtmctError("--device gpu: Paddle sees no CUDA GPU here (install paddlepaddle-gpu on a "
                                 "machine with an NVIDIA GPU, or use --device cpu)")
            config.enable_use_gpu(256, 0)  # initial memory pool in MB, GPU id
        else:
            config.disable_gpu()
            # Paddle's math library otherwise uses one thread; more than a few gives little for small models
            config.set_cpu_math_library_num_threads(threads or max(1, min(8, os.cpu_count() or 1)))
        try:
            self.predictor = inference.create_predictor(config)
        except Exception as exc:  # Paddle raises its own untyped errors for corrupt or foreign files
            raise MtmctError(f"cannot load Paddle model {self.model_file}: {str(exc).strip().splitlines()[0]}") from exc
        self._input_names = list(self.predictor.get_input_names())
        self._output_names = list(self.predictor.get_output_names())
        self._shapes = _declared_shapes(self.model_file)

    @property
    def input_names(self) -> list[str]:
        return self._input_names

    @property
    def input_shapes(self) -> list[list[int]]:
        return [self._shapes.get(n, [-1]) for n in self._input_names]

    @property
    def output_shapes(self) -> list[list[int]]:
        return [self._shapes.get(n, [-1]) for n in self._output_names]

    def infer(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        missing = set(self._input_names) - set(inputs)
        if missing:
            raise ValueError(f"{self.model_file.name}: missing inputs {sorted(missing)}; it takes {self._input_names}")
        for name in self._input_names:
            self.predictor.get_input_handle(name).copy_from_cpu(np.ascontiguousarray(inputs[name]))
        self.predictor.run()
        return [self.predictor.get_output_handle(n).copy_to_cpu() for n in self._output_names]


def _declared_shapes(model_file: Path) -> dict[str, list[int]]:
    """Variable shapes of the program's main block; Paddle Inference handles report none before a run."""
    from paddle.base.proto import framework_pb2

    desc = framework_pb2.ProgramDesc()
    try:
        desc.ParseFromString(model_file.read_bytes())
    except Exception as exc:  # protobuf's DecodeError; the predictor loaded it, so shapes are only a nicety
        log.warning("cannot read declared shapes of %s: %s", model_file, exc)
        return {}
    return {v.name: shape_of(v.type.lod_tensor.tensor.dims) for v in desc.blocks[0].vars}
