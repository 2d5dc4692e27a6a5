#!/usr/bin/python3
"""Damaged input files fail the run loudly (before: under --on-error skip
each counted as one skipped record toward --max-skip-fraction, so a
.jsonl.zst cut in half lost half its records and the run exited 0).

A truncated or corrupt .zst / .gz, a misnamed one (damaged at its very start)
and an unreadable file: the default run writes the whole dataset (what could
be read), then exits 1 naming each file, its reason, where reading stopped
and how many documents it kept; the same command with --allow-damaged-inputs
finishes at once with the same shards and a manifest that records the
acceptance. --on-error fail still stops at the first. The damage survives a
resume (it is in the state), merge refuses parts whose damage was not
accepted, and a repaired input needs a new --out."""
import gzip
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
docs = T.documents(41, 400)
FLAG = "--allow-damaged-inputs"


def jsonl(lines):
    return b"".join(json.dumps({"text": d}).encode() + b"\n" for d in lines)


def zst(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                          check=True).stdout


# The damaged files, with the documents of each that must be kept.
corpus = t.path("corpus")
os.mkdir(corpus)
files = {}      # name -> (reason, documents kept, line where reading stopped or None)
two_frames = zst(jsonl(docs[0:30])) + zst(jsonl(docs[30:60]))
first_frame = len(zst(jsonl(docs[0:30])))
# late: a download cut inside the second frame (30 records before it)
open(os.path.join(corpus, "a-trunc.jsonl.zst"), "wb").write(
    two_frames[:first_frame + (len(two_frames) - first_frame) // 2])
files["a-trunc.jsonl.zst"] = ("truncated_zstd", 30, None)
whole_gz = gzip.compress(jsonl(docs[60:80])) + gzip.compress(jsonl(docs[80:100]))
first_member = len(gzip.compress(jsonl(docs[60:80])))
open(os.path.join(corpus, "b-trunc.jsonl.gz"), "wb").write(
    whole_gz[:first_member + (len(whole_gz) - first_member) // 2])
files["b-trunc.jsonl.gz"] = ("truncated_gzip", None, None)   # 20 and what inflate gave
bad = bytearray(two_frames)
for i in range(first_frame + 40, first_frame + 60):
    bad[i] ^= 0x5A
open(os.path.join(corpus, "c-corrupt.jsonl.zst"), "wb").write(bytes(bad))
files["c-corrupt.jsonl.zst"] = ("corrupt_zstd", None, None)   # 30 or a few more
# damaged at its very start: plain text under a .zst name
open(os.path.join(corpus, "d-notzstd.jsonl.zst"), "wb").write(jsonl(docs[100:120]))
files["d-notzstd.jsonl.zst"] = ("not_zstd", 0, None)
# a download that never started: zstd -d says "unexpected end of file"
open(os.path.join(corpus, "e-empty.jsonl.zst"), "wb").close()
files["e-empty.jsonl.zst"] = ("truncated_zstd", 0, None)
os.symlink(t.path("gone.jsonl"), os.path.join(corpus, "f-dangling.jsonl"))
files["f-dangling.jsonl"] = ("unreadable_file", 0, None)
T.write_jsonl(os.path.join(corpus, "g-good.jsonl"), docs[200:400])
GOOD = 200

base = ["--model", model, "--threads", "2", "--shard-tokens", "3000"]


def shards(d):
    return {f: open(os.path.join(d, f), "rb").read() for f in T.shard_files(d)}


def manifest(d):
    return json.load(open(os.path.join(d, "manifest.json")))


# ---- the default: the dataset is written, then exit 1 naming every file ----
out = t.path("out")
args = base + ["--out", out, corpus]
rep_text, err = t.run(args + ["--json"], rc=1, what="damaged inputs, default")
rep = json.loads(rep_text)
t.verify(out)
for name, (reason, _, _) in files.items():
    T.check(os.path.join(corpus, name) in err and reason in err,
            "the failure does not name %s (%s): %s" % (name, reason, err))
T.check(FLAG in err and "new --out" in err and "6 input files are damaged" in err,
        "the failure does not say what to do: %s" % err)
T.check("damaged files: 6" in err, "the report has no damaged-files section: %s" % err)
# where reading stopped: the line of the partial record and the bytes read
trunc_size = os.path.getsize(os.path.join(corpus, "a-trunc.jsonl.zst"))
T.check("a-trunc.jsonl.zst:31: truncated_zstd: zstd stream ends inside a frame after %d "
        "compressed bytes" % trunc_size in err, "truncated zstd: where? %s" % err)
T.check("in the frame from compressed byte %d" % first_frame in err, "corrupt zstd: where? %s" % err)
T.check("(30 documents kept)" in err and "(0 documents kept)" in err,
        "the kept documents are not counted: %s" % err)
T.check(rep["damaged_files"] == 6 and rep["damaged_accepted"] is False,
        "--json: damaged_files %s, accepted %s" % (rep.get("damaged_files"),
                                                    rep.get("damaged_accepted")))
by_file = {os.path.basename(x["file"]): x for x in rep["damaged"]}
T.check(sorted(by_file) == sorted(files), "--json damaged list: %s" % sorted(by_file))
m = manifest(out)
inputs = {os.path.basename(x["name"]): x for x in m["inputs"]}
for name, (reason, kept, _) in files.items():
    T.check(by_file[name]["reason"] == reason, "%s: --json reason %s" % (name, by_file[name]))
    T.check(inputs[name]["skipped"] == {reason: 1}, "%s: counted %s" % (name,
                                                                       inputs[name]["skipped"]))
    T.check(reason in inputs[name].get("damage", ""), "%s: manifest damage %s" % (
        name, inputs[name].get("damage")))
    if kept is not None:
        T.check(inputs[name]["documents"] == kept and by_file[name]["documents"] == kept,
                "%s: %d documents kept, expected %d" % (name, inputs[name]["documents"], kept))
T.check(30 <= inputs["c-corrupt.jsonl.zst"]["documents"] < 60, "corrupt zstd: kept %d" %
        inputs["c-corrupt.jsonl.zst"]["documents"])
gz_kept = inputs["b-trunc.jsonl.gz"]["documents"]
T.check(20 <= gz_kept < 40, "truncated gzip: kept %d" % gz_kept)
T.check("b-trunc.jsonl.gz:%d: truncated_gzip: gzip stream ends inside a member after %d "
        "compressed bytes" % (gz_kept + 1, os.path.getsize(os.path.join(corpus, "b-trunc.jsonl.gz")))
        in err, "truncated gzip: where? %s" % err)
T.check("damage" not in inputs["g-good.jsonl"] and inputs["g-good.jsonl"]["documents"] == GOOD,
        "the intact file: %s" % inputs["g-good.jsonl"])
T.check(m.get("damaged_inputs_accepted") is False, "manifest: damaged_inputs_accepted %s" %
        m.get("damaged_inputs_accepted"))
_, kept_docs = T.dataset_docs(out)
T.check(len(kept_docs) == rep["documents"] == sum(x["documents"] for x in m["inputs"]),
        "the dataset is not complete: %d documents" % len(kept_docs))
info = subprocess.run([t.dump, "info", out], capture_output=True, text=True).stdout
T.check("damaged inputs   6, NOT accepted" in info and "damaged: " in info,
        "ingot-dump info: %s" % info)
print("default: dataset complete, exit 1 naming all 6 files, reason, line, bytes, kept")

# ---- the same command, accepted: at once, the same shards ----
before = shards(out)
rep_text, err = t.run(args + ["--json", FLAG], what="accepted")
rep = json.loads(rep_text)
T.check(rep["already_complete"] and rep["run"]["documents"] == 0 and rep["run"]["wall_s"] == 0,
        "accepting redid work: %s" % rep_text)
T.check(rep["damaged_files"] == 6 and rep["damaged_accepted"] is True, "--json: %s" % rep_text)
T.check("accepted with %s" % FLAG in err, "the report does not say accepted: %s" % err)
T.check(shards(out) == before, "accepting changed the shards")
m2 = manifest(out)
T.check(m2.pop("damaged_inputs_accepted") is True, "manifest: not recorded as accepted")
m.pop("damaged_inputs_accepted")
m.pop("command_line")
m2.pop("command_line")
T.check(m == m2, "accepting changed the manifest beyond the acceptance and command line")
info = subprocess.run([t.dump, "info", "--brief", out], capture_output=True, text=True).stdout
T.check("damaged inputs   6, accepted" in info, "ingot-dump info --brief: %s" % info)
t.verify(out)
# ... and from the start with the flag: the same dataset, exit 0
t.run(base + ["--out", t.path("out2"), "--quiet", FLAG, corpus], what="flag from the start")
T.check(shards(t.path("out2")) == before, "a run with the flag made other shards")
print("--allow-damaged-inputs: finishes at once, same shards; from the start too")

# ---- each kind alone next to a good file: the same handling, start or late ----
good = os.path.join(corpus, "g-good.jsonl")
for name, (reason, kept, _) in files.items():
    o = t.path("one-" + name)
    _, err = t.run(base + ["--out", o, "--quiet", good, os.path.join(corpus, name)], rc=1,
                   what="one " + name)
    T.check("1 input file is damaged" in err and os.path.join(corpus, name) in err and
            reason in err and FLAG in err, "%s alone: %s" % (name, err))
    T.check(os.path.exists(os.path.join(o, "manifest.json")), "%s: no dataset" % name)
    # --quiet still lists the file with where and what was kept
    T.check("damaged input files:" in err and "documents kept)" in err, "%s --quiet: %s" %
            (name, err))
    t.run(base + ["--out", o, "--quiet", FLAG, good, os.path.join(corpus, name)],
          what="one %s accepted" % name)
print("each damaged kind alone fails the same way (not_zstd at byte 0 as truncated late)")

# ---- damaged files are not records of --max-skip-fraction ----
# (20 documents and one unreadable file: 1/21 > 1% failed the run as a skip
# fraction even when the damage was to be accepted)
small = t.path("small.jsonl")
T.write_jsonl(small, docs[300:320])
t.run(base + ["--out", t.path("frac"), "--quiet", FLAG, small,
              os.path.join(corpus, "d-notzstd.jsonl.zst")], what="accepted, small corpus")
print("--allow-damaged-inputs is not undone by --max-skip-fraction")

# ---- text (a sample for spm_train): a warning, exit 0 ----
p = subprocess.run([t.pretok, "text", "--quiet", corpus], capture_output=True, text=True)
T.check(p.returncode == 0 and "warning: 6 input files are damaged" in p.stderr and
        "a-trunc.jsonl.zst: truncated_zstd" in p.stderr, "text: exit %d: %s" % (p.returncode,
                                                                             p.stderr))
print("text: the damaged files are a warning")

# ---- --on-error fail: unchanged, stops at the first ----
o = t.path("fail")
_, err = t.run(base + ["--out", o, "--on-error", "fail", good,
                       os.path.join(corpus, "a-trunc.jsonl.zst")], rc=1, what="fail")
T.check(os.path.join(corpus, "a-trunc.jsonl.zst") + ":31: truncated_zstd" in err and
        "--on-error fail" in err, "--on-error fail: %s" % err)
T.check(not os.path.exists(o), "--on-error fail left %s" % o)
_, err = t.run(base + ["--out", o, "--on-error", "fail", FLAG, good], rc=2, what="fail+allow")
T.check(FLAG in err, err)
print("--on-error fail: stops at the damage, leaves nothing; with the flag: a usage error")

# ---- the damage is remembered across a resume (the state keeps it) ----
trunc = os.path.join(corpus, "a-trunc.jsonl.zst")
if T.has_hooks(t.pretok):
    small_args = base + ["--shard-tokens", "500", "--quiet", trunc, good]
    t.run(small_args + ["--out", t.path("whole"), FLAG], what="resume: reference")
    n_shards = len(T.shard_files(t.path("whole")))
    T.check(n_shards >= 4, "resume: only %d shards" % n_shards)
    o = t.path("resume")
    # killed in the good file, long after the truncated one was counted
    p = subprocess.run([t.pretok] + small_args + ["--out", o], capture_output=True,
                       env=dict(os.environ, INGOT_PRETOK_TEST_CRASH_AFTER_SHARD=str(n_shards - 1)))
    T.check(p.returncode == -9, "crash hook: exit %d: %s" % (p.returncode, p.stderr))
    state = json.load(open(os.path.join(o, ".pretok-state.json")))
    T.check([d[0] for d in state["counts"].get("damage", [])] == [0],
            "the state lacks the damage: %s" % state["counts"])
    _, err = t.run(small_args + ["--out", o], rc=1, what="resumed")
    T.check("1 input file is damaged" in err and
            "a-trunc.jsonl.zst:31: truncated_zstd: zstd stream ends inside a frame after %d "
            "compressed bytes" % trunc_size in err, "after a resume: %s" % err)
    T.check(shards(o) == shards(t.path("whole")), "resume: other shards")
    print("resume: the damage recorded before the crash is still named with its detail")

# ---- a repaired input: the old --out refuses it, a new one is clean ----
fixed = t.path("fixed")
os.mkdir(fixed)
shutil.copy(trunc, fixed)
shutil.copy(good, fixed)
o = t.path("repair")
t.run(base + ["--out", o, "--quiet", fixed], rc=1, what="damaged, before the repair")
open(os.path.join(fixed, "a-trunc.jsonl.zst"), "wb").write(two_frames)    # downloaded again
_, err = t.run(base + ["--out", o, "--quiet", fixed], rc=1, what="repaired, same --out")
T.check("a-trunc.jsonl.zst has %d bytes (had %d)" % (len(two_frames), trunc_size) in err and
        "new --out" in err, "a repaired input, same --out: %s" % err)
t.run(base + ["--out", t.path("repair2"), "--quiet", fixed], what="repaired, new --out")
m = manifest(t.path("repair2"))
T.check(m["inputs"][0]["documents"] == 60 and "damaged_inputs_accepted" not in m,
        "repaired: %s" % m["inputs"][0])
print("repaired input: the same --out says what changed, a new --out is clean")

# ---- merge: parts whose damage was not accepted need the flag ----
parts = []
for k in (1, 2):
    o = t.path("part%d" % k)
    # the part holding damaged files exits 1, the other 0
    t.run(base + ["--part", "%d/2" % k, "--out", o, "--quiet", corpus], rc=None)
    parts.append(o)
with_damage = [p for p in parts if manifest(p).get("damaged_inputs_accepted") is False]
T.check(with_damage, "no part recorded damaged inputs")
_, err = t.run(["merge", t.path("merged"), parts[0], parts[1]], rc=1, what="merge, damaged")
T.check(FLAG in err and "nothing was moved" in err and "a-trunc.jsonl.zst" in err,
        "merge of damaged parts: %s" % err)
T.check(not os.path.exists(t.path("merged")), "a refused merge left its OUT")
T.check(all(os.path.exists(os.path.join(p, "manifest.json")) for p in parts),
        "a refused merge touched the parts")
# a part's manifest (made elsewhere) whose damage note holds an escape sequence:
# the list shows it with '?' (it was printed raw)
esc_parts = [t.path("esc-part%d" % k) for k in (1, 2)]
for p, q in zip(parts, esc_parts):
    shutil.copytree(p, q)
    mq = manifest(q)
    for x in mq["inputs"]:
        if x.get("damage"):
            x["damage"] = "\x1b]0;pwned\x07\x9b2J" + x["damage"]
    json.dump(mq, open(os.path.join(q, "manifest.json"), "w"))
_, err = t.run(["merge", t.path("esc-merged"), esc_parts[0], esc_parts[1]], rc=1,
               what="merge, damage with escapes")
T.check("  ?]0;pwned??2J" in err and "\x1b" not in err and "\x9b" not in err,
        "merge printed a part's damage note raw: %r" % err)
# accepted by rerunning the part with the flag: its manifest says so
for p, k in zip(parts, (1, 2)):
    t.run(base + ["--part", "%d/2" % k, "--out", p, "--quiet", FLAG, corpus],
          what="part %d accepted" % k)
_, err = t.run(["merge", t.path("merged"), parts[0], parts[1]], what="merge, accepted parts")
T.check("damaged input files accepted" in err, "merge: %s" % err)
mm = manifest(t.path("merged"))
T.check(mm.get("damaged_inputs_accepted") is True and
        sum("damage" in x for x in mm["inputs"]) == 6, "merged manifest: %s" % mm["inputs"])
t.verify(t.path("merged"))
# or with the flag on merge itself
parts = []
for k in (1, 2):
    o = t.path("q%d" % k)
    t.run(base + ["--part", "%d/2" % k, "--out", o, "--quiet", corpus], rc=None)
    parts.append(o)
t.run(["merge", t.path("merged2"), parts[0], parts[1], FLAG], what="merge with the flag")
T.check(manifest(t.path("merged2"))["inputs"] == mm["inputs"], "the two merges differ")
print("merge: refused before moving, accepted by the parts or by its own flag")
# one damaged file: named alone (the message went on with ", ..." as for several)
one = t.path("one-damaged")
os.makedirs(one)
shutil.copy(trunc, one)
shutil.copy(good, one)
parts = []
for k in (1, 2):
    o = t.path("one%d" % k)
    t.run(base + ["--part", "%d/2" % k, "--out", o, "--quiet", one], rc=None)
    parts.append(o)
_, err = t.run(["merge", t.path("merged1"), parts[0], parts[1]], rc=1, what="merge, one damaged")
T.check("1 input file is damaged or unreadable (" in err and "a-trunc.jsonl.zst; listed" in err,
        "merge of one damaged file: %s" % err)

# ---- what the messages say: bytes after the last gzip member, a zstd frame
# whose content checksum is wrong ----
# (one trailing byte read "gzip stream ends inside a member ... (truncated
# file)"; a checksum mismatch named the byte where the failing call began, 0
# in a small file, and kept the lines the damaged frame gave before its check
# without a word)
tail = t.path("tail")
os.mkdir(tail)
members = gzip.compress(jsonl(docs[0:20])) + gzip.compress(jsonl(docs[20:40]))
open(os.path.join(tail, "x.jsonl.gz"), "wb").write(members + b"X")
open(os.path.join(tail, "y.jsonl.gz"), "wb").write(members + b"\x1f")   # a magic's first byte
frame1 = zst(jsonl(docs[40:60]))
big = jsonl(docs * 8)            # several 128 KB blocks: lines are handed on before the check
frame2 = bytearray(zst(big))
frame2[-1] ^= 0xFF               # the content checksum (zstd -c writes one)
open(os.path.join(tail, "z.jsonl.zst"), "wb").write(frame1 + bytes(frame2))
o = t.path("tailout")
_, err = t.run(base + ["--out", o, "--quiet", tail], rc=1, what="trailing bytes, checksum")
for name, what in (("x", "not gzip"), ("y", "no data (or a member cut short)")):
    want = ("%s.jsonl.gz:41: corrupt_gzip: gzip: trailing garbage from compressed byte %d on "
            "(1 byte, after 2 whole members): %s; if nothing is missing, keep the members: "
            "head -c %d FILE > FIXED.gz (40 documents kept)" % (name, len(members), what,
                                                               len(members)))
    T.check(want in err, "trailing byte: want %r in: %s" % (want, err))
T.check("truncated" not in err, "a trailing byte is called a truncated file: %s" % err)
zkept = {os.path.basename(x["name"]): x for x in manifest(o)["inputs"]}["z.jsonl.zst"]
T.check(20 < zkept["documents"] < 20 + 8 * len(docs), "checksum: kept %d" % zkept["documents"])
want = ("z.jsonl.zst:%d: corrupt_zstd: zstd: content checksum mismatch: the frame from "
        "compressed byte %d is damaged somewhere (zstd -t FILE); its lines 21-%d were kept and "
        "may be wrong; the rest is skipped; get the file again (%d documents kept)" %
        (zkept["documents"] + 1, len(frame1), zkept["documents"], zkept["documents"]))
T.check(want in err, "checksum: want %r in: %s" % (want, err))
print("trailing gzip bytes and a zstd checksum mismatch: what, where, what to do")

t.cleanup()
print("ok")
