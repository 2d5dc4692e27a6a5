#!/usr/bin/python3
"""Issue 9, defect 9: a finished dataset run again with other inputs,
options or model says exactly what changed, that the dataset is complete
and was left as it was, and never suggests deleting it (before: "damaged
resume state ... delete the output directory"). The dataset is unchanged
afterwards."""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
model2 = t.train(T.documents(3, 800), "uni2", ["--model_type=unigram", "--vocab_size=300"])
inp, _ = T.small_corpus(t, "in", n_files=3, per_file=40)
files = sorted(os.path.join(inp, f) for f in os.listdir(inp))
out = t.path("out")
base = ["--model", model, "--out", out, "--threads", "2", "--quiet"]
t.run(base + files, what="first run")
keep = t.path("keep")
shutil.copytree(out, keep)

cases = [
    ("fewer inputs", base + files[:2], ["input", "3 files", "2 files"]),
    ("other inputs", base + files[:2] + [t.path("in", "f0.jsonl")], ["input"]),
    ("an option", base + ["--shard-tokens", "5000"] + files, ["--shard-tokens", "5000"]),
    # (a fraction as given, not %.17g's 0.10000000000000001)
    ("two options", base + ["--no-bos", "--val-fraction", "0.1"] + files,
     ["--val-fraction 0.1 (was none)", "bos"]),
    ("the model", ["--model", model2] + base[2:] + files, ["model", "uni2.model"]),
]
for what, args, words in cases:
    _, err = t.run(args, rc=1, what=what)
    low = err.lower()
    T.check("complete" in low, "%s: does not say the dataset is complete: %s" % (what, err))
    T.check("delet" not in low and "remove" not in low and "damaged" not in low,
            "%s: suggests deleting good data or calls it damaged: %s" % (what, err))
    for w in words:
        T.check(w in err, "%s: does not say what changed (%r): %s" % (what, w, err))
    T.same_dataset(keep, out, "after a refused rerun with " + what)
    print("rerun with %s: refused, says what changed" % what)
# The original command still finds it complete.
t.run(base + files, what="the original command")
# An input edited in place, its size kept (the audit: a resume mixed old and new text):
# refused by its modification time; the original bytes (and time) back: complete again.
with open(files[1], "rb") as f:
    orig = f.read()
st = os.stat(files[1])
edited = orig.replace(b"a", b"A", 1) if b"a" in orig else orig[::-1]
T.check(len(edited) == len(orig) and edited != orig, "fixture: no letter to change")
with open(files[1], "wb") as f:
    f.write(edited)
os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns + 1000000000))
_, err = t.run(base + files, rc=1, what="an input edited in place")
T.check("modified since the conversion started" in err and "complete" in err.lower(),
        "an input edited in place: %s" % err)
# ... naming the input (the state kept only a hash of the times; a size change was named)
T.check("%s has the modification time " % files[1] in err and "the same size" in err and
        files[0] not in err and files[2] not in err and "more input" not in err,
        "an input edited in place: the file is not named: %s" % err)
T.same_dataset(keep, out, "after a refused rerun with an edited input")
# A state from before the times were kept (the hash alone, no checksum then) is still
# read: refused all the same, without the name.
import json
sp = os.path.join(out, ".pretok-state.json")
with open(sp) as f:
    saved = f.read()
old = json.loads(saved)
T.check(len(old.get("mtimes", [])) == 3, "the state keeps no times: %s" % list(old))
del old["mtimes"], old["checksum"]
with open(sp, "w") as f:
    json.dump(old, f, indent=1)
_, err = t.run(base + files, rc=1, what="an input edited in place, an older state")
T.check("modified since the conversion started (a file's modification time differs" in err,
        "an older state: %s" % err)
with open(sp, "w") as f:
    f.write(saved)
with open(files[1], "wb") as f:
    f.write(orig)
os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns))
t.run(base + files, what="the original bytes and time back")
print("rerun with an input edited in place (same size): refused by its modification time")
t.cleanup()
print("ok")
