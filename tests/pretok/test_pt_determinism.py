#!/usr/bin/python3
"""Determinism: the shards are byte-identical for --threads 1, 2 and 7, with
io_uring or pread; a finished conversion run again is left alone; the merge
of --part runs has the single run's token stream. (Crashes and signals:
test_pt_resume.py, which needs the test hooks.)"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model, inputs, common = T.mixed_corpus(t)


def convert(out, extra=(), env=None, rc=0):
    return t.run(common + ["--out", t.path(out)] + list(extra) + inputs, rc=rc, env=env,
                 what=out)


convert("t1", ["--threads", "1"])
t.verify(t.path("t1"))
m, dd = T.dataset_docs(t.path("t1"))
n_shards = len(m["shards"])
T.check(n_shards >= 8, "expected several shards, got %d" % n_shards)
T.check(len(dd) == 2400, "expected 2400 documents, got %d" % len(dd))
T.check(any(s["split"] == "val" for s in m["shards"]), "no val shard")

for name, extra, env in [
        ("t2", ["--threads", "2"], None),
        ("t7", ["--threads", "7"], None),
        ("pread", ["--threads", "3"], {"INGOT_PRETOK_NO_URING": "1"})]:
    convert(name, extra, env)
    T.same_dataset(t.path("t1"), t.path(name), name)
print("threads 1/2/7, pread: identical (%d shards)" % n_shards)

# A finished run is left alone.
_, err = t.run(common + ["--out", t.path("t1"), "--threads", "1"] + inputs + ["--json"])
T.same_dataset(t.path("t2"), t.path("t1"), "rerun of a finished conversion")

# Parts made with different options: merge names the option (it said only "different
# options, inputs or models").
convert("odd1", ["--part", "1/2", "--shard-tokens", "3000"])
convert("odd2", ["--part", "2/2", "--shard-tokens", "4000"])
_, err = t.run(["merge", t.path("oddm"), t.path("odd1"), t.path("odd2")], rc=1, what="mismatch")
T.check("--shard-tokens 4000 (was 3000)" in err, "merge mismatch: %s" % err)
# refused before a shard moved: the OUT it made is gone again (it kept a lock file)
T.check(not os.path.exists(t.path("oddm")), "a refused merge left %s: %s" % (
    t.path("oddm"), os.listdir(t.path("oddm")) if os.path.isdir(t.path("oddm")) else "?"))
print("merge of parts with different options: names the option, leaves no OUT")

# --part K/N + merge: the joined token stream is the single run's.
parts = []
for k in (1, 2, 3):
    convert("part%d" % k, ["--part", "%d/3" % k, "--threads", "2"])
    parts.append(t.path("part%d" % k))
t.run(["merge", t.path("merged"), parts[2], parts[0], parts[1]], what="merge")
t.verify(t.path("merged"))
for split in ("train", "val"):
    T.check(t.dump_ids(t.path("merged"), split) == t.dump_ids(t.path("t1"), split),
            "merged %s stream differs from the single run" % split)
mm, md = T.dataset_docs(t.path("merged"))
_, sd = T.dataset_docs(t.path("t1"))
T.check(sorted(md) == sorted(sd), "merged provenance differs from the single run")
T.check([x["documents"] for x in mm["inputs"]] == [x["documents"] for x in m["inputs"]],
        "merged per-input counts differ")
T.check(not any(f.endswith(".tok") for p in parts for f in os.listdir(p)),
        "merge must move the shards")
print("merge of 3 parts: same token stream and provenance as the single run")
# the same parts merged again: said so (it was "cannot open manifest")
_, err = t.run(["merge", t.path("merged2")] + parts, rc=2, what="second merge")
T.check("already merged into a dataset" in err, "second merge: %s" % err)
T.check(not os.path.exists(t.path("merged2")), "a refused second merge left its OUT")
# a merged part read as a dataset, or converted again: said, not "unfinished, run the
# same command again" (which redid the part from the start beside the merged dataset)
p = subprocess.run([t.dump, "info", parts[0]], capture_output=True, text=True)
T.check(p.returncode == 1 and "a part of a merged dataset" in p.stderr,
        "ingot-dump info of a merged part: %s" % p.stderr)
_, err = t.run(common + ["--out", parts[0], "--part", "1/3", "--threads", "2"] + inputs,
               rc=2, what="a merged part converted again")
T.check("a part already merged" in err and not any(f.endswith(".tok")
                                                   for f in os.listdir(parts[0])),
        "a merged part converted again: %s" % err)
print("a merged part: ingot-dump and a second conversion say so")

t.cleanup()
print("ok")
