#!/usr/bin/env bash
# Install Ingot's build and test dependencies (Debian/Ubuntu, apt-get) and
# configure the build directory. Idempotent: packages already present are not
# reinstalled and an existing build directory is reconfigured, not wiped.
#
#   scripts/setup.sh [BUILD_DIR] [extra meson options...]
set -euo pipefail
. "$(dirname "$0")/script_help.sh"
script_args 1 "$@"

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true

pkgs=(build-essential pkg-config meson ninja-build
      libsentencepiece-dev sentencepiece python3-sentencepiece
      libzstd-dev zstd zlib1g-dev liburing-dev libxxhash-dev libjansson-dev libjemalloc-dev
      python3-matplotlib python3-numpy python3-xxhash
      libopenmpi-dev openmpi-bin)   # -Dmpi: data-parallel CPU training, tests/dist

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The CUDA toolkit is optional; put nvcc on PATH when it is installed in the usual place.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH=/usr/local/cuda/bin:$PATH
fi

cd "$here"
if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "$@" >/dev/null
else
    meson setup "$build" "$@" >/dev/null
fi
echo "setup: configured $here/$build (CUDA: $(grep -q 'INGOT_HAVE_CUDA 1' "$build/ingot_config.h" && echo yes || echo no))"
