#!/usr/bin/env bash
# The conformance matrix of this machine's three native implementations, as CI runs it:
# `gpu-resnet check --all-adapters` with the PaddlePaddle golden cases on Mesa lavapipe
# (Vulkan), Google SwiftShader (Vulkan, the ICD Debian's chromium package ships; `check` adds it
# to the Vulkan loader's list by itself) and Mesa llvmpipe (GL). Exits non-zero if any check
# fails or if any of the three implementations is missing from the report (a driver that
# silently dropped out is a failure here, not a smaller matrix). The fourth implementation,
# Chromium's WebGPU, is scripts/test-web.sh. Writes the report to $1 (default
# target/check-matrix.md).
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
mkdir -p "$(dirname "$report")"
status=0
cargo run --release --quiet -- check --all-adapters --golden "$golden" >"$report" || status=$?
grep -E '^## Adapter|^\*\*(PASS|FAIL)' "$report"
for implementation in '(Vulkan, Cpu, llvmpipe' 'SwiftShader Device' '(Gl, Cpu'; do
  if ! grep -q "^## Adapter .*${implementation}" "$report"; then
    echo "check-matrix: no adapter matching '${implementation}' in $report" >&2
    status=1
  fi
done
exit $status
