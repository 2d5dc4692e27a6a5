#!/usr/bin/python3
"""Bad input, both policies. Under --on-error skip every good record is kept
(also those of a damaged file before the damage) and each problem is counted
by reason with file:line examples, in the report and in the manifest; under
--on-error fail the run stops with a message naming file and line and leaves
no shard and no manifest. Repairs (BOM, CRLF, blank lines, no final newline,
NUL, invalid UTF-8 / lone surrogates under --invalid-utf8 replace) never
fail a run."""
import json
import os
import resource
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

spm = T.import_sentencepiece()

t = T.Tools(sys.argv)
model = T.small_unigram(t)
sp = spm.SentencePieceProcessor(model_file=model)
good = T.documents(20, 200)
gi = iter(good)


def g():
    return json.dumps({"text": next(gi)}).encode()


bad = t.path("bad")
os.mkdir(bad)
# name -> (bytes, expected texts in order, expected counters, first bad line)
cases = {}


def case(name, data, texts, counts, line=None):
    cases[name] = (data, texts, counts, line)


def texts_of(lines):
    return [json.loads(x)["text"] for x in lines]


a, b = g(), g()
case("malformed.jsonl", a + b'\n{"text": "x"\n' + b + b"\n", texts_of([a, b]),
     {"malformed_json": 1}, 2)
a, b = g(), g()
case("missing.jsonl", a + b'\n{"title": "no text"}\n' + b + b"\n", texts_of([a, b]),
     {"missing_text": 1}, 2)
a = g()
case("notstring.jsonl", b'{"text": 5}\n{"text": null}\n{"text": {"a": 1}}\n' + a + b"\n",
     texts_of([a]), {"text_not_string": 3}, 1)
a, b = g(), g()
case("badutf8.jsonl", a + b'\n{"text": "caf\xe9 ol\xc3 words"}\n' + b + b"\n",
     [json.loads(a)["text"], b"caf\xe9 ol\xc3 words".decode("utf-8", "replace"),
      json.loads(b)["text"]], {"fixed_invalid_utf8": 1}, 2)
case("surrogate.jsonl", b'{"text": "a\\ud800b good words"}\n', ["a\ufffdb good words"],
     {"fixed_lone_surrogate": 1}, 1)
a = g()
case("emptytext.jsonl", a + b'\n{"text": ""}\n', texts_of([a]), {"empty_text": 1}, 2)
case("nul.jsonl", b'{"text": "a\\u0000b words"}\n{"text": "raw\x00nul"}\n', ["ab words"],
     {"fixed_nul": 1, "malformed_json": 1}, {"fixed_nul": 1, "malformed_json": 2})
a, b = g(), g()
case("bom.jsonl", b"\xef\xbb\xbf" + a + b"\n" + b + b"\n", texts_of([a, b]), {"fixed_bom": 1})
a, b = g(), g()
case("crlf.jsonl", a + b"\r\n" + b + b"\r\n", texts_of([a, b]), {"crlf_line": 1})
a, b = g(), g()
case("nofinal.jsonl", a + b"\n" + b, texts_of([a, b]), {"no_final_newline": 1})
a, b = g(), g()
case("blank.jsonl", a + b"\n\n   \n" + b + b"\n", texts_of([a, b]), {"blank_line": 2})
case("empty.jsonl", b"", [], {"empty_file": 1}, 0)
case("notzstd.jsonl.zst", g() + b"\n", [], {"not_zstd": 1}, 0)
a, b = g(), g()
case("toolarge.jsonl", a + b"\n" + json.dumps({"text": "word " * 1000}).encode() + b"\n" +
     b + b"\n", texts_of([a, b]), {"record_too_large": 1}, 2)

# zstd damage in the second of two frames: a truncated stream and a
# corrupted one; the records of the first frame are kept.
zlines = [g() for _ in range(40)]
frames = []
for k, part in enumerate((zlines[:20], zlines[20:])):
    raw = t.path("z%d.jsonl" % k)
    with open(raw, "wb") as f:
        f.write(b"\n".join(part) + b"\n")
    frames.append(open(T.zstd(raw), "rb").read())
trunc = frames[0] + frames[1][: len(frames[1]) // 2]
case("truncated.jsonl.zst", trunc, texts_of(zlines[:20]), {"truncated_zstd": 1},
     {"truncated_zstd": 21})
bad2 = bytearray(frames[1])
for i in range(len(bad2) // 2, len(bad2) // 2 + 16):
    bad2[i] ^= 0x5A
corrupt = frames[0] + bytes(bad2)
dec = subprocess.run(["zstd", "-dc"], input=corrupt, capture_output=True)
T.check(dec.returncode != 0, "the corrupted stream decompresses?")
case("corrupt.jsonl.zst", corrupt, None, {"corrupt_zstd": 1})

for name, (data, _, _, _) in cases.items():
    with open(os.path.join(bad, name), "wb") as f:
        f.write(data)
# An unreadable input: a dangling link (root reads files of any mode).
os.symlink(t.path("does-not-exist.jsonl"), os.path.join(bad, "unreadable.jsonl"))
cases["unreadable.jsonl"] = (None, [], {"unreadable_file": 1}, 0)

# Most records here are bad on purpose: --max-skip-fraction 1 accepts that
# (test_pt_options.py checks the default).
common = ["--model", model, "--threads", "2", "--max-record-bytes", "3000", "--shard-tokens",
          "2000", "--max-skip-fraction", "1"]
damaged = {"notzstd.jsonl.zst", "truncated.jsonl.zst", "corrupt.jsonl.zst", "unreadable.jsonl"}

# ---- skip (default) ----
# The damaged files fail the run once the dataset is complete (test_pt_damaged.py
# has the details; before, each was one skipped record and the run exited 0).
out = t.path("skip")
rep_json, err = t.run(common + ["--out", out, bad, "--json"], rc=1, what="skip")
T.check("4 input files are damaged" in err and "--allow-damaged-inputs" in err and
        all(os.path.join(bad, n) in err for n in damaged), "damaged files: %s" % err)
t.verify(out)
m, dd = T.dataset_docs(out)
by_input = {os.path.basename(x["name"]): x for x in m["inputs"]}
T.check(sorted(by_input) == sorted(cases), "inputs: %s" % sorted(by_input))
docs_of = {}
for name, rec, toks in dd:
    docs_of.setdefault(os.path.basename(name), []).append(T.strip_special(toks, sp.bos_id(), -1))
for name, (_, texts, counts, _) in cases.items():
    inp = by_input[name]
    T.check(inp["skipped"] == counts, "%s: counted %s, expected %s" % (name, inp["skipped"], counts))
    got = docs_of.get(name, [])
    if texts is None:       # corrupt zstd: the first frame and maybe a little more
        want = sp.encode(texts_of(zlines[:len(got)]))
        T.check(20 <= len(got) < len(zlines), "%s: kept %d records" % (name, len(got)))
    else:
        want = sp.encode(texts)
    T.check(got == want, "%s: %d documents kept, expected %d (or their ids differ)" %
            (name, len(got), len(want)))
    T.check(inp["documents"] == len(want), "%s: manifest documents" % name)
ex = "\n".join(m["skip_examples"])
# the corrupt zstd's message names its second frame, where the damage is (it
# named the start of the 1 MB read chunk: "from offset 0 on", then where the
# failing call began, "near compressed byte N")
near = by_input["corrupt.jsonl.zst"].get("damage", "")
T.check("in the frame from compressed byte %d, found reading bytes %d-%d)" %
        (len(frames[0]), len(frames[0]), len(corrupt)) in near, "corrupt zstd damage: %s" % near)
def line_of(line, reason):
    return line.get(reason) if isinstance(line, dict) else line


for name, (_, _, counts, line) in cases.items():
    for reason in counts:
        ln = line_of(line, reason)
        where = os.path.join(bad, name) + (":%d" % ln if ln else "")
        # a damaged file's is its inputs[].damage, not one of the examples
        got = by_input[name].get("damage", "") if name in damaged else ex
        T.check(where + ": " + reason in got or (ln is None and name + ":" in got),
                "no example '%s: %s' in %s" % (where, reason, got))
T.check(not any(n in ex for n in damaged), "damaged files among the examples: %s" % ex)
report = json.loads(rep_json)
T.check(report["skipped"]["malformed_json"] == 2 and report["fixed"]["crlf_line"] == 1,
        "--json report: %s" % report)
T.check("malformed_json" in err and "first cases" in err, "report: %s" % err)
# The report names the malloc the build links (meson: -Dallocator; the test's
# environment says which one this build should have).
want_alloc = os.environ.get("INGOT_EXPECT_ALLOCATOR", "")
T.check(want_alloc != "" and report["run"]["allocator"].startswith(want_alloc + " "),
        "allocator: report says %r, the build links %r" % (report["run"].get("allocator"),
                                                          want_alloc))
T.check(want_alloc in err, "the text report does not name the allocator: %s" % err)
print("skip: every good record kept, %d problem kinds counted" % len(cases))

# ---- fail: one bad input next to a good one ----
gfile = t.path("good.jsonl")
T.write_jsonl(gfile, good[150:])
fixes = {"fixed_invalid_utf8", "fixed_lone_surrogate", "fixed_nul", "fixed_bom", "crlf_line",
         "no_final_newline", "blank_line"}
for name, (_, _, counts, line) in cases.items():
    out = t.path("fail-" + name)
    path = os.path.join(bad, name)
    fatal = any(r not in fixes for r in counts)
    _, err = t.run(common + ["--on-error", "fail", "--out", out, gfile, path],
                   rc=1 if fatal else 0, what="fail " + name)
    left = os.listdir(out) if os.path.exists(out) else []
    if fatal:
        T.check(not os.path.exists(out), "%s: the directory the run created was left: %s" % (
            name, os.listdir(out) if os.path.isdir(out) else "?"))
        ln = line_of(line, [r for r in counts if r not in fixes][0])
        where = path + (":%d" % ln if ln else "")
        T.check(where in err, "%s: the message does not name %s: %s" % (name, where, err))
        T.check(not any(f.endswith(".tok") or f.endswith(".tmp") or f == "manifest.json"
                        for f in left), "%s: left behind: %s" % (name, left))
    else:
        T.check("manifest.json" in left, "%s: a repair failed the run" % name)
print("fail: stops naming file and line, leaves nothing; repairs pass")
# --json on a failed run: stdout is still one JSON object, with the error and the status
name = [n for n, (_, _, counts, _) in cases.items() if any(r not in fixes for r in counts)][0]
out, err = t.run(common + ["--on-error", "fail", "--json", "--out", t.path("failj"), gfile,
                           os.path.join(bad, name)], rc=1, what="fail --json")
rep = json.loads(out)
T.check(rep.get("exit") == 1 and name in rep.get("error", "") and
        rep.get("out") == t.path("failj"), "--json on failure: %r" % out)
print("fail --json: one object with the error on stdout")

# ---- --invalid-utf8 skip ----
out = t.path("utf8skip")
t.run(common + ["--invalid-utf8", "skip", "--out", out, os.path.join(bad, "badutf8.jsonl"),
                os.path.join(bad, "surrogate.jsonl"), gfile], what="utf8 skip")
m, dd = T.dataset_docs(out)
sk = {os.path.basename(x["name"]): x["skipped"] for x in m["inputs"]}
T.check(sk["badutf8.jsonl"] == {"invalid_utf8": 1} and sk["surrogate.jsonl"] ==
        {"lone_surrogate": 1}, "utf8 skip counters: %s" % sk)
T.check(len(dd) == 2 + 50, "utf8 skip: %d documents" % len(dd))
_, err = t.run(common + ["--invalid-utf8", "skip", "--on-error", "fail", "--out",
                         t.path("utf8fail"), gfile, os.path.join(bad, "badutf8.jsonl")],
               rc=1, what="utf8 skip+fail")
T.check("badutf8.jsonl:2: invalid_utf8" in err, err)
print("--invalid-utf8 skip: counted, and fatal under --on-error fail")

# ---- nothing at all ----
_, err = t.run(common + ["--out", t.path("none"), os.path.join(bad, "empty.jsonl"),
                         os.path.join(bad, "notzstd.jsonl.zst")], rc=1, what="no documents")
T.check("no document" in err, err)
T.check(not os.path.exists(t.path("none")), "no documents: %s left behind" % t.path("none"))
# A wrong --text-key skips every record: the same, nothing kept (before: OUT/
# with only .pretok.lock in it).
_, err = t.run(common + ["--text-key", "body", "--out", t.path("nokey"), gfile], rc=1,
               what="wrong --text-key")
T.check("no document" in err and "missing_text" in err, err)
# ... and each skip names the fields the record has: the typo shows
T.check('no field "body" (its fields: id, text)' in err, err)
# every alternative is named, not the first one only
_, err = t.run(common + ["--text-key", "meta.body,content", "--out", t.path("nokey2"), gfile],
               rc=1, what="wrong --text-key alternatives")
T.check('no field "meta.body,content" (its fields: id, text)' in err, err)
# A key of 5 MB in a record and a --text-key of 100 kB: the message (and the
# example kept in the manifest) quotes the start of each and its length (the
# key was dropped, "its fields: , ...", and a long --text-key cut the
# message before the record's fields)
hk = t.path("hugekey.jsonl")
with open(hk, "wb") as f:
    f.write(g() + b"\n" + b'{"' + b"k" * 5000000 + b'": "x"}\n')
_, err = t.run(common + ["--max-record-bytes", "8M", "--text-key", "q" * 100000 + ",text",
                         "--out", t.path("hugekey"), hk], what="huge keys")
want = ('hugekey.jsonl:2: missing_text: no field "%s..." (100005 bytes) (its fields: "%s..." '
        '(5000000 bytes))' % ("q" * 40, "k" * 40))
T.check(want in err and len(err) < 20000, "huge keys: want %r in %d bytes: %s" % (
    want, len(err), err[:2000]))
ex = json.load(open(t.path("hugekey", "manifest.json")))["skip_examples"]
T.check(len(ex) == 1 and ex[0].endswith(want), "huge keys: the example kept: %.2000r" % ex)
T.check(not os.path.exists(t.path("nokey")), "wrong --text-key: %s left behind: %s" % (
    t.path("nokey"), os.listdir(t.path("nokey")) if os.path.isdir(t.path("nokey")) else "?"))
# ... but only what this run made: an --out through ".." that names a
# directory which existed keeps it (a review found it removed), and the new
# directory on the way goes
os.makedirs(t.path("victim"))
_, err = t.run(common + ["--text-key", "body", "--out", t.path("newx", "..", "victim"), gfile],
               rc=1, what="wrong --text-key, --out through ..")
T.check(os.path.isdir(t.path("victim")), "--out newx/../victim: the existing victim was removed")
T.check(not os.path.exists(t.path("newx")), "--out newx/../victim: newx left behind")
_, err = t.run(common + ["--out", t.path("x"), t.path("nope.jsonl")], rc=2, what="missing")
T.check("nope.jsonl" in err, err)

# A huge record. The default --max-record-bytes is 64 MiB (it was 1 GiB,
# whose encoding needs 20-60 GiB: the OOM killer, not a skip); one byte
# more is skipped as record_too_large naming the option, its memory given
# back.
huge = t.path("huge.jsonl")
with open(huge, "wb") as f:
    f.write(b'{"text": "' + b"a" * ((64 << 20) - 11) + b'"}\n' + g() + b"\n")
p = subprocess.run([t.pretok, "text", huge], capture_output=True)
err = p.stderr.decode()
T.check(p.returncode == 0 and p.stdout.count(b"\n") == 1 and
        b"aaaa" not in p.stdout, "64 MiB + 1 record: exit %d, %d lines out: %s" % (
            p.returncode, p.stdout.count(b"\n"), err))
# "1 record", not "1 records"
T.check("1 of 1 document written" in err and "1 record skipped" in err,
        "64 MiB + 1 record: %s" % err)
p = subprocess.run([t.pretok, "text", "--max-record-bytes", "1", "--every", "2", huge],
                   capture_output=True)
T.check(p.returncode == 1 and "huge.jsonl:1: record_too_large: line longer than 1 byte "
        "(--max-record-bytes)" in p.stderr.decode(), "record_too_large: %s" % p.stderr.decode())
os.unlink(huge)
# Out of memory while encoding one record (an address-space limit stands for
# a small machine): the run stops naming the record, its size and the
# option that skips such records ("out of memory while tokenizing" before).
if os.environ.get("INGOT_EXPECT_ALLOCATOR") != "sanitizer":   # ASan needs terabytes of VA
    big = t.path("big.jsonl")
    with open(big, "wb") as f:
        f.write(g() + b"\n" + b'{"text": "' + b"a" * (30 << 20) + b'"}\n')
    small = t.path("small.jsonl")
    with open(small, "wb") as f:
        f.write(g() + b"\n")

    def run_as(limit, path):
        def lim():
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        return subprocess.run([t.pretok, "--model", model, "--threads", "1", "--out",
                               t.path("oom%d%s" % (limit >> 20, os.path.basename(path))), path],
                              capture_output=True, preexec_fn=lim)
    # the smallest limit of these that converts a small file (jemalloc and
    # the threads reserve address space) is far below the 30 MB record's need
    limit = next((m << 20 for m in (256, 384, 512, 768, 1024)
                  if run_as(m << 20, small).returncode == 0), None)
    T.check(limit is not None, "no address-space limit up to 1 GiB converts a small file")
    p = run_as(limit, big)
    err = p.stderr.decode()
    T.check(p.returncode == 1 and "big.jsonl:2: out of memory tokenizing this record (31457292 "
            "bytes" in err and "--max-record-bytes (now 67108864)" in err,
            "out of memory: exit %d: %s" % (p.returncode, err))
    T.check(not os.path.exists(t.path("oom%dbig.jsonl" % (limit >> 20))),
            "out of memory: output left")
    print("huge records: 64 MiB cap by default; out of memory names the record (limit %d MiB)"
          % (limit >> 20))

# Out of file descriptors (ulimit -n): the process's limit, not the file's
# fault. It was counted as unreadable_file and the file skipped (a readable
# file lost, the run "done" but for the skip fraction); now the run stops
# naming the file and the limit, and the same command resumes. Each limit
# from 4 up either converts everything or stops that way, never skips.
# Not in sanitizer builds: their runtime needs descriptors of its own (UBSan's
# dynamic type check reported a false "not an object of type" at ulimit -n 4).
sanitized = os.environ.get("INGOT_EXPECT_ALLOCATOR") == "sanitizer"
fd_dir = t.path("fds")
os.mkdir(fd_dir)
for i in range(0 if sanitized else 10):
    with open(os.path.join(fd_dir, "f%d.jsonl" % i), "wb") as f:
        f.write(g() + b"\n")
named = 0
for n in ([] if sanitized else range(4, 24)):
    def lim(n=n):
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    p = subprocess.run([t.pretok, "--model", model, "--out", t.path("fdout%d" % n), fd_dir],
                       capture_output=True, preexec_fn=lim)
    err = p.stderr.decode()
    T.check("unreadable_file" not in err and (p.returncode == 0 or (
        p.returncode == 1 and "Too many open files" in err)),
        "ulimit -n %d: exit %d: %s" % (n, p.returncode, err))
    named += "f" in err and "ulimit -n" in err and "nothing was skipped" in err
T.check(sanitized or named > 0, "no limit made an input's open fail")
print("ulimit -n: no input skipped for the process's limit (%d runs stopped naming it)" % named
      if not sanitized else "ulimit -n: not in a sanitizer build")

t.cleanup()
print("ok")
