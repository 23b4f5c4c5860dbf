"""Every error class: derived from gpu_resnet.Error (an Exception), the engine's message."""

import numpy as np
import pytest

import gpu_resnet
from conftest import TINY, batch


def test_hierarchy():
    for cls in (gpu_resnet.WeightsError, gpu_resnet.InputError, gpu_resnet.DeviceError, gpu_resnet.NonFiniteError):
        assert issubclass(cls, gpu_resnet.Error)
    assert issubclass(gpu_resnet.Error, Exception)
    assert issubclass(gpu_resnet.InputError, ValueError)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.pdparams"
    with pytest.raises(gpu_resnet.WeightsError, match="nope.pdparams"):
        gpu_resnet.Model(missing)


def test_not_a_weights_file(tmp_path):
    junk = tmp_path / "junk.pdparams"
    junk.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(gpu_resnet.WeightsError, match="junk.pdparams"):
        gpu_resnet.Model(junk)
    with pytest.raises(gpu_resnet.WeightsError):
        gpu_resnet.Model(b"\x00\x01 not weights either")


def test_bad_arguments():
    with pytest.raises(gpu_resnet.InputError, match="precision"):
        gpu_resnet.Model(precision="int8", **TINY)
    with pytest.raises(gpu_resnet.InputError, match="backend"):
        gpu_resnet.Model(backend="cuda", **TINY)
    with pytest.raises(gpu_resnet.InputError, match="model name"):
        gpu_resnet.Model()  # synthetic weights need a model name
    with pytest.raises(gpu_resnet.InputError, match="NoSuchNet"):
        gpu_resnet.Model(model="NoSuchNet")
    with pytest.raises(gpu_resnet.InputError, match="weights must be"):
        gpu_resnet.Model(42)
    with pytest.raises(gpu_resnet.InputError, match="classes"):
        gpu_resnet.Model("x.pdparams", classes=3)


def test_adapters_out_of_reach():
    with pytest.raises(gpu_resnet.InputError, match="999"):
        gpu_resnet.Model(adapter=999, **TINY)
    with pytest.raises(gpu_resnet.DeviceError, match="(?i)metal"):
        gpu_resnet.Model(backend="metal", **TINY)  # no Metal adapter off Apple platforms


def test_wrong_shape_and_dtype(tiny):
    with pytest.raises(gpu_resnet.InputError, match=r"\[2, 4, 32, 32\]"):
        tiny.run(np.zeros((2, 4, 32, 32), np.float32))
    with pytest.raises(gpu_resnet.InputError, match="NCHW"):
        tiny.run(np.zeros((3, 32, 32), np.float32))
    # As many values as [1, 3, 32, 32], but 4 channels: refused, not read as another shape.
    with pytest.raises(gpu_resnet.InputError, match=r"\[1, 4, 32, 24\]"):
        tiny.run(np.zeros((1, 4, 32, 24), np.float32))
    with pytest.raises(gpu_resnet.InputError, match="dtype"):
        tiny.run(np.zeros((1, 3, 32, 32), np.complex64))
    with pytest.raises(gpu_resnet.InputError, match="numpy array"):
        tiny.run("not an array")
    with pytest.raises(ValueError):  # InputError is a ValueError
        tiny.run(np.zeros((0, 3, 32, 32), np.float32))


def test_non_finite_input(tiny):
    x = batch(1, 32)
    x[0, 1, 2, 3] = np.nan
    with pytest.raises(gpu_resnet.NonFiniteError):
        tiny.run(x)
    x[0, 1, 2, 3] = np.inf
    with pytest.raises(gpu_resnet.NonFiniteError):
        tiny.run(x)
    assert tiny.run(batch(1, 32)).shape == (1, 10)  # still usable


def test_bad_images(tiny, tmp_path):
    with pytest.raises(gpu_resnet.InputError, match="missing.png"):
        tiny.predict([tmp_path / "missing.png"])
    with pytest.raises(gpu_resnet.InputError, match="image 0"):
        tiny.predict([b"not an image"])
    with pytest.raises(gpu_resnet.InputError, match="uint8"):
        tiny.predict([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(gpu_resnet.InputError, match="top-k"):
        tiny.predict([np.zeros((8, 8, 3), np.uint8)], topk=0)


@pytest.mark.parametrize("released", [False, True])
def test_a_rust_panic_is_an_exception(released):
    from gpu_resnet import _native

    with pytest.raises(gpu_resnet.Error, match="boom") as caught:
        _native._panic("boom", released=released)
    assert type(caught.value) is gpu_resnet.Error
