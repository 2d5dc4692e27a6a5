#!/usr/bin/python3
"""scripts/gpu-check.sh without a usable GPU, on a stand-in build whose GPU tests skip
(77) as they do there: exit 1 with a line saying no step that needs a GPU passed (it
exited 0, a pass that checked nothing), the skipped rows keeping their logs' names;
with the stand-ins passing, exit 0. BUILD_DIR not a directory, not a build, or a third
argument: one line, exit 2 (a bash 'cd' message, or silently ignored). OUT with a space.
    test_gpu_check_script.py SOURCE_ROOT"""
import os
import shutil
import subprocess
import sys
import tempfile

script = os.path.join(os.path.abspath(sys.argv[1]), "scripts", "gpu-check.sh")
tmp = tempfile.mkdtemp(prefix="ingot-gpu-check-")
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    fails += not cond


def make_build(d, status):
    for rel in ("tests/kernels/kernel_check", "tests/gpu/test_gpu_parity", "tests/gpu/test_gpu_cli",
                "tests/gpu/test_gpu_pace", "tests/gpu/gpu_step_bench", "tests/gpu/test_gpu_nogpu",
                "train/ingot-train"):
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        rc = 0 if rel.endswith(("nogpu", "ingot-train")) else status
        with open(p, "w") as f:
            f.write("#!/bin/sh\necho 'SKIP: no usable CUDA device (stand-in)'\nexit %d\n" % rc)
        os.chmod(p, 0o755)


try:
    # bench, torch and memcheck (compute-sanitizer where installed) left out
    env = dict(os.environ, OUT=os.path.join(tmp, "o ut"),
               SKIP="bench torch memcheck-fp32 memcheck-bf16 memcheck-llama-fp32 "
                    "memcheck-llama-bf16")
    env.pop("DATA", None)
    skipping, passing = os.path.join(tmp, "b-skip"), os.path.join(tmp, "b-pass")
    make_build(skipping, 77)
    make_build(passing, 0)

    p = subprocess.run([script, skipping], env=env, capture_output=True, text=True, timeout=120)
    summary = open(os.path.join(tmp, "o ut", "gpu-check", "summary.txt")).read()
    check(p.returncode == 1 and "no step that needs a GPU passed" in p.stderr,
          "every GPU step skipped: exit %d %r" % (p.returncode, p.stderr[-300:]))
    check("gpu-pace         SKIP" in summary and "gpu-pace.log" in summary and
          "cases equal" not in summary, "a skipped row keeps its log's name:\n" + summary)
    p = subprocess.run([script, passing], env=env, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "the stand-in GPU steps passing: exit %d %r"
          % (p.returncode, p.stderr[-300:]))

    for args, want in (([os.path.join(tmp, "none")], "not a directory"),
                       ([tmp], "no train/ingot-train in it"),
                       ([passing, tmp, "extra"], "'extra': one BUILD_DIR")):
        p = subprocess.run([script] + args, env=env, capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and want in p.stderr and p.stderr.count("\n") == 1,
              "%s: exit %d, one line: %r" % (args[-1], p.returncode, p.stderr))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
