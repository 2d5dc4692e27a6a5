#!/usr/bin/env python3
"""scripts/check-cuda12.sh compiles kernels/*.cu (nvcc) and the train/*.c files
that include cuda_check.h (gcc) against CUDA 12.x toolkits with flags it keeps
by hand. This test compares them with the flags meson gave the same files in a
build directory (its compile_commands.json), so a flag added to meson.build and
not to the script (or the reverse) fails here instead of making the CUDA 12
check compile something other than what the build compiles.

Not compared: include paths (each side has its own tree and generated
headers), output and dependency-file flags, -fdiagnostics-color, the value of
-DINGOT_VERSION, -DINGOT_TEST_HOOKS=1 (the script always defines it, meson
only with -Dtest_hooks=true), and the -gencode flags where the build's
-Dgpu_arch (meson-info/intro-buildoptions.json) is not meson_options.txt's
default (the script checks the default targets); with the default they are
compared like every other flag.

  test_cuda12_flags.py BUILD_DIR SCRIPT
exit 0 when both agree, 1 with the differences, 77 (skip) when the build has
no compile_commands.json or compiled no kernels/*.cu (a build without CUDA).
"""
import glob
import json
import os
import re
import shlex
import subprocess
import sys

SKIP = 77
# flags followed by a value that is not compared
WITH_VALUE = {"-o", "-c", "-MQ", "-MF", "-MT", "-isystem"}


def normalised(args):
    """The compared flags of one command line (the compiler left out)."""
    out = set()
    skip_next = False
    for a in args:
        if skip_next:
            skip_next = False
            continue
        if a in WITH_VALUE:
            skip_next = True
            continue
        if not a.startswith("-") or a.startswith("-I") or a in ("-MD", "-MMD"):
            continue
        if a.startswith("-fdiagnostics-color") or a == "-DINGOT_TEST_HOOKS=1":
            continue
        if a.startswith("-DINGOT_VERSION="):
            a = "-DINGOT_VERSION"
        out.add(a)
    return out


def meson_flags(build, src, wanted):
    """Union of the compared flags of every compile of a file in wanted."""
    path = os.path.join(build, "compile_commands.json")
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    flags, seen = set(), set()
    for e in entries:
        name = os.path.normpath(os.path.join(e["directory"], e["file"]))
        rel = os.path.relpath(name, src)
        if rel not in wanted:
            continue
        args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
        flags |= normalised(args[1:])
        seen.add(rel)
    return flags, seen


def script_flags(script):
    out = subprocess.run(["bash", script, "--print-flags"], check=True, capture_output=True,
                         text=True).stdout
    nv, cc = [], []
    for line in out.splitlines():
        tool, _, flag = line.partition(" ")
        (nv if tool == "nvcc" else cc).append(flag)
    return normalised(nv), normalised(cc)


def gpu_arch_is_default(build, src):
    """False only where the build's -Dgpu_arch is known to differ from
    meson_options.txt's default (then its -gencode flags are its own);
    otherwise True, and the -gencode flags are compared."""
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json"),
                  encoding="utf-8") as f:
            value = next(o["value"] for o in json.load(f) if o["name"] == "gpu_arch")
        with open(os.path.join(src, "meson_options.txt"), encoding="utf-8") as f:
            m = re.search(r"option\('gpu_arch'.*?value\s*:\s*\[([^\]]*)\]", f.read(), re.S)
        default = re.findall(r"'([^']*)'", m.group(1))
    except (OSError, ValueError, KeyError, StopIteration, AttributeError):
        return True
    return list(value) == default


def compare(what, mine, theirs, lines):
    for f in sorted(theirs - mine):
        lines.append(f"{what}: meson gives {f!r}, scripts/check-cuda12.sh does not")
    for f in sorted(mine - theirs):
        lines.append(f"{what}: scripts/check-cuda12.sh passes {f!r}, meson does not")


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    build, script = sys.argv[1], sys.argv[2]
    src = os.path.dirname(os.path.dirname(os.path.abspath(script)))
    if not os.path.exists(os.path.join(build, "compile_commands.json")):
        print(f"test_cuda12_flags: no compile_commands.json in {build}, skipped")
        return SKIP
    cu = {os.path.relpath(p, src) for p in glob.glob(os.path.join(src, "kernels", "*.cu"))}
    c = set()
    for p in glob.glob(os.path.join(src, "train", "*.c")):
        with open(p, encoding="utf-8") as f:
            if '#include "cuda_check.h"' in f.read():
                c.add(os.path.relpath(p, src))
    m_nv, seen_nv = meson_flags(build, src, cu)
    if not seen_nv:
        print("test_cuda12_flags: the build compiled no kernels/*.cu (no CUDA), skipped")
        return SKIP
    m_cc, seen_cc = meson_flags(build, src, c)
    s_nv, s_cc = script_flags(script)
    note = ""
    if not gpu_arch_is_default(build, src):
        note = " (-gencode not compared: this build's -Dgpu_arch is not the default)"
        m_nv = {f for f in m_nv if not f.startswith("-gencode")}
        s_nv = {f for f in s_nv if not f.startswith("-gencode")}
    bad = []
    compare("nvcc, kernels/*.cu", s_nv, m_nv, bad)
    compare("gcc, train/*.c with cuda_check.h", s_cc, m_cc, bad)
    missing = sorted((cu - seen_nv) | (c - seen_cc))
    for f in missing:
        bad.append(f"{f}: the build did not compile it (check-cuda12.sh does)")
    if bad:
        print("\n".join(bad))
        print(f"test_cuda12_flags: FAIL, {len(bad)} difference(s): keep scripts/check-cuda12.sh's "
              "set_flags in step with meson.build and kernels/meson.build")
        return 1
    print(f"test_cuda12_flags: ok, {len(s_nv)} nvcc flags over {len(seen_nv)} kernels/*.cu and "
          f"{len(s_cc)} gcc flags over {len(seen_cc)} train/*.c agree{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
