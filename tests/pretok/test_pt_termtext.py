#!/usr/bin/python3
"""ingot-pretok names files, directories and keys in its messages through term_text():
a name holding an escape sequence (ESC ] 0 ; ... BEL, which retitles the terminal's
window) and a right-to-left override (U+202E) shows '?' in their place, and none of
those bytes reaches standard error or standard output. Input paths given and found
walking a directory (the notes, the files of unknown format, a damaged or unreadable
file, a bad record's file:line under --on-error fail, the first cases of the report),
--out (the report, a full --out, an --out that is a file), a JSON key of a record, a
--text-key, the refused rerun (its options, inputs and command line), a resume that
redoes a damaged shard, merge, import-bin and text were printed raw. --json keeps the
real names (every character past ASCII as \\uXXXX) and stays valid JSON.

    test_pt_termtext.py INGOT_PRETOK MODELS_DIR
(MODELS_DIR: tests/fuzz/corpus/spm_model, small models of each kind)"""
import gzip
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import HOSTILE as H, HOSTILE_SHOWN as S, Tally, run_shown  # noqa: E402

PRETOK, MODELS = sys.argv[1:3]
MODEL = os.path.join(MODELS, "unigram.model")
tally = Tally()


def run(args, want_rc, what, says=(), env=None):
    """Run ingot-pretok: exit status want_rc, every text of says (where H is S) on
    standard error, none of the raw bytes on standard error or output. Returns
    (stdout, stderr) as bytes."""
    p = run_shown(tally, [PRETOK] + args, want_rc, what, says, env=env)
    return p.stdout, p.stderr


def records(n, extra=()):
    return "".join(json.dumps({"text": "the quick brown fox %d jumps over the lazy dog" % k})
                   + "\n" for k in range(n)) + "".join(extra)


with tempfile.TemporaryDirectory(prefix="ingot-pt-termtext-") as tmp:
    def path(*names):
        return os.path.join(tmp, *names)

    # a corpus directory of that name: a good file, one with a record whose key holds
    # the override (missing_text, quoting the record's keys), the good one under a
    # second name (a note), a file of unknown format, a .gz that is not gzip (damaged),
    # a dangling link (unreadable) and a dataset's own file (a note)
    cdir = path("c" + H)
    os.makedirs(os.path.join(cdir, "own"))
    good = os.path.join(cdir, H + ".jsonl")
    with open(good, "w") as f:
        f.write(records(50))
    keys = os.path.join(cdir, "k" + H + ".jsonl")
    with open(keys, "w") as f:
        f.write(records(50, ['{"te\u202ext": "a"}\n']))
    os.symlink(good, os.path.join(cdir, "z" + H + ".jsonl"))
    open(os.path.join(cdir, H + ".parquet"), "w").close()
    with open(os.path.join(cdir, H + ".txt.gz"), "w") as f:
        f.write("not gzip\n")
    os.symlink(path("gone"), os.path.join(cdir, "u" + H + ".jsonl"))
    open(os.path.join(cdir, "own", "manifest.json"), "w").close()

    cs = os.path.join(tmp, "c" + S)
    out = path("o" + H)
    _, err = run(["--model", MODEL, "--out", out, "--allow-damaged-inputs",
                  "--max-skip-fraction", "0.5", "--threads", "2", cdir], 0,
                 "a directory walk, report printed",
                 ["%s/z%s.jsonl is the same file as %s/%s.jsonl; read once" % (cs, S, cs, S),
                  "%s/own/manifest.json: a dataset's own file" % cs,
                  "ingot-pretok: %s/o%s: " % (tmp, S), "    %s/%s.parquet\n" % (cs, S),
                  "    %s/%s.txt.gz: not_gzip: named .gz but is not gzip" % (cs, S),
                  "    %s/u%s.jsonl: unreadable_file: cannot read" % (cs, S),
                  "    %s/k%s.jsonl:51: missing_text: no field \"text\" (its fields: te?xt)"
                  % (cs, S)])
    print("a directory walk: notes, unknown, damaged, unreadable, first cases, --out: '?'")

    # --json: the real names, valid JSON, no raw byte (run() checks stdout too)
    js, _ = run(["--model", MODEL, "--out", out, "--allow-damaged-inputs", "--max-skip-fraction",
                 "0.5", "--quiet", "--json", cdir], 0, "--json of the finished dataset")
    try:
        rep = json.loads(js)
    except ValueError as e:
        rep = {}
        tally.check(False, "--json: not JSON (%s): %r" % (e, js))
    tally.check(rep.get("out") == out, "--json out: %r" % rep.get("out"))
    tally.check(os.path.join(cdir, H + ".parquet") in rep.get("unknown_format_examples", []),
                "--json unknown_format_examples: %r" % rep.get("unknown_format_examples"))
    tally.check(any(H in e and "te\u202ext" in e for e in rep.get("skip_examples", [])),
                "--json skip_examples: %r" % rep.get("skip_examples"))
    tally.check(any(d.get("file") == os.path.join(cdir, H + ".txt.gz")
                    for d in rep.get("damaged", [])), "--json damaged: %r" % rep.get("damaged"))
    js, _ = run(["--model", MODEL, "--out", path("nothing"), "--json", path(H + ".none")], 2,
                "--json of a usage error", ["%s.none: no such file or directory" % S])
    try:
        tally.check(H in json.loads(js)["error"] or S in json.loads(js)["error"],
                    "--json error: %r" % js)
    except (ValueError, KeyError) as e:
        tally.check(False, "--json error: not the object (%s): %r" % (e, js))
    # DEL (0x7F), which jansson writes as it is even with JSON_ENSURE_ASCII: \u007f
    ddir = path("del\x7f" + H)
    os.mkdir(ddir)
    with open(os.path.join(ddir, "a\x7f.jsonl"), "w") as f:
        f.write(records(50))
    dout = path("o\x7f" + H)
    js, _ = run(["--model", MODEL, "--out", dout, "--quiet", "--json", ddir], 0,
                "--json, names holding DEL")
    tally.check(b"\x7f" not in js and b"\\u007f" in js, "--json: DEL raw, not \\u007f: %r" % js)
    try:
        tally.check(json.loads(js).get("out") == dout, "--json out with DEL: %r" % js)
    except ValueError as e:
        tally.check(False, "--json with DEL: not JSON (%s): %r" % (e, js))
    js, _ = run(["--model", MODEL, "--out", dout, "--json", path("n\x7f.none")], 2,
                "--json of a usage error, DEL in the name")
    tally.check(b"\x7f" not in js, "--json error: DEL raw: %r" % js)
    print("--json: valid, the real names, nothing raw (DEL as \\u007f)")

    # damaged inputs not accepted: the failure names the first and --out; --quiet lists them
    run(["--model", MODEL, "--out", path("d" + H), "--max-skip-fraction", "0.5", "--quiet",
         cdir], 1, "damaged inputs refused",
        ["  %s/%s.txt.gz: not_gzip: named .gz" % (cs, S),
         "(%s/%s.txt.gz: not_gzip, ...;" % (cs, S),
         "The dataset in %s/d%s is complete" % (tmp, S)])
    # too many skips: the message names --out
    run(["--model", MODEL, "--out", path("k" + H), "--quiet", keys], 1,
        "--max-skip-fraction exceeded", ["The dataset in %s/k%s is complete" % (tmp, S)])
    # --on-error fail: file:line of a malformed record
    bad = path(H + "-bad.jsonl")
    with open(bad, "w") as f:
        f.write(records(5, ['{"text": "a", \x7f}\n']))
    run(["--model", MODEL, "--out", path("f" + H), "--on-error", "fail", "--quiet", bad], 1,
        "--on-error fail", ["%s-bad.jsonl:6: malformed_json: column " % S])
    # a key of the record and the --text-key quoted under --on-error fail
    run(["--model", MODEL, "--out", path("g" + H), "--on-error", "fail", "--quiet",
         "--text-key", "b\x1bdy", good], 1, "--on-error fail, a missing field",
        ["%s.jsonl:1: missing_text: no field \"b?dy\" (its fields: text)" % S])
    print("damaged, too many skips, --on-error fail (file:line, keys, --text-key): '?'")

    # command-line names: no such input, a pattern matching nothing, --text-key, an
    # option's value, an input inside --out, --out holding another's shards or a file
    run(["--model", MODEL, "--out", path("x"), path(H + ".none")], 2, "no such input",
        ["%s.none: no such file or directory" % S])
    run(["--model", MODEL, "--out", path("x"), path(H + "*.none")], 2, "a glob matching nothing",
        ["%s*.none: the pattern matches no file" % S])
    run(["--model", MODEL, "--out", path("x"), "--text-key", "a.." + H, good], 2,
        "--text-key refused", ["--text-key 'a..%s': empty component" % S])
    run(["--model", MODEL, "--out", path("x"), "--on-error", H, good], 2,
        "--on-error refused", ["--on-error %s: expected skip or fail" % S])
    run(["--model", MODEL, "--out", out, os.path.join(out, "manifest.json")], 2,
        "an input inside --out", ["o%s/manifest.json is inside the output directory" % S])
    other = path("s" + H)
    os.mkdir(other)
    open(os.path.join(other, "train-000000.tok"), "w").close()
    run(["--model", MODEL, "--out", other, good], 2, "--out holding shards",
        ["s%s already holds shards (*.tok) but no manifest.json" % S])
    afile = path("a" + H)
    open(afile, "w").close()
    run(["--model", MODEL, "--out", afile, good], 1, "--out is a file",
        ["a%s: exists and is not a directory" % S])
    print("command-line names: inputs, --text-key, option values, --out: '?'")

    # the rerun refused: other options (a --text-key), another input list, a modified
    # input; an unfinished conversion's own command line
    run(["--model", MODEL, "--out", out, "--text-key", "t\x1bxt", cdir], 1,
        "rerun, another --text-key",
        ["o%s holds a complete dataset" % S, "--text-key t?xt (was text)"])
    run(["--model", MODEL, "--out", out, "--allow-damaged-inputs", "--max-skip-fraction", "0.5",
         cdir, bad], 1, "rerun, another input",
        ["first difference: #4 %s/%s-bad.jsonl is new" % (tmp, S)])
    one = path("one" + H)
    run(["--model", MODEL, "--out", one, "--quiet", good], 0, "a dataset of one input")
    os.utime(good, (1, 1))
    run(["--model", MODEL, "--out", one, "--quiet", good], 1, "rerun, a modified input",
        ["%s.jsonl has the modification time" % S])
    part = path("p" + H)
    run(["--model", MODEL, "--out", part, "--shard-tokens", "100", "--quiet", good], -9,
        "a conversion killed after a shard",
        env={"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "1",
             "INGOT_PRETOK_TEST_CRASH_MODE": "after_state"})
    run(["--model", MODEL, "--out", part, "--shard-tokens", "200", good], 1,
        "rerun of an unfinished conversion",
        ["p%s holds an unfinished conversion" % S,
         "finish it with its own command: ", "--out %s/p%s --shard-tokens 100" % (tmp, S)])
    # a finished shard damaged: the note names it, and the conversion is redone
    with open(os.path.join(part, "train-000000.tok"), "r+b") as f:
        f.seek(4200)
        b = f.read(1)
        f.seek(4200)
        f.write(bytes([b[0] ^ 0xFF]))
    run(["--model", MODEL, "--out", part, "--shard-tokens", "100", good], 0,
        "resume over a damaged shard", ["p%s/train-000000.tok: field tokens" % S,
                                        "the conversion is redone from the start"])
    # --out in use by another run (its lock held), and a damaged resume state
    import fcntl
    with open(os.path.join(part, ".pretok.lock"), "a") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        run(["--model", MODEL, "--out", part, "--shard-tokens", "100", good], 1,
            "--out in use", ["p%s is in use by " % S, "(lock %s/p%s/.pretok.lock)" % (tmp, S)])
    run(["--model", MODEL, "--out", path("r" + H), "--shard-tokens", "100", "--quiet", good],
        -9, "another conversion killed after a shard",
        env={"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "1",
             "INGOT_PRETOK_TEST_CRASH_MODE": "after_state"})
    with open(path("r" + H, ".pretok-state.json"), "w") as f:
        f.write("{\"x\": \"\u202e\x1b")
    run(["--model", MODEL, "--out", path("r" + H), "--shard-tokens", "100", good], 1,
        "a damaged resume state", ["r%s/.pretok-state.json: damaged resume state (" % S])
    print("rerun: options, inputs, a modified input, the command line, a damaged shard, "
          "the lock, a damaged state: '?'")

    # merge: parts in directories of that name, a part missing, a damaged manifest
    parts = [path("q%d" % k + H) for k in (1, 2)]
    for k, d in enumerate(parts):
        run(["--model", MODEL, "--out", d, "--part", "%d/2" % (k + 1), "--max-skip-fraction", "0.5",
             "--quiet", good, bad], 0, "part %d" % (k + 1))
    run(["merge", path("m" + H), parts[0]], 2, "merge, a part missing",
        ["q1%s: part 1 of 2, but 1 part directory was given" % S])
    broken = path("b" + H)
    shutil.copytree(parts[0], broken)
    with open(os.path.join(broken, "manifest.json"), "w") as f:
        f.write("{\n")
    run(["merge", path("mb" + H), broken, parts[1]], 1, "merge, a damaged manifest",
        ["b%s/manifest.json: line " % S])
    run(["merge", "--max-skip-fraction", "0.5", path("m" + H), parts[0], parts[1]], 0, "merge",
        ["moved into %s/m%s" % (tmp, S)])
    print("merge: parts, their manifests, OUT: '?'")

    # import-bin: a file of an odd size, an --out holding a dataset, the summary
    odd = path(H + ".bin")
    with open(odd, "wb") as f:
        f.write(b"\x01\x00\x02")
    run(["import-bin", "--format", "nanogpt", "--vocab", "10", "--out", path("i" + H), odd], 1,
        "import-bin, a file of an odd size", ["%s.bin: 3 bytes, an odd number" % S])
    with open(odd, "wb") as f:
        f.write(b"\x01\x00\x02\x00")
    run(["import-bin", "--format", "nanogpt", "--vocab", "10", "--out", path("i" + H), odd], 0,
        "import-bin", ["ingot-pretok import-bin: %s/i%s: " % (tmp, S)])
    run(["import-bin", "--format", "nanogpt", "--vocab", "10", "--out", path("i" + H), odd], 2,
        "import-bin, --out holding a dataset", ["i%s already holds a dataset" % S])
    run(["import-bin", "--format", H, "--vocab", "10", "--out", path("j"), odd], 2,
        "import-bin, --format refused", ["--format %s: expected llmc" % S])
    print("import-bin: its files, --out, --format: '?'")

    # text: every record skipped names the first; a damaged input's warning
    skipped = path(H + "-keys.jsonl")
    with open(skipped, "w") as f:
        f.write('{"te\u202ext": "a"}\n')
    run(["text", skipped], 1, "text, every record skipped",
        ["the first: %s/%s-keys.jsonl:1: missing_text: no field \"text\" (its fields: te?xt)"
         % (tmp, S)])
    cut = path(H + ".jsonl.gz")
    with open(cut, "wb") as f:
        f.write(gzip.compress(records(20).encode())[:-30])
    run(["text", "--quiet", good, cut], 0, "text, a damaged input",
        ["(%s/%s.jsonl.gz: truncated_gzip)" % (tmp, S)])
    print("text: the first skip, a damaged input: '?'")
    shutil.rmtree(tmp, ignore_errors=True)
tally.end()
