#!/usr/bin/env bash
# Prepare a self-contained folder for a machine that has a GPU but lacks some
# of Ingot's Debian libraries (e.g. the lent GPU box: no libjansson, no
# liburing). Builds BUILD_DIR (release, CUDA, liburing static) and copies into
# PACK/: the programs and test binaries, the shared libraries they need that
# are not part of glibc/CUDA, spm_train/spm_encode, and a small corpus.
# On the GPU machine:  export LD_LIBRARY_PATH=$PWD/PACK/lib:$LD_LIBRARY_PATH
#
#   scripts/device-pack.sh [BUILD_DIR=build-dev] [PACK=.devpack]
set -euo pipefail
. "$(dirname "$0")/script_help.sh"
script_args 2 "$@"
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build-dev}
pack=${2:-.devpack}
cd "$here"
[ -f "$build/build.ninja" ] || meson setup "$build" -Dbuildtype=release -Dstatic_uring=true >/dev/null
ninja -C "$build" >/dev/null
rm -rf "$pack"; mkdir -p "$pack/lib" "$pack/bin"
# Binaries keep their build-tree paths (tests find each other by path), so
# the build dir travels as is; the pack adds what the machine lacks.
bins=$(find "$build" -type f -executable ! -name '*.so*' ! -path '*.p/*' ! -path '*meson-*' | sort)
for tool in spm_train spm_encode; do
    command -v $tool >/dev/null && cp "$(command -v $tool)" "$pack/bin/"
done
for b in $bins "$pack"/bin/*; do
    ldd "$b" 2>/dev/null | awk '/=> \//{print $3}'
done | sort -u | grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux|libgcc_s|libstdc\+\+|libgomp|libcuda|libcudart|libcublas|libcublasLt|libnvidia)[.-]' \
    | while read -r lib; do cp -L "$lib" "$pack/lib/"; done
if [ ! -d "$pack/corpus" ]; then
    python3 scripts/make-corpus.py "$pack/corpus" --mb "${CORPUS_MB:-24}" >/dev/null
fi
du -sh "$pack" "$build" | sed 's/^/device-pack: /'
