#!/usr/bin/python3
"""scripts/make-corpus.py's closing line on a standard output that fails: full
(/dev/full) is one line on stderr, exit 1, no traceback, the corpus written; a closed
pipe ends it quietly (no "Exception ignored ... BrokenPipeError").
    test_make_corpus_output.py SCRIPTS_DIR"""
import os
import shutil
import subprocess
import sys
import tempfile

script = os.path.join(os.path.abspath(sys.argv[1]), "make-corpus.py")
tmp = tempfile.mkdtemp(prefix="ingot-make-corpus-out-")
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    fails += not cond


try:
    out = os.path.join(tmp, "c")
    with open("/dev/full", "wb") as full:
        p = subprocess.run([sys.executable, script, out, "--mb", "0.5", "--plain"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    check(p.returncode == 1 and "standard output: No space left on device" in p.stderr and
          "Traceback" not in p.stderr and p.stderr.count("\n") == 1,
          "stdout full: exit %d %r" % (p.returncode, p.stderr[-300:]))
    check(os.path.getsize(os.path.join(out, "part-00.jsonl")) > 0 if
          os.path.exists(os.path.join(out, "part-00.jsonl")) else False,
          "stdout full: the corpus written %s" % os.listdir(out))
    r, w = os.pipe()
    os.close(r)
    p = subprocess.run([sys.executable, script, out, "--mb", "0.5", "--plain"], stdout=w,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(w)
    check(p.stderr == "", "a closed pipe: nothing on stderr (exit %d) %r"
          % (p.returncode, p.stderr[-300:]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
