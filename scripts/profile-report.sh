#!/usr/bin/env bash
# Before/after per-layer profiles of the adapter wgpu picks: each (model, batch) untuned (the
# default tiles, GPU_RESNET_TUNE=off) and tuned (the cache `gpu-resnet tune` wrote), FP32, as one
# markdown file. Tune first (`gpu-resnet tune --models ... --batch ...`); on a CPU adapter run it
# on a quiet machine, since the profile's ratios are to the peak measured in the same run.
#
#   scripts/profile-report.sh REPORT.md [MODEL:BATCH ...]   (default: ResNet50:1 ResNet50:8 ResNet18:8)
#
# Environment: GPU_RESNET (the binary, default target/release/gpu-resnet), ITERS (timed runs,
# default 5), BACKEND (default auto); VK_ICD_FILENAMES etc. choose the driver as usual.
set -euo pipefail
out=${1:?usage: scripts/profile-report.sh REPORT.md [MODEL:BATCH ...]}
shift
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(ResNet50:1 ResNet50:8 ResNet18:8)
cd "$(dirname "$0")/.."
bin=${GPU_RESNET:-target/release/gpu-resnet}
[ -x "$bin" ] || cargo build --release --quiet
common=(--backend "${BACKEND:-auto}" --precision f32 --iters "${ITERS:-5}" --profile)
{
  echo "# gpu-resnet profiles: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "gpu-resnet $("$bin" --version | cut -d' ' -f2), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(nproc) CPU threads, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a) at the start."
  echo
  echo '```'
  "$bin" peak --backend "${BACKEND:-auto}"
  echo '```'
} >"$out"
for c in "${cases[@]}"; do
  model=${c%%:*} batch=${c##*:}
  for mode in untuned tuned; do
    printf '\n## %s batch %s, %s\n\n' "$model" "$batch" "$mode" >>"$out"
    if [ "$mode" = untuned ]; then
      GPU_RESNET_TUNE=off "$bin" bench --models "$model" --batch "$batch" "${common[@]}" >>"$out"
    else
      "$bin" bench --models "$model" --batch "$batch" "${common[@]}" >>"$out"
    fi
  done
done
echo "wrote $out"
