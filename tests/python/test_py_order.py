#!/usr/bin/python3
"""ingot.TrainWindows (and IngotTrainDataset when torch is importable) yields exactly
the windows ingot-train trains on: the batches `ingot-train --dump-batch` writes at a
fresh start, after a checkpoint inside the first epoch and after one in the second
(another permutation), shuffled and sequential; the data-parallel split (rank r of W
runs micro-steps [r*K, (r+1)*K) of each step, K per rank, as train/tr_dist_run.c does)
covers the same global batch; and
the checkpoint reader gives the weights the trainer used, bit for bit, and refuses a
corrupted checkpoint, one truncated while open (not SIGBUS) and one named after
another step; from_checkpoint checks the data as ingot-train --resume does: the
"content" id a checkpoint records per source is Dataset.content_id() exactly, a
converted-again dataset is warned of (ingot-train notes it), and a dataset of
another tokenizer is refused (ingot-train refuses it)."""
import json
import os
import shutil
import struct
import sys

from pyt_util import Fixture, bounded, check, fail, in_child, run_env

T, B, ACCUM = 32, 4, 2          # the training run: 4 x 32 x 2 micro-steps = 8 windows/step
G = B * ACCUM


def read_dump(path):
    """ids [B, T+1], params of a --dump-batch file (train/parity_dump.h)."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    check(raw[:8] == b"INGOTBAT", "dump magic")
    L, NH, C, TT, V, Vp, nb = struct.unpack_from("<7i", raw, 16)
    (n_params,) = struct.unpack_from("<Q", raw, 48)
    off = 256
    ids = np.frombuffer(raw, "<i4", nb * (TT + 1), off).reshape(nb, TT + 1)
    off += ids.nbytes
    params = np.frombuffer(raw, "<f4", n_params, off)
    return ids, params


def train_args(fx, d, extra):
    return [fx.train, "--data", d, "--model", "tiny", "--layers", "1", "--dim", "32",
            "--seq-len", str(T), "--steps", "40", "--threads", "1", "--val-every", "0",
            "--print-every", "100"] + extra


def dump_at(fx, d, ck, stop, order, tag, more=()):
    """Rows of the global batch after `stop` steps, with the weights then. The dump
    takes one micro-step; --batch G (accum 1) makes it the whole global step. more:
    further flags of both runs (another --data)."""
    more = list(more)
    if stop:
        fx.run(train_args(fx, d, more + ["--batch", str(B), "--batch-tokens", str(G * T),
                                  "--ckpt-dir", ck, "--stop-after", str(stop),
                                  "--data-order", order] + (["--resume"] if os.path.isdir(ck) else [])),
               "train to %d" % stop)
    out = fx.path("dump-%s.bin" % tag)
    fx.run(train_args(fx, d, more + ["--batch", str(G), "--ckpt-dir", ck, "--dump-batch", out,
                              "--data-order", order] + (["--resume"] if stop else [])),
           "dump after %d" % stop)
    return read_dump(out)


def check_order(fx, ds, d, order, stops):
    import numpy as np
    import ingot
    ck = fx.path("ck-" + order)
    W = (ds.n_tokens("train") - 1) // T
    for stop in stops:
        ids, params = dump_at(fx, d, ck, stop, order, "%s-%d" % (order, stop))
        kw = dict(seed=1337, sequential=order == "sequential", batch_tokens=G * T,
                  start_step=stop)
        one = ingot.TrainWindows(ds, T, B, **kw)
        got = np.concatenate([one.micro_batch(0, m) for m in range(ACCUM)])
        check(np.array_equal(got, ids), "%s order after step %d (epoch %d): ingot's windows "
              "differ from ingot-train's" % (order, stop, stop * G // W))
        # 2 ranks of 1 micro-step each: rank r takes micro-step r of the global step
        # (tr_dist_run.c: contiguous shares)
        two = [ingot.TrainWindows(ds, T, B, world=2, rank=r, **kw) for r in range(2)]
        check(two[0].accum == 1, "world 2: one micro-step per rank")
        dp = np.concatenate([two[r].micro_batch(0, 0) for r in range(2)])
        check(np.array_equal(dp, ids), "world 2: the ranks' windows do not make the global batch")
        # 2 ranks of 2 micro-steps each at half the batch: rank 0 holds the first half
        half = [ingot.TrainWindows(ds, T, B // 2, world=2, rank=r, **kw) for r in range(2)]
        dp = np.concatenate([half[r].micro_batch(0, m) for r in range(2) for m in range(2)])
        check(half[0].accum == 2 and np.array_equal(dp, ids),
              "world 2 x 2 micro-steps: contiguous shares")
        if stop:
            c = ingot.open_checkpoint(os.path.join(ck, "ckpt-%08d.bin" % stop))
            check(c.step == stop, "checkpoint step")
            check(c.data_position(W) == stop * G, "checkpoint data position %d, expected %d"
                  % (c.data_position(W), stop * G))
            flat = np.concatenate([a.ravel() for a in c.params.values()])
            check(np.array_equal(flat.view("<u4"), params.view("<u4")),
                  "checkpoint tensors differ from the weights ingot-train used")
            try:
                import torch  # noqa: F401
                tt = c.to_torch("params")
                check(all(np.array_equal(tt[k].numpy(), c.params[k]) for k in c.params),
                      "to_torch: tensors differ")
            except ImportError:
                pass
            resumed = ingot.TrainWindows(ds, T, B, start_window=c.data_position(W), **{
                k: v for k, v in kw.items() if k != "start_step"})
            check(np.array_equal(resumed.micro_batch(0, 0), ids[:B]), "start_window")
            # the same from the checkpoint's settings, as a mixture's is given (it was
            # ignored for one dataset: the windows of step 0 came back)
            pos = (c.settings or {}).get("data_position")
            check(pos is not None, "checkpoint settings: no data_position")
            by_pos = ingot.TrainWindows(ds, T, B, start_position=pos, **{
                k: v for k, v in kw.items() if k != "start_step"})
            check(np.array_equal(by_pos.micro_batch(0, 0), ids[:B]),
                  "start_position of one dataset after step %d" % stop)
    return ck


def check_torch(ds):
    try:
        import torch
        from torch.utils.data import DataLoader
    except ImportError:
        return False
    import numpy as np
    import ingot
    tw = ingot.TrainWindows(ds, T, B, batch_tokens=G * T, steps=3)
    want = list(tw)
    tds = ingot.IngotTrainDataset(ds, T, B, batch_tokens=G * T, steps=3)
    for workers in (0, 2):
        got = list(DataLoader(tds, batch_size=None, num_workers=workers))
        check(len(got) == len(want) == 3 * ACCUM, "torch: micro-batches")
        for (x, y), rows in zip(got, want):
            check(x.dtype == torch.int64 and np.array_equal(x.numpy(), rows[:, :-1]) and
                  np.array_equal(y.numpy(), rows[:, 1:]), "torch: order with %d workers" % workers)
    return True


def check_corrupt_ckpt(fx, ck):
    import ingot
    if not ingot.can_verify():
        return
    path = sorted(f for f in os.listdir(ck) if f.startswith("ckpt-") and f.endswith(".bin"))[-1]
    good = ingot.open_checkpoint(os.path.join(ck, path))
    if good.header["version"] >= 2:   # the run's settings, as --resume reads them
        check(isinstance(good.settings, dict) and
              good.settings.get("settings", {}).get("arch") == "gpt2",
              "checkpoint settings: %r" % (good.settings,))
        with open(os.path.join(ck, path), "rb") as f:
            raw = bytearray(f.read())
        raw[good.header["settings_offset"] + 1] ^= 0x01
        with open(fx.path("bad-settings.bin"), "wb") as f:
            f.write(raw)
        try:
            ingot.open_checkpoint(fx.path("bad-settings.bin"))
            fail("a flipped bit in a checkpoint's settings was not detected")
        except (ingot.ChecksumError, ingot.FormatError) as e:
            check("settings" in str(e), str(e))
    bad = fx.path("bad.bin")
    with open(os.path.join(ck, path), "rb") as f:
        raw = bytearray(f.read())
    raw[4096 + 1234] ^= 1
    with open(bad, "wb") as f:
        f.write(raw)
    try:
        ingot.open_checkpoint(bad)
        fail("a flipped bit in a checkpoint's weights was not detected")
    except ingot.ChecksumError as e:
        check("payload_checksum" in str(e), str(e))
    ingot.open_checkpoint(bad, verify=False)   # a reader may still look at it


def check_hostile_ckpt(fx, ck):
    """Hand-edited headers whose checksum was recomputed, and a FIFO: refused with the
    field named, as the C reader refuses them (the reader accepted vocab 1, a NaN
    norm_eps and tie_embeddings 7, reported a wrapped int64 parameter count for a huge
    shape, and blocked forever opening a FIFO)."""
    import math
    import struct
    import numpy as np
    import ingot
    from ingot import xxh3
    from ingot.checkpoint import HEADER, HEADER_CHECKSUM_AT
    if not ingot.can_verify():
        return
    src = os.path.join(ck, sorted(f for f in os.listdir(ck) if f.startswith("ckpt-"))[-1])
    with open(src, "rb") as f:
        raw = f.read()

    def edited(name, **fields):
        h = np.frombuffer(raw[:4096], dtype=HEADER, count=1)[0].copy()
        for k, v in fields.items():
            h[k] = v
        b = bytearray(raw)
        b[:HEADER.itemsize] = h.tobytes()
        struct.pack_into("<Q", b, HEADER_CHECKSUM_AT, xxh3.xxh3_64(bytes(b[:HEADER_CHECKSUM_AT])))
        path = fx.path(name)
        with open(path, "wb") as f:
            f.write(b)
        return path

    cases = [
        ("vocab 1", edited("v1.bin", vocab=1), "n_embd"),
        ("tie_embeddings 7", edited("tie.bin", tie_embeddings=7, version=3), "tie_embeddings"),
        ("llama norm_eps NaN", edited("eps.bin", version=3, arch=1, n_kv_head=2, ffn_dim=64,
                                      rope_theta=1e4, norm_eps=float("nan")), "norm_eps"),
        ("llama rope_theta inf", edited("rope.bin", version=3, arch=1, n_kv_head=2, ffn_dim=64,
                                        rope_theta=float("inf"), norm_eps=1e-5), "rope_theta"),
        ("gpt2 (arch 0) with llama fields", edited("g3.bin", version=3, arch=0, n_kv_head=-5,
                                                   rope_theta=float("nan")), "n_kv_head"),
    ]
    for what, path, field in cases:
        try:
            ingot.open_checkpoint(path)
            fail("checkpoint with %s: accepted" % what)
        except ingot.FormatError as e:
            check(": %s:" % field in str(e), "%s: %s" % (what, e))
    # the C reader refuses that last one too, naming the fields (it made two equal
    # shapes compare unequal on --resume: NaN != NaN)
    rc, err = run_env([fx.train, "eval", cases[-1][1]])
    check(rc == 1 and "n_kv_head..norm_eps" in err and "must be 0" in err,
          "ingot-train eval of a gpt2 header with llama fields: %d %s" % (rc, err))
    # the settings' architecture against the header's (as train/checkpoint.c): an
    # unknown one, and another known one (the settings, last in the file, one byte
    # longer: their size and the file's resealed in the header)
    old = b'"arch":"gpt2"'
    at = raw.find(old)
    h0 = np.frombuffer(raw[:4096], dtype=HEADER, count=1)[0]
    check(at > int(h0["settings_offset"]) and
          int(h0["settings_offset"]) + int(h0["settings_size"]) == len(raw),
          "the settings of %s: no %r, or not last in the file" % (src, old))
    for what, new, want in (("unknown arch", b'"arch":"gpt3"', "architecture 'gpt3'"),
                            ("arch not the header's", b'"arch":"llama"', "the header 'gpt2'"),
                            # past Python's stack: RecursionError, not FormatError, before
                            ("deep nesting", b'"arch":' + b"[" * 5000 + b"]" * 5000,
                             "not JSON text (RecursionError)")):
        grow = len(new) - len(old)
        h = h0.copy()
        h["settings_size"] += grow
        h["file_size"] += grow
        b = bytearray(raw[:at] + new + raw[at + len(old):])
        b[:HEADER.itemsize] = h.tobytes()
        struct.pack_into("<Q", b, HEADER_CHECKSUM_AT, xxh3.xxh3_64(bytes(b[:HEADER_CHECKSUM_AT])))
        path = fx.path(what.replace(" ", "_") + ".bin")
        with open(path, "wb") as f:
            f.write(b)
        try:
            ingot.open_checkpoint(path)
            fail("checkpoint with %s: accepted" % what)
        except ingot.FormatError as e:
            check(": settings:" in str(e) and want in str(e), "%s: %s" % (what, e))
    # the settings' shape against the header's (train/checkpoint.c): "heads" changed
    # to another one-digit count and the settings' checksum resealed, so only the
    # disagreement is left. ingot-train refuses it naming both (it reported "this run is
    # another model" on --resume, and eval used the header's shape silently).
    import re
    m = re.search(rb'"heads":(\d)[,}]', raw[int(h0["settings_offset"]):])
    check(m is not None, "the settings of %s name no one-digit heads" % src)
    at = int(h0["settings_offset"]) + m.start(1)
    other = b"8" if raw[at:at + 1] != b"8" else b"2"
    b = bytearray(raw[:at] + other + raw[at + 1:])
    h = h0.copy()
    h["settings_checksum"] = xxh3.xxh3_64(bytes(b[int(h0["settings_offset"]):]))
    b[:HEADER.itemsize] = h.tobytes()
    struct.pack_into("<Q", b, HEADER_CHECKSUM_AT, xxh3.xxh3_64(bytes(b[:HEADER_CHECKSUM_AT])))
    path = fx.path("settings_heads.bin")
    with open(path, "wb") as f:
        f.write(b)
    rc, err = run_env([fx.train, "eval", path])
    check(rc == 1 and "the settings say heads %s, the header" % other.decode() in err,
          "settings' heads against the header's: %d %s" % (rc, err))
    # the same place, resealed: the key renamed (no "heads": --resume reported "another
    # model", eval and generate went on silently) and a NUL byte in place of the digit
    # (the JSON, read as a C string, ended there)
    for what, old, new, want in (("no heads", b'"heads"', b'"hexds"', 'the settings have no "heads"'),
                                 ("a NUL", raw[at:at + 1], b"\0", "a NUL byte at offset")):
        pos = at if what == "a NUL" else at - len(b'"heads":')
        check(raw[pos:pos + len(old)] == old, "%s: %r at the heads" % (what, raw[pos:pos + 8]))
        b = bytearray(raw[:pos] + new + raw[pos + len(old):])
        h = h0.copy()
        h["settings_checksum"] = xxh3.xxh3_64(bytes(b[int(h0["settings_offset"]):]))
        b[:HEADER.itemsize] = h.tobytes()
        struct.pack_into("<Q", b, HEADER_CHECKSUM_AT, xxh3.xxh3_64(bytes(b[:HEADER_CHECKSUM_AT])))
        path = fx.path("settings_%s.bin" % what.replace(" ", "_"))
        with open(path, "wb") as f:
            f.write(b)
        for cmd in (["eval", path], ["generate", path, "--prompt-ids", "1", "--tokens", "1"]):
            rc, err = run_env([fx.train] + cmd)
            check(rc == 1 and want in err and "damaged" in err,
                  "settings with %s, %s: %d %s" % (what, cmd[0], rc, err))
    # a shape whose parameter count overflows int64: the exact count in the message
    L, C = 2 ** 31 - 1, 2 ** 30
    path = edited("huge.bin", n_layer=L, n_embd=C, n_head=1)
    try:
        ingot.open_checkpoint(path)
        fail("checkpoint with a huge shape: accepted")
    except ingot.FormatError as e:
        P = sum(math.prod(s) for s in
                ingot.checkpoint.param_shapes(L, C, 32, 128).values())
        check(str(P) in str(e), "huge shape: %s (want the count %d)" % (e, P))
    fifo = fx.path("fifo.bin")
    os.mkfifo(fifo)

    try:
        bounded(10, "open_checkpoint of a FIFO", lambda: ingot.open_checkpoint(fifo))
        fail("a FIFO opened as a checkpoint")
    except ingot.FormatError as e:
        check("regular file" in str(e), str(e))
    # a copy under a higher step's name: the newest of its directory by name, refused
    # (it was opened as the newest, its own step inside), as ingot-train refuses it
    step = ingot.open_checkpoint(src).step
    cp = fx.path("cpdir")
    os.makedirs(cp)
    with open(os.path.join(cp, "ckpt-%08d.bin" % (step + 7)), "wb") as f:
        f.write(raw)
    try:
        ingot.open_checkpoint(cp)
        fail("a checkpoint copied under another step's name: accepted")
    except ingot.FormatError as e:
        check("its name says step %d" % (step + 7) in str(e), str(e))
    # the names train/checkpoint.c's parse_name takes: a step of nine digits is written
    # without padding (it opened silently: only eight digits were compared); a name no
    # save writes ("ckpt-5.bin") is no checkpoint name, so the step is not compared
    nine = os.path.join(cp, "ckpt-123456789.bin")
    with open(nine, "wb") as f:
        f.write(raw)
    try:
        ingot.open_checkpoint(nine)
        fail("a checkpoint of step %d named ckpt-123456789.bin: accepted" % step)
    except ingot.FormatError as e:
        check("step: %d, but its name says step 123456789" % step in str(e), str(e))
    loose = fx.path("ckpt-%d.bin" % (step + 3))
    with open(loose, "wb") as f:
        f.write(raw)
    check(ingot.open_checkpoint(loose).step == step, "a name no save writes was compared")
    check(ingot.latest_checkpoint(cp) == nine, "latest_checkpoint: %s"
          % ingot.latest_checkpoint(cp))
    print("hostile checkpoint headers, a FIFO, a copy under another step: refused, the "
          "field named")


def check_truncated_ckpt(fx, ck):
    """A checkpoint truncated after it was opened: its tensors, verify() and the
    nanoGPT state dict refuse it (FormatError) where reading the memmap past the
    file's end killed the process with SIGBUS; each in a child process."""
    import shutil
    import ingot
    src = os.path.join(ck, sorted(f for f in os.listdir(ck) if f.startswith("ckpt-"))[-1])
    for what, call in (("params", lambda c: float(c.params["wte"][0, 0])),
                       ("m", lambda c: float(c.m["lnfw"][0])),
                       ("values", lambda c: [float(a.ravel()[0]) for a in c.v.values()]),
                       ("verify", lambda c: c.verify()),
                       ("nanogpt", lambda c: c.to_nanogpt_state_dict(torch_tensors=False))):
        if what == "verify" and not ingot.can_verify():
            continue
        path = fx.path("trunc-" + what, os.path.basename(src))
        os.makedirs(os.path.dirname(path))
        shutil.copy(src, path)

        def case():
            c = ingot.open_checkpoint(path, verify=False)
            os.truncate(path, 4096)
            try:
                call(c)
                fail("%s of a checkpoint truncated while open: no error" % what)
            except ingot.FormatError as e:
                check("file_size: the file is now 4096 bytes" in str(e) and
                      "truncated or rewritten while open" in str(e), "%s: %s" % (what, e))
        in_child("%s of a checkpoint truncated while open" % what, case)
    c = ingot.open_checkpoint(src)
    check(sorted(c.params) == sorted(c.shapes) and len(c.m) == len(c.shapes) and
          c.params["wte"].shape == c.shapes["wte"], "ck.params as a mapping")
    print("a checkpoint truncated while open: FormatError from its tensors and verify()")


def check_resume_data(fx, d, ds):
    """from_checkpoint checks the data of a checkpoint as ingot-train --resume does
    (train/train_loop.c): the "content" id ingot-train records per source is
    Dataset.content_id() bit for bit (one dataset and a mixture's two); the corpus
    converted again into other shards is warned of (UserWarning) where ingot-train
    prints its note; a dataset of another tokenizer is refused (MismatchError) where
    ingot-train refuses it. Before, both gave windows silently."""
    import shutil
    import warnings
    import ingot
    if not ingot.can_verify():
        print("note: xxhash not importable: content ids not checked")
        return
    src = os.path.join(fx.path("ck-shuffled"), "ckpt-00000002.bin")
    c = ingot.open_checkpoint(src)
    rec = [s.get("content") for s in c.settings["data_position"]["sources"]]
    check(rec == ["%016x" % ds.content_id()], "content id: ingot-train recorded %s, "
          "Dataset.content_id() gives %016x" % (rec, ds.content_id()))
    mix = ingot.open_checkpoint(fx.path("ck-mix"))
    rec = [s.get("content") for s in mix.settings["data_position"]["sources"]]
    mine = ["%016x" % ingot.open_dataset(p).content_id() for p in (d, fx.path("ds2"))]
    check(rec == mine and mine[0] != mine[1], "mixture content ids: ingot-train recorded %s, "
          "Dataset.content_id() gives %s" % (rec, mine))

    def windows(**kw):
        """from_checkpoint(c, batch=B, **kw): (the windows, the warnings' texts)"""
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            fc = ingot.TrainWindows.from_checkpoint(c, batch=B, **kw)
        return fc, [str(x.message) for x in w if issubclass(x.category, UserWarning)]
    fc, said = windows()
    check(not said, "from_checkpoint of its own data warned: %s" % said)

    def resume(data, tag):
        """ingot-train --resume from a copy of c on data: (exit status, its output and
        errors: the note is printed with the progress, on standard output)"""
        import subprocess
        ckd = fx.path("ck-" + tag)
        os.makedirs(ckd)
        shutil.copy(src, ckd)
        p = subprocess.run(train_args(fx, data, ["--batch", str(B), "--batch-tokens",
                                                 str(G * T), "--ckpt-dir", ckd, "--resume",
                                                 "--stop-after", "3", "--data-order",
                                                 "shuffled"]),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
        return p.returncode, p.stdout
    # the same corpus and model in shards of another size: other content, same tokens
    again = fx.path("ds-again")
    fx.run([fx.pretok, "--model", fx.path("tok.model"), "--out", again, "--shard-tokens",
            "3000", "--val-fraction", "0.1", "--threads", "1", "--quiet",
            fx.path("corpus.jsonl")], "the corpus converted again")
    fa, said = windows(data=[again])
    check(len(said) == 1 and "the dataset %s is not the one the checkpoint trained on" % again
          in said[0] and "content %016x, the checkpoint's %016x" % (
              ingot.open_dataset(again).content_id(), ds.content_id()) in said[0],
          "from_checkpoint on the data converted again: warnings %s" % said)
    check(fa.micro_batch(0, 0).shape == (B, T + 1), "from_checkpoint on the data converted "
          "again: no windows")
    rc, err = resume(again, "again")
    check(rc == 0 and "note: resume: the dataset %s is not the one the checkpoint trained on"
          % again in err, "ingot-train --resume on the data converted again: %d %s" % (rc, err))
    # another tokenizer: a model of another vocabulary on the same text
    fx.run([fx.spm_train, "--input=" + fx.path("corpus.txt"), "--model_prefix=" +
            fx.path("tok2"), "--vocab_size=40", "--hard_vocab_limit=false", "--minloglevel=2",
            "--num_threads=1"], "spm_train of another tokenizer")
    other = fx.path("ds-other")
    fx.run([fx.pretok, "--model", fx.path("tok2.model"), "--out", other, "--shard-tokens",
            "2000", "--val-fraction", "0.1", "--threads", "1", "--quiet",
            fx.path("corpus.jsonl")], "ingot-pretok with another tokenizer")
    od = ingot.open_dataset(other)
    check(od.tokenizer_hash != ds.tokenizer_hash, "fixture: the same tokenizer hash")
    want = ("the checkpoint's tokenizer (hash %016x) differs from the dataset's (%016x in %s"
            % (c.header["tokenizer_hash"], od.tokenizer_hash,
               os.path.join(other, "manifest.json")))
    try:
        windows(data=[other])
        fail("from_checkpoint on a dataset of another tokenizer: windows given")
    except ingot.MismatchError as e:
        check(want in str(e) and isinstance(e, ValueError), str(e))
    rc, err = resume(other, "other")
    check(rc != 0 and "the checkpoint's tokenizer (hash %016x) differs from the dataset's"
          % c.header["tokenizer_hash"] in err, "ingot-train --resume on another tokenizer's "
          "dataset: %d %s" % (rc, err))
    print("from_checkpoint: content ids equal ingot-train's; data converted again warned "
          "of, another tokenizer refused, as ingot-train --resume")


def read_safetensors(path):
    """name -> float32 array of a safetensors file (8-byte header length, JSON, data)."""
    import json
    import struct
    import numpy as np
    raw = open(path, "rb").read()
    n = struct.unpack_from("<Q", raw, 0)[0]
    head = json.loads(raw[8:8 + n])
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        check(t["dtype"] == "F32", "safetensors %s: dtype %s" % (name, t["dtype"]))
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], "<f4").reshape(t["shape"])
    return out


def check_llama_ckpt(fx, d):
    """A llama checkpoint (version 3) opens: its architecture, shape fields and tensors in
    storage order, equal to the tensors `ingot-train export --format safetensors` writes;
    tied embeddings have no lm_head."""
    import numpy as np
    import ingot
    for tied in (False, True):
        ck = fx.path("ck-llama-%d" % tied)
        fx.run([fx.train, "--data", d, "--arch", "llama", "--model", "llama-tiny",
                "--kv-heads", "2", "--seq-len", "32", "--batch", "4", "--steps", "2",
                "--val-every", "0", "--quiet", "--ckpt-dir", ck] +
               (["--tie-embeddings"] if tied else []), "llama run")
        c = ingot.open_checkpoint(os.path.join(ck, "ckpt-00000002.bin"))
        check(c.arch == "llama" and c.header["version"] == 3, "llama: %r" % c)
        check(c.config["n_kv_head"] == 2 and c.config["tie_embeddings"] == tied and
              c.config["ffn_dim"] > 0 and c.config["rope_theta"] == 10000.0,
              "llama config: %r" % c.config)
        check(("lm_head" in c.params) != tied, "llama tied %d: %s" % (tied, list(c.params)))
        st = fx.path("st-%d" % tied)
        fx.run([fx.train, "export", ck, "--format", "safetensors", "--out", st], "export")
        ref = read_safetensors(os.path.join(st, "model.safetensors"))
        check(sorted(ref) == sorted(c.params), "llama tensors: %s vs %s"
              % (sorted(ref), sorted(c.params)))
        for name, a in c.params.items():
            check(tuple(a.shape) == tuple(ref[name].shape) and np.array_equal(a, ref[name]),
                  "llama %s: the reader's tensor is not the exported one" % name)
    print("llama checkpoints: version 3 read, tensors equal to the safetensors export")


def check_mixture(fx, d, ds):
    """A mixture (--data d --data d2:2, d2 small enough to wrap into its third epoch):
    TrainWindows over both datasets, and TrainWindows.from_checkpoint, give the batches
    ingot-train takes at a fresh start and after resumes; data_position refuses a
    mixture's checkpoint (its header counts the windows of every source)."""
    import random
    import numpy as np
    import ingot
    rng = random.Random(11)
    corpus2 = fx.path("corpus2.jsonl")
    with open(corpus2, "w", encoding="utf-8") as f:
        for k in range(10):   # other text than corpus.jsonl: a window names its source
            f.write(json.dumps({"text": "doc %d %s" % (k, " ".join(
                rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(30)))}) + "\n")
    d2 = fx.path("ds2")
    fx.run([fx.pretok, "--model", fx.path("tok.model"), "--out", d2, "--shard-tokens", "500",
            "--val-fraction", "0.1", "--threads", "1", "--quiet", corpus2], "second dataset")
    ds2 = ingot.open_dataset(d2)
    W2 = (ds2.n_tokens("train") - 1) // T
    stop_far = 3 * W2 // G + 4   # about 2/3 of a step's windows come from d2
    check(W2 >= 8 and stop_far < 40, "fixture: d2 has %d windows per epoch" % W2)
    ck = fx.path("ck-mix")
    more = ["--data", d2 + ":2"]
    for stop in (0, 3, stop_far):
        ids, _ = dump_at(fx, d, ck, stop, "shuffled", "mix-%d" % stop, more)
        tw = ingot.TrainWindows([ds, (ds2, 2)], T, B, batch_tokens=G * T, start_step=stop)
        got = np.concatenate([tw.micro_batch(0, m) for m in range(ACCUM)])
        check(np.array_equal(got, ids), "mixture after step %d: ingot's windows differ from "
              "ingot-train's" % stop)
        if not stop:
            continue
        c = ingot.open_checkpoint(os.path.join(ck, "ckpt-%08d.bin" % stop))
        fc = ingot.TrainWindows.from_checkpoint(c, batch=B)
        got = np.concatenate([fc.micro_batch(0, m) for m in range(ACCUM)])
        check(np.array_equal(got, ids), "mixture: from_checkpoint after step %d differs" % stop)
        # two ranks from the checkpoint make the global batch too
        two = [ingot.TrainWindows.from_checkpoint(c, rank=r, world=2, batch=B)
               for r in range(2)]
        dp = np.concatenate([two[r].micro_batch(0, 0) for r in range(2)])
        check(np.array_equal(dp, ids), "mixture from_checkpoint, world 2")
        try:
            c.data_position(100)
            fail("data_position of a mixture checkpoint returned a position")
        except ValueError as e:
            check("mixture" in str(e), str(e))
        if stop == stop_far:
            taken = c.settings["data_position"]["sources"][1]["windows"]
            check(taken > 2 * W2, "the run took %d windows of d2 (%d an epoch): not in its "
                  "third epoch" % (taken, W2))
    # the --ckpt-dir itself, as ingot-train's subcommands take it (before: open_checkpoint
    # refused a directory, from_checkpoint took only a Checkpoint, and IngotTrainDataset
    # had no way to continue a checkpoint's run)
    c = ingot.open_checkpoint(ck)
    check(c.step == stop_far, "open_checkpoint(--ckpt-dir): step %d, newest %d"
          % (c.step, stop_far))
    fc = ingot.TrainWindows.from_checkpoint(ck, batch=B)
    got = np.concatenate([fc.micro_batch(0, m) for m in range(ACCUM)])
    check(np.array_equal(got, ids), "from_checkpoint(--ckpt-dir path) differs")
    try:
        import torch  # noqa: F401
        from torch.utils.data import DataLoader
        tds = ingot.IngotTrainDataset.from_checkpoint(ck, batch=B, steps=1)
        got = list(DataLoader(tds, batch_size=None, num_workers=0))
        rows = np.concatenate([np.concatenate([x.numpy(), y.numpy()[:, -1:]], axis=1)
                               for x, y in got])
        check(np.array_equal(rows, ids), "IngotTrainDataset.from_checkpoint differs")
    except ImportError:
        pass
    try:
        ingot.open_checkpoint(fx.path("corpus2.jsonl").rsplit("/", 1)[0] + "/ds2")
        fail("open_checkpoint of a directory without checkpoints opened something")
    except ingot.FormatError as e:
        check("no checkpoint in this directory (a checkpoint is read by the name a save "
              "gives it, ckpt-<8 digits>.bin" in str(e), str(e))
    # a directory holding only a misnamed copy: named as passed over, with the name to
    # give it, as ingot-train says it (it said "no ckpt-*.bin checkpoint" beside ckpt-2.bin)
    odd = fx.path("ck-misnamed")
    os.makedirs(odd, exist_ok=True)
    shutil.copyfile(os.path.join(fx.path("ck-shuffled"), "ckpt-00000002.bin"),
                    os.path.join(odd, "ckpt-2.bin"))
    try:
        ingot.open_checkpoint(odd)
        fail("open_checkpoint of a directory holding only ckpt-2.bin opened something")
    except ingot.FormatError as e:
        check("ckpt-2.bin is passed over; if it is one, rename it ckpt-00000002.bin" in str(e),
              str(e))
    # a checkpoint of one dataset continues through from_checkpoint too
    c = ingot.open_checkpoint(os.path.join(fx.path("ck-shuffled"), "ckpt-00000002.bin"))
    fc = ingot.TrainWindows.from_checkpoint(c, batch=B)
    ref = ingot.TrainWindows(ds, T, B, batch_tokens=G * T, start_step=2)
    check(np.array_equal(fc.micro_batch(0, 1), ref.micro_batch(0, 1)),
          "from_checkpoint of one dataset")
    for bad, what in (([ds, ds2], "another weight"), ([ds2, (ds, 2)], "another order")):
        tw = ingot.TrainWindows(bad, T, B, batch_tokens=G * T, start_step=3)
        ids, _ = read_dump(fx.path("dump-mix-3.bin"))
        got = np.concatenate([tw.micro_batch(0, m) for m in range(ACCUM)])
        check(not np.array_equal(got, ids), "mixture with %s: the same windows" % what)
    cks = [ingot.open_checkpoint(os.path.join(fx.path("ck-shuffled"), n), verify=False)
           for n in sorted(os.listdir(fx.path("ck-shuffled"))) if n.startswith("ckpt-")]
    far = next((c.path for c in cks if int(c.header["data_index"]) >= W2), None)
    check(far is not None, "fixture: no checkpoint of d past d2's %d windows: %s" % (
        W2, [int(c.header["data_index"]) for c in cks]))
    # what ingot-train refuses, from_checkpoint refuses: the mixture's sources in
    # another order, and one dataset's position past another (smaller) dataset's epoch
    # (it continued from other windows, silently); TrainWindows' own arguments
    for what, call, said in (
            ("sources reordered", lambda: ingot.TrainWindows.from_checkpoint(
                ck, batch=B, data=[d2, d]), "another order"),
            ("a position past the epoch", lambda: ingot.TrainWindows.from_checkpoint(
                far, batch=B, data=[d2]), "beyond the"),
            ("batch_tokens 0", lambda: ingot.TrainWindows(ds, T, B, batch_tokens=0),
             "batch_tokens"),
            ("batch -1", lambda: ingot.TrainWindows(ds, T, -1), "batch"),
            ("start_step -1", lambda: ingot.TrainWindows(ds, T, B, start_step=-1),
             "start_step"),
            ("rank 2 of 2", lambda: ingot.TrainWindows(ds, T, B, rank=2, world=2), "rank")):
        try:
            r = call()
            check(r is None, "from_checkpoint / TrainWindows accepted %s" % what)
        except ValueError as e:
            check(said in str(e), "%s: %s" % (what, e))
    print("mixture: TrainWindows and from_checkpoint equal ingot-train's batches at steps "
          "0, 3, %d (d2 past 2 epochs of %d windows), world 2" % (stop_far, W2))


def check_nanogpt(fx, d, ck):
    """ck.to_nanogpt_state_dict(): nanoGPT's names for every tensor, wte cut to the
    vocabulary and tied to lm_head, the values as stored; refused for llama. With torch: a
    module of nanoGPT's model.py structure loads it strictly and its loss on the first val
    window is `ingot-train eval`'s."""
    import json
    import numpy as np
    import ingot
    c = ingot.open_checkpoint(ck)
    L, V = c.config["n_layer"], c.config["vocab"]
    sd = c.to_nanogpt_state_dict(torch_tensors=False)
    check(len(sd) == 2 + 12 * L + 2 + 1, "nanoGPT state dict: %d keys" % len(sd))
    check(sd["transformer.wte.weight"].shape == (V, c.config["n_embd"]) and
          sd["lm_head.weight"] is sd["transformer.wte.weight"], "wte: vocab rows, tied")
    check(np.array_equal(sd["transformer.h.%d.attn.c_attn.weight" % (L - 1)], c.params["qkvw"][-1])
          and np.array_equal(sd["transformer.h.0.mlp.c_proj.bias"], c.params["fcprojb"][0]),
          "nanoGPT state dict: values")
    try:
        ingot.open_checkpoint(fx.path("ck-llama-0", "ckpt-00000002.bin")).to_nanogpt_state_dict()
        fail("a llama checkpoint gave a nanoGPT state dict")
    except ValueError as e:
        check("llama" in str(e), str(e))
    try:
        import torch
        from torch import nn
    except ImportError:
        print("nanoGPT state dict: names, shapes, values (torch missing: no load)")
        return
    cfg = c.nanogpt_config()
    C, NH, T = cfg["n_embd"], cfg["n_head"], cfg["block_size"]

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn, self.c_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)

        def forward(self, x):
            B, t, _ = x.shape
            q, k, v = (z.view(B, t, NH, C // NH).transpose(1, 2)
                       for z in self.c_attn(x).split(C, dim=2))
            y = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(B, t, C))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(C), Attn(), nn.LayerNorm(C)
            self.mlp = nn.Module()
            self.mlp.c_fc, self.mlp.c_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            h = nn.functional.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh")
            return x + self.mlp.c_proj(h)

    class GPT(nn.Module):   # nanoGPT's model.py, its names and structure
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(cfg["vocab_size"], C), wpe=nn.Embedding(T, C),
                h=nn.ModuleList(Block() for _ in range(cfg["n_layer"])), ln_f=nn.LayerNorm(C)))
            self.lm_head = nn.Linear(C, cfg["vocab_size"], bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx):
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.shape[1]))
            for b in self.transformer.h:
                x = b(x)
            return self.lm_head(self.transformer.ln_f(x))

    m = GPT()
    m.load_state_dict(c.to_nanogpt_state_dict())
    ds = ingot.open_dataset(d)
    row = torch.from_numpy(ds.splits["val"].slice(0, T + 1).astype(np.int64))
    with torch.no_grad():
        loss = nn.functional.cross_entropy(m(row[None, :-1])[0], row[1:]).item()
    ev = json.loads(fx.run([fx.train, "eval", ck, "--tokens", str(T), "--json", "--threads",
                            "1"], "eval"))
    check(abs(loss - ev["loss"]) <= 1e-5 * max(1.0, abs(loss)),
          "nanoGPT-structured model: loss %.7f, ingot-train eval %.7f" % (loss, ev["loss"]))
    print("nanoGPT state dict: loads strictly into nanoGPT's structure, loss %.7f = eval's %.7f"
          % (loss, ev["loss"]))


def check_perm_memory():
    """epoch_permutation holds 8 bytes a window at its peak (its list of Python ints took
    52: 16 GB for the 300M windows of SlimPajama at --seq-len 2048), the same order."""
    import tracemalloc
    import ingot
    n = 50000
    tracemalloc.start()
    p = ingot.epoch_permutation(n, 1337, 3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    check(peak < 12 * n, "epoch_permutation(%d): peak %.1f bytes a window" % (n, peak / n))
    check(sorted(p.tolist()) == list(range(n)) and p.dtype.name == "uint64",
          "epoch_permutation(%d) is no permutation of uint64" % n)
    print("epoch_permutation: %.1f bytes a window at its peak" % (peak / n))


def main():
    check_perm_memory()
    fx = Fixture(sys.argv)
    import ingot
    d = fx.dataset()
    ds = ingot.open_dataset(d)
    W = (ds.n_tokens("train") - 1) // T
    # steps inside epoch 0, just before and after the first wrap, inside epoch 1
    e = W // G
    check(e >= 4, "fixture: %d windows per epoch" % W)
    check_order(fx, ds, d, "shuffled", [0, 2, e, e + 2])
    ck = check_order(fx, ds, d, "sequential", [0, e + 1])
    check_corrupt_ckpt(fx, ck)
    check_hostile_ckpt(fx, ck)
    check_truncated_ckpt(fx, ck)
    check_llama_ckpt(fx, d)
    check_mixture(fx, d, ds)
    check_resume_data(fx, d, ds)
    check_nanogpt(fx, d, os.path.join(fx.path("ck-shuffled"), "ckpt-00000002.bin"))
    torch_ok = check_torch(ds)
    fx.cleanup()
    print("ok: %d windows per epoch, shuffled and sequential order across the epoch wrap, "
          "world 2, checkpoint tensors%s" % (W, ", torch DataLoader" if torch_ok else ""))


if __name__ == "__main__":
    main()
