#!/usr/bin/env bash
# Build SentencePiece VERSION from its PyPI source archive into PREFIX, so
# that Ingot can be built against it instead of the Debian package
# (libsentencepiece 0.1.97 on Debian 12 encodes about half as fast per thread
# as 0.2.2; 0.2.0 is only ~5% faster than 0.1.97). The default build is
# unchanged: only a build directory configured with
# PKG_CONFIG_PATH=PREFIX/lib/pkgconfig uses this copy. 0.2.1+ may split a few
# pieces differently from 0.1.97 where two segmentations score the same.
#
#   scripts/build-sentencepiece.sh [VERSION=0.2.2] [PREFIX=<repo>/.spm-local]
#
# Needs python3 -m pip (or curl, for the GitHub tarball), cmake >= 3.14, a
# C++17 compiler; network access to download (sources are cached in
# PREFIX/src). Idempotent: does nothing when PREFIX already holds VERSION;
# a different version is replaced. Environment: JOBS (default: nproc),
# SPM_TCMALLOC=ON to link gperftools' tcmalloc when installed (default OFF:
# the library then runs anywhere glibc does), PYTHON (default python3).
set -euo pipefail
. "$(dirname "$0")/script_help.sh"
script_args 2 "$@"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${1:-0.2.2}
PREFIX=${2:-$ROOT/.spm-local}
JOBS=${JOBS:-$(nproc)}
TCMALLOC=${SPM_TCMALLOC:-OFF}
PY=${PYTHON:-python3}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
stamp=$PREFIX/.installed
want="$VERSION tcmalloc=$TCMALLOC"

usage() {
    cat <<EOF
build-sentencepiece: SentencePiece $VERSION is in $PREFIX. Build Ingot with it:
  PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig meson setup build-spm -Dbuildtype=release
  ninja -C build-spm
The programs find the library through their build rpath ($PREFIX/lib);
elsewhere (after ninja install, or copied to another machine) put the
library's folder first in LD_LIBRARY_PATH. Check: ldd build-spm/pretok/ingot-pretok
EOF
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   [ -f "$PREFIX/lib/pkgconfig/sentencepiece.pc" ]; then
    usage
    exit 0
fi

# ---------------------------------------------------------------- sources
src=$PREFIX/src
mkdir -p "$src"
tarball=$src/sentencepiece-$VERSION.tar.gz
if [ ! -f "$tarball" ]; then
    echo "build-sentencepiece: downloading sentencepiece $VERSION" >&2
    tmp=$(mktemp -d "$src/dl.XXXXXX")
    if "$PY" -m pip download --quiet --no-binary :all: --no-deps \
            "sentencepiece==$VERSION" -d "$tmp" >&2; then
        mv "$tmp/sentencepiece-$VERSION.tar.gz" "$tarball"
    else
        # PyPI not reachable: GitHub's tag archive has the same C++ tree at its top
        curl -fsSL -o "$tmp/gh.tar.gz" \
            "https://github.com/google/sentencepiece/archive/refs/tags/v$VERSION.tar.gz"
        mv "$tmp/gh.tar.gz" "$tarball"
    fi
    rm -rf "$tmp"
fi
# Extracted afresh each time: a failed configure may have edited or removed
# parts of the previous copy.
tree=$src/sentencepiece-$VERSION
rm -rf "$tree"
mkdir -p "$tree"
tar -xzf "$tarball" -C "$tree" --strip-components=1
# The sdist keeps the C++ project in sentencepiece/; the GitHub archive at its top.
cxx=$tree/sentencepiece
[ -f "$cxx/src/CMakeLists.txt" ] || cxx=$tree
if [ ! -f "$cxx/src/CMakeLists.txt" ]; then
    echo "build-sentencepiece: no C++ sources (src/CMakeLists.txt) in $tarball" >&2
    exit 1
fi

# 0.2.1+ clone abseil with git at configure time (FetchContent_Populate
# with explicit arguments ignores FETCHCONTENT_FULLY_DISCONNECTED); the sdist
# bundles the same tree, so use it and build offline. Only our extracted copy
# is edited.
if grep -q 'FetchContent_Populate(abseil-cpp' "$cxx/CMakeLists.txt" &&
   [ -f "$cxx/third_party/abseil-cpp/CMakeLists.txt" ]; then
    sed -i '/FetchContent_Populate(abseil-cpp/,/GIT_TAG/d' "$cxx/CMakeLists.txt"
fi

# ---------------------------------------------------------------- build
# PIC: 0.2.1+ put static abseil objects into the shared library. RPATH: the
# installed spm_train/spm_encode must not pick up the system's older library.
build=$PREFIX/build-$VERSION
cmake -S "$cxx" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_INSTALL_RPATH="$PREFIX/lib" \
    -DSPM_ENABLE_SHARED=ON -DSPM_ENABLE_TCMALLOC="$TCMALLOC" -DSPM_BUILD_TEST=OFF \
    >"$build.log" 2>&1 || { tail -30 "$build.log" >&2; exit 1; }
echo "build-sentencepiece: compiling ($JOBS jobs; log: $build.log)" >&2
cmake --build "$build" -j"$JOBS" >>"$build.log" 2>&1 || { tail -30 "$build.log" >&2; exit 1; }
# a previous version's files must not linger next to this one's
rm -rf "$PREFIX/lib" "$PREFIX/include" "$PREFIX/bin" "$stamp"
cmake --install "$build" >>"$build.log" 2>&1 || { tail -30 "$build.log" >&2; exit 1; }
if [ ! -f "$PREFIX/lib/pkgconfig/sentencepiece.pc" ]; then
    echo "build-sentencepiece: installed, but no $PREFIX/lib/pkgconfig/sentencepiece.pc" >&2
    exit 1
fi
# 0.2.1+ headers include abseil's (absl::string_view), which abseil's build
# does not install as a subproject: copy the bundled ones, those it was built with.
if grep -qE '#include [<"]absl/' "$PREFIX/include/sentencepiece_processor.h" &&
   [ -d "$cxx/third_party/abseil-cpp/absl" ]; then
    (cd "$cxx/third_party/abseil-cpp" &&
     find absl \( -name '*.h' -o -name '*.inc' \) -exec cp --parents {} "$PREFIX/include/" \;)
fi
# The library carries its own protobuf-lite (SPM_PROTOBUF_PROVIDER=internal),
# but the .pc file still requires protobuf-lite.pc, which pkg-config then
# insists on finding.
sed -i '/^Requires.private: *protobuf-lite *$/d' "$PREFIX/lib/pkgconfig/sentencepiece.pc"
echo "$want" >"$stamp"
usage
