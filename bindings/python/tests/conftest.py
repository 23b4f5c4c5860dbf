"""Shared fixtures: the CLI binary the logits are compared with, the golden files, small
synthetic models (32x32 inputs keep the suite fast on a CPU Vulkan implementation)."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import gpu_resnet

REPO = Path(__file__).resolve().parents[3]
#: `cargo build --release` writes it; scripts/test-python.sh builds it first.
CLI = Path(os.environ.get("GPU_RESNET_CLI", REPO / "target" / "release" / "gpu-resnet"))
GOLDEN = Path(os.environ.get("GPU_RESNET_GOLDEN", REPO.parent / "shared" / "golden"))

#: The synthetic model most tests use: ResNet18_vd with a 10-class head.
TINY = dict(model="ResNet18_vd", classes=10)


def cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Runs `gpu-resnet ARGS`; a failure fails the test with its stderr."""
    assert CLI.is_file(), f"{CLI} is missing: run `cargo build --release` first"
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"gpu-resnet {' '.join(args)} failed:\n{done.stderr}"
    return done


def infer(tmp_path: Path, x: np.ndarray, *model_args: str) -> np.ndarray:
    """`gpu-resnet infer` on `x` written as .npy: the logits it writes."""
    inp, out = tmp_path / "cli-input.npy", tmp_path / "cli-logits.npy"
    np.save(inp, np.ascontiguousarray(x, dtype=np.float32))
    cli("infer", *model_args, "--input", str(inp), "--output", str(out))
    return np.load(out)


def predict_cli(paths, *model_args: str, topk: int = 5) -> list:
    """`gpu-resnet predict --format json`: one top-k list per file."""
    done = cli("predict", *model_args, "--topk", str(topk), "--format", "json", *map(str, paths))
    return json.loads(done.stdout)


def batch(n: int, size: int, seed: int = 0) -> np.ndarray:
    """A normalised-looking float32 NCHW batch."""
    return np.random.default_rng(seed).standard_normal((n, 3, size, size), dtype=np.float32)


@pytest.fixture(scope="session")
def tiny() -> gpu_resnet.Model:
    """One synthetic model shared by the tests that only read from it."""
    return gpu_resnet.Model(**TINY)


@pytest.fixture(scope="session")
def golden() -> Path:
    assert GOLDEN.is_dir(), f"{GOLDEN} is missing (the shared golden files)"
    return GOLDEN
