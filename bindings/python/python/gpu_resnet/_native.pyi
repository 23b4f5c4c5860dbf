"""Type stubs of gpu_resnet's native module (re-exported by the package)."""

import os
from types import TracebackType
from typing import Any, Literal, Mapping, Sequence, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

WeightsArg = Union[str, "os.PathLike[str]", bytes, bytearray, Mapping[str, bytes], None]
ImageArg = Union[str, "os.PathLike[str]", bytes, npt.NDArray[np.uint8]]

class Prediction(TypedDict):
    class_id: int
    score: float
    label: str

class AdapterInfo(TypedDict):
    index: int
    description: str
    name: str
    backend: str
    device_type: str
    vendor: int
    device: int
    driver: str
    driver_info: str
    pci_bus_id: str
    fp16: Literal["native", "packed"]
    shader_f16: bool
    subgroup: bool
    timestamp_query: bool
    max_storage_binding_mib: int
    max_buffer_mib: int

class ModelInfo(TypedDict):
    name: str
    arch: str
    input_size: int
    flops: int
    params: int
    flops_g: float
    params_m: float

class Model:
    """A ResNet opened on a GPU adapter, callable from several threads at once."""

    def __init__(
        self,
        weights: WeightsArg = None,
        *,
        model: str | None = None,
        precision: str = "fp32",
        backend: str | None = None,
        adapter: int | None = None,
        classes: int | None = None,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def classes(self) -> int: ...
    @property
    def input_name(self) -> str: ...
    @property
    def input_size(self) -> int: ...
    @property
    def precision(self) -> str: ...
    @property
    def adapter(self) -> str: ...
    @property
    def labels(self) -> list[str] | None: ...
    @property
    def closed(self) -> bool: ...
    def run(self, x: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Logits float32 [N, classes] of a normalised NCHW batch [N, 3, H, W]."""
    def __call__(self, x: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
    def predict(
        self, images: ImageArg | Sequence[ImageArg], topk: int = 5
    ) -> list[list[Prediction]]:
        """The topk classes of each image (paths, encoded bytes, HxWx3 uint8 RGB arrays)."""
    def close(self) -> None: ...
    def __enter__(self) -> Model: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
    def _rust_run_times(self, x: npt.ArrayLike, repeats: int) -> list[float]: ...

def adapters(backend: str | None = None) -> list[AdapterInfo]:
    """The adapters wgpu finds, in the order Model(adapter=i) indexes."""

def models() -> list[ModelInfo]:
    """Every model name Model(model=...) takes, with its FLOPs and params."""


def _panic(message: str, released: bool = False) -> None:
    """For the test suite: a Rust panic, which arrives as gpu_resnet.Error."""
