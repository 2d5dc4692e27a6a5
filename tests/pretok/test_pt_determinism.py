#!/usr/bin/python3
"""Determinism and crash safety: the shards are byte-identical for --threads
1, 2 and 7, with io_uring or pread, with tiny reads (every record straddles
a read); a kill -9 part-way (at shard boundaries and at a random moment)
followed by the same command gives the same output; SIGINT stops cleanly
with exit 130 and resumes; a resume with other options is refused; the
merge of --part runs has the single run's token stream."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = t.train(T.documents(2, 1200), "uni", ["--model_type=unigram", "--vocab_size=400"])

# Four inputs: zstd JSONL (two frames), plain JSONL, text paragraphs, and a
# directory holding another JSONL.
docs = T.documents(10, 2400)
T.write_jsonl(t.path("a.jsonl"), docs[:600])
T.write_jsonl(t.path("a2.jsonl"), docs[600:900])
T.zstd(t.path("a.jsonl"))
T.zstd(t.path("a2.jsonl"))
with open(t.path("a.jsonl.zst"), "ab") as f:       # a second zstd frame
    f.write(open(t.path("a2.jsonl.zst"), "rb").read())
os.unlink(t.path("a2.jsonl.zst"))
T.write_jsonl(t.path("b.jsonl"), docs[900:1700])
with open(t.path("c.txt"), "w") as f:
    f.write("\n\n".join(docs[1700:2000]) + "\n")
os.mkdir(t.path("d"))
T.write_jsonl(t.path("d", "e.jsonl"), docs[2000:])
inputs = [t.path("a.jsonl.zst"), t.path("b.jsonl"), t.path("c.txt"), t.path("d")]
common = ["--model", model, "--shard-tokens", "9000", "--val-fraction", "0.05",
          "--txt-doc", "paragraph", "--quiet"]


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
        ("pread", ["--threads", "3"], {"INGOT_PRETOK_NO_URING": "1"}),
        ("tiny", ["--threads", "2"], {"INGOT_PRETOK_TEST_CHUNK_BYTES": "1000"})]:
    convert(name, extra, env)
    T.same_dataset(t.path("t1"), t.path(name), name)
print("threads 1/2/7, pread, tiny reads: identical (%d shards)" % n_shards)

# kill -9 through the test hook, after and before the state is written.
for k, mode in [(1, "after_state"), (3, "after_state"), (4, "before_state"),
                (n_shards, "before_state"), (n_shards, "after_state")]:
    out = "kill%d%s" % (k, mode)
    convert(out, ["--threads", "2"], {"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": str(k),
                                      "INGOT_PRETOK_TEST_CRASH_MODE": mode}, rc=-9)
    T.check(not os.path.exists(t.path(out, "manifest.json")), "%s: manifest after a crash" % out)
    convert(out, ["--threads", "3"])
    T.same_dataset(t.path("t1"), t.path(out), out)
print("kill -9 at shard boundaries + rerun: identical")

# kill -9 at a random moment (the writer is slowed down so it is mid-way).
slow = {"INGOT_PRETOK_TEST_BATCH_DELAY_MS": "20", "INGOT_PRETOK_TEST_BATCH_ITEMS": "16",
        "INGOT_PRETOK_TEST_CHUNK_BYTES": "4096"}
for delay in (0.4, 1.2):
    out = t.path("rk%g" % delay)
    p = subprocess.Popen([t.pretok] + common + ["--out", out, "--threads", "2"] + inputs,
                         env=dict(os.environ, **slow), stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.kill()
    p.wait()
    T.check(p.returncode == -9, "the slowed-down run ended before the kill")
    T.check(not os.path.exists(os.path.join(out, "manifest.json")), "manifest before the end")
    convert(os.path.basename(out), ["--threads", "2"])
    T.same_dataset(t.path("t1"), out, "random kill after %gs" % delay)
print("kill -9 at random moments + rerun: identical")

# SIGINT: exit 130, nothing half-written, resumable.
out = t.path("int")
p = subprocess.Popen([t.pretok] + common + ["--out", out, "--threads", "2"] + inputs,
                     env=dict(os.environ, **slow), stderr=subprocess.PIPE)
time.sleep(0.8)
p.send_signal(signal.SIGINT)
_, err = p.communicate()
T.check(p.returncode == 130, "SIGINT: exit %d, expected 130: %s" % (p.returncode, err))
T.check(b"interrupted" in err and b"again" in err, "SIGINT message: %s" % err)
left = os.listdir(out)
T.check(not any(f.endswith(".tmp") for f in left), "temp files left: %s" % left)
T.check("manifest.json" not in left, "manifest after SIGINT")
convert("int", ["--threads", "2"])
T.same_dataset(t.path("t1"), out, "SIGINT + rerun")
print("SIGINT: exit 130, clean, resumed identical")

# A resume with other options is refused; a finished run is left alone.
convert("kill1after_state", ["--shard-tokens", "5000"], rc=1)
_, err = t.run(common + ["--out", t.path("t1"), "--threads", "1"] + inputs + ["--json"])
T.same_dataset(t.path("t2"), t.path("t1"), "rerun of a finished conversion")

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

t.cleanup()
print("ok")
