"""A drop-in for ``paddle.inference``: PaddleClas's deploy code runs on gpu-resnet by swapping
one import::

    from gpu_resnet.inference import Config, create_predictor   # was: from paddle.inference ...

Only what a classification predictor calls is here (PaddleClas 2.6 ``deploy/utils/predictor.py``
and ``deploy/python/predict_cls.py``). Every model opens through :class:`gpu_resnet.Model`, so
the logits are ``gpu-resnet infer``'s. Paddle's tuning switches are accepted so existing code
runs unchanged; each method's docstring says what it means here.
"""

from __future__ import annotations

import enum
import os
from typing import Any, Optional

import numpy as np

from ._errors import InputError
from ._native import Model

__all__ = ["Config", "PrecisionType", "Predictor", "Tensor", "create_predictor"]


class PrecisionType(enum.IntEnum):
    """``Config.Precision``: the storage the model runs in."""

    Float32 = 0
    Int8 = 1
    Half = 2
    Bfloat16 = 3


def _precision_name(p: PrecisionType) -> str:
    p = PrecisionType(p)
    if p == PrecisionType.Float32:
        return "fp32"
    if p == PrecisionType.Half:
        return "fp16"
    raise InputError(
        f"Config.Precision.{p.name}: gpu-resnet runs Float32 and Half only "
        "(no int8 or bfloat16 kernels); use Config.Precision.Half for a faster, smaller model"
    )


class Config:
    """Where the model is and how to run it.

    ``Config(model_dir)``: a Paddle inference model directory (inference.json or
    inference.pdmodel with inference.pdiparams, also an ONNX export).
    ``Config(model_dir, prefix)``: the files ``model_dir/prefix.{json,pdmodel,pdiparams}``.
    ``Config(model_file, params_file)``: the program file and its parameters.
    """

    Precision = PrecisionType

    def __init__(self, model: Optional[str | os.PathLike] = None, params: Optional[str | os.PathLike] = None):
        self._model = os.fspath(model) if model is not None else None
        self._params = os.fspath(params) if params is not None else None
        self._precision = "fp32"
        self._adapter: Optional[int] = None
        self._backend: Optional[str] = None

    # --- where the model is -------------------------------------------------------------
    def set_model(self, model_file: str | os.PathLike, params_file: str | os.PathLike) -> None:
        """Paddle's ``set_model(prog_file, params_file)``."""
        self._model, self._params = os.fspath(model_file), os.fspath(params_file)

    def model_dir(self) -> str:
        return self._model or ""

    def prog_file(self) -> str:
        return self._model or ""

    def params_file(self) -> str:
        return self._params or ""

    def _weights(self) -> Any:
        """What :class:`gpu_resnet.Model` opens for this config."""
        model, params = self._model, self._params
        if model is None:
            raise InputError("Config: no model given (Config(model_dir) or Config(model_file, params_file))")
        if os.path.isdir(model):
            if params is None:
                return model
            # Config(model_dir, prefix): the program named by the prefix, beside its params.
            for ext in (".json", ".pdmodel", ".onnx"):
                candidate = os.path.join(model, params + ext)
                if os.path.isfile(candidate):
                    return self._program_with_params(candidate, os.path.join(model, params + ".pdiparams"))
            raise InputError(f"Config({model!r}, {params!r}): no {params}.json, {params}.pdmodel or {params}.onnx in {model}")
        if params is None:
            return model
        return self._program_with_params(model, params)

    @staticmethod
    def _program_with_params(program: str, params: str) -> Any:
        stem = os.path.splitext(program)[0]
        if program.endswith(".onnx") or os.path.abspath(params) == os.path.abspath(stem + ".pdiparams"):
            # The engine finds the .pdiparams beside the program (and inference.yml there).
            return program
        # Differently named files: hand the engine both by content.
        files = {}
        for path in (program, params):
            try:
                with open(path, "rb") as f:
                    files[os.path.basename(path)] = f.read()
            except OSError as e:
                raise InputError(f"{path}: {e.strerror}") from e
        return files

    # --- precision and device -----------------------------------------------------------
    def enable_use_gpu(self, memory_pool_init_size_mb: int = 100, device_id: int = 0, precision_mode: PrecisionType = PrecisionType.Float32) -> None:
        """Accepted: gpu-resnet always runs on a GPU adapter. ``memory_pool_init_size_mb`` and
        ``device_id`` (a CUDA device number) are ignored: the adapter is wgpu's preferred one,
        or the one :meth:`set_adapter` names. ``precision_mode``: Float32 or Half."""
        self._precision = _precision_name(precision_mode)

    def set_adapter(self, index: int, backend: Optional[str] = None) -> None:
        """gpu-resnet's own: run on ``gpu_resnet.adapters(backend)[index]``."""
        self._adapter, self._backend = index, backend

    def disable_gpu(self) -> None:
        """Accepted; gpu-resnet has no CPU path of its own: it runs on the adapter wgpu gives,
        which is a CPU implementation (lavapipe, llvmpipe) on a machine without a GPU."""

    def use_gpu(self) -> bool:
        return True

    def enable_tensorrt_engine(self, workspace_size: int = 1 << 30, max_batch_size: int = 1, min_subgraph_size: int = 3, precision_mode: PrecisionType = PrecisionType.Float32, use_static: bool = False, use_calib_mode: bool = True, **kwargs: Any) -> None:
        """Takes the precision only: ``Half`` runs the model in fp16 (as TensorRT's fp16 mode),
        ``Int8`` raises :class:`gpu_resnet.InputError`. The other arguments are TensorRT's
        sizes and are ignored: gpu-resnet compiles one plan per (batch, size) on first use."""
        self._precision = _precision_name(precision_mode)

    def enable_mkldnn(self) -> None:
        """Accepted and ignored (oneDNN is Paddle's CPU library)."""

    def set_mkldnn_cache_capacity(self, capacity: int = 0) -> None:
        """Accepted and ignored; gpu-resnet keeps the plans of the 8 most recent input shapes."""

    def set_cpu_math_library_num_threads(self, num: int) -> None:
        """Accepted and ignored (the GPU, or wgpu's CPU implementation, does the work)."""

    def enable_profile(self) -> None:
        """Accepted and ignored; ``gpu-resnet bench --profile`` times each layer."""

    def disable_glog_info(self) -> None:
        """Accepted: gpu-resnet logs nothing while it runs."""

    def switch_ir_optim(self, x: bool = True) -> None:
        """Accepted and ignored: gpu-resnet always fuses BatchNorm, ReLU and residual adds."""

    def enable_memory_optim(self, x: bool = True) -> None:
        """Accepted: activations always share one arena per plan."""

    def switch_use_feed_fetch_ops(self, x: bool = True) -> None:
        """Accepted: input and output handles always copy straight to and from the device."""

    def switch_specify_input_names(self, x: bool = True) -> None:
        """Accepted and ignored."""

    def summary(self) -> str:
        return f"gpu_resnet.inference.Config(model={self._model!r}, params={self._params!r}, precision={self._precision})"


class Tensor:
    """An input or output handle (``get_input_handle`` / ``get_output_handle``)."""

    def __init__(self, name: str, predictor: "Predictor", is_input: bool):
        self._name, self._predictor, self._is_input = name, predictor, is_input
        self._shape: Optional[list[int]] = None

    def name(self) -> str:
        return self._name

    def reshape(self, shape: Any) -> None:
        """Declares the input's shape; ``copy_from_cpu`` checks the data against it."""
        self._shape = [int(d) for d in shape]

    def shape(self) -> list[int]:
        if self._is_input:
            data = self._predictor._input
            return list(data.shape) if data is not None else list(self._shape or [])
        out = self._predictor._output
        return list(out.shape) if out is not None else []

    def copy_from_cpu(self, data: np.ndarray) -> None:
        """The batch ``[N, 3, H, W]`` (float32 or float16); kept until :meth:`Predictor.run`."""
        if not self._is_input:
            raise InputError(f"{self._name} is an output: copy_to_cpu() reads it")
        data = np.asarray(data)
        if self._shape is not None and list(data.shape) != self._shape:
            raise InputError(f"input {self._name}: reshape() declared {self._shape}, copy_from_cpu() got {list(data.shape)}")
        self._predictor._input = data

    def copy_to_cpu(self) -> np.ndarray:
        """The logits ``[N, classes]`` of the last :meth:`Predictor.run` (float32)."""
        if self._is_input:
            raise InputError(f"{self._name} is an input: copy_from_cpu() fills it")
        out = self._predictor._output
        if out is None:
            raise InputError(f"output {self._name}: run() has not been called")
        return out.copy()

    def lod(self) -> list:
        return []


class Predictor:
    """What :func:`create_predictor` returns: one model, one input and one output."""

    #: The output's name (the engine hands out logits; Paddle names vary by export).
    OUTPUT_NAME = "logits"

    def __init__(self, config: Config):
        self._config = config
        self._model = Model(config._weights(), precision=config._precision, backend=config._backend, adapter=config._adapter)
        self._input: Optional[np.ndarray] = None
        self._output: Optional[np.ndarray] = None

    @property
    def model(self) -> Model:
        """The :class:`gpu_resnet.Model` underneath."""
        return self._model

    def get_input_names(self) -> list[str]:
        return [self._model.input_name]

    def get_output_names(self) -> list[str]:
        return [self.OUTPUT_NAME]

    def get_input_handle(self, name: str) -> Tensor:
        if name != self._model.input_name:
            raise InputError(f"no input named {name!r}: the model's input is {self._model.input_name!r}")
        return Tensor(name, self, True)

    def get_output_handle(self, name: str) -> Tensor:
        if name != self.OUTPUT_NAME:
            raise InputError(f"no output named {name!r}: the model's output is {self.OUTPUT_NAME!r}")
        return Tensor(name, self, False)

    def run(self, inputs: Optional[list] = None) -> Optional[list]:
        """Runs the batch given to the input handle; with ``inputs`` (a list of one array, as
        Paddle's ``run(inputs)``) runs that and returns ``[logits]``."""
        if inputs is not None:
            if len(inputs) != 1:
                raise InputError(f"run(inputs): the model has one input, got {len(inputs)} arrays")
            self._input = np.asarray(inputs[0])
        if self._input is None:
            raise InputError("run(): no input: call get_input_handle(name).copy_from_cpu(batch) first")
        self._output = self._model.run(self._input)
        return [self._output] if inputs is not None else None

    def clone(self) -> "Predictor":
        """Another predictor on the same model (a Model is safe to share between threads)."""
        other = object.__new__(Predictor)
        other._config, other._model = self._config, self._model
        other._input, other._output = None, None
        return other

    def clear_intermediate_tensor(self) -> None:
        pass

    def try_shrink_memory(self) -> None:
        pass


def create_predictor(config: Config) -> Predictor:
    """Opens the model ``config`` names (``paddle.inference.create_predictor``)."""
    return Predictor(config)
