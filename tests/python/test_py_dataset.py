#!/usr/bin/python3
"""ingot.open_dataset against ingot-dump: every document's ids (ingot-dump docs --ids),
every document's provenance (the docs headers), the token stream (ingot-dump tokens),
nanoGPT get_batch windows, and checksum verification: a clean dataset verifies, a
flipped bit in the tokens, the index or the header is caught and named."""
import os
import re
import shutil
import sys

from pyt_util import Fixture, bounded, check, fail, reseal


def stripped(ids, bos, eos):
    ids = list(int(x) for x in ids)
    if ids and ids[0] == bos:
        ids = ids[1:]
    if ids and ids[-1] == eos:
        ids = ids[:-1]
    return ids


def check_documents(fx, ds, d):
    for split in ("train", "val"):
        lines = fx.run([fx.dump, "docs", d, "--ids", "--split", split], "dump docs").splitlines()
        check(len(lines) == ds.n_documents(split) > 0,
              "%s: ingot-dump lists %d documents, ingot %d" % (split, len(lines),
                                                               ds.n_documents(split)))
        for i, line in enumerate(lines):
            want = [int(x) for x in line.split()]
            got = stripped(ds.document(i, split=split), ds.bos_id, ds.eos_id)
            check(got == want, "%s document %d: ingot %s, ingot-dump %s" % (split, i, got, want))
        check(ds.document(0, split).dtype.kind == "u", "ids are the stored unsigned type")


def check_provenance(fx, ds, d):
    out = fx.run([fx.dump, "docs", d, "--split", "train"], "dump docs")
    heads = re.findall(r"^### document (\d+): (\S+) #(\d+), (\S+) record (\d+), (\d+) tokens$",
                       out, re.M)
    check(len(heads) == ds.n_documents("train"), "provenance headers: %d" % len(heads))
    for g, shard, d_in, name, record, n in heads:
        p = ds.provenance(int(g), "train")
        # the length as stored, BOS included (it was one short, as decoded)
        got = (p["shard"], p["doc"], p["file"], p["record"], len(ds.document(int(g), "train")))
        want = (shard, int(d_in), name, int(record), int(n))
        check(got == want, "provenance of document %s: ingot %s, ingot-dump %s" % (g, got, want))


def check_tokens(fx, ds, d):
    import numpy as np
    stream = np.concatenate(ds.tokens("train"))
    check(len(ds.tokens("train")) >= 3, "the fixture has several train shards")
    check(len(stream) == ds.n_tokens("train"), "tokens() covers the split")
    a, b = 1990, 2100   # across the first shard boundary
    out = fx.run([fx.dump, "tokens", d, "--range", "%d:%d" % (a, b), "--split", "train"],
                 "dump tokens")
    rows = [l.split() for l in out.splitlines() if not l.startswith("#")]
    check(len(rows) == b - a, "dump tokens printed %d rows" % len(rows))
    for r in rows:
        check(int(stream[int(r[0])]) == int(r[1]), "token %s: ingot %d, ingot-dump %s"
              % (r[0], int(stream[int(r[0])]), r[1]))
    check(np.array_equal(ds.splits["train"].slice(a, b), stream[a:b]), "Split.slice")
    x, y = ds.get_batch("train", 6, 32, rng=3)
    check(x.shape == (6, 32) and y.shape == (6, 32) and x.dtype == np.int64, "get_batch shape")
    check(np.array_equal(x[:, 1:], y[:, :-1]), "get_batch: y is x shifted by one")
    for row in x:   # every row is a real window of the stream
        hits = np.flatnonzero(stream[:len(stream) - 32] == row[0])
        check(any(np.array_equal(stream[h:h + 32], row) for h in hits), "get_batch window")


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x10]))


def check_checksums(fx, d):
    import ingot
    from ingot import xxh3
    if not ingot.can_verify():
        print("note: xxhash not importable: checksum checks skipped")
        return False
    ingot.open_dataset(d, verify=True)
    shard = ingot.open_dataset(d).splits["train"].shards[1]
    index_at = int(shard.header["index_offset"])
    for what, offset, field, at_open in (("tokens", 4096 + 10, "tokens_checksum", False),
                                         ("index", index_at + 8 * 3, "", None),
                                         ("header", 70, "header_checksum", True)):
        bad = fx.path("bad-" + what)
        shutil.copytree(d, bad)
        flip(os.path.join(bad, os.path.basename(shard.path)), offset)
        try:
            ingot.open_dataset(bad, verify=True)
            fail("a flipped bit in the %s was not detected" % what)
        except ingot.FormatError as e:   # ChecksumError, or the index check first
            msg = str(e)
            check(os.path.basename(shard.path) in msg, "%s: message names the shard: %s"
                  % (what, msg))
            check(field in msg, "%s: message names %s: %s" % (what, field, msg))
            if at_open is not None:
                try:
                    ingot.open_dataset(bad, verify=False)
                    check(not at_open, "%s: open without verify should fail" % what)
                except ingot.ChecksumError:
                    check(at_open, "%s: open without verify should succeed" % what)
    # a provenance record 0 (they count from 1) with every checksum resealed
    bad = fx.path("bad-record0")
    shutil.copytree(d, bad)
    path = os.path.join(bad, os.path.basename(shard.path))
    prov_at = int(shard.header["prov_offset"])
    with open(path, "r+b") as f:
        f.seek(prov_at + 16 + 8)
        f.write(bytes(8))
    reseal(path)
    resealed = ingot.Shard(path)   # the manifest's copy of the checksums aside
    try:
        resealed.verify()
        fail("a provenance record 0 was not detected")
    except ingot.FormatError as e:
        check("document 1 names line/record 0" in str(e), "record 0: %s" % e)
    saved = xxh3._xxhash   # without xxhash, verification says what it needs
    xxh3._xxhash = None
    try:
        ingot.open_dataset(d, verify=True)
        fail("verify without xxhash did not refuse")
    except ingot.VerifyUnavailable as e:
        check("pip install xxhash" in str(e) and "verify=False" in str(e),
              "message names xxhash and verify=False: %s" % e)
    finally:
        xxh3._xxhash = saved
    return True


def check_tokenizer_pick(fx, d, src):
    """As common/dataset.c's dataset_tokenizer_pick(): a replaced copy (another model,
    or no regular file) beside the unchanged model given to pretok is passed over for
    it, with a warning naming what was passed over and why, the model used and the cp
    that mends the copy (C refused the copy, Python took the source silently); names
    with escape sequences are shown with '?'."""
    import json
    import warnings
    import ingot
    rep = fx.path("pick")
    shutil.copytree(d, rep)
    copy = os.path.join(rep, "tokenizer.model")
    with open(copy, "wb") as f:
        f.write(b"another model")
    for what in ("another model", "a FIFO"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            got = ingot.open_dataset(rep).tokenizer_path()
        msgs = [str(x.message) for x in w]
        check(got == src, "%s as the copy, the source unchanged: got %s" % (what, got))
        reason = ("tokenizer hash %016x, not the model the dataset was made with" %
                  ingot.xxh3.xxh3_64(b"another model") if what == "another model" else
                  "not a regular file")
        check(len(msgs) == 1 and "passed over %s: %s" % (copy, reason) in msgs[0] and
              "decoding with the model given to ingot-pretok, %s (tokenizer.source)" % src
              in msgs[0] and "put the copy back: cp %s %s" % (src, copy) in msgs[0],
              "%s as the copy: warning %s" % (what, msgs))
        os.unlink(copy)
        os.mkfifo(copy)
    os.unlink(copy)
    shutil.copy(src, copy)   # mended: no warning
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        check(ingot.open_dataset(rep).tokenizer_path() == copy, "the mended copy not used")
    check(not w, "a warning for the intact copy: %s" % [str(x.message) for x in w])
    # the manifest's paths with escape sequences (ESC, the 8-bit CSI): '?' in messages
    m = json.load(open(os.path.join(rep, "manifest.json")))
    esc = os.path.join(rep, "t\x1b[2J.model")
    with open(esc, "wb") as f:
        f.write(b"another model")
    m["tokenizer"]["file"] = "t\x1b[2J.model"
    m["tokenizer"]["source"] = "/nowhere/s\x9b2J.model"
    json.dump(m, open(os.path.join(rep, "manifest.json"), "w"))
    try:
        ingot.open_dataset(rep).tokenizer_path()
        fail("a tokenizer.file of another hash used")
    except ingot.FormatError as e:
        check("t?[2J.model" in str(e) and "/nowhere/s?2J.model (tokenizer.source): not found"
              in str(e) and "\x1b" not in str(e) and "\x9b" not in str(e), repr(str(e)))


def check_tokenizer_path(fx, d):
    """tokenizer.model inside the dataset (pretok copies it), relative names
    inside the dataset before the working directory, an older manifest's
    absolute path, no model at all."""
    import json
    import ingot
    mine = os.path.join(d, "tokenizer.model")
    check(ingot.open_dataset(d).tokenizer_path() == mine,
          "tokenizer_path: %s" % ingot.open_dataset(d).tokenizer_path())
    moved = fx.path("moved")
    shutil.copytree(d, moved)
    check(ingot.open_dataset(moved).tokenizer_path() == os.path.join(moved, "tokenizer.model"),
          "a copied dataset does not use its own tokenizer.model")
    old = fx.path("old")
    shutil.copytree(d, old)
    os.unlink(os.path.join(old, "tokenizer.model"))
    m = json.load(open(os.path.join(old, "manifest.json")))
    m["tokenizer"]["file"] = mine      # an older manifest: the absolute path given
    json.dump(m, open(os.path.join(old, "manifest.json"), "w"))
    check(ingot.open_dataset(old).tokenizer_path() == mine, "an absolute path is not used")
    cwd = os.getcwd()
    os.chdir(fx.path())
    try:
        shutil.copy(mine, "tokenizer.model")     # a stray model in the working directory
        check(ingot.open_dataset(moved).tokenizer_path() == os.path.join(moved, "tokenizer.model"),
              "the working directory's tokenizer.model won over the dataset's")
    finally:
        os.chdir(cwd)
    # the copy gone: the model given to pretok (tokenizer.source) while its hash is
    # the manifest's, as the C reader does; another file there is not used
    gone = fx.path("gone")
    shutil.copytree(d, gone)
    os.unlink(os.path.join(gone, "tokenizer.model"))
    src = json.load(open(os.path.join(gone, "manifest.json")))["tokenizer"].get("source")
    if src and ingot.can_verify():
        check(ingot.open_dataset(gone).tokenizer_path() == src,
              "the copy gone: tokenizer.source %s not used" % src)
        other = fx.path("other.model")
        with open(other, "wb") as f:
            f.write(b"another model")
        mg = json.load(open(os.path.join(gone, "manifest.json")))
        mg["tokenizer"]["source"] = other
        json.dump(mg, open(os.path.join(gone, "manifest.json"), "w"))
        # a source of another hash is there: refused naming each candidate and why,
        # as the C reader refuses it (it was None, as if there were none)
        try:
            ingot.open_dataset(gone).tokenizer_path()
            fail("tokenizer.source of another hash used")
        except ingot.FormatError as e:
            check("%s (tokenizer.source): tokenizer hash" % other in str(e) and
                  "has changed since" in str(e) and
                  "%s: not found" % os.path.join(gone, "tokenizer.model") in str(e), str(e))
        check_tokenizer_pick(fx, d, src)
    m["tokenizer"]["file"] = None
    json.dump(m, open(os.path.join(old, "manifest.json"), "w"))
    check(ingot.open_dataset(old).tokenizer_path() is None, "no model recorded: not None")
    # a replaced copy (another model) with no source to fall back to: refused by hash
    if ingot.can_verify():
        rep = fx.path("replaced")
        shutil.copytree(d, rep)
        with open(os.path.join(rep, "tokenizer.model"), "wb") as f:
            f.write(b"another model")
        mr = json.load(open(os.path.join(rep, "manifest.json")))
        mr["tokenizer"].pop("source", None)
        json.dump(mr, open(os.path.join(rep, "manifest.json"), "w"))
        try:
            ingot.open_dataset(rep).tokenizer_path()
            fail("a replaced tokenizer.model was returned")
        except ingot.FormatError as e:
            check("not the model the dataset was made with" in str(e), str(e))
        # one past any model's size (sparse): refused without reading it whole
        # (8 GB named by a manifest took 8 GB of memory)
        with open(os.path.join(rep, "tokenizer.model"), "wb") as f:
            f.truncate((256 << 20) + 1)
        try:
            ingot.open_dataset(rep).tokenizer_path()
            fail("a huge tokenizer.model was returned")
        except ingot.FormatError as e:
            check("more than the 268435456" in str(e), str(e))


def check_reader_as_c(fx, d):
    """What common/dataset.c refuses, the reader refuses too: a manifest that says
    other ids, vocabulary, width or tokenizer kind than the shard headers (it reported
    the edited values), a FIFO where a shard belongs (it blocked forever); and numpy's
    unsigned ints index (under numpy 1.x they became floats)."""
    import json
    import numpy as np
    import ingot
    for key, val in (("bos_id", 5), ("pad_id", 3), ("vocab_size", 10), ("type", "bpe")):
        e = fx.path("edit-" + key)
        shutil.copytree(d, e)
        m = json.load(open(os.path.join(e, "manifest.json")))
        m["tokenizer"][key] = val
        json.dump(m, open(os.path.join(e, "manifest.json"), "w"))
        try:
            ingot.open_dataset(e)
            fail("a manifest with tokenizer.%s %r opened" % (key, val))
        except ingot.FormatError as err:
            check("tokenizer.%s" % key in str(err), str(err))
    # a tokenizer type no ingot-pretok writes: refused when the manifest is read,
    # as common/manifest.c refuses it (it was reported as a header mismatch)
    for val in ("sentencepiece", "\x1b[2Jbpe", 2):
        e = fx.path("type-name-%s" % len(str(val)))
        shutil.copytree(d, e)
        m = json.load(open(os.path.join(e, "manifest.json")))
        m["tokenizer"]["type"] = val
        json.dump(m, open(os.path.join(e, "manifest.json"), "w"))
        try:
            ingot.open_dataset(e)
            fail("a manifest with tokenizer.type %r opened" % (val,))
        except ingot.FormatError as err:
            check("key tokenizer.type: \"%s\" is not a tokenizer type: expected unigram, bpe, "
                  "word, char or unknown" % str(val).replace("\x1b", "?") in str(err), str(err))
    # keys of another JSON type: one FormatError naming the manifest (it was the
    # parser's AttributeError or TypeError)
    for key, val in (("shards", [1]), ("tokenizer", None), ("shards", "x")):
        e = fx.path("type-%s-%s" % (key, type(val).__name__))
        shutil.copytree(d, e)
        m = json.load(open(os.path.join(e, "manifest.json")))
        m[key] = val
        json.dump(m, open(os.path.join(e, "manifest.json"), "w"))
        try:
            ingot.open_dataset(e)
            fail("a manifest with %s = %r opened" % (key, val))
        except ingot.FormatError as err:
            check("manifest.json" in str(err) and "unexpected type" in str(err), str(err))
    # what common/manifest.c checks beyond the shards: the totals add up the shards
    # listed (the last one left out of the list read as a shorter split, silently),
    # each input names its file (provenance() raised KeyError), a number past a
    # double (OverflowError) and nesting past Python's stack (RecursionError)
    def drop_last(m):
        last = m["shards"].pop()
        os.unlink(os.path.join(e, last["file"]))
    cases = (("shard-left-out", drop_last, "key totals.train:"),
             ("totals-5", lambda m: m["totals"]["train"].__setitem__("tokens", 5),
              "key totals.train: 5 tokens"),
             ("input-no-name", lambda m: m.__setitem__("inputs", [{}] * 4),
              "key inputs[0].name: missing or not a string"))
    for tag, edit, want in cases:
        e = fx.path("manifest-" + tag)
        shutil.copytree(d, e)
        m = json.load(open(os.path.join(e, "manifest.json")))
        if tag == "shard-left-out":   # a train shard: the train split's totals disagree
            m["shards"].sort(key=lambda x: x["split"] == "train")
        edit(m)
        json.dump(m, open(os.path.join(e, "manifest.json"), "w"))
        try:
            ingot.open_dataset(e)
            fail("a manifest with %s opened" % tag)
        except ingot.FormatError as err:
            check(want in str(err), "%s: %s" % (tag, err))
    for tag, text in (("huge-vocab", None), ("deep", "[" * 100000 + "]" * 100000)):
        e = fx.path("manifest-" + tag)
        shutil.copytree(d, e)
        if text is None:
            raw = open(os.path.join(e, "manifest.json")).read()
            text = re.sub(r'"vocab_size": *\d+', '"vocab_size": 1e400', raw, count=1)
            check(text != raw, "no vocab_size in the manifest")
        open(os.path.join(e, "manifest.json"), "w").write(text)
        try:
            ingot.open_dataset(e)
            fail("a manifest %s opened" % tag)
        except ingot.FormatError as err:
            check("manifest.json" in str(err), "%s: %s" % (tag, err))
    # shard names as the C reader takes them: plain, not hidden, no control
    # characters (an escape sequence in one was accepted; C1's 8-bit CSI too)
    for k, bad in enumerate(("\x1b[2Jx.tok", "a\nb.tok", ".hidden.tok", "../x.tok",
                             "\x9b2Jx.tok", "x\x85.tok")):
        e = fx.path("name-%d" % k)
        shutil.copytree(d, e)
        m = json.load(open(os.path.join(e, "manifest.json")))
        os.rename(os.path.join(e, m["shards"][0]["file"]), os.path.join(e, bad.replace("/", "_")))
        m["shards"][0]["file"] = bad
        json.dump(m, open(os.path.join(e, "manifest.json"), "w"))
        try:
            ingot.open_dataset(e)
            fail("a shard named %r opened" % bad)
        except ingot.FormatError as err:
            check("must be a plain *.tok name" in str(err), str(err))
    e = fx.path("fifo")
    shutil.copytree(d, e)
    shard = os.path.join(e, sorted(x for x in os.listdir(e) if x.endswith(".tok"))[0])
    os.unlink(shard)
    os.mkfifo(shard)

    try:
        bounded(10, "open_dataset of a FIFO shard", lambda: ingot.open_dataset(e))
        fail("a FIFO shard opened")
    except ingot.FormatError as err:
        check("not a regular file" in str(err), str(err))
    ds = ingot.open_dataset(d)
    i = np.uint64(2)
    check(np.array_equal(ds.document(i), ds.document(2)) and
          np.array_equal(ds.splits["train"].slice(i * 3, i * 3 + 5),
                         ds.splits["train"].slice(6, 11)), "numpy uint64 indices")
    print("reader: manifest/header disagreements and a FIFO shard refused; uint64 indices")


def main():
    fx = Fixture(sys.argv)
    import ingot
    d = fx.dataset()
    ds = ingot.open_dataset(d)
    check(ds.bos_id >= 0, "the fixture model has a BOS id")
    check_documents(fx, ds, d)
    check_provenance(fx, ds, d)
    check_tokens(fx, ds, d)
    try:
        ingot.open_dataset(fx.path("nowhere"))
        fail("a missing dataset opened")
    except ingot.FormatError as e:
        check("manifest.json" in str(e), str(e))
    # more shards than the process may map (3 mappings each): refused before any is
    # opened, naming vm.max_map_count (the opens failed midway with a bare ENOMEM)
    from ingot.dataset import _check_map_budget, MAPS_PER_SHARD, MAP_RESERVE
    _check_map_budget(d, 100, limit=65530, used=500)
    try:
        _check_map_budget(d, 21000, limit=65530, used=2000)
        fail("21000 shards within a map count of 65530")
    except ingot.IngotError as e:
        check("vm.max_map_count" in str(e) and "21000 shards" in str(e) and
              "sysctl -w vm.max_map_count=131072" in str(e), str(e))
    n_ok = (65530 - 2000 - MAP_RESERVE) // MAPS_PER_SHARD
    _check_map_budget(d, n_ok, limit=65530, used=2000)   # exactly at the limit: opens
    # a file where the directory belongs: FormatError, not a raw NotADirectoryError
    for f in ("manifest.json", sorted(x for x in os.listdir(d) if x.endswith(".tok"))[0]):
        try:
            ingot.open_dataset(os.path.join(d, f))
            fail("open_dataset of the file %s succeeded" % f)
        except ingot.FormatError as e:
            check("not a directory" in str(e), str(e))
    # get_batch of no rows or windows: refused, not an empty array or numpy's error
    for bs, bl in ((0, 8), (2, 0), (2, -1), (2.5, 8)):
        try:
            ds.get_batch("train", bs, bl)
            fail("get_batch(%r, %r) was accepted" % (bs, bl))
        except ValueError as e:
            check("expected an integer >= 1" in str(e), str(e))
    check_tokenizer_path(fx, d)
    check_reader_as_c(fx, d)
    verified = check_checksums(fx, d)
    fx.cleanup()
    print("ok: %d train + %d val documents, provenance, tokens, get_batch%s"
          % (ds.n_documents("train"), ds.n_documents("val"),
             ", checksums" if verified else ""))


if __name__ == "__main__":
    main()
