#!/usr/bin/env bash
# `gpu-resnet serve` against the real tritonclient (HTTP and gRPC, tensor and image input).
# Installs tritonclient from pip, builds the release binary, runs tests/serve_tritonclient.py
# (a ResNet18 at 32x32 with synthetic weights: ~20 s on lavapipe after the build).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
python3 -c "import tritonclient.http, tritonclient.grpc, numpy" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check 'tritonclient[http,grpc]' numpy ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'tritonclient[http,grpc]' numpy
cargo build --release --quiet
GPU_RESNET_BIN="${CARGO_TARGET_DIR:-target}/release/gpu-resnet" python3 tests/serve_tritonclient.py
