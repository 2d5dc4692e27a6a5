#!/usr/bin/python3
"""Issue 13: val shards are cut only when full (or at the end), not with
every train shard: under --val-fraction every shard of each split but its
last holds at least --shard-tokens tokens. The output stays deterministic
(1 and 3 threads identical), and a conversion killed part-way resumes to the
same bytes without tokenizing again the train documents already in finished
train shards (needs -Dtest_hooks=true for the kill; that part skips
otherwise)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model, inputs, common = T.mixed_corpus(t)
SHARD = 2000      # below mixed_corpus's, so that val has several shards


def convert(out, extra=(), env=None, rc=0):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([t.pretok] + common + ["--shard-tokens", str(SHARD), "--json", "--out",
                                              t.path(out)] + list(extra) +
                       inputs, capture_output=True, env=e)
    T.check(p.returncode == rc, "%s: exit %d, expected %d: %s" %
            (out, p.returncode, rc, p.stderr.decode()))
    return json.loads(p.stdout) if rc == 0 else None


rep = convert("one", ["--threads", "1"])
m = json.load(open(t.path("one", "manifest.json")))
for split in ("train", "val"):
    sh = [s for s in m["shards"] if s["split"] == split]
    T.check(len(sh) >= 2, "%s: %d shards; the test needs at least 2" % (split, len(sh)))
    short = [s["file"] for s in sh[:-1] if s["tokens"] < SHARD]
    T.check(not short, "%s shards cut before they were full: %s" % (split, short))
n_train = len([s for s in m["shards"] if s["split"] == "train"])
n_val = len(m["shards"]) - n_train
T.check(n_val < n_train, "val shards %d, train shards %d" % (n_val, n_train))
convert("three", ["--threads", "3"])
T.same_dataset(t.path("one"), t.path("three"), "1 vs 3 threads")
t.verify(t.path("one"))
print("val shards full but the last: %d train, %d val shards; 1 and 3 threads identical"
      % (n_train, n_val))

if not T.has_hooks(t.pretok):
    print("ingot-pretok built without -Dtest_hooks=true: the resume part is skipped")
    print("ok")
    sys.exit(0)
total_docs = rep["documents"]
for k in (1, n_train - 1):
    out = "kill%d" % k
    convert(out, ["--threads", "2"], {"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": str(k)}, rc=-9)
    st = json.load(open(t.path(out, ".pretok-state.json")))
    done_train_docs = sum(s["n_docs"] for s in st["shards"] if s["split"] == 0)
    done_val_docs = sum(s["n_docs"] for s in st["shards"] if s["split"] == 1)
    again = convert(out, ["--threads", "2"])
    T.same_dataset(t.path("one"), t.path(out), out)
    ran = again["run"]["documents"]
    T.check(ran <= total_docs - done_train_docs - done_val_docs,
            "%s: the resume tokenized %d documents; %d of %d were in finished shards"
            % (out, ran, done_train_docs + done_val_docs, total_docs))
    print("killed after %d shards: resumed to the same bytes, tokenizing %d of %d documents"
          % (k, ran, total_docs))
t.cleanup()
print("ok")
