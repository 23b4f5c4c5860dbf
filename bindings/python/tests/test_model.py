"""Model: properties, run's logits against `gpu-resnet infer`, dtypes and layouts, tables."""

import numpy as np
import pytest

import gpu_resnet
from conftest import TINY, batch, infer


def test_properties(tiny):
    assert tiny.name == "ResNet18_vd"
    assert tiny.classes == 10
    assert tiny.input_name == "x"
    assert tiny.input_size == 224
    assert tiny.precision == "fp32"
    assert isinstance(tiny.adapter, str) and tiny.adapter
    assert tiny.labels is None
    assert "ResNet18_vd" in repr(tiny)
    assert gpu_resnet.__version__.count(".") == 2


@pytest.mark.parametrize("n,size", [(1, 32), (3, 64)])
def test_run_is_bit_identical_to_infer(tiny, tmp_path, n, size):
    x = batch(n, size, seed=n)
    got = tiny.run(x)
    assert got.dtype == np.float32 and got.shape == (n, 10)
    want = infer(tmp_path, x, "--model", "ResNet18_vd", "--classes", "10")
    assert np.array_equal(got, want)
    assert np.array_equal(tiny(x), got)


def test_float16_and_other_dtypes_are_converted(tiny):
    x = batch(2, 32, seed=5)
    half = x.astype(np.float16)
    assert np.array_equal(tiny.run(half), tiny.run(half.astype(np.float32)))
    ints = (x * 10).astype(np.int32)
    assert np.array_equal(tiny.run(ints), tiny.run(ints.astype(np.float32)))
    assert np.array_equal(tiny.run(x.astype(np.float64)), tiny.run(x))


def test_strided_input_is_copied_once(tiny):
    x = batch(2, 64, seed=6)
    strided = x[:, :, ::2, ::2]
    assert not strided.flags.c_contiguous
    assert np.array_equal(tiny.run(strided), tiny.run(np.ascontiguousarray(strided)))
    fortran = np.asfortranarray(batch(1, 32, seed=7))
    assert np.array_equal(tiny.run(fortran), tiny.run(np.ascontiguousarray(fortran)))


def test_input_is_not_modified(tiny):
    x = batch(1, 32, seed=8)
    before = x.copy()
    tiny.run(x)
    assert np.array_equal(x, before)


def test_fp16_model(tmp_path):
    m = gpu_resnet.Model(precision="fp16", **TINY)
    assert m.precision.startswith("fp16")
    x = batch(1, 32, seed=9)
    want = infer(tmp_path, x, "--model", "ResNet18_vd", "--classes", "10", "--precision", "fp16")
    assert np.array_equal(m.run(x), want)


def test_close_and_context_manager():
    with gpu_resnet.Model(**TINY) as m:
        assert m.run(batch(1, 32)).shape == (1, 10)
        assert not m.closed
    assert m.closed
    with pytest.raises(gpu_resnet.InputError, match="closed"):
        m.run(batch(1, 32))
    m.close()  # twice is fine
    assert "closed" in repr(m)


def test_tables():
    models = gpu_resnet.models()
    names = [m["name"] for m in models]
    assert "ResNet50_vd" in names and "ResNet18_vd" in names
    r50 = next(m for m in models if m["name"] == "ResNet50")
    assert r50["input_size"] == 224 and 25.0 < r50["params_m"] < 26.0
    adapters = gpu_resnet.adapters()
    assert adapters, "no adapter found"
    for i, a in enumerate(adapters):
        assert a["index"] == i
        assert a["fp16"] in ("native", "packed")
        assert isinstance(a["pci_bus_id"], str)
    assert gpu_resnet.adapters("vulkan")
