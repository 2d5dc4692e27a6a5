#!/usr/bin/python3
"""Issue 9, defects 3 and 7: the input list is built by file identity.
Directories are walked by (device, inode): a symlink loop ends, two links
into each other end, and each directory and each file is read once however
many names reach it (the same file given as in/a.jsonl and ./in/a.jsonl, a
hard link, a symlink), with a note. Nothing inside --out is ever an input,
nor any dataset's manifest.json or state file, so --out inside an input
directory converts, and an identical rerun finds the dataset complete."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, docs = T.small_corpus(t, "in", n_files=2, per_file=40)
n_docs = len(docs)
common = ["--model", model, "--threads", "2", "--quiet"]


def inputs_of(out):
    m = json.load(open(os.path.join(out, "manifest.json")))
    return [x["name"] for x in m["inputs"]], sum(x["documents"] for x in m["inputs"])


def bounded(args, what):
    rc, out, err = T.run_bounded(t, args, 60)
    T.check(rc is not None, "%s: still running after 60 s (a loop?)" % what)
    T.check(rc == 0, "%s: exit %s: %s" % (what, rc, err))
    return err


# 3a. A self-link inside the input directory, and two directories linking to
# each other: every file once, and it ends.
os.symlink(".", os.path.join(inp, "self"))
os.mkdir(os.path.join(inp, "x"))
os.mkdir(os.path.join(inp, "y"))
T.write_jsonl(os.path.join(inp, "x", "g.jsonl"), ["in x"])
T.write_jsonl(os.path.join(inp, "y", "h.jsonl"), ["in y"])
os.symlink("../y", os.path.join(inp, "x", "to_y"))
os.symlink("../x", os.path.join(inp, "y", "to_x"))
out = t.path("loops")
err = bounded(common + ["--out", out, inp], "symlink loops")
names, nd = inputs_of(out)
T.check(len(names) == 4, "symlink loops: %d inputs, expected 4: %s ..." %
        (len(names), names[:6]))
T.check(nd == n_docs + 2, "symlink loops: %d documents, expected %d" % (nd, n_docs + 2))
print("symlink loops: 4 files, each once")

# 3b. One file under several names: a/x and ./a/x, a hard link, a symlink.
f0 = os.path.join(inp, "f0.jsonl")
os.link(f0, t.path("hard.jsonl"))
os.symlink(f0, t.path("soft.jsonl"))
os.chdir(t.tmp)      # so that ./in/f0.jsonl names f0
rel = os.path.relpath(f0, t.tmp)
out = t.path("same")
args = common + ["--out", out, f0, os.path.join(".", rel), t.path("hard.jsonl"),
                 t.path("soft.jsonl"), os.path.join(inp, "f1.jsonl")]
rc, _, err = T.run_bounded(t, [a for a in args if a != "--quiet"], 60)
T.check(rc == 0, "same file named 4 times: exit %s: %s" % (rc, err))
names, nd = inputs_of(out)
T.check(names == [f0, os.path.join(inp, "f1.jsonl")],
        "same file named 4 times: inputs %s" % names)
T.check(nd == n_docs, "same file named 4 times: %d documents, expected %d" % (nd, n_docs))
T.check("same file" in err and "soft.jsonl" in err and "hard.jsonl" in err,
        "no note about the names read once: %s" % err)
print("one file under 4 names (path, ./path, hard link, symlink): read once, noted")

# 7. --out inside the input directory: converts the corpus alone, and the
# identical rerun finds it complete (before: the output's own files became
# inputs and the rerun was refused).
out = os.path.join(inp, "dataset")
err = bounded(common + ["--out", out, inp], "--out inside the input")
names, nd = inputs_of(out)
T.check(not any(n.startswith(out) for n in names), "inputs from inside --out: %s" % names)
err = bounded(common + ["--out", out, inp], "identical rerun")
names2, _ = inputs_of(out)
T.check(names2 == names, "the rerun changed the input list: %s" % names2)
# Another dataset in the input tree: its manifest and state are passed over.
os.rename(out, os.path.join(inp, "old"))
out = t.path("other")
bounded(common + ["--out", out, inp], "an old dataset in the input tree")
names, nd = inputs_of(out)
T.check(not any(os.path.basename(n) in ("manifest.json", ".pretok-state.json") for n in names),
        "a dataset's manifest or state became an input: %s" % names)
T.check(nd == n_docs + 2, "with an old dataset in the tree: %d documents" % nd)
rc, _, err = T.run_bounded(t, common + ["--out", out, os.path.join(out, "manifest.json")], 60)
T.check(rc == 2 and "--out" in err, "a file inside --out named as input: exit %s: %s" % (rc, err))
rc, _, err = T.run_bounded(t, common + ["--out", t.path("other2"), inp,
                                        os.path.join(inp, "old", ".pretok-state.json")], 60)
T.check(rc == 2 and "dataset" in err, "a dataset's state named as input: exit %s: %s" % (rc, err))
print("--out inside the input tree: never an input; datasets' manifest/state never inputs")

# Too many inputs for one manifest (readers take 256 MiB, about 1.5 million
# inputs): refused before anything is read, saying what to do, rather than a
# conversion that ends in a dataset no reader opens. The cap is lowered by a
# test hook to fit 200 files.
if T.has_hooks(t.pretok):
    many = t.path("many")
    os.mkdir(many)
    for i in range(200):
        with open(os.path.join(many, "f%03d.jsonl" % i), "w") as f:
            f.write(json.dumps({"text": "document number %d" % i}) + "\n")
    env = dict(os.environ, INGOT_PRETOK_TEST_MANIFEST_MAX="40000")
    import subprocess
    p = subprocess.run([t.pretok] + common + ["--out", t.path("manyout"), many],
                       capture_output=True, env=env, timeout=60)
    err = p.stderr.decode()
    T.check(p.returncode == 2 and "200 input files: their list alone would make a "
            "manifest.json of about" in err and "several datasets" in err,
            "too many inputs for a manifest: exit %d: %s" % (p.returncode, err))
    T.check(not os.path.exists(t.path("manyout")), "too many inputs: output made")
    bounded(common + ["--out", t.path("manyout"), many], "200 inputs, the real cap")
    print("too many inputs for one manifest: refused before reading")

t.cleanup()
print("ok")
