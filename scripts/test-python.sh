#!/usr/bin/env bash
# CI stage for the Python package (bindings/python): builds the wheel, installs it in a fresh
# venv (no Rust needed there) and imports it outside the checkout, runs the pytest suite
# against `gpu-resnet infer`/`predict` and the shared goldens (and the hostile corpus,
# tests/data/hostile, each case in a child under a 3 GiB RLIMIT_AS), checks that
# `pip install ./bindings/python` builds from the source tree, then runs the Ray Data example
# on a local Ray cluster. Each step is time-bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
PY=${PYTHON:-python3}
work=target/python-ci
rm -rf "$work" target/wheels/gpu_resnet-*.whl
mkdir -p "$work"
step() { local name=$1 start=$SECONDS; shift; echo "--> $name"; "$@"; echo "--> $name: $((SECONDS - start)) s"; }

# The CLI the suite compares logits and predictions with.
step "cargo build (CLI)" timeout 1800 cargo build --release --bin gpu-resnet

# The wheel, built with maturin from PyPI in a build venv.
step "build venv" bash -c "$PY -m venv $work/build && $work/build/bin/pip install -q 'maturin>=1.7,<2'"
step "wheel" env MATURIN="$work/build/bin/maturin" timeout 1800 scripts/build-wheel.sh

# A fresh venv with the wheel and the test tools only, imported from outside the checkout.
step "install wheel" bash -c "$PY -m venv $work/venv &&
  $work/venv/bin/pip install -q target/wheels/gpu_resnet-*manylinux*.whl pytest pillow"
step "import" bash -c "cd $work && venv/bin/python -c 'import gpu_resnet, gpu_resnet.inference, gpu_resnet.onnxruntime;
print(\"gpu_resnet\", gpu_resnet.__version__, \"from\", gpu_resnet.__file__); print(gpu_resnet.adapters()[0][\"description\"])'"

# The hostile corpus's generated cases (too large to commit, ~220 MB), for tests/test_hostile.py.
step "hostile corpus: generated cases" env GPU_RESNET_WRITE_HOSTILE="$PWD/$work/hostile" \
  timeout 900 cargo test --release --test hostile_corpus -q write_generated

step "pytest" env GPU_RESNET_HOSTILE_GENERATED="$PWD/$work/hostile" \
  timeout 1500 "$work/venv/bin/python" -m pytest bindings/python -q -p no:cacheprovider
rm -rf "$work/hostile"

# `pip install ./bindings/python` from the source tree (PEP 517 through maturin; the Rust
# build reuses target/), into the build venv.
step "pip install ./bindings/python" timeout 1800 "$work/build/bin/pip" install -q ./bindings/python
"$work/build/bin/python" -c 'import gpu_resnet; print("source install:", gpu_resnet.__version__)'

# Ray Data on a local cluster (ray from pip: ~100 MB with pyarrow and pandas).
step "install ray" timeout 900 "$work/venv/bin/pip" install -q "ray[data]"
step "pytest -m ray" timeout 900 "$work/venv/bin/python" -m pytest bindings/python -q -p no:cacheprovider -m ray
