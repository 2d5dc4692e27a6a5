#!/usr/bin/python3
"""UTF-16 and UTF-32 inputs (a Windows editor's "Unicode", PowerShell's
`>`): read as UTF-8, a UTF-16 text file became its ASCII letters with the
NULs between them removed and every other character U+FFFD, reported as
"repaired, nothing lost", exit 0; a UTF-16 JSON Lines file was
"malformed_json: not JSON" on every line. Now a file that starts with a
UTF-16 or UTF-32 byte order mark is refused whole as a damaged input, naming
its encoding and the iconv command that converts it; the converted file
gives the documents of the UTF-8 original."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
docs = T.documents(41, 60)
docs[3] = "café Zürich 日本語のテキスト emoji 🎉"


def jsonl(ds):
    return "".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in ds)


def zst(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                          check=True).stdout


d = t.path("in")
os.mkdir(d)
good = os.path.join(d, "good.jsonl")
open(good, "w", encoding="utf-8").write(jsonl(docs[40:60]))
# name -> (bytes, encoding named in the message)
wide = {
    "a16le.txt": ("\ufeff" + "\n".join(docs[0:10]) + "\n").encode("utf-16-le"),
    "b16be.txt": ("\ufeff" + "\n".join(docs[0:10]) + "\n").encode("utf-16-be"),
    "c16.jsonl": ("\ufeff" + jsonl(docs[10:20])).encode("utf-16-le"),
    "d32.txt": ("\ufeff" + "\n".join(docs[20:30]) + "\n").encode("utf-32-le"),
    "e16.jsonl.zst": zst(("\ufeff" + jsonl(docs[30:40])).encode("utf-16-be")),
}
enc = {"a16le.txt": "UTF-16LE", "b16be.txt": "UTF-16BE", "c16.jsonl": "UTF-16LE",
       "d32.txt": "UTF-32LE", "e16.jsonl.zst": "UTF-16BE"}
for name, data in wide.items():
    open(os.path.join(d, name), "wb").write(data)

base = ["--model", model, "--threads", "2", "--txt-doc", "line"]
out = t.path("out")
_, err = t.run(base + ["--out", out, d], rc=1, what="UTF-16/32 inputs")
for name in wide:
    want = "%s: unreadable_file: %s text" % (name, enc[name])
    T.check(want in err, "no %r in:\n%s" % (want, err))
    fam = enc[name][:6]
    T.check("iconv -f %s -t UTF-8" % fam in err, "no iconv hint for %s:\n%s" % (name, err))
for w in ("fixed_nul", "fixed_invalid_utf8", "malformed_json"):
    T.check(w not in err, "%s: the wide text was read as UTF-8:\n%s" % (w, err))
m, got = T.dataset_docs(out)
T.check([n for n, _, _ in got] == [good] * 20,
        "documents other than good.jsonl's: %s" % sorted(set(n for n, _, _ in got)))
# accepted like any damaged input
t.run(base + ["--out", out, "--allow-damaged-inputs", d], what="accepted")

# `text` (a sample for spm_train): a warning, the good file's text only
p = subprocess.run([t.pretok, "text", "--txt-doc", "line", d], capture_output=True)
T.check(p.returncode == 0 and p.stdout.decode() == "".join(x + "\n" for x in docs[40:60]),
        "text: exit %d\n%s" % (p.returncode, p.stderr.decode()))
T.check(b"5 input files are damaged" in p.stderr, p.stderr.decode())

# The hint's command makes a file that converts as the UTF-8 original.
conv = t.path("conv")
os.mkdir(conv)
for name in ("a16le.txt", "d32.txt", "c16.jsonl"):
    with open(os.path.join(conv, name), "wb") as f:
        subprocess.run(["iconv", "-f", enc[name][:6], "-t", "UTF-8", os.path.join(d, name)],
                       stdout=f, check=True)
orig = t.path("orig")
os.mkdir(orig)
open(os.path.join(orig, "a16le.txt"), "w", encoding="utf-8").write("\n".join(docs[0:10]) + "\n")
open(os.path.join(orig, "d32.txt"), "w", encoding="utf-8").write("\n".join(docs[20:30]) + "\n")
open(os.path.join(orig, "c16.jsonl"), "w", encoding="utf-8").write(jsonl(docs[10:20]))
t.run(base + ["--out", t.path("o_conv"), conv], what="converted")
t.run(base + ["--out", t.path("o_orig"), orig], what="original")


def named_docs(ds):
    return [(os.path.basename(n), r, toks) for n, r, toks in T.dataset_docs(ds)[1]]


a, b = named_docs(t.path("o_conv")), named_docs(t.path("o_orig"))
T.check(len(a) == 30 and a == b, "the converted files give other documents than the UTF-8 "
        "originals (%d, %d)" % (len(a), len(b)))

# A file whose first byte is 0xFF but no byte order mark follows (binary
# junk): read as before, its bytes replaced by U+FFFD and counted.
junk = t.path("junk.txt")
open(junk, "wb").write(b"\xff\xd8\xff junk words\n")
_, err = t.run(base + ["--out", t.path("o_junk"), junk], what="0xFF junk")
T.check("fixed_invalid_utf8" in err and "unreadable_file" not in err, err)

# Other file forms that make every record malformed say what they are: lines
# ending in a carriage return alone (old Mac files: the whole file is one
# record) and a UTF-8 byte order mark opening a line past the first (files
# with a mark each joined by cat).
forms = t.path("forms")
os.mkdir(forms)
open(os.path.join(forms, "mac.jsonl"), "wb").write(jsonl(docs[0:3]).replace("\n", "\r").encode())
open(os.path.join(forms, "joined.jsonl"), "wb").write(
    b"\xef\xbb\xbf" + jsonl(docs[3:5]).encode() + b"\xef\xbb\xbf" + jsonl(docs[5:7]).encode())
_, err = t.run(base + ["--out", t.path("o_forms"), forms], rc=1, what="file forms")
T.check("mac.jsonl:1: malformed_json" in err and "carriage return alone" in err and
        "tr '\\r' '\\n'" in err, "no CR hint:\n%s" % err)
T.check("joined.jsonl:3: malformed_json" in err and "byte order mark opens this line" in err,
        "no BOM hint:\n%s" % err)

t.cleanup()
print("ok")
