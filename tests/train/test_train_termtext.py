#!/usr/bin/python3
"""ingot-train and its subcommands name paths and values through term_text(): a --data,
--ckpt-dir, --metrics, --config, --init-from, --resume-from, --dump-batch, --out or
--prompt-file path, a checkpoint's file, a dataset's directory or a value given to an
option holding an escape sequence (ESC ] 0 ; ... BEL, which retitles the terminal's
window) and a right-to-left override (U+202E) shows '?' in their place, and none of those
bytes reaches standard error or standard output. The data loader (its shard names too),
the checkpoint reader and writer, the metrics file, --config files (a JSON key, a
parser's quote of the file), the settings layers, the option values, the training
loop's lines, export, generate and eval (eval's copy-pastable --data line quotes such a
name as $'...') printed them raw; --metrics and eval --json wrote a U+202E and a DEL in a
mixture's names as they were (the real names stay, escaped). A mixture's short names of
long multi-byte directory names ("a" + "日本語" * 5, two "日本語" * 6 told apart by "#i")
are cut at a character's start: cut inside one, jansson refused them, and eval --json
gave null names and --metrics an empty val_src_names. A name that is not UTF-8 (Latin-1
"lat\xe9n") is "lat?n" there: it was null, and left out of --metrics' list.

    test_train_termtext.py INGOT_PRETOK INGOT_TRAIN MODELS_DIR
(MODELS_DIR: tests/fuzz/corpus/spm_model, small models of each kind)"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import (HOSTILE as H, HOSTILE_RAW as RAW, HOSTILE_SHOWN as S,  # noqa: E402
                      Tally, run_shown)

PRETOK, TRAIN, MODELS = sys.argv[1:4]
TINY = ["--model", "tiny", "--layers", "1", "--dim", "32", "--heads", "2", "--seq-len", "16",
        "--batch", "2", "--threads", "1", "--val-every", "0"]
tally = Tally()


def run(args, want_rc, what, says=(), out=(), stdin=None):
    """Run ingot-train (run_shown: the exit status, the texts, no raw byte)."""
    return run_shown(tally, [TRAIN] + args, want_rc, what, says, out, stdin=stdin)


with tempfile.TemporaryDirectory(prefix="ingot-train-termtext-") as tmp:
    def path(*names):
        return os.path.join(tmp, *names)

    def shown(*names):
        return os.path.join(tmp, *names).replace(H, S)

    corpus = path("c.jsonl")
    with open(corpus, "w") as f:
        for k in range(200):
            f.write(json.dumps({"text": "the quick brown fox %d jumps over the lazy dog, "
                                        "and the cat sleeps %d" % (k, k * 7)}) + "\n")
    model = os.path.join(MODELS, "unigram.model")

    def dataset(name, *extra):
        p = subprocess.run([PRETOK, "--model", model, "--out", path(name), "--quiet"] +
                           list(extra) + [corpus], capture_output=True)
        tally.check(p.returncode == 0, "the dataset %r: %r" % (name, p.stderr))
        return path(name)

    # the second holds a DEL too, which jansson writes as it is even with ENSURE_ASCII
    ds, ds2 = dataset("d" + H, "--val-docs", "20"), dataset("e\x7f" + H, "--val-docs", "20")
    dss, ds2s = shown("d" + H), shown("e\x7f" + H).replace("\x7f", "?")

    # the options' values and the command line
    for flag in ("--arch", "--precision", "--lr-schedule", "--data-order", "--grad-reduce",
                 "--quiet", "--steps", "--time-limit"):
        run(["--synthetic", "--vocab", "64", flag, "x" + H], 2, flag, ["x" + S])
    run(["--synthetic", "--vocab", "64", "--device", "x" + H], "nonzero", "--device",
        ["--device x" + S])
    run(["--synthetic", "--vocab", "64", H], 2, "an extra argument",
        ["unexpected argument '" + S + "'"])
    run(["--data", ds + ":0"], 2, "--data with a weight of 0", ["--data " + dss + ":0: weight"])
    run(["--data", ds, "--data", ds], 2, "--data twice", ["--data " + dss + " is given twice"])
    run(["--data", ds, "--seq-len", "1000000", "--steps", "1"] + TINY[:6], 1, "--data too short",
        [dss + ": the train split has"])

    # --config files: a path, a key, the JSON parser's quote of the file
    cfg = path("cfg" + H + ".toml")
    with open(cfg, "w") as f:
        f.write("steps 5\n")
    run(["--config", cfg], 2, "--config, no '='", ["--config " + shown("cfg" + H + ".toml") +
                                                  ":1: expected key = value"])
    with open(cfg, "w") as f:
        f.write(json.dumps({"st" + H + "eps": 5}) + "\n")   # ESC as \u001b
    run(["--config", cfg], 2, "--config, an unknown key holding ESC",
        ["--config " + shown("cfg" + H + ".toml") + ":1: unknown key \"st" + S + "eps\""])
    with open(cfg, "w") as f:
        f.write('{"steps": x\x1b]0;pwned\x07}\n')
    run(["--config", cfg], 2, "--config, not JSON", [shown("cfg" + H + ".toml") + ":1: not a"])
    with open(cfg, "w") as f:
        f.write('steps = "x%s"\n' % H)
    run(["--config", cfg, "--synthetic", "--vocab", "64"], 2, "--config, a value",
        ["--steps 'x" + S + "'"])
    run(["--config", cfg, "--config", path("o" + H)], 2, "--config twice",
        ["--config given twice (" + shown("cfg" + H + ".toml") + ", then " + shown("o" + H)])

    # a run: its lines name the data, the checkpoints and the metrics file
    ck, met = path("ck" + H), path("m" + H + ".jsonl")
    cks, mets = shown("ck" + H), shown("m" + H + ".jsonl")
    run(["--data", ds, "--steps", "2", "--ckpt-dir", ck, "--metrics", met] + TINY, 0,
        "a run", out=["data: " + dss + ": ", "checkpoint " + cks + "/ckpt-00000002.bin"])
    run(["--data", ds, "--steps", "2", "--ckpt-dir", ck] + TINY, 2,
        "a new run into a --ckpt-dir of checkpoints",
        ["--ckpt-dir " + cks + " already holds checkpoints of a run (the latest " + cks])
    run(["--resume", "--ckpt-dir", ck, "--steps", "3", "--metrics", met], 0, "--resume",
        out=["resumed from " + cks + "/ckpt-00000002.bin"])
    mix_met = path("mix.jsonl")
    run(["--data", ds, "--data", ds2 + ":2", "--steps", "1", "--val-every", "1", "--metrics",
         mix_met] + TINY[:-2], 0, "a mixture",
        out=["data 0: " + dss + ", weight", "e?" + S + " ", "tokens taken from " + ds2s])
    # --metrics: the sources' names are the real ones, escaped (json_term.h)
    raw = open(mix_met, "rb").read()
    tally.check(not any(r in raw for r in RAW + (b"\x7f",)) and b"\\u007f" in raw,
                "--metrics: a raw byte in the names: %r" % raw)
    names = [json.loads(line).get("val_src_names") for line in raw.splitlines()]
    tally.check(["d" + H, "e\x7f" + H] in names, "--metrics val_src_names: %r" % names)
    run(["--data", ds, "--steps", "1", "--metrics", path("d" + H)] + TINY, 2,
        "--metrics a directory", ["--metrics " + dss + ": exists and is not a regular file"])
    bad = path("x" + H + ".jsonl")
    with open(bad, "w") as f:
        f.write("hello\n")
    run(["--data", ds, "--steps", "1", "--metrics", bad] + TINY, 1, "--metrics not ours",
        [shown("x" + H + ".jsonl") + ": not a metrics file"])
    run(["--data", ds, "--steps", "1", "--ckpt-dir", bad] + TINY, 1,
        "--ckpt-dir a file", [shown("x" + H + ".jsonl")])
    run(["--data", ds, "--steps", "1", "--dump-batch", path("d" + H)] + TINY, 2,
        "--dump-batch a directory", ["--dump-batch " + dss + ": exists and is not"])
    # checkpoints that are not
    notck = path("k" + H + ".bin")
    with open(notck, "wb") as f:
        f.write(b"NOTACKPT" + bytes(4088))
    run(["--data", ds, "--init-from", notck] + TINY, 1, "--init-from not a checkpoint",
        [shown("k" + H + ".bin") + ": not an Ingot checkpoint"])
    os.mkdir(path("empty" + H))
    run(["--resume-from", path("empty" + H)], "nonzero", "--resume-from, no checkpoint",
        ["--resume-from " + shown("empty" + H) + ": " + shown("empty" + H) +
         ": no checkpoint in this directory"])
    ck2 = path("ck2" + H)
    run(["--data", ds, "--steps", "1", "--ckpt-dir", ck2] + TINY, 0, "a second run")
    with open(os.path.join(ck2, "ckpt-00000001.bin"), "r+b") as f:
        f.seek(200)
        f.write(b"\xff\xff\xff\xff")
    run(["--resume", "--ckpt-dir", ck2, "--steps", "2"], 1, "--resume of a damaged checkpoint",
        ["the only checkpoint of --ckpt-dir " + shown("ck2" + H)])

    # export, generate, eval
    last = os.path.join(ck, "ckpt-00000003.bin")
    run(["export", ck, "--format", H, "--out", path("x")], 2, "export --format",
        ["--format " + S + ": expected"])
    run(["export", ck, "--format", "safetensors", "--out", bad], 2, "export --out a file",
        ["--out " + shown("x" + H + ".jsonl") + ": exists and is not a directory"])
    run(["export", ck, "--format", "hf", "--out", ds], 2, "export --out a dataset",
        ["--out " + dss + ": a dataset directory"])
    run(["export", ck, "--format", "llmc", "--dtype", H, "--out", path("x")], 2,
        "export --dtype", ["--dtype " + S])
    run(["export", ck, "--format", "safetensors", "--out", path("ex" + H)], 0, "export",
        out=["exported " + cks + "/ckpt-00000003.bin", "to " + shown("ex" + H)])
    run(["generate", ck, "--prompt", "the", "--precision", H], 2, "generate --precision",
        ["--precision: '" + S + "'"])
    run(["generate", ck, "--prompt-ids", "1 x" + H], 2, "generate --prompt-ids",
        ["'x" + S + "' is not a list"])
    pf = path("p" + H + ".txt")
    with open(pf, "wb") as f:
        f.write(b"the\0fox")
    run(["generate", ck, "--prompt-file", pf], 2, "generate --prompt-file with a NUL",
        ["--prompt-file " + shown("p" + H + ".txt") + ": a NUL byte"])
    run(["generate", ck, H, "--prompt", "the"], 2, "generate, an extra argument",
        ["('" + S + "' after " + cks + ")"])
    run(["generate", last, "--prompt", "the", "--tokens", "2", "--threads", "1"], 0, "generate",
        ["step 3 of " + cks + "/ckpt-00000003.bin"])
    run(["eval", ck, "--split", H], 2, "eval --split", ["--split " + S + ": expected"])
    run(["eval", ck, "--threads", "1", "--tokens", "64"], 0, "eval, the checkpoint's data",
        ["the checkpoint's data: $'" + path("d").replace("'", "\\'") +
         "n\\x1b]0;pwned\\x07\\xe2\\x80\\xaeh'"],
        out=["eval: step 3 of " + cks + " on " + dss + " (val split)"])
    p = run(["eval", ck, "--data", ds, "--data", ds2, "--json", "--threads", "1", "--tokens",
             "64", "--quiet"], 0, "eval --json of a mixture")
    tally.check(b"\x7f" not in p.stdout and b"\\u007f" in p.stdout,
                "eval --json: DEL raw, not \\u007f: %r" % p.stdout)
    try:
        tally.check(json.loads(p.stdout).get("src_names") == ["d" + H, "e\x7f" + H],
                    "eval --json src_names: %r" % p.stdout)
    except ValueError as e:
        tally.check(False, "eval --json: not JSON (%s): %r" % (e, p.stdout))
    # long multi-byte names: the short names are cut at a character's start (40 bytes
    # with the NUL; 35 before "#i"), and both JSON outputs hold them all, as valid JSON
    jp = "\u65e5\u672c\u8a9e"   # 日本語, 9 bytes
    os.makedirs(path("x"))
    os.makedirs(path("y"))
    longs = [dataset(n, "--val-docs", "20") for n in
             ("a" + jp * 5, "b" + jp * 5, os.path.join("x", jp * 6), os.path.join("y", jp * 6))]
    want = ["a" + jp * 4, "b" + jp * 4, jp * 3 + jp[:2] + "#2", jp * 3 + jp[:2] + "#3"]
    long_met = path("long.jsonl")
    data = [a for d in longs for a in ("--data", d)]
    p = run(data + ["--steps", "1", "--val-every", "1", "--metrics", long_met, "--ckpt-dir",
                    path("cklong")] + TINY[:-2], 0, "a mixture of long multi-byte names",
            out=["| " + ", ".join(want[:1])])
    line = [l for l in p.stdout.decode().splitlines() if "| val loss" in l]
    tally.check(len(line) == 1 and "?" not in line[0] and all(w + " " in line[0] for w in want),
                "the val line of long multi-byte names: %r" % line)
    try:
        recs = [json.loads(l) for l in open(long_met, "rb").read().splitlines()]
        got = [r["val_src_names"] for r in recs if "val_src_names" in r]
        tally.check(got == [want], "--metrics val_src_names of long names: %r" % got)
    except ValueError as e:
        tally.check(False, "--metrics of long names: not JSON (%s)" % e)
    p = run(["eval", path("cklong"), "--json", "--threads", "1", "--tokens", "64", "--quiet"] +
            data, 0, "eval --json of long multi-byte names")
    try:
        got = json.loads(p.stdout).get("src_names")
        tally.check(got == want, "eval --json src_names of long names: %r" % got)
    except ValueError as e:
        tally.check(False, "eval --json of long names: not JSON (%s): %r" % (e, p.stdout))

    # a name that is not UTF-8: as term_text() shows it (JSON holds only UTF-8)
    lat = dataset(os.fsdecode(b"lat\xe9n"), "--val-docs", "20")
    lat_met = path("lat.jsonl")
    run(["--data", lat, "--data", ds, "--steps", "1", "--val-every", "1", "--metrics", lat_met,
         "--ckpt-dir", path("cklat")] + TINY[:-2], 0, "a mixture with a Latin-1 name",
        out=["| lat?n "])
    try:
        recs = [json.loads(l) for l in open(lat_met, "rb").read().splitlines()]
        got = [r["val_src_names"] for r in recs if "val_src_names" in r]
        tally.check(got == [["lat?n", "d" + H]], "--metrics val_src_names, Latin-1: %r" % got)
    except ValueError as e:
        tally.check(False, "--metrics, a Latin-1 name: not JSON (%s)" % e)
    p = run(["eval", path("cklat"), "--json", "--threads", "1", "--tokens", "64", "--quiet",
             "--data", lat, "--data", ds], 0, "eval --json of a Latin-1 name")
    try:
        got = json.loads(p.stdout).get("src_names")
        tally.check(got == ["lat?n", "d" + H], "eval --json src_names, Latin-1: %r" % got)
    except ValueError as e:
        tally.check(False, "eval --json of a Latin-1 name: not JSON (%s): %r" % (e, p.stdout))

    print("ingot-train: option values, --config, a run's lines, its files' refusals, "
          "checkpoints, export, generate and eval show ESC, BEL and U+202E as '?'")
    shutil.rmtree(tmp, ignore_errors=True)
tally.end()
