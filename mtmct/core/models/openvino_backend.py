"""OpenVINO backend for IR models (.xml + .bin)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mtmct.core.models.backend import Backend, shape_of
from mtmct.core.errors import MtmctError


class OpenVinoBackend(Backend):
    name = "openvino"

    def __init__(self, model_file: Path, device: str = "cpu", threads: int | None = None) -> None:
        super().__init__(model_file, device, threads)
        import openvino as ov

        self._core = ov.Core()
        self._ov_device = "CPU"
        if device == "gpu":
            if "GPU" not in self._core.available_devices:
                raise MtmctError("--device gpu: OpenVINO sees no GPU here (available: "
                                 + ", ".join(self._core.available_devices) + ")")
            self._ov_device = "GPU"
        try:
            self._model = self._core.read_model(str(self.model_file))
        except Exception as exc:
            raise MtmctError(f"cannot load OpenVINO model {self.model_file}: {str(exc).splitlines()[0]}") from exc
        self._compiled = self._request = None  # compiled at the first inference, after any reshape

    def _compile(self) -> None:
        config = {}
        if self.threads and self._ov_device == "CPU":
            # OpenVINO pins its threads to the first cores; two capped processes (camera actors) would then share
            # one core (measured: 2 actors ran at the speed of 1), so a capped model floats instead.
            config = {"INFERENCE_NUM_THREADS": self.threads, "ENABLE_CPU_PINNING": False}
        try:
            self._compiled = self._core.compile_model(self._model, self._ov_device, config)
        except Exception as exc:
            raise MtmctError(f"cannot compile OpenVINO model {self.model_file}: {str(exc).splitlines()[0]}") from exc
        self._request = self._compiled.create_infer_request()

    @property
    def input_names(self) -> list[str]:
        return [i.any_name for i in self._model.inputs]

    @property
    def input_shapes(self) -> list[list[int]]:
        return [shape_of(i.get_partial_shape()) for i in self._model.inputs]

    @property
    def output_shapes(self) -> list[list[int]]:
        return [shape_of(o.get_partial_shape()) for o in self._model.outputs]

    def allow_dynamic_batch(self) -> bool:
        """OMZ models are exported with batch 1; most reshape cleanly to a dynamic batch (before compiling, so
        the model is compiled once)."""
        shape = self.input_shapes[0]
        if shape[0] == -1:
            return True
        try:
            import openvino as ov

            self._model.reshape({self._model.inputs[0]: ov.PartialShape([-1, *shape[1:]])})
        except Exception:
            return False
        return True

    def infer(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        if self._request is None:
            self._compile()
        result = self._request.infer(inputs)
        return [np.asarray(result[o]) for o in self._compiled.outputs]

