#!/usr/bin/env bash
# A second lavapipe: Mesa 25's (Debian bookworm-backports' mesa-vulkan-drivers) unpacked into a
# directory beside the system's Mesa 22.3, without installing anything. apt runs on a private
# state (its own sources list, package lists and cache under the directory), `apt-get download`
# fetches the .debs and `dpkg -x` unpacks them; nothing under /etc, /var or /usr changes.
#
# The driver is a shared object the Vulkan loader opens by the path in an ICD file: this script
# writes `lvp_icd.json` pointing at the unpacked libvulkan_lvp.so, and the libraries it needs
# from backports (newer than bookworm's: libdrm2, LLVM 19, ...) lie beside it. The loader opens
# the driver with the process's library path, so the script also writes `env.sh`, which sets
# LD_LIBRARY_PATH to that directory. (Mesa 25's lavapipe also loads and runs with bookworm's
# libdrm 2.4.114, measured: `gpu-resnet check --all-adapters` adds the ICD file to the loader's
# list and runs it in-process, where the library path is fixed at start.)
#
# Usage: scripts/mesa25-lavapipe.sh [DIR]
#   DIR defaults to $GPU_RESNET_MESA25, else mesa25 in gpu-resnet's cache directory
#   ($GPU_RESNET_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/gpu-resnet): where
#   `gpu-resnet check --all-adapters` looks for it.
# Prints the ICD file's path. Idempotent: a directory that already holds a working driver is
# kept as is (delete it to fetch again).
set -euo pipefail
dir=${1:-${GPU_RESNET_MESA25:-${GPU_RESNET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gpu-resnet}/mesa25}}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
root="$dir/root"
lib="$root/usr/lib/x86_64-linux-gnu"
icd="$dir/lvp_icd.json"

if [ "$(dpkg --print-architecture)" != amd64 ]; then
  echo "mesa25-lavapipe: only amd64 is scripted (this is $(dpkg --print-architecture))" >&2
  exit 2
fi

if [ -f "$icd" ] && [ -f "$lib/libvulkan_lvp.so" ] && [ -f "$dir/env.sh" ]; then
  echo "$icd"
  exit 0
fi

# Private apt state: bookworm for dependencies, bookworm-backports for Mesa 25 and the newer
# libraries it needs.
apt_dir="$dir/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/preferences.d" \
  "$apt_dir/etc/sources.list.d" "$apt_dir/debs"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { echo "mesa25-lavapipe: no Debian archive keyring at $keyring" >&2; exit 2; }
cat >"$apt_dir/etc/sources.list" <<EOF
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm main
deb [signed-by=$keyring] http://deb.debian.org/debian bookworm-backports main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/etc/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$apt_dir/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$apt_dir/etc/preferences.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=$(id -un)"
  -o "Acquire::Retries=3"
)
# An empty dpkg status: this apt knows nothing of the system's packages (it only downloads).
: >"$apt_dir/status"
echo "mesa25-lavapipe: reading bookworm and bookworm-backports package lists" >&2
apt-get "${apt_opts[@]}" -qq update

download() {
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" -qq download "$@")
}
echo "mesa25-lavapipe: downloading mesa-vulkan-drivers from bookworm-backports" >&2
download mesa-vulkan-drivers/bookworm-backports
version=$(apt-cache "${apt_opts[@]}" show mesa-vulkan-drivers/bookworm-backports | sed -n 's/^Version: //p' | head -1)

# The libraries Mesa 25 needs newer than bookworm's (its Depends: libdrm2 and libdrm-amdgpu1
# >= 2.4.121; bookworm has 2.4.114). Everything else it links (LLVM 15, libc, libstdc++,
# libzstd, libelf, libexpat, the X/Wayland client libraries) is bookworm's and already on a
# machine with the system's Mesa (scripts/install-deps.sh): the ldd check below says if not.
# The Vulkan loader (libvulkan1) stays the system's.
for d in libdrm2 libdrm-amdgpu1; do
  echo "mesa25-lavapipe: downloading $d from bookworm-backports" >&2
  download "$d/bookworm-backports"
done

rm -rf "$root"
mkdir -p "$root"
for deb in "$apt_dir"/debs/*.deb; do
  dpkg -x "$deb" "$root"
done
[ -f "$lib/libvulkan_lvp.so" ] || { echo "mesa25-lavapipe: no libvulkan_lvp.so in the unpacked packages" >&2; exit 1; }

# Every library the driver needs must resolve, from the directory or the system.
missing=$(LD_LIBRARY_PATH="$lib" ldd "$lib/libvulkan_lvp.so" | grep 'not found' || true)
if [ -n "$missing" ]; then
  echo "mesa25-lavapipe: libvulkan_lvp.so misses libraries (install the system's Mesa first: scripts/install-deps.sh):" >&2
  echo "$missing" >&2
  exit 1
fi
# Only lavapipe is wanted: the other drivers and layers in the package are left out, so nothing
# can pick them up by accident.
find "$lib" -maxdepth 1 -name 'libvulkan_*.so' ! -name libvulkan_lvp.so -delete
find "$lib" -maxdepth 1 -name 'libVkLayer_*.so' -delete

# The ICD file: the system's lavapipe ICD with the library path replaced by ours.
api=$(cat "$root"/usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null |
  sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' | head -1 || true)
cat >"$icd" <<EOF
{
    "ICD": {
        "api_version": "${api:-1.3.0}",
        "library_path": "$lib/libvulkan_lvp.so"
    },
    "file_format_version": "1.0.0"
}
EOF
cat >"$dir/env.sh" <<EOF
# Source this to run on Mesa $version's lavapipe alone:
#   . $dir/env.sh && gpu-resnet adapters
export VK_ICD_FILENAMES=$icd
export LD_LIBRARY_PATH=$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
EOF
echo "$version" >"$dir/version"
# The package lists and .debs are only needed to fetch: ~45 MB, gone.
rm -rf "$apt_dir"
echo "mesa25-lavapipe: Mesa $version lavapipe in $dir" >&2
echo "$icd"
