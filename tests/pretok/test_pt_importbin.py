#!/usr/bin/python3
"""Issue 13: ingot-pretok import-bin reads llm.c (256 x int32 header, uint16
tokens) and nanoGPT (raw uint16) token files into an Ingot dataset, and
ingot-dump export-bin writes llm.c's (or nanoGPT's) format back: the round
trip gives the same bytes. Documents are cut at --eot (before it for llm.c,
after it for nanoGPT), else one per file; provenance names the file and
the document. A dataset made by ingot-pretok, exported and imported again
with its tokenizer, has the same documents and still decodes. Bad headers,
truncated files, ids outside the vocabulary and vocabularies beyond uint16
are refused with messages that name the field."""
import json
import os
import random
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
rng = random.Random(7)
EOT, VOCAB = 50256, 50257


def llmc_bytes(tokens, magic=20240520, version=1, count=None):
    h = [0] * 256
    h[0], h[1], h[2] = magic, version, len(tokens) if count is None else count
    return struct.pack("<256i", *h) + struct.pack("<%dH" % len(tokens), *tokens)


def gpt2_stream(n_docs, eot_after=False):
    toks, docs = [], []
    for _ in range(n_docs):
        d = [rng.randrange(0, EOT) for _ in range(rng.randint(1, 300))]
        docs.append(d)
        toks += (d + [EOT]) if eot_after else ([EOT] + d)
    return toks, docs


def imp(args, rc=0):
    p = subprocess.run([t.pretok, "import-bin"] + args, capture_output=True)
    T.check(p.returncode == rc, "import-bin %s: exit %d, expected %d: %s" %
            (" ".join(args), p.returncode, rc, p.stderr.decode()))
    return p.stderr.decode()


def export(d, out, extra=(), rc=0):
    p = subprocess.run([t.dump, "export-bin", d, "--out", out] + list(extra), capture_output=True)
    T.check(p.returncode == rc, "export-bin %s: exit %d, expected %d: %s" %
            (d, p.returncode, rc, p.stderr.decode()))
    return p.stderr.decode()


# 1. llm.c: train and val files, EOT before each document.
tr, tr_docs = gpt2_stream(120)
va, va_docs = gpt2_stream(15)
ftr, fva = t.path("fineweb_train_000001.bin"), t.path("fineweb_val_000000.bin")
open(ftr, "wb").write(llmc_bytes(tr))
open(fva, "wb").write(llmc_bytes(va))
d = t.path("llmc")
imp(["--format", "llmc", "--vocab", str(VOCAB), "--eot", str(EOT), "--out", d,
     "--shard-tokens", "5000", ftr, "--val", fva, "--quiet"])
t.verify(d)
m, docs = T.dataset_docs(d)
T.check(m["tokenizer"]["vocab_size"] == VOCAB and m["tokenizer"]["bos_id"] == EOT,
        "llmc: manifest tokenizer %s" % m["tokenizer"])
train = [x for x in docs if x[0] == ftr]
T.check([x[2] for x in train] == [[EOT] + x for x in tr_docs], "llmc: train documents differ")
T.check([x[1] for x in train] == list(range(1, 121)), "llmc: provenance records")
T.check([x[2] for x in docs if x[0] == fva] == [[EOT] + x for x in va_docs], "llmc: val docs")
T.check(len([s for s in m["shards"] if s["split"] == "train"]) > 2, "llmc: no shard cuts")
export(d, t.path("back_train.bin"))
T.check(open(t.path("back_train.bin"), "rb").read() == open(ftr, "rb").read(),
        "llmc: export-bin train is not the imported file's bytes")
export(d, t.path("back_val.bin"), ["--split", "val"])
T.check(open(t.path("back_val.bin"), "rb").read() == open(fva, "rb").read(),
        "llmc: export-bin val is not the imported file's bytes")
print("llm.c: %d + %d documents at EOT, shards cut, export-bin gives the same bytes"
      % (len(tr_docs), len(va_docs)))

# An import by --vocab has no model (GPT-2's is no SentencePiece model): ids,
# tokens and stats still print, docs asks for --model (before: tokens and
# stats failed with "tokenizer.file: not recorded").
for args in (["tokens", d, "--range", "0:3"], ["stats", d, "--top", "2"]):
    p = subprocess.run([t.dump] + args, capture_output=True)
    T.check(p.returncode == 0 and b"no pieces shown" in p.stderr,
            "%s on an import without a model: exit %d: %s" % (args[0], p.returncode, p.stderr))
p = subprocess.run([t.dump, "tokens", d, "--range", "0:2"], capture_output=True)
T.check(p.stdout.decode().split("\n")[1].split()[:2] == ["0", str(EOT)],
        "tokens without a model: %s" % p.stdout)
p = subprocess.run([t.dump, "docs", d, "--count", "1"], capture_output=True)
T.check(p.returncode == 2 and b"records no tokenizer model" in p.stderr and b"--ids" in p.stderr,
        "docs on an import without a model: exit %d: %s" % (p.returncode, p.stderr))
print("an import without a model: tokens and stats print ids, docs asks for --model")

# 2. nanoGPT: raw uint16, EOT after each document; back in both formats.
ng, ng_docs = gpt2_stream(50, eot_after=True)
fng = t.path("train.bin")
open(fng, "wb").write(struct.pack("<%dH" % len(ng), *ng))
d2 = t.path("nano")
imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--eot", str(EOT), "--out", d2, fng,
     "--quiet"])
_, docs2 = T.dataset_docs(d2)
T.check([x[2] for x in docs2] == [x + [EOT] for x in ng_docs], "nanogpt: documents differ")
export(d2, t.path("ng_back.bin"), ["--format", "nanogpt"])
T.check(open(t.path("ng_back.bin"), "rb").read() == open(fng, "rb").read(),
        "nanogpt: export-bin --format nanogpt is not the same bytes")
export(d2, t.path("ng_llmc.bin"))
T.check(open(t.path("ng_llmc.bin"), "rb").read() == llmc_bytes(ng),
        "nanogpt -> llm.c: header or tokens wrong")
print("nanoGPT: documents end at EOT; exported back as nanoGPT and as llm.c")

# 3. Without --eot: one document per file; --max-doc-tokens cuts pieces.
d3 = t.path("noeot")
err = imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--out", d3, fng])
T.check("note: each file is one document; --eot ID cuts documents" in err,
        "no --eot: the summary does not say how to keep the files' documents: " + err)
_, docs3 = T.dataset_docs(d3)
T.check(len(docs3) == 1 and docs3[0][2] == ng, "no --eot: not one document per file")
d4 = t.path("pieces")
imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--max-doc-tokens", "1000", "--out", d4, fng,
     "--quiet"])
_, docs4 = T.dataset_docs(d4)
T.check([len(x[2]) for x in docs4] == [1000] * (len(ng) // 1000) + [len(ng) % 1000],
        "--max-doc-tokens: piece lengths %s" % [len(x[2]) for x in docs4][:5])
print("no --eot: one document per file; --max-doc-tokens cuts it")

# 4. An ingot-pretok dataset exported and imported with its tokenizer: the
# same documents, and it decodes.
model = T.small_unigram(t)
inp, texts = T.small_corpus(t, "in", n_files=2, per_file=40)
src = t.path("src")
t.run(["--model", model, "--threads", "2", "--quiet", "--out", src, inp])
ms = json.load(open(os.path.join(src, "manifest.json")))
bos = ms["tokenizer"]["bos_id"]
T.check(bos >= 0, "the test model has no BOS")
err = export(src, t.path("src.bin"))
# the file has no document index: the summary says which id marks documents
# and the import-bin command that cuts them again (before: only the count)
want = "import-bin --format llmc --tokenizer %s/tokenizer.model --eot %d" % (src, bos)
T.check(want in err, "export-bin does not say how to import it back: " + err)
d5n = t.path("reimport_noeot")
err = imp(["--format", "llmc", "--tokenizer", model, "--out", d5n, t.path("src.bin")])
T.check("starts with %d, the BOS of %s: --eot %d" % (bos, model, bos) in err,
        "import-bin without --eot does not name the tokenizer's BOS: " + err)
vshard = [x["file"] for x in m["shards"] if x["split"] == "val"][0]
err = export(os.path.join(d, vshard), t.path("vshard.bin"))
T.check("(val)" in err, "export-bin of a val shard calls it train: " + err)
d5 = t.path("reimport")
imp(["--format", "llmc", "--tokenizer", model, "--eot", str(bos), "--out", d5,
     t.path("src.bin"), "--quiet"])
T.check([x[2] for x in T.dataset_docs(d5)[1]] == [x[2] for x in T.dataset_docs(src)[1]],
        "re-import: documents differ from the original dataset's")
T.check(os.path.exists(os.path.join(d5, "tokenizer.model")), "re-import: model not copied")
p = subprocess.run([t.dump, "docs", d5, "--raw", "--count", "2"], capture_output=True)
T.check(p.returncode == 0 and texts[0] in p.stdout.decode(), "re-import does not decode: %s" %
        p.stderr.decode())
print("pretok dataset -> llm.c .bin -> import-bin --tokenizer: same documents, decodes")

# 5. Refusals, each naming the field.
bad = t.path("bad.bin")
cases = [
    (llmc_bytes([1, 2, 3], magic=12345), ["--format", "llmc"], "header[0] (magic)"),
    (llmc_bytes([1, 2, 3], version=2), ["--format", "llmc"], "header[1] (version)"),
    (llmc_bytes([1, 2, 3], count=10), ["--format", "llmc"], "truncated"),
    (llmc_bytes([1, 2, 3]), ["--format", "nanogpt"], "use --format llmc"),
    (b"\x01\x00\x02", ["--format", "nanogpt"], "odd number"),
    (struct.pack("<3H", 1, 60000, 2), ["--format", "nanogpt"], "not below the vocabulary"),
]
for k, (data, fmt, want) in enumerate(cases):
    open(bad, "wb").write(data)
    err = imp(fmt + ["--vocab", str(VOCAB), "--out", t.path("bad%d" % k), bad], rc=1)
    T.check(want in err, "case %d: message %r lacks %r" % (k, err, want))
    left = os.listdir(t.path("bad%d" % k)) if os.path.isdir(t.path("bad%d" % k)) else []
    T.check(not [f for f in left if f.endswith((".tok", ".json"))],
            "case %d: files left behind" % k)
    # the --out this run created goes too, as a conversion's does (an id past the
    # vocabulary, found after the mkdir, left an empty directory)
    T.check(not os.path.exists(t.path("bad%d" % k)), "case %d: left --out %s" % (k, left))
# ... with the parents it made and the tokenizer it copied; a directory that was
# there before stays
open(bad, "wb").write(struct.pack("<3H", 1, 60000, 2))
imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--out", t.path("badp", "q", "out"), bad],
    rc=1)
T.check(not os.path.exists(t.path("badp")), "a failed import left the parents it made")
imp(["--format", "nanogpt", "--tokenizer", model, "--out", t.path("badtok"), bad], rc=1)
T.check(not os.path.exists(t.path("badtok")), "a failed import left its tokenizer copy")
os.makedirs(t.path("badkeep"))
imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--out", t.path("badkeep"), bad], rc=1)
T.check(os.path.isdir(t.path("badkeep")), "a failed import removed a directory it did not make")
err = imp(["--vocab", "10", "--out", t.path("x"), bad], rc=2)
T.check("--format" in err, "missing --format: %s" % err)
err = imp(["--format", "llmc", "--out", t.path("x"), bad], rc=2)
T.check("--vocab" in err, "missing vocabulary: %s" % err)
err = imp(["--format", "llmc", "--vocab", str(VOCAB), "--out", d, ftr], rc=2)
T.check("already holds a dataset" in err, "existing --out: %s" % err)
d6 = t.path("wide")
imp(["--format", "nanogpt", "--vocab", "70000", "--out", d6, fng, "--quiet"])
# never into the dataset being read, nor over the shard being read
for target in ("manifest.json", "train-000000.tok", "new.bin"):
    err = export(d, os.path.join(d, target), rc=2)
    T.check("inside the input" in err, "export-bin into the dataset: %s" % err)
t.verify(d)
shard = sorted(f for f in os.listdir(d) if f.endswith(".tok"))[0]
err = export(os.path.join(d, shard), os.path.join(d, "x.bin"), rc=2)
T.check("inside the input" in err, "export-bin of a shard beside its manifest: %s" % err)
print("export-bin refuses an output inside the dataset it reads")
err = export(d6, t.path("wide.bin"), ["--format", "nanogpt"], rc=2)
T.check("70000" in err and "uint16" in err and "--format llmc" in err,
        "vocabulary beyond uint16 not refused for nanoGPT: %s" % err)
T.check(not os.path.exists(t.path("wide.bin")), "a refused export left a file")
# llm.c's uint32 files (import-bin reads them): a vocabulary beyond uint16
# round-trips (before: refused, though import-bin had read such a file)
wide = [rng.randrange(0, 70000) for _ in range(500)] + [69999]
fw = t.path("wide_in.bin")
h = [0] * 256
h[0], h[1], h[2] = 20240801, 7, len(wide)
open(fw, "wb").write(struct.pack("<256i", *h) + struct.pack("<%dI" % len(wide), *wide))
d7 = t.path("wide32")
imp(["--format", "llmc", "--vocab", "70000", "--out", d7, fw, "--quiet"])
err = export(d7, t.path("wide_back.bin"))
T.check("20240801" in err, "export-bin uint32: summary does not name the variant: " + err)
T.check(open(t.path("wide_back.bin"), "rb").read() == open(fw, "rb").read(),
        "llm.c uint32 file -> import-bin -> export-bin: not the same bytes")
print("refusals: magic, version, truncation, wrong format, odd size, id >= vocab, "
      "vocabulary beyond uint16 for nanoGPT; llm.c's uint32 files round-trip")

# 6. A file named twice (by another path too) is refused, not imported twice;
# named as train and as --val it would leak the same documents into val.
for args in ([fng, fng], [fng, "--val", os.path.join(os.path.dirname(fng), ".", "train.bin")]):
    out = t.path("twice")
    err = imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--out", out] + args, rc=2)
    T.check("same file" in err, "a file named twice: %s" % err)
    T.check(not os.path.exists(out), "a refused import created %s" % out)
print("a file named twice (or as train and val) is refused")

# 7. Interrupted (SIGINT, SIGTERM, SIGHUP: a closed ssh session): exit 130/143/129, every shard written is
# removed, and the same command then runs (before: the shards and a .tmp
# stayed, and the rerun said "already holds a dataset").
if T.has_hooks(t.pretok):
    import signal
    import time
    ng2, _ = gpt2_stream(300, eot_after=True)
    fslow = t.path("slow.bin")
    open(fslow, "wb").write(struct.pack("<%dH" % len(ng2), *ng2))
    for sig, want_rc in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        out = t.path("intr")
        args = [t.pretok, "import-bin", "--format", "nanogpt", "--vocab", str(VOCAB), "--eot",
                str(EOT), "--shard-tokens", "2000", "--out", out, fslow]
        p = subprocess.Popen(args, stderr=subprocess.PIPE, env=dict(
            os.environ, INGOT_PRETOK_TEST_IMPORT_DELAY_MS="10"))
        time.sleep(1.0)
        p.send_signal(sig)
        _, err = p.communicate()
        T.check(p.returncode == want_rc, "import-bin after %s: exit %d, expected %d: %s" %
                (sig.name, p.returncode, want_rc, err))
        T.check(b"interrupted" in err and b"run the same command again" in err,
                "import-bin interrupted: message %s" % err)
        left = os.listdir(out) if os.path.isdir(out) else []
        T.check(not os.path.exists(out), "import-bin interrupted left %s %s" % (out, left))
        imp(args[2:] + ["--quiet"])
        t.verify(out)
        T.check(len(T.dataset_docs(out)[1]) == 300, "import-bin rerun: not 300 documents")
        shutil.rmtree(out)
    print("import-bin interrupted: exit 130/143, nothing left, the rerun works")
# 8. --out is checked as a conversion's, before anything is written (before:
# a tokenizer.model there was replaced by --tokenizer's, and gone when the
# import then failed; a conversion's state or a training run's files were
# written over).
open(bad, "wb").write(struct.pack("<3H", 1, 60000, 2))
foreign = b"the user's own tokenizer.model"   # any bytes: the test is that they stay
for extra, what in ((["--tokenizer", model], "--tokenizer"), (["--vocab", str(VOCAB)], "--vocab")):
    for src in (bad, fng):     # a failing import, and one that would succeed
        o = t.path("hastok")
        shutil.rmtree(o, ignore_errors=True)
        os.makedirs(o)
        open(os.path.join(o, "tokenizer.model"), "wb").write(foreign)
        err = imp(["--format", "nanogpt", "--out", o, src] + extra, rc=2)
        T.check("already holds a tokenizer.model that this command did not write" in err,
                "%s: a tokenizer.model in --out: %s" % (what, err))
        T.check(open(os.path.join(o, "tokenizer.model"), "rb").read() == foreign,
                "%s: import-bin replaced the tokenizer.model already in --out" % what)
        T.check(not [f for f in os.listdir(o) if f.endswith((".tok", ".json", ".tmp"))],
                "%s: a refused import wrote %s" % (what, os.listdir(o)))
# a conversion's unfinished state, a training run's files, shards of a killed run
for name, want in ((".pretok-state.json", "holds an unfinished conversion"),
                   ("ckpt-00000005.bin", "a training run's"),
                   ("train-000000.tok", "already holds shards (*.tok) but no manifest.json")):
    o = t.path("hasfile")
    shutil.rmtree(o, ignore_errors=True)
    os.makedirs(o)
    open(os.path.join(o, name), "w").write("{}")
    err = imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--out", o, fng], rc=2)
    T.check(want in err, "--out holding %s: %s" % (name, err))
    T.check(sorted(os.listdir(o)) == sorted([name, ".pretok.lock"]),
            "--out holding %s: the import wrote %s" % (name, os.listdir(o)))
# a failed import into a directory that was there keeps nothing of its own,
# its tokenizer copy included, so that the same command runs again
o = t.path("keep_dir")
os.makedirs(o)
imp(["--format", "nanogpt", "--tokenizer", model, "--out", o, bad], rc=1)
T.check(sorted(os.listdir(o)) == [".pretok.lock"],
        "a failed import left %s in a directory it did not make" % os.listdir(o))
src_ok = t.path("small_ok.bin")
open(src_ok, "wb").write(struct.pack("<3H", 1, 2, 3))
imp(["--format", "nanogpt", "--tokenizer", model, "--out", o, src_ok, "--quiet"], rc=0)
print("--out: a tokenizer.model, a state, a training run's files, shards refused (exit 2), "
      "untouched; a failed import leaves no tokenizer copy")

# 9. A FILE that does not exist: a usage error (exit 2), as for the conversion
# and `text` (before: exit 1).
o = t.path("missing_out")
err = imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--out", o, fng,
           t.path("no_such.bin")], rc=2)
T.check("no_such.bin: no such file or directory" in err, "a missing FILE: %s" % err)
T.check(not os.path.exists(o), "a missing FILE: --out created")
err = imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--out", o, os.path.join(fng, "x")],
          rc=2)
T.check("no such file or directory" in err, "a FILE under a file: %s" % err)
print("a missing FILE: exit 2, nothing created")

# 10. More files than vm.max_map_count (65530) allows mappings: all read
# (before: "many/65463.bin: mmap failed: Cannot allocate memory", exit 1).
many = t.path("many")
os.makedirs(many)
names = ["%05d.bin" % i for i in range(70000)]   # relative: the command line's size
for i, n in enumerate(names):
    with open(os.path.join(many, n), "wb") as f:
        f.write(struct.pack("<2H", i % 50000, 7))
o = t.path("many_out")
p = subprocess.run([t.pretok, "import-bin", "--format", "nanogpt", "--vocab", str(VOCAB),
                    "--out", o, "--quiet"] + names, capture_output=True, cwd=many)
T.check(p.returncode == 0, "70000 files: exit %d: %s" % (p.returncode, p.stderr[-500:]))
mm = json.load(open(os.path.join(o, "manifest.json")))
T.check(len(mm["inputs"]) == 70000 and sum(s["tokens"] for s in mm["shards"]) == 140000,
        "70000 files: %d inputs" % len(mm["inputs"]))
shutil.rmtree(many)
shutil.rmtree(o)
print("70000 files imported (no mapping per file)")

# 11. Without --eot, files cut by --max-doc-tokens: the note says so (before:
# "each file is one document" of a file cut into 15 documents).
err = imp(["--format", "nanogpt", "--vocab", str(VOCAB), "--max-doc-tokens", "1000", "--out",
           t.path("pieces_note"), fng])
n_pieces = (len(ng) + 999) // 1000
T.check("each file is one document;" not in err and
        "cut into pieces of --max-doc-tokens 1000 (1 of 1 file cut, %d documents in all)"
        % n_pieces in err, "--max-doc-tokens without --eot: note %r" % err)
print("no --eot, --max-doc-tokens: the note counts the pieces")

if T.has_hooks(t.pretok):
    import time
    # 12. A file truncated or rewritten while it is imported: exit 1 naming it,
    # nothing kept (before: killed by SIGBUS, exit 135, with shards and a
    # .tok.tmp left, and the rerun refused).
    big, _ = gpt2_stream(2000, eot_after=True)
    fbig = t.path("big.bin")
    big_bytes = struct.pack("<%dH" % len(big), *big)
    T.check(len(big_bytes) > 2 * 262144, "the test file is too small to be read in chunks")
    for how, pre_made in (("truncate", False), ("truncate", True), ("touch", True)):
        open(fbig, "wb").write(big_bytes)
        o = t.path("trunc_out")
        shutil.rmtree(o, ignore_errors=True)
        if pre_made:
            os.makedirs(o)
        args = [t.pretok, "import-bin", "--format", "nanogpt", "--vocab", str(VOCAB),
                "--eot", str(EOT), "--shard-tokens", "20k", "--out", o, fbig]
        p = subprocess.Popen(args, stderr=subprocess.PIPE, env=dict(
            os.environ, INGOT_PRETOK_TEST_IMPORT_DELAY_MS="1"))
        time.sleep(0.6)
        T.check(p.poll() is None, "the slowed import ended before the file changed")
        if how == "truncate":
            os.truncate(fbig, 100000)
        else:   # rewritten in place: the same size, a new modification time
            os.utime(fbig, ns=(1, 1))
        _, err = p.communicate()
        err = err.decode()
        T.check(p.returncode == 1, "%s while importing: exit %d: %s" % (how, p.returncode, err))
        T.check("big.bin: changed or truncated while being read" in err and
                ("it has 100000 bytes now" if how == "truncate"
                 else "modification time changed") in err, "%s: message %r" % (how, err))
        left = os.listdir(o) if os.path.isdir(o) else []
        T.check(left == ([".pretok.lock"] if pre_made else []) and os.path.isdir(o) == pre_made,
                "%s while importing left %s" % (how, left))
        open(fbig, "wb").write(big_bytes)
        imp(args[2:] + ["--quiet"])     # the rerun works
        T.check(len(T.dataset_docs(o)[1]) == 2000, "rerun after %s: not 2000 documents" % how)
    print("a file truncated or rewritten while imported: exit 1 naming it, nothing left, "
          "the rerun works")

    # 13. Two imports into one --out: the second is refused by the lock
    # (before: both ran, racing on the same shard names).
    o = t.path("locked_out")
    args = [t.pretok, "import-bin", "--format", "nanogpt", "--vocab", str(VOCAB), "--eot",
            str(EOT), "--shard-tokens", "20k", "--out", o, fbig]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, env=dict(
        os.environ, INGOT_PRETOK_TEST_IMPORT_DELAY_MS="1"))
    time.sleep(0.5)
    err = imp(args[2:], rc=1)
    T.check("is in use by ingot-pretok pid %d" % p.pid in err, "a second import: %s" % err)
    _, err1 = p.communicate()
    T.check(p.returncode == 0, "the first import: exit %d: %s" % (p.returncode, err1))
    t.verify(o)
    T.check(len(T.dataset_docs(o)[1]) == 2000, "the locked import: not 2000 documents")
    print("a second import into the same --out: refused by the lock, the first finishes")
# ingot-dump stats' length distribution, exact (counted per length, the rare
# documents of 64k tokens or more apart; it kept 8 bytes per document)
lens_in = [rng.randint(1, 400) for _ in range(300)] + [65535, 65536, 70000, 100000]
rng.shuffle(lens_in)
toks = []
for n in lens_in:
    toks += [EOT] + [rng.randrange(0, EOT) for _ in range(n)]
fst = t.path("stats_train.bin")
open(fst, "wb").write(llmc_bytes(toks))
d = t.path("stats_ds")
imp(["--format", "llmc", "--vocab", str(VOCAB), "--eot", str(EOT), "--out", d, fst, "--quiet"])
lens = sorted(len(x[2]) for x in T.dataset_docs(d)[1])
p = subprocess.run([t.dump, "stats", d, "--top", "1"], capture_output=True, text=True)
T.check(p.returncode == 0, "stats: %s" % p.stderr)


def rank(q):
    k = (len(lens) * q + 99) // 100
    return lens[k - 1 if k else 0]


want = ("document length  mean %.1f, min %d, p10 %d, p50 %d, p90 %d, p99 %d, max %d tokens"
        % (sum(lens) / len(lens), lens[0], rank(10), rank(50), rank(90), rank(99), lens[-1]))
T.check(want in p.stdout, "stats: want %r in\n%s" % (want, p.stdout))
lo, hi, rows = 0, 1, []
while lo <= lens[-1]:
    c = sum(lo <= n < hi for n in lens)
    if c:
        rows.append("  [%d, %d)  %d  %.2f%%" % (lo, hi, c, 100.0 * c / len(lens)))
    lo, hi = hi, hi * 2
got = p.stdout.split("length histogram (tokens: documents)\n")[1].split("unk share")[0]
T.check(got.splitlines() == rows, "stats histogram:\n%s\nwant:\n%s" % (got, "\n".join(rows)))
print("stats: percentiles and histogram of %d documents (4 of 64k tokens or more) exact"
      % len(lens))
t.cleanup()
print("ok")
