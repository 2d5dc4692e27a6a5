#!/usr/bin/python3
"""Issue 9, defect 6: a rerun (a resume, or a finished dataset run again)
re-hashes every finished shard's tokens, index and provenance against the
checksums recorded in its header and in the resume state, and redoes the
work when they disagree (a byte changed after the shard was written, a
shard removed), with a note naming the shard. Before, a changed shard was
trusted: the rerun said "already complete" over a corrupt dataset."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, _ = T.small_corpus(t, "in", n_files=3, per_file=200)
common = ["--model", model, "--threads", "2", "--shard-tokens", "4000", inp]
ref = t.path("ref")
t.run(common + ["--out", ref, "--quiet"], what="reference")
shards = T.shard_files(ref)
T.check(len(shards) >= 4, "expected at least 4 shards, got %d" % len(shards))


def flip(path, region):
    """Flip one byte in the middle of a shard's tokens, index or provenance."""
    data = bytearray(open(path, "rb").read())
    f = T.HEADER.unpack_from(data, 0)
    tok_off, idx_off, prov_off = f[15], f[16], f[17]
    lo, hi = {"tokens": (tok_off, idx_off), "index": (idx_off + 8, prov_off - 8),
              "provenance": (prov_off, len(data))}[region]
    at = (lo + hi) // 2
    data[at] ^= 0x01
    open(path, "wb").write(bytes(data))


# A finished dataset: one region changed per case, then the same command.
for k, region in enumerate(("tokens", "index", "provenance", "missing")):
    out = t.path("c-" + region)
    t.run(common + ["--out", out, "--quiet"], what=region)
    victim = os.path.join(out, shards[1 + k % (len(shards) - 1)])
    if region == "missing":
        os.unlink(victim)
    else:
        flip(victim, region)
    _, err = t.run(common + ["--out", out], what="rerun after a changed " + region)
    T.check(os.path.basename(victim) in err and "redo" in err,
            "%s: the rerun does not say it redoes %s: %s" % (region, victim, err))
    t.verify(out)
    T.same_dataset(ref, out, "redone after a changed " + region)
    print("changed %s in %s: detected, redone, identical to the reference" %
          (region, os.path.basename(victim)))

# An unfinished conversion (killed after 2 shards) whose first shard changes
# before the resume (needs the test hooks).
if T.has_hooks(t.pretok):
    out = t.path("crash")
    t.run(common + ["--out", out, "--quiet"], rc=-9, what="crash",
          env={"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "2"})
    flip(os.path.join(out, shards[0]), "tokens")
    _, err = t.run(common + ["--out", out], what="resume after a changed shard")
    T.check(shards[0] in err and "redo" in err, "resume: no note: %s" % err)
    T.same_dataset(ref, out, "resume after a changed shard")
    print("resume with a changed finished shard: redone, identical")
else:
    print("no test hooks: the crash-then-change case is skipped")

t.cleanup()
print("ok")
