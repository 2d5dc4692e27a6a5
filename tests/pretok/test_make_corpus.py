#!/usr/bin/env python3
"""scripts/make-corpus.py on odd arguments and damaged inputs, never a traceback:
- refused in one line, exit 2, before OUT_DIR is created: --mb inf/nan/0/-1, --files
  0/10001/huge, --novel outside 0..1 or NaN, --source-mb 0/inf, the --synth options
  without --synth, an empty OUT_DIR, a file as OUT_DIR or above it, --synth's --mb
  beyond the free space (all but the first tracebacked, ran or hung before);
- made again with fewer --files or --plain, the corpus replaces the earlier one's
  part files (they stayed, beside the new ones: documents twice) and leaves other
  files alone; so does --synth;
- a zstd that fails is reported in one line (a CalledProcessError traceback before);
- a truncated or damaged .gz among the machine's documentation is passed over (an
  EOFError or zlib.error traceback before);
- --help says what it refuses and replaces.
usage: test_make_corpus.py SCRIPTS_DIR"""
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(args, env=None):
    p = subprocess.run([sys.executable, SCRIPT] + args, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


def docs_in(d):
    """Documents in the part files of d (plain or zstd)."""
    n = 0
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name.endswith(".jsonl.zst"):
            data = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE,
                                  check=True).stdout.decode()
        elif name.endswith(".jsonl"):
            data = open(path, encoding="utf-8").read()
        else:
            continue
        n += sum(1 for line in data.splitlines() if json.loads(line)["text"])
    return n


SCRIPT = os.path.join(sys.argv[1], "make-corpus.py")
tmp = tempfile.mkdtemp(prefix="ingot-make-corpus-")
afile = os.path.join(tmp, "afile")
open(afile, "w").close()
out = os.path.join(tmp, "out")

# refusals: one line, exit 2, nothing created
for args, want in (
        ([out, "--mb", "inf"], "--mb inf: megabytes, more than 0"),
        ([out, "--mb", "nan"], "--mb nan"),
        ([out, "--mb", "0"], "--mb 0"),
        ([out, "--mb", "-1"], "--mb -1"),
        ([out, "--files", "0"], "--files 0: from 1 to 10000"),
        ([out, "--files", "10001"], "--files 10001"),
        ([out, "--files", "9" * 20], "--files " + "9" * 20),
        ([out, "--synth", "--novel", "-1"], "--novel -1: a fraction of the words, from 0 to 1"),
        ([out, "--synth", "--novel", "2"], "--novel 2"),
        ([out, "--synth", "--novel", "nan"], "--novel nan"),
        ([out, "--synth", "--source-mb", "0"], "--source-mb 0: megabytes, more than 0"),
        ([out, "--synth", "--source-mb", "inf"], "--source-mb inf"),
        ([out, "--novel", "0.1", "--seed", "2"], "--novel, --seed: for --synth only"),
        ([out, "--synth", "--mb", "1e30"], "--mb 1e+30: more than the"),
        ([out, "--mb", "x"], "argument --mb: invalid float value"),
        ([""], "OUT_DIR is empty"),
        ([afile], "afile: exists and is not a directory"),
        ([os.path.join(afile, "sub")], "afile/sub: cannot create the directory: Not a directory")):
    rc, so, se = run(args)
    if rc != 2 or len(se.splitlines()) != 1 or not se.startswith("make-corpus: ") or \
            want not in se or so:
        fail("make-corpus %s: rc %d (want 2), stderr %r (want one line with %r)"
             % (args, rc, se, want))
    if os.path.exists(out):
        fail("make-corpus %s: created %s before refusing" % (args, out))
print("make-corpus: 18 odd arguments refused in one line, exit 2")

# made again: the earlier corpus's parts go, other files stay
rc, so, se = run([out, "--mb", "0.3", "--files", "6"])
if rc != 0 or se:
    fail("make-corpus --files 6: rc %d, stderr %r" % (rc, se))
first = sorted(os.listdir(out))
with open(os.path.join(out, "notes.txt"), "w") as f:
    f.write("mine\n")
n1 = docs_in(out)
rc, so, se = run([out, "--mb", "0.3", "--files", "2", "--plain"])
left = sorted(os.listdir(out))
if rc != 0 or left != ["notes.txt", "part-00.jsonl", "part-01.jsonl"] or \
        "replaced the %d files of an earlier corpus" % len(first) not in so or docs_in(out) != n1:
    fail("made again with --files 2 --plain after %r: rc %d, %r left, %d documents (was %d), "
         "stdout %r" % (first, rc, left, docs_in(out), n1, so))
print("make-corpus again with fewer files: %d parts replaced, %d documents once, other "
      "files kept" % (len(first), n1))

rc, so, se = run([out, "--synth", "--mb", "0.05", "--files", "3", "--source-mb", "1"])
synth = sorted(os.listdir(out))
rc2, so2, se2 = run([out, "--synth", "--mb", "0.05", "--files", "2", "--source-mb", "1"])
if rc or rc2 or synth != ["notes.txt", "part-00.jsonl", "part-01.jsonl", "part-02.jsonl",
                          "synth.json"] or \
        sorted(os.listdir(out)) != ["notes.txt", "part-00.jsonl", "part-01.jsonl", "synth.json"]:
    fail("--synth made again: rc %d %d, %r then %r, stderr %r %r"
         % (rc, rc2, synth, os.listdir(out), se, se2))
rc, so, se = run([out, "--mb", "0.1", "--plain"])
if rc or "synth.json" in os.listdir(out):
    fail("a plain corpus over a --synth one kept its synth.json: %r" % os.listdir(out))
print("make-corpus --synth again with fewer files: the earlier parts replaced")

# a zstd that fails
fake = os.path.join(tmp, "bin")
os.makedirs(fake)
with open(os.path.join(fake, "zstd"), "w") as f:
    f.write("#!/bin/sh\necho 'zstd: no space' >&2\nexit 1\n")
os.chmod(os.path.join(fake, "zstd"), 0o755)
env = dict(os.environ, PATH=fake + os.pathsep + os.environ.get("PATH", ""))
rc, so, se = run([os.path.join(tmp, "z"), "--mb", "0.1"], env)
if rc != 1 or len(se.splitlines()) != 1 or "zstd failed on" not in se or \
        "zstd: no space" not in se or "--plain" not in se:
    fail("a failing zstd: rc %d, stderr %r" % (rc, se))
print("make-corpus: a failing zstd reported in one line")

# damaged documentation files are passed over
spec = importlib.util.spec_from_file_location("make_corpus", SCRIPT)
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
good = os.path.join(tmp, "changelog.gz")
with gzip.open(good, "wt") as f:
    f.write("version 1.0: the first release of the package, with a long enough text\n" * 400)
data = open(good, "rb").read()
cut, bad = os.path.join(tmp, "cut.gz"), os.path.join(tmp, "bad.gz")
with open(cut, "wb") as f:
    f.write(data[:len(data) // 2])
with open(bad, "wb") as f:
    f.write(data[:10] + b"\xff" * 64)
got = [mc.read_text(p) for p in (good, cut, bad, tmp)]
if not got[0] or got[1:] != [None, None, None]:
    fail("read_text on a good, truncated, damaged .gz and a directory: %r"
         % [g if g is None else len(g) for g in got])
print("make-corpus: a truncated or damaged .gz and a directory passed over")

rc, so, se = run(["--help"])
for want in ("Refused (exit 2)", "are replaced", "1..10000", "0..1", "free space"):
    if rc or want not in so:
        fail("--help: rc %d, no %r in %r" % (rc, want, so))
print("make-corpus --help: what it refuses and replaces")
shutil.rmtree(tmp)
print("ok")
