#!/usr/bin/python3
"""A full or failing disk under ingot-pretok (tests/common/fault_inject.c,
preloaded): a shard, the resume state, the manifest or the tokenizer copy
that cannot be written; an fsync, a rename or a create that fails. Each
run must exit 1 naming the file, the error and what to do, leave no
temporary file and no shard or manifest that is not whole, and the same
command run again (the disk freed) must finish with the bytes of a clean
run. Standard output that cannot be written (--json, `text` > /dev/full)
fails too. The shards are written with write/pwrite (io_uring only reads
the inputs), so the preload sees every write.

    test_pt_faults.py PRETOK DUMP SPM_TRAIN SPM_ENCODE FAULT_INJECT_SO
(FAULT_INJECT_SO empty: a sanitizer build, skipped)"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

SO = sys.argv[5] if len(sys.argv) > 5 else ""
if not SO or not os.path.exists(SO):
    print("no fault-injection preload (a sanitizer build): skipped")
    sys.exit(T.SKIP)
t = T.Tools(sys.argv)
model = T.small_unigram(t)
T.write_jsonl(t.path("a.jsonl"), T.documents(10, 1500))
# 4 train shards and 1 val shard
common = ["--model", model, "--shard-tokens", "20000", "--val-fraction", "0.05", "--quiet",
          t.path("a.jsonl")]


def convert(out, rc=0, env=None, what="", extra=()):
    return t.run(common + ["--out", t.path(out)] + list(extra), rc=rc, env=env, what=what or out)


def fault(**kv):
    env = {"LD_PRELOAD": SO}
    env.update({"INGOT_FAULT_" + k.upper(): str(v) for k, v in kv.items()})
    return env


convert("clean")
clean = T.shard_files(t.path("clean"))
T.check(len(clean) == 5, "clean run: %s" % clean)


def check_left(out, what, temp_ok=False):
    """No temporary file (a kill -9 leaves them to the next run); every
    visible shard the clean run's bytes."""
    d = t.path(out)
    if not os.path.isdir(d):
        return
    for f in os.listdir(d):
        T.check(temp_ok or ".tmp" not in f, "%s: temporary file %s left" % (what, f))
        if f.endswith(".tok"):
            same = open(os.path.join(d, f), "rb").read() == \
                open(t.path("clean", f), "rb").read()
            T.check(same, "%s: %s is visible but not whole" % (what, f))


# (what, output dir, preload settings, words the message must hold, pre-made OUT)
cases = [
    ("disk full in a shard", "shard", fault(path="train-000002", after_bytes=1000),
     ["train-000002.tok", "No space left on device", "free space and run the same command"],
     False),
    # the first state: written before any shard (a shard renamed into place
    # before the state that records it made the rerun refuse OUT as another
    # command's)
    ("disk full in the first state", "state0", fault(path=".pretok-state", after_bytes=0),
     [".pretok-state.json", "No space left on device", "run the same command again"], True),
    ("disk full in a later state", "state1", fault(path=".pretok-state", after_bytes=1500),
     [".pretok-state.json", "No space left on device", "run the same command again"], False),
    ("disk full in the manifest", "manifest", fault(path="manifest.json", after_bytes=100),
     ["manifest.json", "No space left on device", "run the same command again"], False),
    ("disk full in the tokenizer copy", "tokcopy", fault(path="tokenizer.model",
                                                         after_bytes=4096),
     ["tokenizer.model", "No space left on device"], False),
    ("EIO at a shard's fsync", "fsync", fault(path="train-000001", ops="fsync", errno="EIO"),
     ["train-000001.tok", "fsync failed: Input/output error", "check the disk"], False),
    ("EIO at a shard's rename", "rename", fault(path="val-000000", ops="rename", errno="EIO"),
     ["val-000000.tok", "Input/output error", "run the same command again"], False),
    ("EIO at the manifest's close", "close", fault(path="manifest.json", ops="close",
                                                   errno="EIO"),
     ["manifest.json", "close failed: Input/output error"], False),
    ("a shard that cannot be created", "create", fault(path="train-000003", ops="create"),
     ["train-000003.tok", "cannot create: No space left on device"], False),
]
for what, out, env, words, premade in cases:
    if premade:
        os.makedirs(t.path(out))
    _, err = convert(out, rc=1, env=env, what=what)
    T.check("fault_inject:" in err, "%s: the fault was never reached: %s" % (what, err))
    for w in words:
        T.check(w in err, "%s: the message lacks '%s': %s" % (what, w, err))
    T.check(not os.path.exists(t.path(out, "manifest.json")), "%s: a manifest" % what)
    check_left(out, what)
    convert(out, what=what + ", rerun")
    T.same_dataset(t.path("clean"), t.path(out), what + ", rerun")
    print("%s: exit 1, named, nothing half-written; the rerun is identical" % what)

# kill -9 between the first shard's rename and the first state recording it
# (the same gap as above, by a crash; needs the test hooks)
if T.has_hooks(t.pretok):
    convert("kill1", rc=-9, env={"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "1",
                                 "INGOT_PRETOK_TEST_CRASH_MODE": "before_state"})
    check_left("kill1", "kill -9 before the first state", temp_ok=True)
    convert("kill1", what="kill -9 before the first state, rerun")
    T.same_dataset(t.path("clean"), t.path("kill1"), "kill -9 before the first state")
    print("kill -9 before the first state: the rerun is identical")

# kill -9 in the middle of each kind of file (the preload raises SIGKILL at
# its 100th byte): the rerun removes the temporary file (the tokenizer
# copy's was left for good) and finishes with the clean run's bytes
for name in ("tokenizer.model", "train-000001.tok", ".pretok-state.json", "manifest.json"):
    out = "kill-" + name.strip(".").split(".")[0]
    convert(out, rc=-9, env=fault(path=name, after_bytes=100, signal=9))
    T.check(not os.path.exists(t.path(out, "manifest.json")), "kill in %s: a manifest" % name)
    check_left(out, "kill -9 in %s" % name, temp_ok=True)
    convert(out, what="kill -9 in %s, rerun" % name)
    check_left(out, "kill -9 in %s, rerun" % name)
    T.same_dataset(t.path("clean"), t.path(out), "kill -9 in %s" % name)
print("kill -9 inside the tokenizer copy, a shard, the state, the manifest: the rerun is "
      "identical, no temporary file left")

# past the file-size limit (ulimit -f) in a shard: exit 1 naming the file
# and the limit, nothing half-written; the rerun without the limit is
# identical (SIGXFSZ killed it without a word, leaving the temp file); the
# same for ingot-dump export-bin
import resource


def fsize_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (60000, resource.RLIM_INFINITY))


p = subprocess.run([t.pretok] + common + ["--out", t.path("fsize")], preexec_fn=fsize_limit,
                   capture_output=True, text=True)
T.check(p.returncode == 1 and "File too large" in p.stderr and
        "file-size limit (ulimit -f, 60.0 kB)" in p.stderr and "run the same command" in
        p.stderr, "a shard past ulimit -f: exit %d: %s" % (p.returncode, p.stderr))
check_left("fsize", "a shard past ulimit -f")
convert("fsize", what="a shard past ulimit -f, rerun")
T.same_dataset(t.path("clean"), t.path("fsize"), "a shard past ulimit -f")
p = subprocess.run([t.dump, "export-bin", t.path("clean"), "--out", t.path("fsize.bin")],
                   preexec_fn=fsize_limit, capture_output=True, text=True)
T.check(p.returncode == 1 and "File too large" in p.stderr and
        not [f for f in os.listdir(t.path()) if f.startswith("fsize.bin")],
        "export-bin past ulimit -f: exit %d, %s: %s" % (p.returncode, os.listdir(t.path()),
                                                        p.stderr))
# a model too large to read is a refusal of ours, with the same EFBIG: under a
# file-size limit it was also told to raise ulimit -f
huge = t.path("huge.model")
with open(huge, "wb") as f:
    f.truncate(300 << 20)   # sparse: past the 256 MiB a model may have
p = subprocess.run([t.pretok, "--model", huge, "--out", t.path("hugeout")] + common[2:],
                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE,
                                                         (1 << 34, resource.RLIM_INFINITY)),
                   capture_output=True, text=True)
T.check(p.returncode != 0 and "more than the" in p.stderr and "ulimit" not in p.stderr,
        "a model too large, under a file-size limit: exit %d: %s" % (p.returncode, p.stderr))
os.unlink(huge)
print("past ulimit -f: exit 1, named, nothing half-written; the rerun is identical")

# export-bin killed in the middle (kill -9: no handler runs) left its temp
# file, as large as the export, for good; SIGHUP (a closed terminal) too.
# The next export-bin removes a dead writer's and says so; a live one's stays
xbin = ["export-bin", t.path("clean"), "--out", t.path("k.bin")]
for sig in (1, 9):
    p = subprocess.run([t.dump] + xbin, env=dict(os.environ, **fault(path="k.bin", after_bytes=1000,
                                                                     signal=sig)),
                       capture_output=True, text=True)
    left = [f for f in os.listdir(t.path()) if f.startswith("k.bin")]
    T.check(p.returncode == -sig and len(left) == (1 if sig == 9 else 0),
            "export-bin, signal %d: exit %d, left %s" % (sig, p.returncode, left))
live = t.path("k.bin.tmp.%d" % os.getpid())
open(live, "w").close()
p = subprocess.run([t.dump] + xbin, capture_output=True, text=True)
left = sorted(f for f in os.listdir(t.path()) if f.startswith("k.bin"))
T.check(p.returncode == 0 and "removed 1 stale temp file of a killed export-bin" in p.stderr and
        left == ["k.bin", os.path.basename(live)],
        "export-bin after a kill -9: exit %d, left %s: %s" % (p.returncode, left, p.stderr))
print("export-bin killed: the next one removes the temp file; SIGHUP leaves none")

# merge: a shard that cannot be moved in, then the manifest that cannot be
# renamed into place; the rerun finishes from its plan.
for k in (1, 2):
    convert("part%d" % k, extra=["--part", "%d/2" % k])
for what, env in [("merge: EIO moving a shard", fault(path="merged/train-000002", ops="rename",
                                                      errno="EIO")),
                  ("merge: the manifest's rename", fault(path="merged/manifest.json",
                                                         ops="rename"))]:
    _, err = t.run(["merge", t.path("merged"), t.path("part1"), t.path("part2")], rc=1, env=env,
                   what=what)
    T.check("fault_inject:" in err and "rename failed" in err, "%s: %s" % (what, err))
    T.check(not os.path.exists(t.path("merged", "manifest.json")), "%s: a manifest" % what)
    if env["INGOT_FAULT_OPS"] == "rename" and "INGOT_FAULT_ERRNO" in env:
        # the plan of the interrupted merge edited (a move gone) or removed: refused,
        # nothing more moved (an edited plan sealed a dataset missing a shard, exit 0;
        # a removed one said only "cannot open" of a part's moved shard)
        pp = t.path("merged", ".merge-plan.json")
        kept = open(pp, "rb").read()
        plan = json.loads(kept)
        del plan["moves"][1]
        with open(pp, "w") as f:
            json.dump(plan, f)
        before = sorted(os.listdir(t.path("merged")))
        _, err = t.run(["merge", t.path("merged"), t.path("part1"), t.path("part2")], rc=1,
                       what="an edited plan")
        T.check("damaged merge plan (its checksum does not match" in err and
                "nothing more was moved" in err and
                sorted(os.listdir(t.path("merged"))) == before, "an edited plan: %s" % err)
        os.unlink(pp)
        _, err = t.run(["merge", t.path("merged"), t.path("part1"), t.path("part2")], rc=1,
                       what="a removed plan")
        T.check("holds an interrupted merge" in err and "not its plan" in err,
                "a removed plan: %s" % err)
        with open(pp, "wb") as f:
            f.write(kept)
        print("merge: its plan edited or removed after an interruption: refused, said")
    t.run(["merge", t.path("merged"), t.path("part1"), t.path("part2")], what=what + ", rerun")
    t.verify(t.path("merged"))
    T.check(T.dataset_docs(t.path("merged"))[1] == T.dataset_docs(t.path("clean"))[1],
            "%s: the merged documents differ from the clean run's" % what)
    os.rename(t.path("merged"), t.path("merged-" + env["INGOT_FAULT_OPS"] +
                                       env.get("INGOT_FAULT_ERRNO", "")))
    for k in (1, 2):   # merge moved the parts' shards: convert them again (anew: a
        shutil.rmtree(t.path("part%d" % k))   # merged part is refused as --out)
        convert("part%d" % k, extra=["--part", "%d/2" % k])
    print("%s: exit 1, no manifest; the rerun completes it" % what)

# import-bin: a full disk in its shard removes what it wrote
p = subprocess.run([t.dump, "export-bin", t.path("clean"), "--out", t.path("x.bin")],
                   capture_output=True)
T.check(p.returncode == 0, "export-bin: %s" % p.stderr)
imp = ["import-bin", "--format", "llmc", "--vocab", "400", "--out", t.path("imp"), t.path("x.bin")]
_, err = t.run(imp, rc=1, env=fault(path="imp/train-000000", after_bytes=1000), what="import-bin")
T.check("No space left on device" in err and "removed" in err and "run the same command again"
        in err, "import-bin on a full disk: %s" % err)
T.check(not os.path.exists(t.path("imp")) or not os.listdir(t.path("imp")),
        "import-bin on a full disk left %s" % (os.path.exists(t.path("imp")) and
                                                os.listdir(t.path("imp"))))
t.run(imp, what="import-bin, rerun")
t.verify(t.path("imp"))
print("import-bin on a full disk: exit 1, nothing left; the rerun completes")

# Standard output on a full disk: --json's report and `text`.
with open("/dev/full", "w") as full:
    p = subprocess.run([t.pretok] + common + ["--out", t.path("json"), "--json"], stdout=full,
                       stderr=subprocess.PIPE, text=True)
T.check(p.returncode == 1 and "cannot write the --json report: No space left on device" in
        p.stderr and "complete" in p.stderr, "--json > /dev/full: exit %d: %s" %
        (p.returncode, p.stderr))
out, _ = convert("json", extra=["--json"])
T.check('"already_complete": true' in out, "--json rerun: %s" % out)
T.same_dataset(t.path("clean"), t.path("json"), "--json > /dev/full")
print("--json > /dev/full: exit 1, the dataset whole, the rerun prints the report")
for extra in ([], ["--sample-bytes", "2000"]):
    with open("/dev/full", "w") as full:
        p = subprocess.run([t.pretok, "text"] + extra + [t.path("a.jsonl")], stdout=full,
                           stderr=subprocess.PIPE, text=True)
    T.check(p.returncode == 1 and "standard output" in p.stderr and
            "No space left on device" in p.stderr, "text %s > /dev/full: exit %d: %s" %
            (extra, p.returncode, p.stderr))
print("text > /dev/full: exit 1, named")
# standard output closed (>&-): the /dev/null put in its place swallowed the
# sample, exit 0; refused, named
p = subprocess.run(["sh", "-c", '"$0" text "$1" >&-', t.pretok, t.path("a.jsonl")],
                   stderr=subprocess.PIPE, text=True)
T.check(p.returncode == 2 and "standard output is closed" in p.stderr,
        "text >&-: exit %d: %s" % (p.returncode, p.stderr))
print("text >&-: exit 2, named")
# standard input closed (<&-) for '-': the /dev/null in its place read as an
# empty input; refused, named, no --out made
p = subprocess.run(["sh", "-c", '"$0" --model "$1" --out "$2" - <&-', t.pretok, model,
                    t.path("stdin_closed")], stderr=subprocess.PIPE, text=True)
T.check(p.returncode == 2 and "standard input is closed" in p.stderr and
        not os.path.exists(t.path("stdin_closed")),
        "'-' <&-: exit %d: %s" % (p.returncode, p.stderr))
print("'-' with standard input closed: exit 2, named")

t.cleanup()
print("ok")
