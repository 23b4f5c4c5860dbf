#!/usr/bin/env bash
# The browser test (CI): installs Debian's Chromium + chromedriver, the wasm target,
# wasm-bindgen-cli (at Cargo.lock's version; skipped when present) and selenium; builds the page
# (scripts/build-web.sh) and the native CLI (for `predict`), then drives headless Chromium on
# WebGPU-on-SwiftShader through tests/web/test_web.py. Needs ../shared/golden beside the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

missing=()
for p in chromium chromium-driver; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -c "import selenium, numpy" 2>/dev/null ||
  python3 -m pip install -q selenium numpy 2>/dev/null ||
  python3 -m pip install -q --break-system-packages selenium numpy

scripts/build-web.sh
cargo build -q --release
target_dir="${CARGO_TARGET_DIR:-target}"
GPU_RESNET_BIN="$target_dir/release/gpu-resnet" \
  WEB_SCREENSHOT="${WEB_SCREENSHOT:-$target_dir/web-screenshot.png}" \
  timeout 900 python3 tests/web/test_web.py
