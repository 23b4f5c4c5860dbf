#!/usr/bin/env bash
# Regenerate the shipped tuning defaults (src/tuning/defaults.json) for the adapter wgpu picks:
# `gpu-resnet tune` on a fresh, private cache directory (the user's own cache is neither read
# nor written), merged into the file's table for this implementation (device, vector width,
# driver and its version, backend, storage) with `--export-defaults`. Rerun it after a kernel
# change that moves the tiles' times; `cargo test --release --lib tuning` fails when an entry
# no longer fits the tile rules.
#
#   scripts/tune-defaults.sh [EXTRA TUNE ARGS...]      e.g. --backend gl, --reps 1
#
# Environment: GPU_RESNET (the binary, default target/release/gpu-resnet), MODELS (default
# ResNet50,ResNet18), BATCH (default 1,4,8), PRECISION (default f32), OUT (default
# src/tuning/defaults.json); VK_ICD_FILENAMES etc. choose the driver as usual, e.g.
#   . ~/.cache/gpu-resnet/mesa25/env.sh && scripts/tune-defaults.sh          (Mesa 25 lavapipe)
#   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json scripts/tune-defaults.sh
# Tuning times are relative within one run, so a loaded machine still ranks tiles, but note
# the load in the commit that updates the table.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${GPU_RESNET:-target/release/gpu-resnet}
[ -x "$bin" ] || cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)" >&2
GPU_RESNET_TUNE_DIR=$dir "$bin" tune \
  --models "${MODELS:-ResNet50,ResNet18}" \
  --batch "${BATCH:-1,4,8}" \
  --precision "${PRECISION:-f32}" \
  --export-defaults "${OUT:-src/tuning/defaults.json}" \
  "$@"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)" >&2
