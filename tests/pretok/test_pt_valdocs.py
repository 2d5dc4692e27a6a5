#!/usr/bin/python3
"""Issue 9, defect 11: --val-docs N at or above the number of documents is
refused with a clear error (before: an empty train split and exit 0), and
leaves no dataset behind; one below it converts with a train split."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, docs = T.small_corpus(t, "in", n_files=2, per_file=30)
n = len(docs)
for k in (n, n + 1, 10 ** 12):
    out = t.path("v%d" % k)
    _, err = t.run(["--model", model, "--out", out, "--val-docs", str(k), "--quiet", inp], rc=1,
                   what="--val-docs %d of %d" % (k, n))
    T.check("--val-docs" in err and "train split" in err and str(n) in err,
            "--val-docs %d: unclear message: %s" % (k, err))
    T.check(not os.path.exists(os.path.join(out, "manifest.json")),
            "--val-docs %d: a dataset was left behind" % k)
    # (nothing else either: the directory this run created is gone, lock included)
    T.check(not os.path.exists(out), "--val-docs %d: %s left behind: %s" % (
        k, out, os.listdir(out) if os.path.isdir(out) else "?"))
# Every directory the run created goes; one that was there stays, with what
# the user had in it.
nested = t.path("new1", "new2", "ds")
t.run(["--model", model, "--out", nested, "--val-docs", str(n), "--quiet", inp], rc=1,
      what="--val-docs into new nested directories")
T.check(not os.path.exists(t.path("new1")), "the parents the run created were left behind")
os.makedirs(t.path("mine", "empty"))
with open(t.path("mine", "notes.txt"), "w") as f:
    f.write("the user's\n")
for d in (t.path("mine"), t.path("mine", "empty")):
    t.run(["--model", model, "--out", d, "--val-docs", str(n), "--quiet", inp], rc=1,
          what="--val-docs into an existing directory")
    T.check(os.path.isdir(d), "%s: a directory that existed before was removed" % d)
T.check(open(t.path("mine", "notes.txt")).read() == "the user's\n", "the user's file was touched")
T.check(not [f for f in os.listdir(t.path("mine")) if f.endswith(".tok") or f == "manifest.json"],
        "a dataset was left in an existing directory: %s" % os.listdir(t.path("mine")))
print("--val-docs refused: a directory the run created is removed, an existing one kept")
out = t.path("ok")
t.run(["--model", model, "--out", out, "--val-docs", str(n - 1), "--quiet", inp],
      what="--val-docs n-1")
m = json.load(open(os.path.join(out, "manifest.json")))
T.check(sorted({s["split"] for s in m["shards"]}) == ["train", "val"], "splits: %s" % m["shards"])
print("--val-docs >= %d documents: refused; %d: train and val" % (n, n - 1))
# A --val-fraction that draws every document of a small corpus: refused the same way
# (it wrote a dataset with no train document, exit 0)
out = t.path("vf")
_, err = t.run(["--model", model, "--out", out, "--val-fraction", "0.999", "--quiet", inp],
               rc=1, what="--val-fraction 0.999 of %d documents" % n)
T.check("train split empty" in err and "--val-fraction" in err and not os.path.exists(out),
        "--val-fraction 0.999: %s" % err)
print("--val-fraction drawing every document: refused, nothing left")
# A single document with --val-docs 1: the advice cannot be "below 1 (e.g. 1)"
# (session 26's sweep); it says what to do instead
with open(t.path("one.txt"), "w") as f:
    f.write(docs[0] + "\n")
out = t.path("one")
_, err = t.run(["--model", model, "--out", out, "--val-docs", "1", "--quiet", t.path("one.txt")],
               rc=1, what="--val-docs 1 of a single document")
T.check("the only document" in err and "below 1" not in err and not os.path.exists(out),
        "--val-docs 1 of 1: %s" % err)
print("--val-docs 1 of a single document: refused, saying to give more input")
# and by --val-fraction: "every one of the 1 documents ... --val-docs below 1"
# was said; it is the only document, and --val-docs cannot help
_, err = t.run(["--model", model, "--out", out, "--val-fraction", "0.999", "--quiet",
                t.path("one.txt")], rc=1, what="--val-fraction 0.999 of a single document")
T.check("took the only document" in err and "1 documents" not in err and "below 1" not in err
        and not os.path.exists(out), "--val-fraction 0.999 of 1: %s" % err)
# The report counts one of a kind in the singular (it said "1 documents")
_, err = t.run(["--model", model, "--out", t.path("val1"), "--val-docs", "1", inp],
               what="--val-docs 1, the report")
T.check("\n  val:   1 document, " in err and " 1 shard\n" in err and "1 documents" not in err,
        "--val-docs 1: the report: %s" % err)
print("one val document, one shard: said in the singular")
t.cleanup()
print("ok")
