#!/usr/bin/env bash
# The browser test (CI): installs Debian's Chromium + chromedriver, the wasm target,
# wasm-bindgen-cli (at Cargo.lock's version; skipped when present) and selenium; builds the page
# (scripts/build-web.sh) and the native CLI (for `predict`), then drives headless Chromium on
# WebGPU-on-SwiftShader through tests/web/test_web.py. Needs ../shared/golden beside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

scripts/install-deps.sh chromium chromium-driver
python3 -c "import selenium, numpy" 2>/dev/null ||
  python3 -m pip install -q selenium numpy 2>/dev/null ||
  python3 -m pip install -q --break-system-packages selenium numpy

scripts/build-web.sh
cargo build -q --release
target_dir="${CARGO_TARGET_DIR:-target}"
GPU_RESNET_BIN="$target_dir/release/gpu-resnet" \
  WEB_SCREENSHOT="${WEB_SCREENSHOT:-$target_dir/web-screenshot.png}" \
  timeout 900 python3 tests/web/test_web.py
