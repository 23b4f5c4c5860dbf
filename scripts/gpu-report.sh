#!/usr/bin/env bash
# One markdown report of gpu-resnet on whatever adapter wgpu picks (a real GPU where there is
# one): the adapter's peak, the tuner, the seed's latency table at FP32 and FP16 against the
# seed's V100 and T4 figures, and the conformance check.
#
#   scripts/gpu-report.sh REPORT.md
#
# Environment (all optional; the defaults are the full report for a real GPU):
#   GPU_RESNET      the binary (default: target/release/gpu-resnet, built if missing)
#   MODELS          models for the table, comma-separated (default: the seed's 18)
#   TUNE_MODELS     models to tune (default: ResNet18,ResNet50)
#   BATCHES         batch sizes (default: 1,4,8)
#   TUNE_BATCHES    batch sizes to tune (default: $BATCHES)
#   ITERS           timed runs per table cell (default: 5)
#   BACKEND         --backend value (default: auto)
#   SKIP_CHECK=1    leave out the conformance check (minutes on CPU adapters)
# The tuning cache goes where `gpu-resnet tune` puts it ($GPU_RESNET_TUNE_DIR, else the user's
# cache directory), so the table after it runs tuned.
set -euo pipefail
out=${1:?usage: scripts/gpu-report.sh REPORT.md}
cd "$(dirname "$0")/.."
bin=${GPU_RESNET:-target/release/gpu-resnet}
if [ ! -x "$bin" ]; then
  cargo build --release --quiet
fi
backend=(--backend "${BACKEND:-auto}")
batches=${BATCHES:-1,4,8}
models=()
[ -n "${MODELS:-}" ] && models=(--models "$MODELS")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

section() { printf '\n## %s\n\n' "$1" >>"$out"; }
# Run a command, its output in the report as is (markdown) or fenced (plain text); a failing
# step is reported and the report goes on.
run() {
  local fence=$1; shift
  printf '`%s`\n\n' "$*" >>"$out"
  local start=$SECONDS rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$fence" = plain ]; then
    { echo '```'; cat "$tmp/out"; echo '```'; } >>"$out"
  else
    cat "$tmp/out" >>"$out"
  fi
  if [ $rc -ne 0 ]; then
    { echo; echo "**exit status $rc**:"; echo '```'; tail -20 "$tmp/err"; echo '```'; } >>"$out"
  fi
  printf '\n(%d s)\n' $((SECONDS - start)) >>"$out"
}

{
  echo "# gpu-resnet report: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "gpu-resnet $("$bin" --version | cut -d' ' -f2), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); machine: $(uname -m), $(nproc) CPU threads, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)."
} >"$out"
section "Adapters"
run plain "$bin" adapters "${backend[@]}"
section "Peak"
run plain "$bin" peak "${backend[@]}"
section "Tuning"
run plain "$bin" tune "${backend[@]}" --models "${TUNE_MODELS:-ResNet18,ResNet50}" \
  --batch "${TUNE_BATCHES:-$batches}" --precision f32,f16
for cmp in v100 t4; do
  section "Seed table, FP32 and FP16, against the seed's ${cmp^^} figures"
  run md "$bin" bench "${backend[@]}" "${models[@]}" --batch "$batches" \
    --precision f16,f32 --iters "${ITERS:-5}" --compare "$cmp"
done
if [ "${SKIP_CHECK:-0}" != 1 ]; then
  section "Conformance"
  run md "$bin" check "${backend[@]}"
fi
echo "wrote $out"
