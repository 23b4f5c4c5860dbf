#!/usr/bin/env bash
# Build the C API (capi/) in release and install it like a C library:
#   scripts/build-capi.sh --prefix DIR
# installs
#   DIR/include/gpu_resnet.h, gpu_resnet.hpp
#   DIR/lib/libgpu_resnet.so.X.Y.Z, libgpu_resnet.so.0 -> it (the soname), libgpu_resnet.so -> .so.0
#   DIR/lib/libgpu_resnet.a
#   DIR/lib/pkgconfig/gpu_resnet.pc                      (pkg-config gpu_resnet)
#   DIR/lib/cmake/gpu_resnet/gpu_resnetConfig.cmake      (find_package(gpu_resnet) ->
#   DIR/lib/cmake/gpu_resnet/gpu_resnetConfigVersion.cmake   gpu_resnet::gpu_resnet)
# Installs cmake and pkg-config with apt-get when they are missing (CI's clean machine).
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build-capi.sh: unknown argument $1 (usage: --prefix DIR)" >&2; exit 2 ;;
  esac
done
[[ -n "$prefix" ]] || { echo "build-capi.sh: --prefix DIR is required" >&2; exit 2; }

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v pkg-config >/dev/null || missing+=(pkg-config)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "build-capi.sh: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cargo build --release -p gpu-resnet-capi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' capi/Cargo.toml | head -1)
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f2)
target_dir=$(cargo metadata --format-version 1 --no-deps |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
built="$target_dir/release"

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
inc="$prefix/include" lib="$prefix/lib"
mkdir -p "$inc" "$lib/pkgconfig" "$lib/cmake/gpu_resnet"
install -m 644 capi/include/gpu_resnet.h capi/include/gpu_resnet.hpp "$inc/"
mkdir -p "$inc/gpu_resnet"
# Paddle Inference-shaped C++ (put include/gpu_resnet/ on the include path in place of Paddle's).
install -m 644 capi/include/paddle_inference_api.h "$inc/gpu_resnet/"
install -m 755 "$built/libgpu_resnet.so" "$lib/libgpu_resnet.so.$version"
ln -sf "libgpu_resnet.so.$version" "$lib/libgpu_resnet.so.$major"
ln -sf "libgpu_resnet.so.$major" "$lib/libgpu_resnet.so"
install -m 644 "$built/libgpu_resnet.a" "$lib/libgpu_resnet.a"

# What the static library needs from the system (rustc's --print native-static-libs on
# Linux/glibc); the GPU drivers themselves are loaded at run time, not linked.
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

cat > "$lib/pkgconfig/gpu_resnet.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: gpu_resnet
Description: ResNet inference (PaddleClas family) on the GPU through wgpu: the C API of gpu-resnet
Version: $version
Libs: -L\${libdir} -lgpu_resnet
Libs.private: $static_libs
Cflags: -I\${includedir}
PC

cat > "$lib/cmake/gpu_resnet/gpu_resnetConfig.cmake" <<CMAKE
# gpu_resnet $version: find_package(gpu_resnet) gives the imported targets
#   gpu_resnet::gpu_resnet         the shared library (libgpu_resnet.so.$major)
#   gpu_resnet::gpu_resnet_static  the static library (libgpu_resnet.a and its system libs)
# The prefix is found from this file's place, so the install can be moved.
get_filename_component(_gpu_resnet_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET gpu_resnet::gpu_resnet)
  add_library(gpu_resnet::gpu_resnet SHARED IMPORTED)
  set_target_properties(gpu_resnet::gpu_resnet PROPERTIES
    IMPORTED_LOCATION "\${_gpu_resnet_prefix}/lib/libgpu_resnet.so.$version"
    IMPORTED_SONAME "libgpu_resnet.so.$major"
    INTERFACE_INCLUDE_DIRECTORIES "\${_gpu_resnet_prefix}/include")
endif()
if(NOT TARGET gpu_resnet::gpu_resnet_static)
  add_library(gpu_resnet::gpu_resnet_static STATIC IMPORTED)
  set_target_properties(gpu_resnet::gpu_resnet_static PROPERTIES
    IMPORTED_LOCATION "\${_gpu_resnet_prefix}/lib/libgpu_resnet.a"
    INTERFACE_INCLUDE_DIRECTORIES "\${_gpu_resnet_prefix}/include"
    INTERFACE_LINK_LIBRARIES "gcc_s;util;rt;pthread;m;dl")
endif()
set(gpu_resnet_VERSION "$version")
set(gpu_resnet_INCLUDE_DIRS "\${_gpu_resnet_prefix}/include")
set(gpu_resnet_LIBRARIES gpu_resnet::gpu_resnet)
unset(_gpu_resnet_prefix)
CMAKE

cat > "$lib/cmake/gpu_resnet/gpu_resnetConfigVersion.cmake" <<CMAKE
# Compatible when this version is not older than the one asked for and the major versions
# match (for 0.x, where minor versions may break the ABI: major and minor).
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(NOT PACKAGE_FIND_VERSION_MAJOR EQUAL $major)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif($major EQUAL 0 AND NOT PACKAGE_FIND_VERSION_MINOR EQUAL $minor)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
CMAKE

echo "build-capi.sh: installed gpu_resnet $version into $prefix"
