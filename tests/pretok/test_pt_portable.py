#!/usr/bin/python3
"""Issue 13: a dataset is portable. ingot-pretok copies the tokenizer model
into the dataset directory (tokenizer.model, the same bytes) and the manifest
names it relative to the dataset, with the path given kept as "source"; a
dataset moved elsewhere, its original model deleted, still decodes
(ingot-dump, the Python package); a manifest of the old kind (an absolute
path) still works; ingot-pretok merge brings the model along; a model that
does not match is refused."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
mdir = t.path("models")
os.makedirs(mdir)
model = T.small_unigram(t)
shutil.move(model, os.path.join(mdir, "uni.model"))
model = os.path.join(mdir, "uni.model")
inp, docs = T.small_corpus(t, "in", n_files=2, per_file=30)
common = ["--model", model, "--threads", "2", "--quiet"]


def dump_text(d, extra=()):
    p = subprocess.run([t.dump, "docs", d, "--raw", "--count", "3"] + list(extra),
                       capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


out = t.path("ds")
t.run(common + ["--out", out, inp])
m = json.load(open(os.path.join(out, "manifest.json")))
T.check(m["tokenizer"]["file"] == "tokenizer.model", "manifest names %s" % m["tokenizer"]["file"])
T.check(m["tokenizer"]["source"] == model, "manifest source %s" % m["tokenizer"].get("source"))
T.check(open(os.path.join(out, "tokenizer.model"), "rb").read() == open(model, "rb").read(),
        "the copy is not the model's bytes")
T.check(not [f for f in os.listdir(out) if ".tmp" in f], "temp files left: %s" % os.listdir(out))
t.verify(out)
rc, before, err = dump_text(out)
T.check(rc == 0 and docs[0] in before, "dump docs: %s" % err)

# Moved elsewhere, the original model gone: still decodes.
moved = t.path("elsewhere", "ds2")
os.makedirs(os.path.dirname(moved))
shutil.move(out, moved)
shutil.move(model, model + ".gone")
cwd = os.getcwd()
os.chdir("/")
rc, after, err = dump_text(moved)
os.chdir(cwd)
T.check(rc == 0 and after == before, "moved dataset: ingot-dump docs: rc %d %s" % (rc, err))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts", "python"))
try:
    import ingot
    ds = ingot.open_dataset(moved)
    T.check(ds.tokenizer_path() == os.path.join(moved, "tokenizer.model"),
            "Python tokenizer_path: %s" % ds.tokenizer_path())
    print("python: tokenizer_path inside the moved dataset")
except ImportError as e:     # numpy missing: the C side is still checked
    print("python package not importable (%s): its check skipped" % e)
shutil.move(model + ".gone", model)
print("copy: tokenizer.model in the dataset, named relatively; a moved dataset decodes")

# A manifest of the old kind: an absolute path, no copy in the dataset.
old = t.path("old")
shutil.copytree(moved, old)
os.unlink(os.path.join(old, "tokenizer.model"))
mo = json.load(open(os.path.join(old, "manifest.json")))
mo["tokenizer"]["file"] = model
del mo["tokenizer"]["source"]
json.dump(mo, open(os.path.join(old, "manifest.json"), "w"), indent=2)
rc, got, err = dump_text(old)
T.check(rc == 0 and got == before, "old manifest (absolute path): rc %d %s" % (rc, err))
# ... and a wrong model in the dataset is never used: passed over for the model
# given to pretok while that is unchanged (saying so: which, why, the cp that
# mends it), refused when there is none.
bad = t.path("bad")
shutil.copytree(moved, bad)
other = t.train(T.documents(9, 300), "other", ["--model_type=bpe", "--vocab_size=300"])
bad_copy = os.path.join(bad, "tokenizer.model")
shutil.copy(other, bad_copy)
rc, got, err = dump_text(bad)
T.check(rc == 0 and got == before, "a wrong tokenizer.model beside the source: rc %d %s" % (rc, err))
T.check("passed over %s: tokenizer hash" % bad_copy in err and
        "decoding with the model given to ingot-pretok, %s (tokenizer.source)" % model in err and
        "cp %s %s" % (model, bad_copy) in err, "no note naming the wrong copy: %s" % err)
mb = json.load(open(os.path.join(bad, "manifest.json")))
del mb["tokenizer"]["source"]
json.dump(mb, open(os.path.join(bad, "manifest.json"), "w"), indent=2)
rc, _, err = dump_text(bad)
T.check(rc != 0 and "%s: tokenizer hash" % bad_copy in err and
        "not the model the dataset was made with" in err,
        "a wrong tokenizer.model was not refused: rc %d %s" % (rc, err))
print("old manifests (absolute path) still load; a wrong copy is passed over or refused")

# Parts and merge: the merged dataset has the model too.
for k in (1, 2):
    t.run(common + ["--out", t.path("p%d" % k), "--part", "%d/2" % k, inp])
t.run(["merge", t.path("merged"), t.path("p1"), t.path("p2"), "--quiet"])
T.check(open(t.path("merged", "tokenizer.model"), "rb").read() == open(model, "rb").read(),
        "merge: no tokenizer.model in the merged dataset")
rc, got, err = dump_text(t.path("merged"))
T.check(rc == 0 and got == before, "merged: rc %d %s" % (rc, err))
# ... from the model given to pretok when the first part's copy was replaced,
# saying so (it copied the first readable one and failed: "the model changed
# while it was in use"); refused, each candidate named, when that changed too
for k in (3, 4):
    t.run(common + ["--out", t.path("p%d" % k), "--part", "%d/2" % (k - 2), inp])
p3_copy = t.path("p3", "tokenizer.model")
shutil.copy(other, p3_copy)
shutil.move(model, model + ".gone")
shutil.copy(other, model)
_, err = t.run(["merge", t.path("merged2"), t.path("p3"), t.path("p4"), "--quiet"], rc=1)
T.check("%s: tokenizer hash" % p3_copy in err and "%s (tokenizer.source): tokenizer hash" % model
        in err and "has changed since" in err, "merge, copy and source changed: %s" % err)
shutil.move(model + ".gone", model)
_, err = t.run(["merge", t.path("merged2"), t.path("p3"), t.path("p4")])
T.check(open(t.path("merged2", "tokenizer.model"), "rb").read() == open(model, "rb").read(),
        "merge beside a replaced copy: not the model of the dataset's hash")
T.check("ingot-pretok merge: note:" in err and "passed over %s: tokenizer hash" % p3_copy in err,
        "merge beside a replaced copy: no note: %s" % err)
print("merge: the model comes along (the one of the dataset's hash)")

# A rerun of the finished conversion restores a deleted copy.
d3 = t.path("ds3")
t.run(common + ["--out", d3, inp])
os.unlink(os.path.join(d3, "tokenizer.model"))
t.run(common + ["--out", d3, inp])
T.check(os.path.exists(os.path.join(d3, "tokenizer.model")), "rerun: copy not restored")


def verify(d):
    p = subprocess.run([t.dump, "verify", d], capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


# The copy deleted: verify says so (not "intact"), naming the file and the
# fix; docs falls back to the model given to pretok (tokenizer.source) while
# its bytes still have the manifest's hash, and says so.
copy = os.path.join(d3, "tokenizer.model")
os.unlink(copy)
rc, out, err = verify(d3)
T.check(rc == 1 and "intact" not in out, "verify without the copy: rc %d %s" % (rc, out))
T.check(copy + ": missing" in err and "cp %s %s" % (model, copy) in err,
        "verify without the copy does not name it and the fix: %s" % err)
T.check("0 of 1 shards bad; also bad: tokenizer.model" in err, "verify summary: %s" % err)
T.check("ok  train-000000.tok" in out, "verify lists no ok shard: %s" % out)
rc, got, err = dump_text(d3)
T.check(rc == 0 and got == before, "docs without the copy: rc %d %s" % (rc, err))
T.check("passed over %s: not found" % copy in err and
        "decoding with the model given to ingot-pretok, %s (tokenizer.source)" % model in err,
        "docs fell back without a note: %s" % err)
# ... not once the original has changed: the paths tried and --model named.
shutil.move(model, model + ".gone")
rc, _, err = verify(d3)
T.check(rc == 1 and "is gone or has changed since" in err, "verify, source gone: %s" % err)
rc, _, err = dump_text(d3)
T.check(rc == 1 and "tried %s" % copy in err and model + " (tokenizer.source)" in err and
        "--model" in err, "docs, source gone: rc %d %s" % (rc, err))
shutil.copy(other, model)
rc, _, err = dump_text(d3)
T.check(rc == 1 and "has changed since" in err and "--model" in err,
        "docs, source replaced: rc %d %s" % (rc, err))
rc, got, err = dump_text(d3, ["--model", model + ".gone"])
T.check(rc == 0 and got == before, "docs --model: rc %d %s" % (rc, err))
shutil.move(model + ".gone", model)
print("a missing copy: verify fails naming it; docs uses the unchanged original, else says "
      "what it tried")

# A model given by a relative path is recorded absolute: the fallback finds it from
# any working directory (it was looked up relative to wherever the reader ran).
rel = t.path("rel")
os.makedirs(rel)
p = subprocess.run([os.path.abspath(t.pretok), "--model", os.path.join("..", "models", "uni.model"),
                    "--threads", "2", "--quiet", "--out", "ds", os.path.abspath(inp)],
                   cwd=rel, capture_output=True)
T.check(p.returncode == 0, "relative --model: rc %d %s" % (p.returncode, p.stderr.decode()))
d4 = os.path.join(rel, "ds")
m = json.load(open(os.path.join(d4, "manifest.json")))
T.check(m["tokenizer"]["source"] == os.path.realpath(model),
        "relative --model recorded as %r, not %r" % (m["tokenizer"]["source"], model))
os.unlink(os.path.join(d4, "tokenizer.model"))
p = subprocess.run([os.path.abspath(t.dump), "docs", d4, "--raw", "--count", "3"],
                   capture_output=True, cwd="/")
T.check(p.returncode == 0 and p.stdout.decode() == before,
        "relative --model, the copy gone, read from /: rc %d %s" % (p.returncode, p.stderr.decode()))
print("a relative --model is recorded absolute and found from another directory")
t.cleanup()
print("ok")
