#!/usr/bin/python3
"""ingot-pretok with Ingot's encoder (the default) against --encoder spm
(libsentencepiece): byte-identical shards and manifests for a unigram and a
BPE model at 1 and 3 threads, also without the shared word table, with all
whole-word pieces in it, and with a 1024-slot per-thread cache on small
pages (many resets); the report's time line and cache counters in --json;
a model Ingot's encoder refuses (a CHAR model) falls back to
libsentencepiece with a note, and gives the same shards as --encoder spm.
    test_spe_pretok.py PRETOK DUMP SPM_TRAIN"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pretok"))
import pt_testlib as T  # noqa: E402

t = T.Tools(sys.argv)
uni, inputs, common = T.mixed_corpus(t)
lines = T.documents(2, 1200)
bpe = t.train(lines, "bpe", ["--model_type=bpe", "--vocab_size=800", "--byte_fallback=true"])
char = t.train(lines, "char", ["--model_type=char"])


def convert(name, model, extra, env=None):
    args = [a if a != uni else model for a in common]
    _, err = t.run(args + ["--out", t.path(name)] + extra + inputs, env=env, what=name)
    return err


# The measurement switches of the cache (spm_cache.c) change where a word's
# value comes from, never the ids.
CACHE_ENVS = [{"INGOT_SPE_SHARED": "0"}, {"INGOT_SPE_SHARED": "100000"},
              {"INGOT_SPE_CACHE_LOG2": "10", "INGOT_SPE_HUGE": "0"}]


for model, kind in [(uni, "unigram"), (bpe, "bpe")]:
    convert(kind + "-spm", model, ["--encoder", "spm", "--threads", "2"])
    t.verify(t.path(kind + "-spm"))
    for threads in ("1", "3"):
        name = "%s-ingot-%s" % (kind, threads)
        err = convert(name, model, ["--encoder", "ingot", "--threads", threads])
        T.check("note:" not in err, "%s: unexpected note: %s" % (name, err))
        T.same_dataset(t.path(kind + "-spm"), t.path(name), name)
    for i, env in enumerate(CACHE_ENVS):
        name = "%s-ingot-env%d" % (kind, i)
        convert(name, model, ["--encoder", "ingot", "--threads", "3"], env)
        T.same_dataset(t.path(kind + "-spm"), t.path(name), "%s %s" % (name, env))
    print("%s: Ingot's encoder at 1 and 3 threads = libsentencepiece, also with %s" %
          (kind, ", ".join(" ".join("%s=%s" % kv for kv in e.items()) for e in CACHE_ENVS)))

# The report: the time line and the shared table's hits (--json).
args = [a for a in common if a != "--quiet"]
out, _ = t.run(args + ["--out", t.path("report"), "--json", "--quiet", "--threads", "2"] + inputs,
               what="report")
enc = json.loads(out)["run"]["encoder"]
tl = enc["timeline"]
for k in ("startup_s", "model_load_s", "shared_table_s", "first_batch_s", "encode_s",
          "last_write_s", "pipeline_end_s", "finish_s"):
    T.check(k in tl and tl[k] >= 0, "timeline.%s missing or negative: %r" % (k, tl))
T.check(tl["encode_s"] > 0 and tl["startup_s"] >= tl["model_load_s"] >= tl["shared_table_s"],
        "timeline out of order: %r" % tl)
T.check(0 < enc["shared_hits"] <= enc["cache_hits"] <= enc["words"],
        "shared hits %d, cache hits %d, words %d" % (enc["shared_hits"], enc["cache_hits"],
                                                    enc["words"]))
print("report: time line %s; %d of %d words from the shared table" %
      (", ".join("%s %.3f" % kv for kv in tl.items()), enc["shared_hits"], enc["words"]))

err = convert("char-ingot", char, ["--threads", "2"])
T.check("note:" in err and "libsentencepiece" in err and "CHAR" in err,
        "the CHAR model did not fall back with a note: %r" % err)
convert("char-spm", char, ["--encoder", "spm", "--threads", "2"])
T.same_dataset(t.path("char-spm"), t.path("char-ingot"), "char fallback")
_, err = t.run(common + ["--encoder", "fast", "--out", t.path("x")] + inputs, rc=2, what="bad")
T.check("--encoder fast" in err, "bad --encoder value: %r" % err)
print("CHAR model: falls back to libsentencepiece with a note; --encoder checked")
t.cleanup()
