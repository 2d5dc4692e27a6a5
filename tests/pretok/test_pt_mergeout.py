#!/usr/bin/python3
"""merge: what OUT already holds, parts that are not what their manifests
say, and the rerun of an interrupted merge.

Before: a merge into an OUT holding an interrupted conversion (its state and
shards) or stray shards took each shard already at a destination as "moved by
an earlier merge": the parts' shards stayed behind, their manifests were
retired, and the new manifest listed the other files (exit 0, verify failed).
A tokenizer.model there was replaced. An OUT inside a part was accepted
(removing the parts removed the dataset). A part still converting said only
"cannot open manifest" (exit 1). A part's shard replaced by another valid
shard was moved in under the original's checksums. The rerun of an
interrupted merge did not look at the parts it was given: other parts'
manifests were retired with their shards never moved, a part left out kept
a manifest whose shards had gone; and OUT named by another path (absolute,
from another directory) was "a damaged merge plan: convert the corpus
again".

Run as: test_pt_mergeout.py PRETOK DUMP SPM_TRAIN SPM_ENCODE [FAULT_SO]
(the interrupted merges need tests/common/fault_inject.c's library: FAULT_SO,
else the build's, beside PRETOK; where it cannot be preloaded, in sanitizer
builds, that half is skipped)."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
SO = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else os.path.join(
    os.path.dirname(os.path.dirname(t.pretok)), "tests", "common",
    "libingot-test-fault-inject.so")
if os.path.exists(SO):   # a sanitizer build refuses a preload (or has a stale one)
    probe = subprocess.run([t.pretok, "--version"], capture_output=True,
                           env=dict(os.environ, LD_PRELOAD=SO))
    if probe.returncode:
        SO = ""
model = T.small_unigram(t)
inp, _ = T.small_corpus(t, n_files=4, per_file=100)
common = ["--model", model, "--shard-tokens", "2000", "--val-fraction", "0.05", "--quiet"]
t.run(common + ["--out", t.path("whole"), inp], what="the single run")
whole_docs = T.dataset_docs(t.path("whole"))[1]


def make_parts(name, n=2):
    out = []
    for k in range(1, n + 1):
        d = t.path("%s%d" % (name, k))
        t.run(common + ["--part", "%d/%d" % (k, n), "--out", d, inp], what=d)
        out.append(d)
    return out


def listing(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else None


def snapshot(dirs):
    return {d: listing(d) for d in dirs}


def merged_ok(out, parts, what):
    t.verify(out)
    T.check(T.dataset_docs(out)[1] == whole_docs, "%s: the merged documents differ from the "
            "single run's" % what)
    for p in parts:
        T.check("manifest.merged.json" in listing(p) and "manifest.json" not in listing(p) and
                not any(f.endswith(".tok") for f in listing(p)),
                "%s: part %s not retired: %s" % (what, p, listing(p)))


parts = make_parts("p")
before = snapshot(parts)

# ---- OUT holds what the merge must not take as its own ----
# an interrupted conversion: its state and shards (shards at the merge's destinations)
conv = t.path("conv")
t.run(common + ["--out", conv, inp], what="conversion")
os.unlink(os.path.join(conv, "manifest.json"))


def contents(d):   # the lock file aside: each run writes its pid there
    return {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)
            if f != ".pretok.lock"}


conv_before = contents(conv)
_, err = t.run(["merge", conv] + parts, rc=2, what="merge into an unfinished conversion")
T.check("holds an unfinished conversion" in err and ".pretok-state.json" in err,
        "merge into an unfinished conversion: %s" % err)
T.check(contents(conv) == conv_before,
        "merge into an unfinished conversion changed it")
T.check(snapshot(parts) == before, "merge into an unfinished conversion touched the parts")
# stray shards (no state): a killed run's
parts = make_parts("pb")
before = snapshot(parts)
os.unlink(os.path.join(conv, ".pretok-state.json"))
_, err = t.run(["merge", conv] + parts, rc=2, what="merge into stray shards")
T.check("already holds shards" in err, "merge into stray shards: %s" % err)
T.check(snapshot(parts) == before, "merge into stray shards touched the parts")
print("merge into an OUT with another run's state or shards: refused, nothing moved")

# a tokenizer.model that is not the parts' model: kept, refused
parts = make_parts("pc")
before = snapshot(parts)
tokdir = t.path("tokdir")
os.mkdir(tokdir)
with open(os.path.join(tokdir, "tokenizer.model"), "wb") as f:
    f.write(b"a user's model\n")
_, err = t.run(["merge", tokdir] + parts, rc=2, what="merge beside another model")
T.check("already holds a tokenizer.model" in err, "merge beside another model: %s" % err)
T.check(open(os.path.join(tokdir, "tokenizer.model"), "rb").read() == b"a user's model\n",
        "merge replaced a tokenizer.model it did not write")
T.check(listing(tokdir) == [".pretok.lock", "tokenizer.model"] or
        listing(tokdir) == ["tokenizer.model"], "refused merge left %s" % listing(tokdir))
print("merge beside another tokenizer.model: refused, the file kept")

# OUT inside a part: removing the parts would remove the dataset
parts = make_parts("pd")
before = snapshot(parts)
inner = os.path.join(parts[0], "merged")
_, err = t.run(["merge", inner] + parts, rc=2, what="OUT inside a part")
T.check("is inside the part" in err, "OUT inside a part: %s" % err)
T.check(snapshot(parts) == before, "OUT inside a part: the parts changed: %s" % snapshot(parts))
print("merge into an OUT inside a part: refused, no OUT left")

# ---- parts that are not finished, or not what their manifests list ----
parts = make_parts("pe")
before = snapshot(parts)
man = os.path.join(parts[1], "manifest.json")
os.rename(man, man + ".away")
_, err = t.run(["merge", t.path("m-unfinished")] + parts, rc=2, what="a part in progress")
T.check("the conversion of this part is not finished" in err and "run its command again" in err,
        "a part in progress: %s" % err)
T.check(not os.path.exists(t.path("m-unfinished")), "a refused merge left its OUT")
os.rename(man + ".away", man)
print("a part still converting (state, no manifest): said, exit 2")

parts = make_parts("pf")
before = snapshot(parts)
shards1 = [f for f in listing(parts[1]) if f.startswith("train-")]
a, b = (os.path.join(parts[1], f) for f in shards1[:2])
keep = open(a, "rb").read()
shutil.copyfile(b, a)   # a valid shard, but not the one the manifest lists there
_, err = t.run(["merge", t.path("m-swapped")] + parts, rc=1, what="a replaced shard")
T.check("not the shard the part's manifest.json lists" in err and shards1[0] in err and
        "nothing was moved" in err, "a replaced shard: %s" % err)
T.check(not os.path.exists(t.path("m-swapped")) and snapshot(parts) == before,
        "a replaced shard: something moved")
with open(a, "wb") as f:
    f.write(keep)
print("a part's shard replaced by another: refused before anything moves")

# ---- a merge stopped after copying the model and writing its manifest, before its
# plan (a full disk): the rerun goes on (what it left is its own) ----
parts = make_parts("pg")
stopped = t.path("stopped")
os.mkdir(stopped)
shutil.copyfile(os.path.join(parts[0], "tokenizer.model"), os.path.join(stopped, "tokenizer.model"))
with open(os.path.join(stopped, ".merge-manifest.json"), "w") as f:
    f.write("{}")
t.run(["merge", stopped] + parts, what="rerun of a merge stopped before its plan")
merged_ok(stopped, parts, "rerun of a merge stopped before its plan")
print("a merge stopped before its plan: the rerun completes it")

# ---- the rerun of an interrupted merge (fault injection) ----
if not SO or not os.path.exists(SO):
    print("no fault-injection library (a sanitizer build): interrupted merges skipped")
    t.cleanup()
    sys.exit(0)


def interrupted(out, parts):
    env = {"LD_PRELOAD": SO, "INGOT_FAULT_PATH": os.path.basename(out) + "/train-000002",
           "INGOT_FAULT_OPS": "rename", "INGOT_FAULT_ERRNO": "EIO"}
    _, err = t.run(["merge", out] + parts, rc=1, env=env, what="interrupted merge")
    T.check("rename failed" in err and os.path.exists(os.path.join(out, ".merge-plan.json")),
            "interrupted merge: %s" % err)


parts = make_parts("q")
others = make_parts("r")
others_before = snapshot(others)
m = t.path("m")
interrupted(m, parts)
T.check(json.load(open(os.path.join(m, ".merge-plan.json")))["version"] == 3, "plan version")
for what, args in [("another conversion's parts", parts + others),
                   ("only those", others),
                   ("a part left out", parts[:1]),
                   ("a part twice", [parts[0], parts[0] + "/"])]:
    left = listing(m)
    _, err = t.run(["merge", m] + args, rc=2, what="rerun with " + what)
    T.check("holds an interrupted merge" in err, "rerun with %s: %s" % (what, err))
    T.check(listing(m) == left, "rerun with %s moved shards" % what)
    T.check(snapshot(others) == others_before, "rerun with %s touched other parts" % what)
T.check(all("manifest.json" in listing(p) for p in parts[1:]), "a refused rerun retired a part")
# OUT named by its absolute path, from another directory: the same merge
p = subprocess.run([t.pretok, "merge", os.path.abspath(m)] +
                   [os.path.relpath(x, parts[1]) for x in parts], cwd=parts[1],
                   capture_output=True, text=True)
T.check(p.returncode == 0, "rerun from another directory: exit %d: %s" % (p.returncode, p.stderr))
merged_ok(m, parts, "rerun from another directory")
T.check(snapshot(others) == others_before, "the merge touched other parts")
print("interrupted merge: a rerun with other parts refused; from another directory, resumed")

# a file put at a destination the interrupted merge had not reached: refused, not skipped
parts = make_parts("s")
m2 = t.path("m2")
interrupted(m2, parts)
planted = os.path.join(m2, "train-000004.tok")
shutil.copyfile(os.path.join(t.path("whole"), "train-000004.tok"), planted)
_, err = t.run(["merge", m2] + parts, rc=2, what="a planted destination")
T.check("is still in its part" in err and "train-000004.tok already exists" in err,
        "a planted destination: %s" % err)
T.check(not os.path.exists(os.path.join(m2, "manifest.json")), "a planted destination: sealed")
os.unlink(planted)
t.run(["merge", m2] + parts, what="rerun, the file removed")
merged_ok(m2, parts, "rerun, the file removed")
print("interrupted merge: a foreign file at a destination refused, then resumed")

# a part whose full path is not UTF-8: the plan (JSON text) cannot name it;
# refused naming the byte (it was "out of memory while planning the merge")
latin = os.fsencode(t.path("lat")) + b"\xe9"
os.mkdir(latin)
lparts = []
for k in (1, 2):
    d = os.path.join(latin, b"p%d" % k)
    t.run(common + ["--part", "%d/2" % k, "--out", os.fsdecode(d), inp], what="latin part")
    lparts.append(os.fsdecode(d))
_, err = t.run(["merge", t.path("mlat")] + lparts, rc=2, what="a part under a Latin-1 name")
T.check("is not UTF-8 (0xe9" in err and "out of memory" not in err,
        "a part under a Latin-1 name: %s" % err)
print("a part whose path is not UTF-8: refused, named")
t.cleanup()
