"""Model.predict: paths, bytes and arrays agree with each other and with `gpu-resnet predict`."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gpu_resnet
from conftest import TINY, predict_cli


def photos(tmp_path: Path, count: int = 3) -> list[Path]:
    """Small images of different sizes and formats (the model resizes and crops them)."""
    rng = np.random.default_rng(1)
    paths = []
    for i, (h, w, ext) in enumerate([(40, 56, "png"), (64, 48, "jpg"), (33, 33, "bmp"), (50, 70, "png")][:count]):
        yy, xx = np.mgrid[0:h, 0:w]
        rgb = np.stack([(xx * 255 // w), (yy * 255 // h), rng.integers(0, 256, (h, w))], -1).astype(np.uint8)
        p = tmp_path / f"photo{i}.{ext}"
        Image.fromarray(rgb).save(p)
        paths.append(p)
    return paths


def test_predict_matches_cli(tiny, tmp_path):
    paths = photos(tmp_path, 4)
    got = tiny.predict([str(p) for p in paths], topk=3)
    want = predict_cli(paths, "--model", TINY["model"], "--classes", str(TINY["classes"]), topk=3)
    assert len(got) == len(want) == 4
    for ours, theirs in zip(got, want):
        assert [p["class_id"] for p in ours] == [t["class_id"] for t in theirs["topk"]]
        assert [p["label"] for p in ours] == [t["label"] for t in theirs["topk"]]
        assert [np.float32(p["score"]) for p in ours] == [np.float32(t["score"]) for t in theirs["topk"]]


def test_paths_bytes_and_arrays_agree(tiny, tmp_path):
    paths = photos(tmp_path, 3)
    png = paths[0]
    rgb = np.asarray(Image.open(png).convert("RGB"))
    by_path = tiny.predict(png)  # one image: a list of one
    assert len(by_path) == 1 and len(by_path[0]) == 5
    assert tiny.predict([png.read_bytes()]) == by_path
    assert tiny.predict([rgb]) == by_path
    assert tiny.predict(rgb[None]) == by_path  # a batch [N, H, W, 3]
    scores = [p["score"] for p in by_path[0]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    assert by_path[0][0].keys() == {"class_id", "score", "label"}


def test_many_images_span_batches(tiny, tmp_path):
    paths = photos(tmp_path, 2) * 6  # 12 images: two GPU batches of 8 and 4
    got = tiny.predict(paths, topk=1)
    assert len(got) == 12
    assert all(g == got[i % 2] for i, g in enumerate(got))


def test_inference_yml_labels_and_preprocessing(golden, tmp_path):
    """An inference model directory with its inference.yml: labels and preprocessing from it,
    as `gpu-resnet predict` takes them."""
    model_dir = tmp_path / "ResNet18_vd_infer"
    model_dir.mkdir()
    for f in ("inference.json", "inference.pdiparams"):
        (model_dir / f).write_bytes((golden / "deploy" / "ResNet18_vd_pir" / f).read_bytes())
    labels = "".join(f"    - 'label {i}'\n" for i in range(1000))
    (model_dir / "inference.yml").write_text(
        "PreProcess:\n  transform_ops:\n  - ResizeImage:\n      resize_short: 240\n  - CropImage:\n      size: 224\n"
        "  - NormalizeImage:\n      mean: [0.5, 0.5, 0.5]\n      std: [0.5, 0.5, 0.5]\n      scale: 0.00392156862745098\n"
        "      order: ''\n  - ToCHWImage: null\nPostProcess:\n  Topk:\n    topk: 5\n    label_list:\n" + labels
    )
    model = gpu_resnet.Model(model_dir)
    assert model.labels is not None and len(model.labels) == 1000 and model.labels[7] == "label 7"
    (path,) = photos(tmp_path, 1)
    (got,) = model.predict([path], topk=2)
    (want,) = predict_cli([path], "--weights", str(model_dir), topk=2)
    assert [g["label"] for g in got] == [f"label {g['class_id']}" for g in got]
    assert [(g["class_id"], g["label"]) for g in got] == [(w["class_id"], w["label"]) for w in want["topk"]]
    assert [np.float32(g["score"]) for g in got] == [np.float32(w["score"]) for w in want["topk"]]
