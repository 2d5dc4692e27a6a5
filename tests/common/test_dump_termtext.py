#!/usr/bin/python3
"""ingot-dump names what it was given and what it found through term_text(): a
command, an option's value, a dataset directory, a lone shard, --out or a model's piece
holding an escape sequence (ESC ] 0 ; ... BEL, which retitles the terminal's window)
and a right-to-left override (U+202E) shows '?' in their place, and none of those bytes
reaches standard error or standard output. The unknown command, --split, --range,
--format, an extra argument, PATH in info, verify (intact, bad, a stray shard, the
tokenizer notes), docs and tokens (the shard's name), a lone shard's model messages,
export-bin (--out inside the input, not a file or a link, its summary and the import-bin hint)
and the pieces of tokens and stats were printed raw; info --json wrote a U+202E and a
DEL in a name as they were (the real names stay, escaped).

    test_dump_termtext.py INGOT_PRETOK INGOT_DUMP MODELS_DIR
(MODELS_DIR: tests/fuzz/corpus/spm_model, small models of each kind)"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_spm_proto import with_piece  # noqa: E402
from pyt_util import HOSTILE as H, HOSTILE_SHOWN as S, Tally, run_shown  # noqa: E402

PRETOK, DUMP, MODELS = sys.argv[1:4]
E = "n\\u{001B}]0;pwned\\u{0007}\\u{202E}h"   # a piece (H), as term_text_esc shows it
tally = Tally()


def run(prog, args, want_rc, what, says=(), out=()):
    return run_shown(tally, [prog] + args, want_rc, what, says, out)


with tempfile.TemporaryDirectory(prefix="ingot-dump-termtext-") as tmp:
    def path(*names):
        return os.path.join(tmp, *names)

    model = os.path.join(MODELS, "unigram.model")
    corpus = path("c.jsonl")
    with open(corpus, "w") as f:
        for k in range(50):
            f.write(json.dumps({"text": "the quick brown fox %d jumps over the lazy dog" % k})
                    + "\n")
    ds = path("d" + H)
    p = subprocess.run([PRETOK, "--model", model, "--out", ds, "--quiet", corpus],
                       capture_output=True)
    tally.check(p.returncode == 0, "the dataset: %r" % p.stderr)
    dss = path("d" + S)
    shard = os.path.join(ds, "train-000000.tok")

    # the command line
    run(DUMP, [H, ds], 2, "an unknown command", ["unknown command '" + S + "'"])
    run(DUMP, ["docs", ds, "--split", H], 2, "--split", ["--split " + S + ": expected"])
    run(DUMP, ["info", ds, H], 2, "an extra argument",
        ["unexpected argument '" + S + "' (PATH is " + dss])
    run(DUMP, ["tokens", ds, "--range", "1" + H], 2, "--range", ["--range 1" + S + ": expected"])
    run(DUMP, ["tokens", ds, "--range", "5:1" + H], 2, "--range's end",
        ["--range '1" + S + "'"])
    run(DUMP, ["export-bin", ds, "--out", path("x.bin"), "--format", H], 2, "--format",
        ["--format " + S + ": expected"])

    # a dataset directory of that name
    run(DUMP, ["info", ds], 0, "info", out=["dataset          " + dss])
    run(DUMP, ["info", ds, "--brief"], 0, "info --brief", out=["dataset          " + dss])
    run(DUMP, ["verify", ds], 0, "verify, intact", out=[dss + ": intact"])
    # --json: the real names, escaped (U+202E as \u202e, DEL as \u007f): run() checks
    # that none of the raw bytes is there
    for args in (["info", ds, "--json"], ["info", ds, "--json", "--brief"]):
        p = run(DUMP, args, 0, " ".join(args[:1] + args[2:]))
        try:
            tally.check(json.loads(p.stdout).get("path") == ds, "%s: path %r" % (args, p.stdout))
        except ValueError as e:
            tally.check(False, "%s: not JSON (%s): %r" % (args, e, p.stdout))
    dds = path("del\x7f" + H)
    p = subprocess.run([PRETOK, "--model", model, "--out", dds, "--quiet", corpus],
                       capture_output=True)
    tally.check(p.returncode == 0, "the dataset with DEL: %r" % p.stderr)
    p = run(DUMP, ["info", dds, "--json"], 0, "info --json, DEL in the name")
    tally.check(b"\x7f" not in p.stdout and b"\\u007f" in p.stdout,
                "info --json: DEL raw, not \\u007f: %r" % p.stdout[:300])
    p = run(DUMP, ["info", os.path.join(dds, "train-000000.tok"), "--json"], 0,
            "info --json SHARD, DEL in the name")
    tally.check(b"\x7f" not in p.stdout, "info --json SHARD: DEL raw: %r" % p.stdout[:300])
    # a path that is not UTF-8 (Latin-1 e-acute): JSON strings cannot hold it, and
    # info --json failed with "out of memory"; its byte is the text \xE9, as in
    # ingot-pretok --json
    lds = os.fsencode(tmp) + b"/lat\xe9n"
    shutil.copytree(os.fsencode(ds), lds)
    for args in ([b"info", lds, b"--json"], [b"info", lds, b"--json", b"--brief"],
                 [b"info", lds + b"/train-000000.tok", b"--json"]):
        p = subprocess.run([DUMP.encode()] + args, capture_output=True, timeout=60)
        what = b" ".join(args).decode("utf-8", "replace")
        tally.check(p.returncode == 0, "%s: exit %d: %r" % (what, p.returncode, p.stderr))
        try:
            got = json.loads(p.stdout)
            tally.check(got.get("path") == (args[1].decode("latin-1")
                                            .replace("\xe9", "\\xE9")),
                        "%s: path %r" % (what, got.get("path")))
        except ValueError as e:
            tally.check(False, "%s: not JSON (%s): %r" % (what, e, p.stdout[:300]))
    run(DUMP, ["docs", ds, "--count", "1"], 0, "docs", out=["train-000000.tok #0"])
    run(DUMP, ["stats", ds], 0, "stats")
    exp = run(DUMP, ["export-bin", ds, "--out", path("o" + H + ".bin")], 0, "export-bin",
              ["export-bin: " + path("o" + S + ".bin") + ": ",
               "--tokenizer " + dss + "/tokenizer.model"])
    run(DUMP, ["export-bin", ds, "--out", os.path.join(ds, "x.bin")], 2,
        "export-bin --out inside", ["--out " + dss + "/x.bin: inside the input " + dss])
    os.mkdir(path("dir" + H))
    run(DUMP, ["export-bin", ds, "--out", path("dir" + H)], 2, "export-bin --out a directory",
        ["--out " + path("dir" + S) + ": is a directory, not a regular file"])
    # a symbolic link: refused (the rename replaced it), it and its target shown with '?'
    os.symlink("t" + H + ".bin", path("l" + H + ".bin"))
    run(DUMP, ["export-bin", ds, "--out", path("l" + H + ".bin")], 2,
        "export-bin --out a symbolic link",
        ["--out " + path("l" + S + ".bin") + ": is a symbolic link (to t" + S + ".bin)"])
    tally.check(os.path.islink(path("l" + H + ".bin")), "export-bin replaced the link")
    # a stray shard, the manifest's tokenizer.file elsewhere and gone: notes naming it
    open(os.path.join(ds, "stray.tok"), "w").close()
    mpath = os.path.join(ds, "manifest.json")
    man = json.load(open(mpath))
    orig = json.dumps(man)
    man["tokenizer"]["file"] = "/nonexistent/m.model"
    with open(mpath, "w") as f:
        json.dump(man, f)
    run(DUMP, ["verify", ds], 0, "verify, a stray shard and a gone tokenizer.file",
        [dss + "/stray.tok is not listed", dss + "/manifest.json: key tokenizer.file"])
    with open(mpath, "w") as f:
        f.write(orig)
    one = path("s" + H + ".tok")   # a lone shard, before the damage
    shutil.copy(shard, one)
    # damage: the summary names the dataset
    with open(shard, "r+b") as f:
        f.seek(-1, 2)
        b = f.read(1)
        f.seek(-1, 2)
        f.write(bytes([b[0] ^ 0xFF]))
    run(DUMP, ["verify", ds], 1, "verify, a damaged shard",
        [dss + ": 1 of 1 shards bad", dss + "/train-000000.tok: "])
    os.unlink(os.path.join(ds, "stray.tok"))
    run(DUMP, ["info", path("gone" + H)], 1, "a PATH not there", [path("gone" + S) + ": "])

    # a lone shard of that name, no manifest beside it
    ones = path("s" + S + ".tok")
    run(DUMP, ["info", one], 0, "info SHARD", out=["shard            " + ones])
    run(DUMP, ["verify", one], 0, "verify SHARD", out=[ones + ": intact"])
    run(DUMP, ["docs", one], 2, "docs SHARD, no model",
        [ones + ": no manifest.json next to the shard"])
    run(DUMP, ["docs", one, "--ids", "--count", "1"], 0, "docs --ids SHARD")
    run(DUMP, ["tokens", one, "--range", "0:3"], 0, "tokens SHARD", out=["s" + S + ".tok"])
    other = path("m" + H + ".model")
    shutil.copy(os.path.join(MODELS, "bpe.model"), other)
    run(DUMP, ["docs", one, "--model", other], 1, "docs SHARD, another model",
        [path("m" + S + ".model") + ": tokenizer hash", "in " + ones + ": not the model"])
    run(DUMP, ["export-bin", one, "--out", path("o2.bin"), "--split", "val"], 1,
        "export-bin SHARD, no such split",
        [ones + ": a train shard, not in --split val: nothing to export"])

    # a model whose piece is ESC ] 0 ; pwned BEL U+202E: tokens and stats name each
    # hidden character (\u{001B}), raw nowhere
    good = open(model, "rb").read()
    bad, pid = with_piece(good, H.encode())
    pm = path("p.model")
    with open(pm, "wb") as f:
        f.write(bad)
    ids = path("ids.bin")
    with open(ids, "wb") as f:
        f.write(struct.pack("<8H", 1, 5, pid, 7, pid, 1, pid, 9))
    pds = path("pds")
    p = subprocess.run([PRETOK, "import-bin", "--format", "nanogpt", "--tokenizer", pm, "--out",
                        pds, ids], capture_output=True)
    tally.check(p.returncode == 0, "the dataset of ids: %r" % p.stderr)
    run(DUMP, ["tokens", pds, "--range", "0:4"], 0, "tokens, a piece with ESC",
        out=["2 %d %s " % (pid, E)])
    run(DUMP, ["stats", pds], 0, "stats, a piece with ESC", out=["%s\n" % E])
    print("ingot-dump: the command line, a dataset, a lone shard, export-bin and a model's "
          "pieces show ESC, BEL and U+202E as '?'")
    shutil.rmtree(tmp, ignore_errors=True)
tally.end()
