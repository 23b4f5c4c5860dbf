"""The exceptions gpu_resnet raises: the engine's error kinds (``gpu_resnet::ErrorKind``).

Every error derives from :class:`Error` (itself an ``Exception``); the message is the engine's
and names the file, tensor, shape or count at fault.
"""

__all__ = ["Error", "WeightsError", "InputError", "DeviceError", "NonFiniteError"]


class Error(Exception):
    """Base of every gpu_resnet error; raised itself for internal failures (a bug of ours,
    a caught Rust panic)."""


class WeightsError(Error):
    """A weights file or model directory that cannot be read or used."""


class InputError(Error, ValueError):
    """An input tensor, image, argument or size the model refuses (also a ``ValueError``)."""


class DeviceError(Error):
    """No adapter, a missing feature, a GPU error, a lost device, or a model used in a process
    forked after it was opened."""


class NonFiniteError(Error):
    """NaN or Inf in an input or in the logits."""


for _cls in (Error, WeightsError, InputError, DeviceError, NonFiniteError):
    _cls.__module__ = "gpu_resnet"  # tracebacks say gpu_resnet.InputError
del _cls
