#!/usr/bin/env bash
# Compile-checks Ingot's CUDA code against real CUDA 12.x toolkits. The GPU
# machines carry CUDA 13, whose headers forgive things 12.x refuses (commit
# e29b8f8: cublas_api.h included without CUBLASAPI broke 22 of 23 kernels on
# 12.4 and 12.5), and no NVIDIA apt repository is at hand, so this builds
# each toolkit from two public sources of the same release:
#   nvcc, cicc, ptxas, ...  Debian's nvidia-cuda-toolkit .deb (non-free)
#   headers                 NVIDIA's pip wheels (cudart, crt, cuBLAS, CCCL)
# A developer tool, not run by CI: it needs the network, no GPU, no build dir.
set -euo pipefail

usage() {
    cat <<EOF
usage: $0 [--versions 12.4,12.5] [--work DIR] [--keep] [--src DIR]
       $0 --print-flags

Compiles every kernels/*.cu (-gencode sm_80, sm_90a, compute_90, the
project's nvcc flags) and the train/*.c files that include cuda_check.h (gcc)
against CUDA 12.x headers, checks CUDART_VERSION and that no dependency comes
from /usr/local/cuda or any CUDA header outside the assembled toolkit, prints
one line per file and exits 0 only if every file passes.

  --versions LIST  CUDA versions to check, comma-separated (default 12.4,12.5)
  --work DIR       downloads, toolkits and logs go here and are kept; a rerun
                   with the same DIR reuses the downloads (about 0.5 GB per
                   version). Default: a fresh directory under \${TMPDIR:-/tmp},
                   removed at exit
  --keep           keep the default work directory (logs, toolkits)
  --src DIR        source tree to check (default: the one holding this script)
  --print-flags    print the compilers' flags this script uses, one per line
                   ("nvcc FLAG" or "gcc FLAG"; SRC and GEN for the source tree
                   and the generated headers), and exit: no network, nothing
                   written. tests/kernels/test_cuda12_flags.py compares them with
                   what meson gives the same files, so the two stay in step

Needs a Debian 12 amd64 machine with network access, python3 -m pip, g++ and
dpkg-deb (apt install build-essential python3-pip).
EOF
}

die() { echo "check-cuda12: $*" >&2; exit 2; }

# Pinned inputs. A .deb: file name, sha256, sha1 (snapshot.debian.org's key).
# 12.4 is trixie's, 12.5 experimental's. The pool serves a file only while
# some suite lists it; snapshot.debian.org keeps it for good, hence two URLs.
# libnvvm4 is not needed: cicc links NVVM statically.
declare -A DEB=(
    [12.4]="nvidia-cuda-toolkit_12.4.131~12.4.1-2_amd64.deb cd5fe85aee38d108b315f408a688641478f2402622a10c677478eb7a6c4e5319 4931106ff54011859b525acb66d110d46c5d0091"
    [12.5]="nvidia-cuda-toolkit_12.5.40~12.5.0-2+b1_amd64.deb 88573e2a8626687cd201af953ed3086f2929c8c8914667d552f27b602f2cad68 49d27d0c42da4fbe36f3e9e25bc0bebbef300318"
)
declare -A WHEELS=(
    [12.4]="nvidia-cuda-runtime-cu12==12.4.127 nvidia-cuda-nvcc-cu12==12.4.131 nvidia-cublas-cu12==12.4.5.8 nvidia-cuda-cccl-cu12==12.4.127.post1"
    [12.5]="nvidia-cuda-runtime-cu12==12.5.39 nvidia-cuda-nvcc-cu12==12.5.40 nvidia-cublas-cu12==12.5.2.13 nvidia-cuda-cccl-cu12==12.5.39.post1"
)
declare -A CUDART=([12.4]=12040 [12.5]=12050)
POOL=http://deb.debian.org/debian/pool/non-free/n/nvidia-cuda-toolkit
SNAPSHOT=http://snapshot.debian.org/file   # plain http like apt: the sha256 vouches

versions=12.4,12.5 work='' keep=0 print_flags=0
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
while (($#)); do
    case $1 in
    --versions | --work | --src) (($# >= 2)) || die "$1 needs a value (--help)" ;;&
    --versions) versions=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --print-flags) print_flags=1; shift ;;
    --src) src=$(cd "$2" 2>/dev/null && pwd) || die "--src $2: not a directory"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "check-cuda12: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
done
IFS=, read -ra vers <<<"$versions"
for v in "${vers[@]}"; do
    [[ -n ${DEB[$v]:-} ]] || die "no pinned toolkit for CUDA '$v' (known: ${!DEB[*]})"
done
[[ -f $src/kernels/cuda_check.h ]] || die "$src has no kernels/cuda_check.h: not an Ingot tree (see --src)"

# set_flags SRC GEN: nvflags and cflags, the flags meson gives these files
# (meson.build, kernels/meson.build, -Dgpu_arch's default, -Dtest_hooks),
# kept in step by hand and checked against a meson build by
# tests/kernels/test_cuda12_flags.py (--print-flags).
set_flags() {
    local src=$1 gen=$2
    # shellcheck disable=SC2054 # the commas belong to -Xcompiler
    nvflags=(-DNDEBUG -Xcompiler=-Wall,-Winvalid-pch,-Wextra -O3
        -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90a,code=sm_90a
        -gencode=arch=compute_90,code=compute_90 -lineinfo --expt-relaxed-constexpr
        -Xcompiler=-fPIC -Xcompiler=-pthread -DINGOT_TEST_HOOKS=1
        -I"$src" -I"$gen" -I"$src/common" -I"$gen/common" -I"$src/kernels")
    cflags=(-DNDEBUG -D_FILE_OFFSET_BITS=64 -Wall -Winvalid-pch -Wextra -std=gnu11 -O3
        -Werror=vla -Werror=missing-prototypes -Werror=implicit-function-declaration
        -D_GNU_SOURCE '-DINGOT_VERSION="cuda12-check"' -fPIC -fopenmp -pthread
        -DINGOT_TEST_HOOKS=1 -I"$src/train" -I"$src" -I"$gen" -I"$src/common"
        -I"$gen/common" -I"$src/kernels/cpu" -I"$src/kernels")
}

if ((print_flags)); then
    set_flags SRC GEN
    printf 'nvcc %s\n' "${nvflags[@]}"
    printf 'gcc %s\n' "${cflags[@]}"
    exit 0
fi

# Preconditions, before any download.
[[ $(dpkg --print-architecture 2>/dev/null) == amd64 ]] ||
    die "needs Debian on amd64: the toolkit .debs are x86-64 builds"
for t in python3 dpkg-deb gcc g++; do
    command -v "$t" >/dev/null || die "$t not found: apt install build-essential python3-pip"
done
python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip not found: apt install python3-pip"
# glibc 2.41 (Debian 13) declares sinpi/cospi noexcept, which CUDA < 12.9's
# crt/math_functions.h contradicts: every file would fail for reasons that
# are not Ingot's. Debian 12's glibc 2.36 is fine.
glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
if [[ $(printf '%s\n' 2.41 "$glibc" | sort -V | head -1) == 2.41 ]]; then
    die "glibc $glibc here clashes with CUDA 12.4/12.5 headers (sinpi/cospi, fixed in 12.9);" \
        "run this in Debian 12, e.g.: docker run --rm -v $src:/src debian:12 sh -c" \
        "'apt-get update && apt-get install -y build-essential python3-pip && /src/scripts/check-cuda12.sh'"
fi
gxx=$(g++ -dumpversion); gxx=${gxx%%.*}
((gxx <= 13)) || die "g++ $gxx is newer than CUDA 12.4/12.5 accept (13 at most)"

if [[ -n $work ]]; then
    mkdir -p "$work"; work=$(cd "$work" && pwd); keep=1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/ingot-cuda12.XXXXXX")
fi
if ((keep)); then
    echo "work dir: $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# Nothing from the environment may slip other headers or flags in.
unset CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH NVCC_PREPEND_FLAGS NVCC_APPEND_FLAGS \
    NVCC_CCBIN CUDA_HOME CUDA_PATH

# fetch_deb NAME SHA256 SHA1 DEST_DIR: downloads once, verifies the hash.
fetch_deb() {
    python3 - "$@" "$POOL" "$SNAPSHOT" <<'EOF'
import hashlib, os, sys, urllib.request
name, sha256, sha1, dest, pool, snap = sys.argv[1:]
path = os.path.join(dest, name)
def ok(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest() == sha256
if os.path.exists(path) and ok(path):
    sys.exit(0)
for url in (f"{pool}/{name}", f"{snap}/{sha1}"):
    try:
        print(f"  downloading {url}", flush=True)
        urllib.request.urlretrieve(url, path + ".part")
        if ok(path + ".part"):
            os.replace(path + ".part", path)
            sys.exit(0)
        print(f"  {url}: sha256 mismatch", file=sys.stderr)
    except OSError as e:
        print(f"  {url}: {e}", file=sys.stderr)
sys.exit(1)
EOF
}

# assemble V: a standard toolkit layout in $work/cuda-V from the .deb and wheels.
assemble() {
    local v=$1 dl=$work/downloads/$1 tk=$work/cuda-$1 x=$work/unpack-$1
    local name sha256 sha1
    read -r name sha256 sha1 <<<"${DEB[$v]}"
    mkdir -p "$dl"
    echo "CUDA $v: fetching"
    fetch_deb "$name" "$sha256" "$sha1" "$dl" ||
        die "could not download $name (sha256 $sha256) from deb.debian.org or" \
            "snapshot.debian.org. Get it by hand (https://snapshot.debian.org/package/nvidia-cuda-toolkit/)," \
            "put it in DIR/downloads/$v/ and rerun with --work DIR"
    # wheels already in $dl need no index (reruns work offline)
    local pip=(python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$dl")
    # shellcheck disable=SC2086 # the pins are words
    "${pip[@]}" --no-index --find-links "$dl" ${WHEELS[$v]} 2>/dev/null ||
        "${pip[@]}" ${WHEELS[$v]} ||
        die "pip could not download ${WHEELS[$v]}; check the network or pip's index and proxy" \
            "settings (pip config list), or put those wheels in DIR/downloads/$v/ and rerun with --work DIR"

    rm -rf "$tk" "$x"
    mkdir -p "$tk/bin" "$tk/nvvm/bin" "$tk/include" "$x"
    dpkg-deb -x "$dl/$name" "$x/deb"
    local d=$x/deb/usr/lib/nvidia-cuda-toolkit
    # usr/bin/nvcc is Debian's wrapper script; the real driver lives in $d/bin
    cp "$d/bin/nvcc" "$x"/deb/usr/bin/{cudafe++,fatbinary,nvlink,ptxas,bin2c} "$tk/bin/"
    cp -r "$d/bin/crt" "$tk/bin/"
    cp "$d/bin/cicc" "$tk/nvvm/bin/"
    cp -r "$d/libdevice" "$tk/nvvm/"
    # Debian's profile names /usr/lib paths; this is the stock relative one
    cat >"$tk/bin/nvcc.profile" <<'EOF'
TOP              = $(_HERE_)/..
NVVMIR_LIBRARY_DIR = $(TOP)/nvvm/libdevice
PATH            += $(TOP)/nvvm/bin:$(_HERE_):
INCLUDES        +=  "-I$(TOP)/include" $(_SPACE_)
EOF
    local w
    for w in "$dl"/*.whl; do python3 -m zipfile -e "$w" "$x/whl"; done
    for w in cuda_runtime cuda_nvcc cublas cuda_cccl; do
        cp -r "$x/whl/nvidia/$w/include/." "$tk/include/"
    done
    find "$tk/include" \( -name __init__.py -o -name __pycache__ \) -prune -exec rm -rf {} +
    rm -rf "$x"
}

# Stand-ins for meson's generated headers (ingot_config.h, ingot_revision.h),
# so no build dir is needed. None of the checked files includes them today.
gen=$work/gen
mkdir -p "$gen/common"
printf '#pragma once\n#define INGOT_HAVE_CUDA 1\n#define INGOT_HAVE_MPI 0\n#define INGOT_HAVE_NCCL 0\n' \
    >"$gen/ingot_config.h"
printf '#define INGOT_REVISION "cuda12-check"\n' >"$gen/common/ingot_revision.h"
set_flags "$src" "$gen"

mapfile -t cu_files < <(cd "$src" && ls kernels/*.cu)
mapfile -t c_files < <(cd "$src" && grep -l '#include "cuda_check.h"' train/*.c)
((${#cu_files[@]})) || die "no kernels/*.cu under $src"

# compile V FILE OUT: one file, log and exit status into OUT.{log,rc}
compile() {
    local tk=$work/cuda-$1 f=$2 out=$3 rc=0
    if [[ $f == *.cu ]]; then
        "$tk/bin/nvcc" "${nvflags[@]}" -MD -MF "$out.d" -c "$src/$f" -o "$out.o" >"$out.log" 2>&1 || rc=$?
    else
        gcc "${cflags[@]}" -I"$tk/include" -MD -MF "$out.d" -c "$src/$f" -o "$out.o" >"$out.log" 2>&1 || rc=$?
    fi
    echo "$rc" >"$out.rc"
}

# why_bad V OUT: prints why a compiled file fails the header checks, if it does.
why_bad() {
    local tk=$work/cuda-$1 dep
    grep -q /usr/local/cuda "$2.d" && { echo "depends on /usr/local/cuda"; return; }
    # a header named like one of the toolkit's but found elsewhere
    # shellcheck disable=SC2013 # a .d file lists paths separated by spaces
    for dep in $(sed 's/\\$//; s/^[^:]*://' "$2.d"); do
        [[ $dep == "$work"/* || $dep == "$src"/* ]] && continue
        [[ -e $tk/include/${dep##*/} ]] && { echo "uses $dep, not the toolkit's"; return; }
    done
    return 0
}

passed=0 failed=0
start=$SECONDS
for v in "${vers[@]}"; do
    assemble "$v"
    tk=$work/cuda-$v
    out=$work/out-$v
    mkdir -p "$out"

    # The probe proves which headers each compiler sees.
    printf '#include <cuda_runtime_api.h>\ningot_cudart=CUDART_VERSION\n' >"$out/probe.cu"
    cp "$out/probe.cu" "$out/probe.c"
    got_nv=$("$tk/bin/nvcc" "${nvflags[@]}" -E "$out/probe.cu" 2>&1 | sed -n 's/^ingot_cudart=//p' | tail -1)
    got_cc=$(gcc "${cflags[@]}" -I"$tk/include" -E "$out/probe.c" 2>&1 | sed -n 's/^ingot_cudart=//p')
    "$tk/bin/nvcc" --version | grep -q "release $v" ||
        die "CUDA $v: $tk/bin/nvcc is not release $v: $("$tk/bin/nvcc" --version | tail -2 | head -1)"
    [[ $got_nv == "${CUDART[$v]}" && $got_cc == "${CUDART[$v]}" ]] ||
        die "CUDA $v: CUDART_VERSION is '$got_nv' (nvcc) and '$got_cc' (gcc), wanted ${CUDART[$v]}"
    echo "CUDA $v: nvcc release $v, CUDART_VERSION ${CUDART[$v]}; compiling ${#cu_files[@]} + ${#c_files[@]} files"

    njobs=$(nproc)
    for f in "${cu_files[@]}" "${c_files[@]}"; do
        while (($(jobs -rp | wc -l) >= njobs)); do wait -n || true; done
        compile "$v" "$f" "$out/${f//\//_}" &
    done
    wait

    for f in "${cu_files[@]}" "${c_files[@]}"; do
        o=$out/${f//\//_}
        if [[ $(cat "$o.rc") != 0 ]]; then
            why="exit $(cat "$o.rc")"
        else
            why=$(why_bad "$v" "$o")
        fi
        if [[ -z $why ]]; then
            echo "OK   $v $f"
            passed=$((passed + 1))
        else
            echo "FAIL $v $f ($why)"
            { grep -m 3 -E ': (fatal )?error|error *:' "$o.log" || head -n 5 "$o.log"; } |
                sed 's/^/       /'
            failed=$((failed + 1))
        fi
    done
done

echo "$passed passed, $failed failed ($((SECONDS - start)) s)"
((keep)) && echo "logs: $work/out-*/"
((failed == 0))
