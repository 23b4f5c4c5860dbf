#!/usr/bin/env bash
# Builds the Python package's wheel: one abi3 wheel (CPython >= 3.10) for this platform in
# target/wheels/. `maturin build` checks the extension's shared-library dependencies against
# the manylinux policy (auditwheel's rules) and tags it manylinux_2_X; the .so links only
# glibc, libm, libdl, libpthread and libgcc_s (wgpu loads Vulkan/GL at run time). Installs
# maturin into a private venv when it is not on PATH.
#   scripts/build-wheel.sh [extra maturin args, e.g. --compatibility manylinux_2_28]
set -euo pipefail
cd "$(dirname "$0")/.."
MATURIN=${MATURIN:-$(command -v maturin || true)}
if [ -z "$MATURIN" ]; then
  python3 -m venv target/maturin-venv
  target/maturin-venv/bin/pip install -q "maturin>=1.7,<2"
  MATURIN=target/maturin-venv/bin/maturin
fi
# Only this build's wheel in target/wheels (a `pip install ./bindings/python` leaves a
# linux_x86_64 one there too).
rm -f target/wheels/gpu_resnet-*.whl
"$MATURIN" build --release --manifest-path bindings/python/Cargo.toml --out target/wheels "$@"
ls -l target/wheels/gpu_resnet-*.whl
