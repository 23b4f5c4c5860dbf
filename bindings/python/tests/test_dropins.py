"""gpu_resnet.inference (paddle.inference) and gpu_resnet.onnxruntime, driven the way
PaddleClas 2.6's deploy code drives the real ones, against `gpu-resnet infer`."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gpu_resnet
import gpu_resnet.onnxruntime as ort
from gpu_resnet.inference import Config, create_predictor
from conftest import infer
from test_predict import photos


# --- PaddleClas's ClsPredictor flow, written out from its documented call sequence ---------
def resize_short(img: np.ndarray, short: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = short / min(h, w)
    size = (int(round(w * scale)), int(round(h * scale)))
    return np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return img[top : top + size, left : left + size]


def normalize_chw(img: np.ndarray) -> np.ndarray:
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    return ((img.astype(np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)


class ClsPredictor:
    """deploy/utils/predictor.py's create_paddle_predictor and predict_cls.py's predict."""

    def __init__(self, model_dir: Path, use_fp16: bool = False):
        config = Config(str(model_dir / "inference.pdmodel"), str(model_dir / "inference.pdiparams"))
        config.enable_use_gpu(8000, 0)
        config.set_cpu_math_library_num_threads(10)
        config.disable_glog_info()
        config.switch_ir_optim(True)
        if use_fp16:
            config.enable_tensorrt_engine(
                precision_mode=Config.Precision.Half,
                max_batch_size=2,
                workspace_size=1 << 30,
                min_subgraph_size=30,
                use_calib_mode=False,
            )
        config.enable_memory_optim()
        config.switch_use_feed_fetch_ops(False)
        self.predictor = create_predictor(config)

    def preprocess(self, path: Path) -> np.ndarray:
        img = np.asarray(Image.open(path).convert("RGB"))  # cv2.imread + BGR->RGB
        return normalize_chw(center_crop(resize_short(img, 256), 224))

    def predict(self, paths) -> tuple[np.ndarray, np.ndarray]:
        input_names = self.predictor.get_input_names()
        input_tensor = self.predictor.get_input_handle(input_names[0])
        output_names = self.predictor.get_output_names()
        output_tensor = self.predictor.get_output_handle(output_names[0])
        batch = np.array([self.preprocess(p) for p in paths])
        input_tensor.reshape(batch.shape)
        input_tensor.copy_from_cpu(batch)
        self.predictor.run()
        return batch, output_tensor.copy_to_cpu()


def test_paddleclas_cls_predictor_flow(golden, tmp_path):
    legacy = golden / "deploy" / "ResNet18_vd_legacy"
    paths = photos(tmp_path, 2)
    batch, logits = ClsPredictor(legacy).predict(paths)
    assert batch.shape == (2, 3, 224, 224) and logits.shape == (2, 1000)
    assert np.array_equal(logits, infer(tmp_path, batch, "--weights", str(legacy)))
    # PaddleClas's Topk postprocess works on it unchanged.
    probs = np.exp(logits - logits.max(1, keepdims=True))
    assert np.argsort(-probs, axis=1).shape == (2, 1000)


def test_config_forms_agree(golden):
    deploy = golden / "deploy"
    x = np.load(deploy / "ResNet18_vd.input.npy")[:1]
    want = gpu_resnet.Model(deploy / "ResNet18_vd_pir").run(x)
    for config in (
        Config(str(deploy / "ResNet18_vd_pir")),
        Config(str(deploy / "ResNet18_vd_pir"), "inference"),
        Config(str(deploy / "ResNet18_vd_pir" / "inference.json"), str(deploy / "ResNet18_vd_pir" / "inference.pdiparams")),
    ):
        p = create_predictor(config)
        (out,) = p.run([x])
        assert np.array_equal(out, want)
        assert p.get_input_names() == ["x"]


def test_config_precision(golden, tmp_path):
    legacy = golden / "deploy" / "ResNet18_vd_legacy"
    config = Config(str(legacy))
    with pytest.raises(gpu_resnet.InputError, match="Int8"):
        config.enable_tensorrt_engine(precision_mode=Config.Precision.Int8)
    config.enable_tensorrt_engine(precision_mode=Config.Precision.Half)
    assert create_predictor(config).model.precision.startswith("fp16")


def test_predictor_errors(golden):
    p = create_predictor(Config(str(golden / "deploy" / "ResNet18_vd_legacy")))
    with pytest.raises(gpu_resnet.InputError, match="copy_from_cpu"):
        p.run()
    with pytest.raises(gpu_resnet.InputError, match="'y'"):
        p.get_input_handle("y")
    h = p.get_input_handle("x")
    h.reshape([1, 3, 224, 224])
    with pytest.raises(gpu_resnet.InputError, match="reshape"):
        h.copy_from_cpu(np.zeros((2, 3, 224, 224), np.float32))
    with pytest.raises(gpu_resnet.WeightsError):
        create_predictor(Config("/nonexistent/inference.pdmodel", "/nonexistent/inference.pdiparams"))


# --- onnxruntime --------------------------------------------------------------------------
def test_onnxruntime_session(golden, tmp_path):
    onnx = golden / "deploy" / "ResNet18_vd.onnx"
    x = np.load(golden / "deploy" / "ResNet18_vd.input.npy")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(onnx), sess_options=options, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    (inp,), (out,) = sess.get_inputs(), sess.get_outputs()
    assert inp.name == "x" and inp.type == "tensor(float)" and inp.shape[1:] == [3, 224, 224]
    assert out.shape[1:] == [1000]
    # predict_cls.py's onnx branch
    got = sess.run(output_names=[out.name], input_feed={inp.name: x})[0]
    assert np.array_equal(got, infer(tmp_path, x, "--weights", str(onnx)))
    assert np.array_equal(sess.run(None, {"x": x})[0], got)
    with pytest.raises(gpu_resnet.InputError, match="input_feed"):
        sess.run(None, {"images": x})
    with pytest.raises(gpu_resnet.InputError, match="no output"):
        sess.run(["prob"], {"x": x})
    assert ort.get_available_providers()
