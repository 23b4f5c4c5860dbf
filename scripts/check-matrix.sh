#!/usr/bin/env bash
# The conformance matrix of this machine's four native implementations, as CI runs it:
# `gpu-resnet check --all-adapters` with the PaddlePaddle golden cases on Mesa 22.3's lavapipe
# (Vulkan, the system's), Mesa 25's lavapipe (Vulkan, bookworm-backports' driver unpacked by
# scripts/mesa25-lavapipe.sh, which this script runs), Google SwiftShader (Vulkan, the ICD
# Debian's chromium package ships) and Mesa llvmpipe (GL); `check` adds the two drivers the
# loader does not know to its list by itself. Exits non-zero if any check fails or if any of
# the four implementations is missing from the report (a driver that silently dropped out is
# a failure here, not a smaller matrix). The fifth implementation, Chromium's WebGPU, is
# scripts/test-web.sh. Writes the report to $1 (default target/check-matrix.md).
set -euo pipefail
cd "$(dirname "$0")/.."
report=${1:-target/check-matrix.md}
golden=${GPU_RESNET_GOLDEN:-../shared/golden}
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
scripts/install-deps.sh chromium
if [ -n "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}${VK_ADD_DRIVER_FILES:-}" ]; then
  echo "check-matrix: unset VK_ICD_FILENAMES / VK_DRIVER_FILES / VK_ADD_DRIVER_FILES: the matrix picks its drivers itself" >&2
  exit 2
fi
[ -d "$golden" ] || { echo "check-matrix: no golden directory at $golden (set GPU_RESNET_GOLDEN)" >&2; exit 2; }
mesa25_icd=$(scripts/mesa25-lavapipe.sh)
mesa25_version=$(cat "$(dirname "$mesa25_icd")/version")
mkdir -p "$(dirname "$report")"
status=0
# Four implementations in every precision, then Mesa 25's lavapipe in FP32 alone, in its own
# process under its env.sh (147 checks in 31 s on a quiet machine; the FP16 modes would double
# that, and a 42-minute run under load made us keep CI's share of it small).
GPU_RESNET_MESA25=/nonexistent cargo run --release --quiet -- check --all-adapters \
  --golden "$golden" >"$report" || status=$?
mesa25_report="${report%.md}-mesa25.md"
( . "$(dirname "$mesa25_icd")/env.sh" && target/release/gpu-resnet check --backend vulkan \
  --precision f32 --golden "$golden" ) >"$mesa25_report" || status=$?
cat "$mesa25_report" >>"$report"
grep -E '^## Adapter|^\*\*(PASS|FAIL)' "$report"
# Each implementation by what its heading says (fixed strings): the system's lavapipe is the
# Vulkan llvmpipe whose Mesa is not backports' one.
require() {
  local what=$1 found=$2
  if [ -z "$found" ]; then
    echo "check-matrix: no adapter for ${what} in $report" >&2
    status=1
  fi
}
headings=$(grep '^## Adapter' "$report" || true)
require "the system's lavapipe" "$(grep -F '(Vulkan, Cpu, llvmpipe Mesa ' <<<"$headings" | grep -vF "Mesa ${mesa25_version}" || true)"
require "Mesa ${mesa25_version}'s lavapipe" "$(grep -F "(Vulkan, Cpu, llvmpipe Mesa ${mesa25_version}" <<<"$headings" || true)"
require "SwiftShader" "$(grep -F 'SwiftShader Device' <<<"$headings" || true)"
require "llvmpipe on GL" "$(grep -F '(Gl, Cpu' <<<"$headings" || true)"
exit $status
