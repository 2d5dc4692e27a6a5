#!/usr/bin/python3
"""Issue 13, input formats: gzip-compressed JSON Lines and text (.jsonl.gz,
.json.gz, .txt.gz; several gzip members; corrupt, truncated and misnamed
files are counted skips), standard input ("-", --stdin-format, provenance
"<stdin>", compressed or not), files of unknown formats in an input
directory counted and named in the report, and --text-key alternatives and
array indices. Every compressed or piped input gives the same token ids as
the same text read from a plain file."""
import gzip
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
common = ["--model", model, "--threads", "2", "--quiet", "--json"]
docs = T.documents(131, 90)
text_docs = T.documents(132, 12, multiline=True)


def tokens_by_doc(out):
    """[(input name, record, tokens)] of a dataset."""
    return T.dataset_docs(out)[1]


def ids_only(out):
    return [toks for _, _, toks in tokens_by_doc(out)]


def convert(out, inputs, extra=(), rc=0, stdin=None):
    args = common + list(extra) + ["--out", t.path(out)] + list(inputs)
    p = subprocess.run([t.pretok] + args, capture_output=True, input=stdin)
    T.check(p.returncode == rc, "%s: exit %d, expected %d: %s" %
            (out, p.returncode, rc, p.stderr.decode()))
    return (json.loads(p.stdout) if p.returncode == 0 else None), p.stderr.decode()


# Reference: plain files.
plain = t.path("plain")
os.makedirs(plain)
T.write_jsonl(os.path.join(plain, "a.jsonl"), docs[:60])
T.write_jsonl(os.path.join(plain, "b.jsonl"), docs[60:])
with open(os.path.join(plain, "c.txt"), "w") as f:
    f.write("\n\n".join(text_docs) + "\n")
ref, _ = convert("ref", [plain], ["--txt-doc", "paragraph"])
ref_ids = ids_only(t.path("ref"))
T.check(ref["documents"] > 100, "reference: %d documents" % ref["documents"])

# 1. The same files gzip-compressed: a.jsonl.gz, b.json.gz (two members, as
# `gzip -c x y` or Dolma write them), c.txt.gz.
gz = t.path("gz")
os.makedirs(gz)
with open(os.path.join(plain, "a.jsonl"), "rb") as f, \
        gzip.open(os.path.join(gz, "a.jsonl.gz"), "wb") as g:
    g.write(f.read())
b = open(os.path.join(plain, "b.jsonl"), "rb").read()
cut = b.index(b"\n", len(b) // 2) + 1
with open(os.path.join(gz, "b.json.gz"), "wb") as g:
    g.write(gzip.compress(b[:cut]) + gzip.compress(b[cut:], compresslevel=1))
with open(os.path.join(plain, "c.txt"), "rb") as f, \
        gzip.open(os.path.join(gz, "c.txt.gz"), "wb") as g:
    g.write(f.read())
rep, _ = convert("gzout", [gz], ["--txt-doc", "paragraph"])
T.check(ids_only(t.path("gzout")) == ref_ids, "gzip inputs: ids differ from the plain files")
T.check(not rep["skipped"], "gzip inputs: skips %s" % rep["skipped"])
names = [n for n, _, _ in tokens_by_doc(t.path("gzout"))]
T.check(names[0].endswith("a.jsonl.gz") and names[-1].endswith("c.txt.gz"),
        "gzip inputs: provenance names %s ... %s" % (names[0], names[-1]))
t.verify(t.path("gzout"))
print("gzip: .jsonl.gz, two-member .json.gz and .txt.gz give the plain files' ids")

# 1b. Tiny reads: every gzip member and record straddles chunk boundaries.
p = subprocess.run([t.pretok] + common + ["--txt-doc", "paragraph", "--out",
                   t.path("gzsmall"), gz], capture_output=True,
                   env=dict(os.environ, INGOT_PRETOK_TEST_CHUNK_BYTES="7"))
if T.has_hooks(t.pretok):
    T.check(p.returncode == 0, "gzip, 7-byte reads: %s" % p.stderr.decode())
    T.check(ids_only(t.path("gzsmall")) == ref_ids, "gzip, 7-byte reads: ids differ")
    print("gzip with 7-byte reads: same ids")

# 2. Broken gzip: truncated, corrupt, misnamed; each a counted skip.
bad = t.path("badgz")
os.makedirs(bad)
whole = gzip.compress(b"".join(json.dumps({"text": d}).encode() + b"\n" for d in docs[:20]))
open(os.path.join(bad, "1-trunc.jsonl.gz"), "wb").write(whole[:len(whole) // 2])
corrupt = bytearray(whole)
for i in range(20, 40):
    corrupt[i] ^= 0x5A
open(os.path.join(bad, "2-corrupt.jsonl.gz"), "wb").write(bytes(corrupt))
open(os.path.join(bad, "3-plain.jsonl.gz"), "wb").write(b'{"text": "not compressed"}\n')
T.write_jsonl(os.path.join(bad, "4-good.jsonl"), docs[:5])
# Damaged files fail a run unless accepted (test_pt_damaged.py); here they are,
# to look at how each is counted.
_, err = convert("badout0", [bad], rc=1)
T.check("3 input files are damaged" in err and "--allow-damaged-inputs" in err,
        "broken gzip, default: %s" % err)
rep, _ = convert("badout", [bad], ["--allow-damaged-inputs"])
sk = rep["skipped"]
T.check(sk.get("truncated_gzip") == 1, "truncated gzip not counted: %s" % sk)
T.check(sk.get("corrupt_gzip") == 1, "corrupt gzip not counted: %s" % sk)
T.check(sk.get("not_gzip") == 1, "misnamed .gz not counted: %s" % sk)
T.check(rep["documents"] >= 5, "bad gzip: the good file's documents are missing")
T.check(rep["damaged_files"] == 3, "bad gzip: damaged_files %s" % rep["damaged_files"])
print("gzip: truncated, corrupt and misnamed files are damaged files, counted by reason")

# 3. Standard input: JSON Lines (plain and gzip), text; provenance "<stdin>".
stdin_bytes = open(os.path.join(plain, "a.jsonl"), "rb").read()
rep, _ = convert("stdin", ["-"], stdin=stdin_bytes)
T.check(rep["input_bytes"] == len(stdin_bytes),   # it reported 0: no size beforehand
        "stdin: input_bytes %s, read %d" % (rep.get("input_bytes"), len(stdin_bytes)))
got = tokens_by_doc(t.path("stdin"))
T.check([x[2] for x in got] == ref_ids[:60], "stdin: ids differ from a.jsonl's")
T.check({x[0] for x in got} == {"<stdin>"}, "stdin: provenance %s" % {x[0] for x in got})
T.check([x[1] for x in got] == list(range(1, 61)), "stdin: records are not lines 1..60")
convert("stdingz", ["-"], stdin=gzip.compress(stdin_bytes))
T.check(ids_only(t.path("stdingz")) == ref_ids[:60], "gzip on stdin: ids differ")
# stdin between two files keeps its place in the file table.
convert("stdinmid", [os.path.join(plain, "b.jsonl"), "-", os.path.join(plain, "c.txt")],
        ["--txt-doc", "paragraph"], stdin=stdin_bytes)
m = json.load(open(t.path("stdinmid", "manifest.json")))
T.check([os.path.basename(x["name"]) for x in m["inputs"]] == ["b.jsonl", "<stdin>", "c.txt"],
        "stdin in the middle: inputs %s" % [x["name"] for x in m["inputs"]])
T.check(ids_only(t.path("stdinmid")) == ref_ids[60:90] + ref_ids[:60] + ref_ids[90:],
        "stdin in the middle: ids out of order")
txt = open(os.path.join(plain, "c.txt"), "rb").read()
convert("stdintxt", ["-"], ["--stdin-format", "text", "--txt-doc", "paragraph"], stdin=txt)
T.check(ids_only(t.path("stdintxt")) == ref_ids[90:], "text on stdin: ids differ")
# A stream of exactly one read chunk (1 MiB) ends with an empty last chunk.
big = b""
i = 0
while len(big) < (1 << 20) - 4096:
    big += json.dumps({"text": docs[i % len(docs)]}).encode() + b"\n"
    i += 1
rest = (1 << 20) - len(big) - len(b'{"text": ""}\n')
big += b'{"text": "' + b"x" * rest + b'"}\n'
T.check(len(big) == 1 << 20, "test setup: stream of %d bytes" % len(big))
rep, _ = convert("stdin1m", ["-"], stdin=big)
T.check(rep["documents"] == big.count(b"\n"), "1 MiB stdin: %d documents of %d" %
        (rep["documents"], big.count(b"\n")))
_, err = convert("stdin2", ["-", "-"], rc=2, stdin=b"")
T.check("named twice" in err, "'-' twice: %s" % err)
_, err = convert("stdinfmt", ["-"], ["--stdin-format", "csv"], rc=2, stdin=b"")
T.check("--stdin-format" in err, "bad --stdin-format: %s" % err)
# A terminal on standard input (`ingot-pretok ... -` with nothing piped in)
# waited for typing, and /dev/zero was read for ever (a line longer than
# --max-record-bytes after another): a device there is a counted skip, read
# not at all, saying what to do. /dev/null is an empty stream as before.
import pty
master, slave = pty.openpty()
for name, dev in (("tty", slave), ("zero", open("/dev/zero", "rb")),
                  ("null", open("/dev/null", "rb"))):
    try:
        p = subprocess.run([t.pretok, "--model", model, "--out", t.path("dev" + name), "-"],
                           stdin=dev, capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        T.fail("stdin from %s: still reading after 30 s" % name)
    err = p.stderr.decode()
    want = "empty_file" if name == "null" else "not_regular_file: standard input is a terminal"
    T.check(p.returncode == 1 and want in err, "stdin from %s: exit %d: %s" %
            (name, p.returncode, err))
    T.check(not os.path.exists(t.path("dev" + name)), "stdin from %s: output left" % name)
    if name == "tty":
        p = subprocess.run([t.pretok, "text", "-"], stdin=dev, capture_output=True, timeout=30)
        err = p.stderr.decode()
        T.check(p.returncode == 1 and "the first: <stdin>: not_regular_file" in err,
                "text, stdin from a terminal: exit %d: %s" % (p.returncode, err))
os.close(master)
os.close(slave)
print("stdin: JSON Lines, gzip and text; provenance <stdin>; its place among files; "
      "a terminal or device is not read")

# 4. Unknown formats inside a directory are counted and named, never silent.
mixed = t.path("mixed")
os.makedirs(os.path.join(mixed, "sub"))
T.write_jsonl(os.path.join(mixed, "good.jsonl"), docs[:10])
for n in ["train-0000.parquet", "README.md", os.path.join("sub", "data.csv")]:
    open(os.path.join(mixed, n), "wb").write(b"x")
rep, _ = convert("mixedout", [mixed])
T.check(rep["unknown_format_files"] == 3, "unknown files: %s" % rep["unknown_format_files"])
T.check(sorted(os.path.basename(x) for x in rep["unknown_format_examples"]) ==
        ["README.md", "data.csv", "train-0000.parquet"],
        "unknown files named: %s" % rep["unknown_format_examples"])
p = subprocess.run([t.pretok, "--model", model, "--threads", "2", "--out",
                    t.path("mixedout2"), mixed], capture_output=True)
err = p.stderr.decode()
T.check(p.returncode == 0 and "3 files of unknown format" in err and "train-0000.parquet" in err,
        "the report does not list the unknown files:\n%s" % err)
# A file of another name inside a walked directory and also named on the
# command line (before or after the directory) is read at that place, so the
# report does not list it as not read.
named = t.path("named")
os.makedirs(named)
T.write_jsonl(os.path.join(named, "good.jsonl"), docs[:10])
T.write_jsonl(os.path.join(named, "more.data"), docs[10:20])
open(os.path.join(named, "notes.csv"), "wb").write(b"x")
for order in ([named, os.path.join(named, "more.data")],
              [os.path.join(named, "more.data"), named],
              [os.path.join(named, "*.data"), named]):
    out = "namedout%d" % len(os.listdir(t.tmp))
    rep, _ = convert(out, order)
    T.check(rep["unknown_format_files"] == 1 and
            [os.path.basename(x) for x in rep["unknown_format_examples"]] == ["notes.csv"],
            "%s: a file named on the command line is listed as not read: %s %s" %
            (order, rep["unknown_format_files"], rep["unknown_format_examples"]))
    T.check(rep["documents"] == 20, "%s: %s documents, expected 20" % (order, rep["documents"]))
only = t.path("onlyparquet")
os.makedirs(only)
open(os.path.join(only, "x.parquet"), "wb").write(b"PAR1")
_, err = convert("onlyout", [only], rc=1)
T.check("x.parquet" in err and "parquet-to-jsonl" in err,
        "a directory of Parquet files: the error does not say why: %s" % err)
print("unknown formats: counted and named in the report and in the no-input error; "
      "not when also named on the command line")

# 5. --text-key alternatives and array indices, end to end.
chat = t.path("chat.jsonl")
with open(chat, "w") as f:
    for i, d in enumerate(docs[:30]):
        if i % 3 == 0:
            o = {"text": d}
        elif i % 3 == 1:
            o = {"content": d, "text": None}
        else:
            o = {"messages": [{"role": "system", "content": d}, {"content": "later"}]}
        f.write(json.dumps(o) + "\n")
rep, _ = convert("chatout", [chat], ["--text-key", "text,content,messages.0.content"])
T.check(rep["documents"] == 30 and not rep["skipped"], "text-key alternatives: %s" % rep)
T.check(ids_only(t.path("chatout")) == ref_ids[:30], "text-key alternatives: ids differ")
print("--text-key text,content,messages.0.content: every record, the right field")

# 6. zstd windows: a stream made with zstd --long=30 (window 1 GiB; the
# zstd program reading a pipe keeps it) is over the 128 MiB this program
# decodes, zstd's own default. Its skip says so and how to read it ("Frame
# requires too much memory for decoding" before); --long=27 is read.
import shutil
zbin = shutil.which("zstd")
T.check(zbin is not None, "the zstd program is needed by this test")
plain_a = open(os.path.join(plain, "a.jsonl"), "rb").read()
for long_, ok in ((27, True), (30, False)):
    zf = t.path("long%d.jsonl.zst" % long_)
    with open(zf, "wb") as f:
        subprocess.run([zbin, "-q", "-c", "--long=%d" % long_], input=plain_a, stdout=f,
                       check=True)
    p = subprocess.run([t.pretok, "--model", model, "--out", t.path("long%d" % long_), zf],
                       capture_output=True)
    err = p.stderr.decode()
    if ok:
        T.check(p.returncode == 0 and ids_only(t.path("long27")) == ref_ids[:60],
                "zstd --long=27: exit %d: %s" % (p.returncode, err))
    else:
        T.check(p.returncode == 1 and "corrupt_zstd: zstd: a frame needs a window over the "
                "128 MiB this program decodes" in err and "zstd -dc --long=31" in err,
                "zstd --long=30: exit %d: %s" % (p.returncode, err))
print("zstd: a window over 128 MiB is refused saying how to read the file")

# A frame made with a zstd dictionary (zstd -D DICT), after a plain one: the
# first frame's records are kept, and the skip says what the frame needs and
# how to read it ("Dictionary mismatch ... damaged", as a corrupt file).
dsamples = t.path("dsamples")
os.mkdir(dsamples)
for k in range(40):
    with open(os.path.join(dsamples, "s%d" % k), "wb") as f:
        f.write(plain_a[k * 300:(k + 1) * 300 + 200])
dict_path = t.path("dict.zd")
subprocess.run([zbin, "-q", "--train", "-r", dsamples, "--maxdict=4096", "-o", dict_path],
               check=True, capture_output=True)
first = b"".join(plain_a.splitlines(keepends=True)[:10])
zf = t.path("dict.jsonl.zst")
with open(zf, "wb") as f:
    f.write(subprocess.run([zbin, "-q", "-c"], input=first, capture_output=True,
                           check=True).stdout)
    f.write(subprocess.run([zbin, "-q", "-c", "-D", dict_path], input=plain_a,
                           capture_output=True, check=True).stdout)
p = subprocess.run([t.pretok, "--model", model, "--out", t.path("dictout"), zf],
                   capture_output=True)
err = p.stderr.decode()
T.check(p.returncode == 1 and "dict.jsonl.zst:11: corrupt_zstd: zstd: the frame from "
        "compressed byte" in err and "compressed with a dictionary (dictionary id" in err and
        "zstd -dc -D DICT FILE | ingot-pretok ... -" in err and "(10 documents kept)" in err,
        "a zstd dictionary's frame: exit %d: %s" % (p.returncode, err))
T.check(ids_only(t.path("dictout")) == ref_ids[:10], "zstd dictionary: the first frame's ids")
print("zstd: a frame that needs a dictionary is named so, with how to read it")

# A text file of only blank lines (whitespace) in the document modes: counted as
# empty_text (it vanished without a count), beside a file with text.
blank = t.path("blank")
os.makedirs(blank)
with open(os.path.join(blank, "a.txt"), "w") as f:
    f.write("some text\n\nmore text\n")
with open(os.path.join(blank, "b.txt"), "w") as f:
    f.write("\n \n\t\n")
for mode in ("file", "paragraph"):
    rep, err = convert("blank-" + mode, [blank], ["--txt-doc", mode, "--max-skip-fraction", "1"])
    T.check(rep["skipped"].get("empty_text") == 1 and
            any("b.txt:1: empty_text" in e for e in rep["skip_examples"]),
            "--txt-doc %s: a file of blank lines not counted: %r" % (mode, rep["skipped"]))
print("a text file of blank lines: empty_text, counted (file and paragraph modes)")

# A document skipped as too long is record_too_large once, not also empty_text ("only
# blank lines") at the file's end (its skip share counted twice).
big = t.path("big")
os.makedirs(big)
with open(os.path.join(big, "one.txt"), "w") as f:
    f.write("word " * 400 + "\n")
with open(os.path.join(big, "two.txt"), "w") as f:
    f.write("word " * 400 + "\n\nshort paragraph\n")
with open(os.path.join(big, "three.txt"), "w") as f:
    f.write("fine text\n")
for mode in ("file", "paragraph"):
    rep, err = convert("big-" + mode, [big], ["--txt-doc", mode, "--max-record-bytes", "1000",
                                              "--max-skip-fraction", "1"])
    T.check("empty_text" not in rep["skipped"] and rep["skipped"].get("record_too_large") ==
            2, "--txt-doc %s: a long document counted as %r"
            % (mode, rep["skipped"]))
print("a document too long: record_too_large only (file and paragraph modes)")

t.cleanup()
print("ok")
