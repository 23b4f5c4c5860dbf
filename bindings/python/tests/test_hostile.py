"""The hostile corpus (tests/data/hostile/, listed in its cases.tsv) through the Python package,
as tests/hostile_corpus.rs runs it through the CLI and the library: each case, in a child
process under a 3 GiB address-space limit (RLIMIT_AS) and a time limit, must give its answer
or raise the right gpu_resnet exception with the expected text. Never a signal, an abort, a
hang or a NaN.

`use` maps onto the package: `weights` -> gpu_resnet.Model(FILE); `yml` -> Model(DIR) where DIR
holds the golden ResNet18_vd ONNX and the case as inference.yml; `input` -> np.load(FILE), then
Model(model="ResNet18").run(it) (np.load may refuse it first, with a ValueError or a
MemoryError of its own: as good, gpu_resnet never saw it);
`f16` -> Model(FILE, precision="fp16").predict(the image tests/hostile_corpus.rs uses).

`generated:NAME` cases are too large to commit: GPU_RESNET_HOSTILE_GENERATED=DIR names the
directory `GPU_RESNET_WRITE_HOSTILE=DIR cargo test --release --test hostile_corpus
write_generated` wrote them into (scripts/test-python.sh does). Without it those cases are
skipped, saying so.
"""

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GOLDEN, REPO

CORPUS = REPO / "tests" / "data" / "hostile"
GENERATED = os.environ.get("GPU_RESNET_HOSTILE_GENERATED")
ADDRESS_SPACE = 3 << 30  # what tests/hostile_corpus.rs gives the CLI (ulimit -v 3 GiB)
TIMEOUT = 300


def cases():
    out = []
    for line in (CORPUS / "cases.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        file, use, expect, what = line.split("\t")[:4]
        error = None if expect == "ok" else expect.removeprefix("error:")
        assert expect == "ok" or expect.startswith("error:"), line
        out.append(pytest.param(file, use, error, id=file.removeprefix("generated:")))
    return out


# Runs in the child: argv = use, path, golden dir. Prints one JSON line: the outcome.
CHILD = r"""
import json, sys
import numpy as np
import gpu_resnet
use, path, golden = sys.argv[1:4]

def outcome():
    if use == "weights" or use == "yml":
        m = gpu_resnet.Model(path)
        if use == "yml":
            return {"opened": m.name}
        # The right answer: the golden ResNet18_vd logits (the only `ok` weights case).
        x = np.load(golden + "/ResNet18_vd.input.npy")
        want = np.load(golden + "/ResNet18_vd.logits.npy")
        got = m.run(x)
        return {"nan": bool(np.isnan(got).any()), "shape": list(got.shape),
                "diff": float(np.abs(got - want).max()), "max": float(np.abs(want).max()),
                "top1": bool((got.argmax(1) == want.argmax(1)).all())}
    if use == "input":
        try:
            x = np.load(path)
        except (ValueError, MemoryError) as e:  # numpy refused it first (not gpu_resnet's)
            return {"error": "numpy:" + type(e).__name__, "message": str(e)}
        got = gpu_resnet.Model(model="ResNet18").run(x)
        return {"nan": bool(np.isnan(got).any())}
    if use == "f16":
        # tests/hostile_corpus.rs's image (37x23), whose f16 run overflows to Inf on lavapipe.
        yy, xx = np.mgrid[0:23, 0:37]
        img = np.stack([(xx * 7) % 256, (yy * 11) % 256, np.full_like(xx, 90)], -1).astype(np.uint8)
        top = gpu_resnet.Model(path, precision="fp16").predict(img)
        return {"nan": any(p["score"] != p["score"] for p in top[0]) if top else False}
    raise SystemExit(f"use {use}?")

try:
    result = outcome()
except gpu_resnet.Error as e:
    result = {"error": type(e).__name__, "message": str(e)}
print(json.dumps(result))
"""

#: The exception each `use` must raise: gpu_resnet's, or (`input` only) numpy's refusal in np.load.
EXPECTED_CLASS = {
    "weights": ("WeightsError",),
    "yml": ("WeightsError",),
    "input": ("InputError", "numpy:ValueError", "numpy:MemoryError"),
    "f16": ("NonFiniteError",),
}


#: A weights file whose declared input size the engine refuses is refused as an input-size
#: problem (src/open.rs recognised_spec: Error::Input), also in the C API (GR_ERR_INPUT).
INPUT_SIZE_TEXT = "declares an input"


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


@pytest.mark.parametrize("file, use, error", cases())
def test_hostile_case(file, use, error, tmp_path):
    if file.startswith("generated:"):
        if not GENERATED:
            pytest.skip("generated case: set GPU_RESNET_HOSTILE_GENERATED to the directory "
                        "`GPU_RESNET_WRITE_HOSTILE=DIR cargo test --release --test hostile_corpus "
                        "write_generated` wrote")
        path = Path(GENERATED) / file.removeprefix("generated:")
        assert path.exists(), f"{path} is missing: regenerate {GENERATED}"
    else:
        path = CORPUS / file
    if use == "yml":
        model = tmp_path / "model"
        model.mkdir()
        shutil.copy(GOLDEN / "deploy" / "ResNet18_vd.onnx", model / "model.onnx")
        shutil.copy(path, model / "inference.yml")
        path = model
    env = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, use, str(path), str(GOLDEN)],
        capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=limit_memory, env=env,
    )
    assert done.returncode == 0, (
        f"{file}: exit {done.returncode} (negative: a signal) under a 3 GiB limit:\n"
        f"{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result.get("nan"), f"{file}: NaN: {result}"
    if error is None:
        assert "error" not in result, f"{file}: expected the answer, got {result}"
        if use == "weights":
            assert result["shape"] == [2, 1000] and result["top1"], result
            assert result["diff"] <= 1e-3 * result["max"], result
    else:
        assert "error" in result, f"{file}: expected an error mentioning {error!r}, got {result}"
        allowed = ("InputError",) if error == INPUT_SIZE_TEXT else EXPECTED_CLASS[use]
        assert result["error"] in allowed, f"{file}: {result}"
        if not result["error"].startswith("numpy:"):  # numpy's message need not name the file
            assert error in result["message"], f"{file}: message lacks {error!r}: {result}"
