#!/usr/bin/python3
"""Issue 9, classes: every option has an honest range, parsed by the one
parser of common/cli_num (suffixes k M G T, Ki Mi Gi Ti), and out-of-range
values are usage errors (exit 2) naming the option; --version names the
libraries; --max-skip-fraction (default 0.01) fails a run that skips more
records than that share, after writing the dataset completely, and the same
command with a larger fraction accepts it at once."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, docs = T.small_corpus(t, "in", n_files=2, per_file=50)
base = ["--model", model, "--quiet"]

# Ranges: refused with exit 2 and the option's name.
for opt, val in [("--threads", "0"), ("--threads", "5000"), ("--threads", "9k"),
                 ("--threads", "-1"), ("--shard-tokens", "0"), ("--shard-tokens", "2T"),
                 ("--shard-tokens", "1.5M"), ("--val-fraction", "1.5"),
                 ("--val-fraction", "nan"), ("--val-docs", "0"), ("--max-record-bytes", "5Gi"),
                 ("--max-skip-fraction", "2"), ("--part", "3/2"), ("--part", "1/2x"),
                 ("--part", "0/2")]:
    out = t.path("r")
    _, err = t.run(base + ["--out", out, opt, val, inp], rc=2, what="%s %s" % (opt, val))
    T.check(opt.split()[0] in err, "%s %s: the message does not name it: %s" % (opt, val, err))
# Suffixes through the shared parser.
t.run(base + ["--out", t.path("sfx"), "--shard-tokens", "1Ki", "--max-record-bytes", "64k",
              "--threads", "2", inp], what="suffixes")
m = json.load(open(t.path("sfx", "manifest.json")))
T.check(len(m["shards"]) > 1, "--shard-tokens 1Ki: %d shards" % len(m["shards"]))
# Odd floats: each refusal says what is wrong (a subnormal was "expected a
# number in [0, 1]", hexadecimal was taken), and a fraction too small for the
# 64-bit split hash to choose any document is refused, not a quiet empty val.
for val, want in [("1e-310", "--val-fraction '1e-310': too small to compute with"),
                  ("1e-320", "too small to compute with"),
                  ("0x1p-3", "hexadecimal is not taken, write it in decimal (0.125)"),
                  ("inf", "--val-fraction 'inf': not a finite number; expected a number in [0, 1]"),
                  ("nan", "not a finite number"),
                  ("1e-30", "--val-fraction '1e-30': too small to choose any document")]:
    _, err = t.run(base + ["--out", t.path("r"), "--val-fraction", val, inp], rc=2,
                   what="--val-fraction " + val)
    T.check(want in err, "--val-fraction %s: want %r in: %s" % (val, want, err))
_, err = t.run(base + ["--out", t.path("r"), "--max-skip-fraction", "0x1p-1", inp], rc=2,
               what="--max-skip-fraction 0x1p-1")
T.check("--max-skip-fraction '0x1p-1': hexadecimal" in err, "hexadecimal: %s" % err)
T.check(not os.path.exists(t.path("r")), "a refused command wrote its output")
# --tokenizer M is --model M: the name import-bin, ingot-train and ingot-dump give it
t.run(["--tokenizer", model, "--quiet", "--out", t.path("tk"), "--threads", "2", inp],
      what="--tokenizer")
t.verify(t.path("tk"))
print("option ranges and suffixes: ok")

# A value left out or empty: named, exit 2, nothing written (an empty --out
# was a heap overflow in fs_mkdir_p; "--model --out D" took --out as the model).
for args, want in [(["--model", model, "--out", "", inp], "--out: empty value"),
                   (["--model", "--out", t.path("mo"), inp], "--model needs a value (got '--out'"),
                   (["--model", model, inp, "--out"], "--out needs a value"),
                   (["--model", model, "--out", t.path("vf1"), "--val-fraction", "1", inp],
                    "no documents for training"),
                   (["--model", model, "--out", t.path("vf1"), "--val-fraction", "1.5", inp],
                    "--val-fraction '1.5': a share of 1 or more leaves no documents for training; "
                    "give a fraction below 1"),
                   (["merge", "", t.path("sfx")], "empty"),
                   (["import-bin", "--format", "nanogpt", "--vocab", "100", "--out", "",
                     t.path("x.bin")], "--out: empty value")]:
    _, err = t.run(args, rc=2, what=" ".join(args[:4]))
    T.check(want in err, "%s: want %r in: %s" % (args, want, err))
T.check(not os.path.exists(t.path("mo")) and not os.path.exists(t.path("vf1")),
        "a refused command wrote its output")
print("values left out or empty: refused")
# --json: "stdout always holds one object", a usage error (exit 2) included,
# whether --json came before the bad option or after it (stdout was empty)
for args in (["--json", "--threads", "0"], ["--threads", "0", "--json"], ["--json", "--quite"]):
    out, err = t.run(base + ["--out", t.path("uj")] + args + [inp], rc=2, what=" ".join(args))
    rep = json.loads(out or "null")
    T.check(isinstance(rep, dict) and rep.get("exit") == 2 and rep.get("out") == t.path("uj")
            and rep.get("error") in err, "--json, %s: stdout %r, stderr %s" % (args, out, err))
T.check(not os.path.exists(t.path("uj")), "a refused command wrote its output")

# Each message names its subcommand, as ingot-train's and ingot-dump's do
# ("ingot-pretok: import-bin: ...", "ingot-pretok: text: ..." and a bare
# "ingot-pretok: unknown option" before), and a mistyped option is named
# with the nearest one (common/cli_opt.h).
for args, want in [(["text"], "ingot-pretok text: no INPUT given"),
                   (["merge"], "ingot-pretok merge: expected OUT"),
                   (["import-bin", "--format", "llmc", "--vocab", "9", "--out", t.path("ib")],
                    "ingot-pretok import-bin: no FILE given"),
                   (["--model", model, "--out", t.path("ty"), "--quite", inp],
                    "ingot-pretok: unknown option '--quite'; did you mean --quiet? (see "
                    "ingot-pretok --help)"),
                   (["text", "--txt-dc", "line", inp], "ingot-pretok text: unknown option "
                    "'--txt-dc'; did you mean --txt-doc? (see ingot-pretok text --help)"),
                   (["import-bin", "--eot-positon", "after"], "ingot-pretok import-bin: unknown "
                    "option '--eot-positon'; did you mean --eot-position? (see ingot-pretok "
                    "import-bin --help)"),
                   (["--model", model, "--out", t.path("ty"), "--no", inp],
                    "ingot-pretok: option '--no' is ambiguous: --no-bos, --no-eos"),
                   (["--model", model, "--out", t.path("ty"), "--bos=1", inp],
                    "ingot-pretok: --bos takes no value")]:
    _, err = t.run(args, rc=2, what=" ".join(args[:3]))
    T.check(err.startswith(want), "%s: want %r, got: %s" % (args, want, err))
print("messages name the subcommand; mistyped options named with the nearest")

# --version
p = subprocess.run([t.pretok, "--version"], capture_output=True, text=True)
T.check(p.returncode == 0 and p.stdout.startswith("ingot-pretok "), "--version: %s" % p.stdout)
for lib in ("git", "zstd", "sentencepiece", "liburing", "malloc", "test hooks"):
    T.check(lib in p.stdout, "--version does not name %s: %s" % (lib, p.stdout))
p = subprocess.run([t.pretok, "--help"], capture_output=True, text=True)
T.check("--max-skip-fraction" in p.stdout and "--version" in p.stdout, "--help: %s" % p.stdout)
print("--version and --help: ok")

# --max-skip-fraction: a wrong --text-key on one of three files.
T.write_jsonl(os.path.join(inp, "body.jsonl"), T.documents(40, 50), key="body")
out = t.path("skips")
args = base + ["--out", out, "--threads", "2", inp]
_, err = t.run(args, rc=1, what="a third of the records skipped")
T.check("--max-skip-fraction" in err and "complete" in err, "unclear message: %s" % err)
T.check("50 of 150" in err, "the message does not count the records: %s" % err)
t.verify(out)                                   # written completely all the same
m = json.load(open(os.path.join(out, "manifest.json")))
T.check(sum(x["documents"] for x in m["inputs"]) == 100, "documents: %s" % m["inputs"])
_, err = t.run(args + ["--max-skip-fraction", "0.5"], what="accepted")
_, err = t.run(args, rc=1, what="the default again")
t.run(base + ["--out", t.path("skips2"), "--max-skip-fraction", "0.4", inp], what="0.4")
print("--max-skip-fraction: fails at 1%, dataset complete, accepted with 0.5")
# ... and over a merge's parts: each part accepted its skips (or exited 1 with its part
# complete); merge applies the fraction to the joined dataset before moving anything
# (it merged without a word)
parts = [t.path("sp%d" % k) for k in (1, 2)]
for k, d in enumerate(parts, 1):
    t.run(base + ["--out", d, "--threads", "2", "--part", "%d/2" % k, "--max-skip-fraction",
                  "1", inp], what="part %d" % k)
merged = t.path("spm")
_, err = t.run(["merge", merged] + parts, rc=1, what="merge over the fraction")
T.check("50 of 150 records" in err and "--max-skip-fraction 0.3334" in err and
        "nothing was moved" in err and not os.path.exists(os.path.join(merged, "manifest.json"))
        and all(os.path.exists(os.path.join(d, "manifest.json")) for d in parts),
        "merge over the fraction: %s" % err)
# merge --out OUT, as a conversion names its output (it took the first part
# for OUT and dropped --out)
_, err = t.run(["merge", "--out", merged], rc=2, what="merge --out without parts")
T.check("ingot-pretok merge: expected at least one PART_DIR after --out" in err, err)
t.run(["merge", "--out", merged, "--max-skip-fraction", "0.34"] + parts, what="merge, accepted")
t.verify(merged)
print("merge: the fraction over all parts, refused before moving, accepted with a larger one")

# Progress when stderr is a log (here a pipe): plain lines at the period, no \r redraws;
# --quiet and INGOT_PRETOK_PROGRESS_S=0 none. Slowed down by the test hooks.
if T.has_hooks(t.pretok):
    slow = {"INGOT_PRETOK_TEST_BATCH_DELAY_MS": "20", "INGOT_PRETOK_TEST_BATCH_ITEMS": "8"}
    for period, extra, want in [("0.05", [], True), ("0", [], False), ("0.05", ["--quiet"], False)]:
        env = dict(slow, INGOT_PRETOK_PROGRESS_S=period)
        _, err = t.run(["--model", model, "--out", t.path("prog%s%d" % (period, len(extra))),
                        "--threads", "2", "--max-skip-fraction", "0.5", inp] + extra, env=env,
                       what="progress " + period)
        lines = [l for l in err.splitlines() if l.startswith("pretok: ") and "% |" in l]
        T.check("\r" not in err, "a \\r redraw in a log: %r" % err[:300])
        T.check(bool(lines) == want, "period %s %s: %d progress lines: %s"
                % (period, extra, len(lines), err[:400]))
    print("progress in a log: plain lines at the period")

# `text` reads nothing: an error, as a conversion's (it exited 0 having written nothing)
wrong = t.path("wrong.jsonl")
with open(wrong, "w") as f:
    f.write('{"body": "a"}\n{"body": "b"}\n')
os.makedirs(t.path("none"))
for what, args, rc, want in [("every record skipped", [wrong], 1, "every record was skipped (2"),
                             ("no input file", [t.path("none")], 1, "no input file found")]:
    _, err = t.run(["text"] + args, rc=rc, what="text: " + what)
    T.check(want in err, "text, %s: %s" % (what, err))
out, _ = t.run(["text", inp], what="text of a corpus")
T.check(out.count("\n") >= len(docs), "text wrote %d lines for %d documents"
        % (out.count("\n"), len(docs)))
print("text: nothing read is an error")
# --sample-bytes N: an even sample of N to 2N bytes over the whole input, in
# one pass (documents 0, K, 2K, ... for a power of two K), whatever the input's size
sb = t.path("sb.jsonl")
with open(sb, "w") as f:
    for i in range(1000):
        f.write(json.dumps({"text": "document %04d " % i + "x" * 90}) + "\n")
out, err = t.run(["text", "--sample-bytes", "20000", sb], what="text --sample-bytes")
got = [int(l.split()[1]) for l in out.splitlines()]
k = got[1] - got[0] if len(got) > 1 else 0
T.check(20000 <= len(out) <= 40000 and k in (2, 4, 8, 16) and got == list(range(0, 1000, k)),
        "--sample-bytes 20000: %d bytes, documents %s ... %s" % (len(out), got[:4], got[-2:]))
T.check("an even sample of the whole input" in err, err)
_, err = t.run(["text", "--sample-bytes", "20000", "--every", "3", sb], rc=2,
               what="--sample-bytes with --every")
T.check("leave out --every and --max-bytes" in err, err)
print("text --sample-bytes: documents 0, %d, 2x%d, ... (%d bytes)" % (k, k, len(out)))
# ... however long one document is: a document longer than N/8 is left out and
# counted (before: a 100 KB first document, never thinned out, made the stride
# double until it alone was left: 1 of 20001 documents, 100 KB for 10k, exit 0)
skew = t.path("skew.jsonl")
with open(skew, "w") as f:
    f.write(json.dumps({"text": "H" * 100000}) + "\n")
    for i in range(20000):
        f.write(json.dumps({"text": "doc %05d " % i + "y" * 40}) + "\n")
out, err = t.run(["text", "--sample-bytes", "10k", skew], what="text --sample-bytes, skewed")
got = [int(l.split()[1]) if l.startswith("doc ") else -1 for l in out.splitlines()]
k = got[1] - got[0] if len(got) > 1 else 0
T.check("H" not in out and 10000 <= len(out) <= 20000 and k > 1 and
        got == list(range(k - 1, 20000, k)),
        "--sample-bytes 10k after a 100 KB document: %d bytes, %d documents %s ... %s"
        % (len(out), len(got), got[:3], got[-2:]))
T.check("note: 1 document longer than 1.2 kB (1/8 of --sample-bytes 10000) left out of the "
        "sample" in err and "skew.jsonl:1;" in err, "the left-out document not reported: " + err)
out2, err2 = t.run(["text", "--sample-bytes", "10k", "--quiet", skew], what="again, --quiet")
T.check(out2 == out and "1 document longer than" in err2, "not deterministic, or --quiet "
        "hid the note: %r" % err2)
# every document too long: nothing to sample is an error, not an empty success
_, err = t.run(["text", "--sample-bytes", "100", skew], rc=1, what="every document too long")
T.check("every document (20001) is longer than" in err and "--sample-bytes" in err, err)
print("text --sample-bytes: a document longer than N/8 left out and reported (%d documents, "
      "%d bytes)" % (len(got), len(out)))
# --max-bytes N: whole documents, up to the one that brings the output to N bytes
# (--help and the doc said "stops after N bytes")
out, _ = t.run(["text", "--max-bytes", "250", sb], what="text --max-bytes")
T.check(out.splitlines() == ["document %04d " % i + "x" * 90 for i in range(3)],
        "--max-bytes 250: %r" % out[:400])
p = subprocess.run([t.pretok, "--help"], capture_output=True, text=True)
T.check("--max-bytes N stops after the document that\n" in p.stdout and
        "whole documents" in p.stdout, "--help on --max-bytes: %s" % p.stdout)
# and the closing line counts the files it reached, not the ones given ("from 2 files"
# after reading one)
sb2 = t.path("sb2.jsonl")
shutil.copy(sb, sb2)
_, err = t.run(["text", "--max-bytes", "250", sb, sb2], what="text --max-bytes, two files")
T.check("from the first 1 of 2 files (--max-bytes reached)" in err, err)
_, err = t.run(["text", sb, sb2], what="text, two files")
T.check("records skipped, from 2 files\n" in err, err)
# an option the command does not read is refused, not ignored (convert --every 2
# converted every document; merge --bos and text --bos changed nothing)
for args, want in ((["--model", "m.model", "--out", t.path("x"), "--every", "2", sb],
                    "--every does not apply to a conversion; it is an option of ingot-pretok text"),
                   (["text", "--bos", sb], "--bos does not apply to text"),
                   (["merge", "--json", "--out", t.path("y"), t.path("z")],
                    "--json does not apply to merge, which takes --out")):
    _, err = t.run(args, rc=2, what="an option of another command")
    T.check(want in err and not os.path.exists(t.path("x")), "%s: %s" % (args, err))
print("text --max-bytes: whole documents, up to the one that reaches N (%d bytes)" % len(out))
# the output directory as the only input, --quiet: the error says why nothing was found
_, err = t.run(["--model", model, "--quiet", "--out", t.path("none"), t.path("none")], rc=1,
               what="--out as the input")
T.check("is the output directory" in err, "--out as the input, --quiet: %s" % err)

# Sizes read the same in pretok's report and ingot-dump info (decimal units,
# as pretok's MB/s): the corpus is ~25 kB, 24.x KiB in binary units.
sz_in, sz_docs = T.small_corpus(t, "sz", n_files=2, per_file=40, seed=7)
total = sum(os.path.getsize(os.path.join(sz_in, f)) for f in os.listdir(sz_in))
_, err = t.run(["--model", model, "--out", t.path("sz_out"), sz_in], what="sizes")
want = "%.1f kB" % (total / 1000.0)
T.check("from 2 files (%s)" % want in err, "pretok's report, %d bytes: %s" % (total, err))
p = subprocess.run([t.dump, "info", t.path("sz_out")], capture_output=True)
T.check(p.returncode == 0 and ("inputs           2 (%s)" % want) in p.stdout.decode(),
        "ingot-dump info, %d bytes: %s" % (total, p.stdout.decode()))
# The throughput is of document text, as the benchmarks count it: the bytes
# of the text fields (decoded), not of the JSON records (ids, keys, quotes and
# \uXXXX escapes; the report said "23.9 kB of text" for 20.5 kB of text).
out, err = t.run(["--model", model, "--out", t.path("tb_out"), "--json", sz_in], what="text bytes")
text = sum(len(d.encode("utf-8")) for d in sz_docs)
run = json.loads(out)["run"]
T.check(run["text_bytes"] == text and "%.1f kB of text" % (text / 1000.0) in err,
        "text bytes: %d (the documents' text: %d): %s" % (run["text_bytes"], text, err))
# A run that produced no document reports no throughput: a wrong --text-key
# (exit 1), and an empty part (exit 0), in text and as JSON.
_, err = t.run(["--model", model, "--out", t.path("tp0"), "--text-key", "nope", sz_in], rc=1,
               what="no document")
T.check("MB/s" not in err and "no document produced, so no throughput" in err,
        "a run without documents reports a throughput: %s" % err)
out, err = t.run(["--model", model, "--out", t.path("tp1"), "--part", "2/3", "--json", sz_in],
                 what="an empty part")
run = json.loads(out)["run"]
T.check(run["documents"] == 0 and run["text_mb_per_s"] is None and run["mtok_per_s"] is None,
        "an empty part's JSON rates: %s" % run)
T.check("MB/s" not in err and "no throughput" in err, "an empty part's report: %s" % err)
# ... and a rerun of a finished dataset, which runs nothing: "run" is there all the same,
# of the same shape (it was missing: run.stage_s raised KeyError)
out, _ = t.run(["--model", model, "--out", t.path("tp1"), "--part", "2/3", "--json", "--quiet",
                sz_in], what="an empty part, again")
again = json.loads(out)
T.check(again["already_complete"] and "run" in again and
        sorted(again["run"]) == sorted(run) and sorted(again["run"]["stage_s"]) ==
        sorted(run["stage_s"]) and again["run"]["documents"] == 0 and
        again["run"]["text_mb_per_s"] is None and
        all(v == 0 for v in again["run"]["stage_s"].values()),
        "--json of a finished dataset: run %s, a run's %s" % (again.get("run"), run))
print("sizes: the same units in pretok and ingot-dump; no throughput without documents")

# --out holding what a conversion did not write: a tokenizer.model (it was replaced, and a
# failed run removed it), a training run's files, an hf export's config.json: refused,
# exit 2, the file as it was
for name, what in [("tokenizer.model", "did not write"), ("ckpt-00000005.bin", "ckpt-00000005"),
                   (".ingot-train.lock", ".ingot-train.lock"), ("config.json", "config.json")]:
    out = t.path("own-" + name.strip("."))
    os.makedirs(out)
    with open(os.path.join(out, name), "w") as f:
        f.write("mine\n")
    for extra in ([], ["--text-key", "nope"]):   # a run that succeeds, one that fails
        _, err = t.run(base + ["--out", out] + extra + [inp], rc=2, what="--out with " + name)
        T.check(what in err and "choose" in err, "--out with %s: %s" % (name, err))
        T.check(open(os.path.join(out, name)).read() == "mine\n" and
                sorted(os.listdir(out)) in ([name], sorted([name, ".pretok.lock"])),
                "--out with %s: left %s" % (name, os.listdir(out)))
print("--out holding a tokenizer.model, a run's checkpoint, lock or config.json: refused, kept")

t.cleanup()
print("ok")
