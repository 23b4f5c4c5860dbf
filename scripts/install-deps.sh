#!/usr/bin/env bash
# Installs what gpu-resnet needs on a Debian/Ubuntu machine without a GPU: Mesa's software
# Vulkan driver (lavapipe) and its EGL/GL stack (llvmpipe, wgpu's GL backend). A machine with a
# real GPU driver needs none of this. Idempotent: does nothing when everything is present.
# Extra Debian package names given as arguments are installed the same way (scripts/test-web.sh
# asks for chromium and chromium-driver).
set -euo pipefail
packages=(mesa-vulkan-drivers libvulkan1 libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
