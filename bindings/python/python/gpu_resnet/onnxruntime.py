"""A drop-in for the part of ``onnxruntime`` inference scripts use::

    import gpu_resnet.onnxruntime as ort      # was: import onnxruntime as ort
    sess = ort.InferenceSession("inference.onnx", providers=["CUDAExecutionProvider"])
    logits = sess.run(None, {sess.get_inputs()[0].name: batch})[0]

The model opens through :class:`gpu_resnet.Model` (any file ``gpu-resnet infer`` reads, not
only ONNX), so the outputs are ``gpu-resnet infer``'s logits. Options meant for onnxruntime's
own CPU/CUDA kernels are accepted and ignored.
"""

from __future__ import annotations

import enum
import os
from typing import Any, Optional, Sequence

import numpy as np

from ._errors import InputError
from ._native import Model

__all__ = [
    "InferenceSession",
    "SessionOptions",
    "RunOptions",
    "GraphOptimizationLevel",
    "ExecutionMode",
    "NodeArg",
    "get_available_providers",
    "get_device",
]

#: The one provider: gpu-resnet's wgpu kernels.
PROVIDER = "GpuResnetExecutionProvider"


class GraphOptimizationLevel(enum.IntEnum):
    """Accepted for compatibility; gpu-resnet always fuses the graph fully."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class SessionOptions:
    """onnxruntime's session options: every field is accepted and ignored except
    ``precision`` (gpu-resnet's own: ``"fp32"`` or ``"fp16"``) and ``adapter``/``backend``."""

    def __init__(self) -> None:
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.log_severity_level = 2
        self.enable_mem_pattern = True
        self.enable_cpu_mem_arena = True
        self.enable_profiling = False
        self.optimized_model_filepath = ""
        self.precision = "fp32"
        self.adapter: Optional[int] = None
        self.backend: Optional[str] = None

    def add_session_config_entry(self, key: str, value: str) -> None:
        pass


class RunOptions:
    def __init__(self) -> None:
        self.log_severity_level = 2
        self.run_tag = ""


class NodeArg:
    """An input or output: ``name``, ``shape`` (``"N"`` for the batch) and ``type``."""

    def __init__(self, name: str, shape: list, type: str):
        self.name, self.shape, self.type = name, shape, type

    def __repr__(self) -> str:
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


def get_available_providers() -> list[str]:
    return [PROVIDER]


def get_device() -> str:
    return "GPU"


class InferenceSession:
    """``InferenceSession(path_or_bytes, sess_options=None, providers=None)``: opens the
    model; ``providers`` (e.g. ``["CUDAExecutionProvider"]``) are accepted and ignored."""

    #: The output's name (the engine hands out logits).
    OUTPUT_NAME = "logits"

    def __init__(
        self,
        path_or_bytes: str | os.PathLike | bytes,
        sess_options: Optional[SessionOptions] = None,
        providers: Optional[Sequence[Any]] = None,
        provider_options: Optional[Sequence[Any]] = None,
        **kwargs: Any,
    ):
        opts = sess_options or SessionOptions()
        self._options = opts
        self._model = Model(path_or_bytes, precision=opts.precision, backend=opts.backend, adapter=opts.adapter)
        size = self._model.input_size
        self._inputs = [NodeArg(self._model.input_name, ["N", 3, size, size], "tensor(float)")]
        self._outputs = [NodeArg(self.OUTPUT_NAME, ["N", self._model.classes], "tensor(float)")]

    @property
    def model(self) -> Model:
        """The :class:`gpu_resnet.Model` underneath."""
        return self._model

    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        return list(self._outputs)

    def get_providers(self) -> list[str]:
        return [PROVIDER]

    def get_session_options(self) -> SessionOptions:
        return self._options

    def run(self, output_names: Optional[Sequence[str]], input_feed: dict, run_options: Optional[RunOptions] = None) -> list[np.ndarray]:
        """``[logits]`` for ``input_feed = {input_name: batch [N, 3, H, W]}``."""
        name = self._model.input_name
        unknown = [k for k in input_feed if k != name]
        if unknown or name not in input_feed:
            raise InputError(f"input_feed has {sorted(input_feed)}; the model's one input is {name!r}")
        for out in output_names or []:
            if out != self.OUTPUT_NAME:
                raise InputError(f"no output named {out!r}: the model's output is {self.OUTPUT_NAME!r}")
        logits = self._model.run(input_feed[name])
        return [logits for _ in (output_names or [self.OUTPUT_NAME])]
