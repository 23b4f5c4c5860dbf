#!/usr/bin/env bash
# Issue 21's speed targets in one run, as a user's first `bench` sees them (no tune cache of
# their own): lavapipe Mesa 22.3 FP32 and FP16 (ResNet50 and ResNet18, batches 1 and 8), Mesa
# 25's lavapipe, SwiftShader and llvmpipe GL (ResNet50), then burn side by side on lavapipe.
# Run it on a quiet machine; every ratio is to the peak measured between the same rows' runs.
#
#   scripts/speed-targets.sh            # SKIP_BURN=1 leaves the burn comparison out
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${GPU_RESNET:-target/release/gpu-resnet}
[ -x "$bin" ] || cargo build --release --quiet
GPU_RESNET_TUNE_DIR=$(mktemp -d)
export GPU_RESNET_TUNE_DIR XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
trap 'rm -rf "$GPU_RESNET_TUNE_DIR"' EXIT
iters=${ITERS:-5}
stage() { echo; echo "## $1 (load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M) UTC)"; }

stage "lavapipe, Mesa 22.3: FP32 and FP16"
"$bin" bench --backend vulkan --models ResNet50,ResNet18 --batch 1,8 --precision f32,f16 \
  --iters "$iters" --max-seconds 100000 2>&1 | sed -n '/^## Throughput/,$p'
mesa25=${GPU_RESNET_MESA25:-$HOME/.cache/gpu-resnet/mesa25}
[ -f "$mesa25/env.sh" ] || scripts/mesa25-lavapipe.sh >/dev/null
stage "lavapipe, Mesa 25.0.7: FP32"
(. "$mesa25/env.sh" && "$bin" bench --backend vulkan --models ResNet50 --batch 1,8 \
  --precision f32 --iters "$iters" --max-seconds 100000 2>&1 | sed -n '/^## Throughput/,$p')
stage "SwiftShader: FP32, target ResNet50 batch 1 <= 1200 ms"
VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json "$bin" bench --backend vulkan \
  --models ResNet50 --batch 1 --precision f32 --iters "$iters" --max-seconds 100000 2>&1 |
  sed -n '/^## Wall/,$p'
stage "llvmpipe GL: FP32"
"$bin" bench --backend gl --models ResNet50 --batch 1,8 --precision f32 --iters "$iters" \
  --max-seconds 100000 2>&1 | sed -n '/^## Throughput/,$p'
if [ -z "${SKIP_BURN:-}" ]; then
  stage "burn 0.22.1's wgpu backend side by side (lavapipe, FP32)"
  ITERS=$iters scripts/burn-compare.sh
fi
