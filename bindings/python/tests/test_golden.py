"""The shared golden cases (PaddlePaddle's logits): Model.run gives `gpu-resnet infer`'s bits,
and those are within 1e-3 x max|logit| of PaddlePaddle's, with its top-5 order."""

import numpy as np
import pytest

import gpu_resnet
from conftest import infer


def assert_close_to_paddle(got: np.ndarray, paddle: np.ndarray):
    assert got.shape == paddle.shape
    scale = np.abs(paddle).max()
    err = np.abs(got - paddle).max()
    assert err <= 1e-3 * scale, f"max |ours - paddle| = {err}, allowed {1e-3 * scale}"
    for ours, theirs in zip(got, paddle):
        assert list(np.argsort(-ours)[:5]) == list(np.argsort(-theirs)[:5])


@pytest.mark.parametrize("name", ["ResNet18_vd", "ResNet50_vd"])
def test_checkpoint(golden, tmp_path, name):
    weights = golden / f"{name}.pdparams"
    x = np.load(golden / f"{name}.input.npy")
    model = gpu_resnet.Model(weights)
    assert model.name == name and model.classes == 1000
    got = model.run(x)
    assert np.array_equal(got, infer(tmp_path, x, "--weights", str(weights)))
    assert_close_to_paddle(got, np.load(golden / f"{name}.logits.npy"))


def deploy_cases():
    return ["ResNet18_vd.onnx", "ResNet18_vd_pir", "ResNet18_vd_legacy"]


@pytest.mark.parametrize("export", deploy_cases())
def test_deploy_exports(golden, tmp_path, export):
    deploy = golden / "deploy"
    x = np.load(deploy / "ResNet18_vd.input.npy")
    path = deploy / export
    model = gpu_resnet.Model(path)
    assert model.name == "ResNet18_vd" and model.input_name == "x"
    got = model.run(x)
    assert np.array_equal(got, infer(tmp_path, x, "--weights", str(path)))
    assert_close_to_paddle(got, np.load(deploy / "ResNet18_vd.logits.npy"))


def test_weights_from_memory(golden):
    """bytes of one file, and a dict of a Paddle program with its parameters."""
    deploy = golden / "deploy"
    x = np.load(deploy / "ResNet18_vd.input.npy")[:1]
    want = gpu_resnet.Model(deploy / "ResNet18_vd.onnx").run(x)
    from_bytes = gpu_resnet.Model((deploy / "ResNet18_vd.onnx").read_bytes())
    assert np.array_equal(from_bytes.run(x), want)
    legacy = deploy / "ResNet18_vd_legacy"
    files = {p.name: p.read_bytes() for p in legacy.iterdir() if not p.name.endswith(".info")}
    assert np.array_equal(gpu_resnet.Model(files).run(x), want)
