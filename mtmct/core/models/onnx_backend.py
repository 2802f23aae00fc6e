"""ONNX Runtime backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mtmct.core.models.backend import Backend, shape_of
from mtmct.core.errors import MtmctError


class OnnxBackend(Backend):
    name = "onnx"

    def __init__(self, model_file: Path, device: str = "cpu", threads: int | None = None) -> None:
        super().__init__(model_file, device, threads)
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device == "gpu":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise MtmctError(
                    "--device gpu: ONNX Runtime has no CUDA provider here (install onnxruntime-gpu on a machine with an NVIDIA GPU)"
                )
            # cuDNN's exhaustive algorithm search runs again for every new input shape, and ReID batches change
            # shape with the number of people in each frame
            providers.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
            if hasattr(ort, "preload_dlls"):  # CUDA / cuDNN from pip's nvidia-* packages, where they are installed
                ort.preload_dlls()
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # ORT's idle workers spin for a while after each run; the ReID model (another runtime) that runs next
        # then shares the cores with them
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.model_file), opts, providers=providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for corrupt files
            raise MtmctError(f"cannot load ONNX model {self.model_file}: {str(exc).splitlines()[0]}") from exc
        if device == "gpu" and self.session.get_providers()[0] != "CUDAExecutionProvider":
            # ORT falls back to the CPU with only a log line when the CUDA provider's libraries (CUDA, cuDNN) fail
            raise MtmctError(f"--device gpu: ONNX Runtime could not start CUDA for {self.model_file.name} "
                             "(its CUDA / cuDNN libraries are missing or do not match onnxruntime-gpu's build)")
        self._inputs = self.session.get_inputs()
        self._outputs = self.session.get_outputs()

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self._inputs]

    @property
    def input_shapes(self) -> list[list[int]]:
        return [shape_of(i.shape) for i in self._inputs]

    @property
    def output_shapes(self) -> list[list[int]]:
        return [shape_of(o.shape) for o in self._outputs]

    def infer(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, inputs)
