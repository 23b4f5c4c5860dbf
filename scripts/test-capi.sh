#!/usr/bin/env bash
# CI stage for the C API: build and install it into a temporary prefix (scripts/build-capi.sh),
# check what the shared library exports, compile the C and C++ examples with
# -Wall -Wextra -Werror through pkg-config (shared and static) and CMake (find_package), run
# them on the golden cases (PaddlePaddle's top-5 and logits) and on images (as
# `gpu-resnet predict` classifies them), then the C test of every error path, threads, memory
# and golden logits, the hostile corpus (tests/data/hostile, under ulimit -v 3 GiB), and the
# C test and the hostile corpus again under AddressSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
golden="$(cd ../shared/golden 2>/dev/null && pwd || true)"
golden="${GPU_RESNET_GOLDEN:-$golden}"
[[ -f "$golden/ResNet18_vd.pdparams" ]] || { echo "test-capi.sh: no golden cases in '$golden'" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
step() { echo "--- $*"; }

step "the crate's own tests: header vs Rust exports, the boundary (panics, errors, pointers)"
cargo test --release -p gpu-resnet-capi > "$work/cargo-test.log" 2>&1 || { cat "$work/cargo-test.log"; exit 1; }
grep "test result" "$work/cargo-test.log"

step "build and install into $prefix"
scripts/build-capi.sh --prefix "$prefix"
lib="$prefix/lib/libgpu_resnet.so"

step "exports: only gr_*, exactly the header's functions; soname"
nm -D --defined-only "$lib" | awk '{print $3}' | sort > "$work/exported"
grep -E '^[a-z].*\bgr_[a-z_]+\(' capi/include/gpu_resnet.h | grep -v '^typedef' |
  sed -E 's/.*\b(gr_[a-z_]+)\(.*/\1/' | sort > "$work/declared"
if grep -v '^gr_' "$work/exported"; then echo "symbols other than gr_* exported" >&2; exit 1; fi
diff "$work/declared" "$work/exported" || { echo "header and library differ (< header, > library)" >&2; exit 1; }
echo "  $(wc -l < "$work/exported") symbols, all gr_*, as declared in gpu_resnet.h"
readelf -d "$lib" | grep -q 'SONAME.*\[libgpu_resnet.so.0\]' || { echo "no soname libgpu_resnet.so.0" >&2; exit 1; }
echo "  soname libgpu_resnet.so.0"

step "compile the examples: pkg-config (shared, static) and CMake"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=(-Wall -Wextra -Werror -pedantic)
rpath="-Wl,-rpath,$(pkg-config --variable=libdir gpu_resnet)"
bin="$work/bin"
mkdir -p "$bin"
# shellcheck disable=SC2046
cc -std=c99 "${flags[@]}" examples/c/classify.c -o "$bin/classify_pc" \
  $(pkg-config --cflags --libs gpu_resnet) "$rpath"
# shellcheck disable=SC2046
c++ -std=c++17 "${flags[@]}" examples/cpp/classify.cpp -o "$bin/classify_cpp_pc" \
  $(pkg-config --cflags --libs gpu_resnet) "$rpath"
# The static library: the archive itself, then what pkg-config --static says it needs.
# shellcheck disable=SC2046
cc -std=c99 "${flags[@]}" examples/c/classify.c -o "$bin/classify_static" \
  $(pkg-config --cflags gpu_resnet) "$prefix/lib/libgpu_resnet.a" \
  $(pkg-config --static --libs-only-l gpu_resnet | sed 's/-lgpu_resnet//')
if ldd "$bin/classify_static" | grep -q libgpu_resnet; then echo "static build links the .so" >&2; exit 1; fi
cmake_build() { # NAME SOURCE_DIR [cmake args]
  local name=$1 src=$2; shift 2
  cmake -S "$src" -B "$work/cmake-$name" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release "$@" > "$work/cmake-$name.log" || { cat "$work/cmake-$name.log"; exit 1; }
  cmake --build "$work/cmake-$name" -- -j2 > "$work/cmake-$name-build.log" ||
    { cat "$work/cmake-$name-build.log"; exit 1; }
}
cmake_build c examples/c
cmake_build c-static examples/c -DGPU_RESNET_STATIC=ON
cmake_build cpp examples/cpp
echo "  classify (pkg-config, pkg-config --static, CMake, CMake static), classify_cpp"
echo "  (pkg-config, CMake), paddle_style (CMake)"

step "examples on the golden cases (PaddlePaddle's top-5 and logits)"
cmp() { python3 scripts/capi-compare.py "$@"; }
run() { # OUT, then the command
  local out=$1; shift
  "$@" > "$out" 2> "$out.err" || { cat "$out.err" "$out"; exit 1; }
}
r18="$golden/ResNet18_vd.pdparams" d="$golden/deploy"
run "$work/c18" "$work/cmake-c/classify" "$r18" "$golden/ResNet18_vd.input.npy"
cmp golden "$work/c18" "$golden/ResNet18_vd.logits.npy" "$golden/ResNet18_vd.json"
run "$work/c50" "$bin/classify_pc" "$golden/ResNet50_vd.pdparams" "$golden/ResNet50_vd.input.npy"
cmp golden "$work/c50" "$golden/ResNet50_vd.logits.npy" "$golden/ResNet50_vd.json"
for w in ResNet18_vd.onnx ResNet18_vd_pir ResNet18_vd_legacy; do
  run "$work/cpp-$w" "$work/cmake-cpp/classify_cpp" "$d/$w" "$d/ResNet18_vd.input.npy"
  cmp golden "$work/cpp-$w" "$d/ResNet18_vd.logits.npy" "$d/ResNet18_vd.deploy.json"
done
run "$work/paddle" "$work/cmake-cpp/paddle_style" "$d/ResNet18_vd_legacy" "$d/ResNet18_vd.input.npy"
cmp golden "$work/paddle" "$d/ResNet18_vd.logits.npy" "$d/ResNet18_vd.deploy.json"

step "examples on images, against gpu-resnet predict"
images=(tests/data/cv2/smooth_330x260.png tests/data/cv2/colour_48x32.jpg)
cargo build --release --bin gpu-resnet -q
target/release/gpu-resnet predict --weights "$r18" --format json "${images[@]}" \
  > "$work/predict.json" 2> /dev/null
for b in "$work/cmake-c/classify" "$work/cmake-c-static/classify" "$bin/classify_static" \
  "$bin/classify_cpp_pc"; do
  out="$work/images-$(basename "$(dirname "$b")")-$(basename "$b")"
  run "$out" "$b" "$r18" "${images[@]}"
  cmp predict "$out" "$work/predict.json"
done

step "C test: error paths, golden logits, deployment exports, two threads, memory"
cc -std=c99 "${flags[@]}" -pthread capi/tests/c/test_capi.c -o "$bin/test_capi" \
  $(pkg-config --cflags --libs gpu_resnet) -lm "$rpath"
"$bin/test_capi" "$golden"

step "C test: the hostile corpus (tests/data/hostile) under ulimit -v 3 GiB"
GPU_RESNET_WRITE_HOSTILE="$work/hostile" cargo test --release --test hostile_corpus -q \
  write_generated > "$work/hostile.log" 2>&1 || { cat "$work/hostile.log"; exit 1; }
(ulimit -v $((3 << 20)) && exec timeout 600 "$bin/test_capi" "$golden" --hostile tests/data/hostile "$work/hostile")

step "C test under AddressSanitizer (quick: ResNet18_vd only)"
cc -std=c99 "${flags[@]}" -g -fsanitize=address -fno-omit-frame-pointer -pthread \
  capi/tests/c/test_capi.c -o "$bin/test_capi_asan" $(pkg-config --cflags --libs gpu_resnet) -lm "$rpath"
# LeakSanitizer: the suppressions name only the Vulkan driver's libraries (Mesa, LLVM), whose
# allocations made at driver load are never freed; nothing of gpu-resnet's is suppressed.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
LSAN_OPTIONS="suppressions=$PWD/capi/tests/c/lsan.supp:print_suppressions=1" \
  "$bin/test_capi_asan" "$golden" --quick 2>&1 | tee "$work/asan.log"
status=${PIPESTATUS[0]}
if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$work/asan.log"; then
  echo "AddressSanitizer reported an error" >&2; exit 1
fi
[[ $status -eq 0 ]] || { echo "test_capi under ASan exited $status" >&2; exit 1; }
# The hostile corpus under ASan too (no ulimit -v: ASan's shadow memory needs the address
# space; allocator_may_return_null: the examples' npy reader is handed a 2^40-image batch
# and must see malloc fail, not have ASan abort on the size).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1 \
LSAN_OPTIONS="suppressions=$PWD/capi/tests/c/lsan.supp:print_suppressions=0" \
  timeout 600 "$bin/test_capi_asan" "$golden" --hostile tests/data/hostile "$work/hostile" 2>&1 |
  tee "$work/asan-hostile.log"
status=${PIPESTATUS[0]}
if grep -q "ERROR: AddressSanitizer\|ERROR: LeakSanitizer" "$work/asan-hostile.log"; then
  echo "AddressSanitizer reported an error (hostile corpus)" >&2; exit 1
fi
[[ $status -eq 0 ]] || { echo "test_capi --hostile under ASan exited $status" >&2; exit 1; }
rm -rf "$work/hostile"
echo "  AddressSanitizer: no error"
echo "test-capi.sh: passed"
