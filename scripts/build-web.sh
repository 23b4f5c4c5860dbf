#!/usr/bin/env bash
# Builds the classifier page into web/dist/ (index.html at its root): the engine's wasm module
# for wasm32-unknown-unknown (crate web/), its JS bindings from wasm-bindgen-cli at exactly the
# wasm-bindgen version Cargo.lock pins (installed once, skipped when already present), and the
# page. `--serve [PORT]` then serves web/dist on 127.0.0.1 (WebGPU needs a secure context, and
# http://localhost / 127.0.0.1 is one): open http://127.0.0.1:PORT/ in Chrome/Edge/Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
version="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  echo "installing wasm-bindgen-cli $version (a few minutes, once)" >&2
  # --locked when the registry still has every locked version; otherwise its newest compatible.
  cargo install -q wasm-bindgen-cli --version "=$version" --locked ||
    cargo install -q wasm-bindgen-cli --version "=$version"
fi

cargo build -q -p gpu-resnet-web --target wasm32-unknown-unknown --release
rm -rf web/dist
mkdir -p web/dist
wasm-bindgen --target web --no-typescript --out-dir web/dist \
  "$target_dir/wasm32-unknown-unknown/release/gpu_resnet_web.wasm"
cp web/index.html web/main.js web/dist/
echo "built web/dist ($(du -sh web/dist | cut -f1))" >&2

if [ "${1:-}" = "--serve" ]; then
  port="${2:-8080}"
  echo "serving web/dist on http://127.0.0.1:$port/ (Ctrl-C stops)" >&2
  exec python3 -m http.server "$port" --bind 127.0.0.1 --directory web/dist
fi
