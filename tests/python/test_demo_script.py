#!/usr/bin/python3
"""scripts/demo.sh end to end, in a copy of scripts/ whose setup.sh is a stand-in and
whose build/ is a ninja file that links the real binaries into place behind 3000 other
steps (a first build's list is that long):
- a build with steps left is built: `ninja -n | grep -q` under pipefail took a long
  list for "up to date" (ninja died of SIGPIPE), so a fresh build was never made;
- a failing build stops the demo with a line naming it;
- a corpus step interrupted (^C in make-corpus) leaves no OUT_DIR/corpus for the
  next run to take as made (it took the half corpus, and failed or trained on it);
- DEMO_STEPS below 20 runs (the fixed --warmup 20 was refused), from another working
  directory, OUT_DIR relative and with a space; run twice, the second reuses the
  corpus; a tokenizer made again makes the shards again (ingot-pretok refuses to mix);
- DEMO_STEPS, DEMO_DEVICE and extra arguments checked before anything is set up.
Skips (77) without ninja, spm_train or /usr/bin/python3's matplotlib.
    test_demo_script.py SOURCE_ROOT INGOT_PRETOK INGOT_DUMP INGOT_TRAIN"""
import os
import shutil
import subprocess
import sys
import tempfile

root = os.path.abspath(sys.argv[1])
bins = {"pretok/ingot-pretok": sys.argv[2], "common/dump/ingot-dump": sys.argv[3],
        "train/ingot-train": sys.argv[4]}
for need in ("ninja", "spm_train"):
    if not shutil.which(need):
        print("no %s: skipped" % need)
        sys.exit(77)
if subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"],
                  stderr=subprocess.DEVNULL).returncode:
    print("no matplotlib for /usr/bin/python3: skipped")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="ingot-demo-")
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    fails += not cond
    return bool(cond)


repo = os.path.join(tmp, "repo")
scripts = os.path.join(repo, "scripts")
build = os.path.join(repo, "build")
work = os.path.join(tmp, "elsewhere")
calls = os.path.join(tmp, "setup-calls")
shutil.copytree(os.path.join(root, "scripts"), scripts,
                ignore=shutil.ignore_patterns("__pycache__"))
os.makedirs(work)
with open(os.path.join(scripts, "setup.sh"), "w") as f:
    f.write('#!/bin/sh\necho "setup $*" >>"%s"\n' % calls)
os.rename(os.path.join(scripts, "make-corpus.py"), os.path.join(scripts, "make-corpus-real.py"))
with open(os.path.join(scripts, "make-corpus.py"), "w") as f:
    f.write('''import os, signal, sys
if os.environ.get("DEMO_TEST_INTERRUPT"):   # ^C half-way: part of a corpus written
    os.makedirs(sys.argv[1], exist_ok=True)
    with open(os.path.join(sys.argv[1], "part-00.jsonl"), "w") as f:
        f.write('{"text": "half a corpus"}\\n')
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
real = os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-corpus-real.py")
os.execv(sys.executable, [sys.executable, real] + sys.argv[1:])
''')
os.makedirs(build)


def write_ninja(extra=""):
    with open(os.path.join(build, "build.ninja"), "w") as f:
        f.write("rule fill\n  command = touch $out\n"
                "  description = Compiling C object $out of a long list of steps\n"
                "rule ln\n  command = ln -sf $src $out\n")
        for i in range(3000):
            f.write("build filler/step-%04d.o: fill\n" % i)
        for rel, real in bins.items():
            f.write("build %s: ln\n  src = %s\n" % (rel, os.path.abspath(real)))
        f.write(extra)


write_ninja()
for rel in bins:
    os.makedirs(os.path.join(build, os.path.dirname(rel)), exist_ok=True)
demo = os.path.join(scripts, "demo.sh")
env = dict(os.environ, DEMO_DEVICE="cpu", OMP_NUM_THREADS="2")
env.pop("DEMO_STEPS", None)


def run(args=(), **extra):
    e = dict(env, **extra)
    p = subprocess.run([demo] + list(args), cwd=work, env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=240)
    return p.returncode, p.stdout.decode(errors="replace")


def setup_called():
    n = open(calls).read().count("\n") if os.path.exists(calls) else 0
    if n:
        os.remove(calls)
    return n


try:
    # the environment and arguments, before anything is set up
    for args, extra, want in (([], {"DEMO_STEPS": "abc"}, "DEMO_STEPS='abc'"),
                              ([], {"DEMO_STEPS": "0"}, "DEMO_STEPS='0'"),
                              ([], {"DEMO_DEVICE": "gpu"}, "DEMO_DEVICE='gpu'"),
                              (["a", "b"], {}, "one OUT_DIR at most")):
        rc, log = run(args, **extra)
        check(rc == 2 and want in log and setup_called() == 0,
              "%s %s: exit %d before the set-up, naming it: %r" % (args, extra, rc, log[-200:]))

    out = "de mo"   # relative to the working directory, with a space
    outp = os.path.join(work, out)
    # an interrupted corpus: the build made, no corpus left to be taken as made
    rc, log = run([out], DEMO_STEPS="3", DEMO_TEST_INTERRUPT="1")
    built = all(os.path.exists(os.path.join(build, r)) for r in bins)
    check(rc != 0 and built and os.path.exists(os.path.join(build, "filler/step-2999.o")),
          "a build with 3000 steps left is built: exit %d, binaries there: %s" % (rc, built))
    check(not os.path.exists(os.path.join(outp, "corpus")),
          "^C in the corpus step: no %s/corpus left to be reused %s"
          % (out, os.listdir(outp) if os.path.isdir(outp) else ""))

    # a whole run, DEMO_STEPS below the warmup of 20
    rc, log = run([out], DEMO_STEPS="3")
    png = os.path.join(outp, "loss.png")
    check(rc == 0 and os.path.exists(png) and os.path.getsize(png) > 0,
          "DEMO_STEPS=3, OUT_DIR '%s': exit %d %s" % (out, rc, log[-600:] if rc else ""))
    cdir = os.path.join(outp, "corpus")
    parts = sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []
    size = sum(os.path.getsize(os.path.join(cdir, p)) for p in parts)
    check(size > 100000, "the corpus is a whole one: %s, %d bytes" % (parts, size))
    stamp = {p: os.stat(os.path.join(outp, "corpus", p)).st_mtime_ns for p in parts}

    # again: the corpus and the shards reused
    rc, log = run([out], DEMO_STEPS="3")
    again = {p: os.stat(os.path.join(cdir, p)).st_mtime_ns for p in parts
             if os.path.exists(os.path.join(cdir, p))}
    check(rc == 0 and again == stamp and "already complete" in log,
          "a second run reuses the corpus and the shards: exit %d %s" % (rc, log[-400:] if rc else ""))

    # a tokenizer made again: the shards made again, not refused
    if os.path.exists(os.path.join(outp, "tok.model")):
        os.remove(os.path.join(outp, "tok.model"))
    rc, log = run([out], DEMO_STEPS="3")
    check(rc == 0 and "already complete" not in log,
          "tok.model removed: the tokenizer and the shards made again: exit %d %s"
          % (rc, log[-400:] if rc else ""))

    # a failing build
    write_ninja("rule bad\n  command = echo broken-step-message; false\nbuild bad.o: bad\n")
    rc, log = run([out], DEMO_STEPS="3")
    check(rc == 1 and "broken-step-message" in log and "demo: the build in" in log and
          "failed" in log, "a failing build: exit %d, said so %r" % (rc, log[-300:]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
