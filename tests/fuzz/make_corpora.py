#!/usr/bin/env python3
"""Regenerate the seed corpora under tests/fuzz/corpus/ (docs/fuzzing.md).

usage: make_corpora.py BUILD_DIR

Valid files made by the project's own tools (spm_train, make-test-dataset,
ingot-train), then a few hand-made mutations of each: truncations, flipped
bits, counts that overflow, wrong types. Deterministic; small (a few KB a
file). Regression inputs found by fuzzing are added by hand (crash-*,
named after what they caught) and are not touched here."""
import json, os, random, shutil, struct, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
build = sys.argv[1]
rnd = random.Random(9)
TEXT = "\n".join([
    "The quick brown fox jumps over the lazy dog.",
    "Ingot turns a text corpus into token shards.",
    "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "日本語のテキストも少し。", "1234567890 + - * / = ()[]{}",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
] * 8) + "\n"


def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def flips(data, n, lo=0):
    b = bytearray(data)
    for _ in range(n):
        i = rnd.randrange(lo, len(b))
        b[i] ^= 1 << rnd.randrange(8)
    return bytes(b)


def run(*cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def main():
    tmp = tempfile.mkdtemp(prefix="ingot-corpora-")
    try:
        text = os.path.join(tmp, "text.txt")
        with open(text, "w") as f:
            f.write(TEXT)
        # SentencePiece models of each type, kept small by a tiny vocabulary.
        models = {}
        for typ, vocab in (("unigram", 100), ("bpe", 100), ("char", 100), ("word", 100)):
            prefix = os.path.join(tmp, typ)
            run("spm_train", f"--input={text}", f"--model_prefix={prefix}",
                f"--vocab_size={vocab}", f"--model_type={typ}", "--minloglevel=2",
                "--hard_vocab_limit=false", "--normalization_rule_name=identity")
            models[typ] = open(prefix + ".model", "rb").read()
            put("spm_model", f"{typ}.model", models[typ])
        m = models["unigram"]
        put("spm_model", "truncated-half.model", m[:len(m) // 2])
        put("spm_model", "truncated-16.model", m[:16])
        put("spm_model", "flipped.model", flips(m, 8))
        put("spm_model", "empty.model", b"")
        put("spm_model", "not-proto.model", b"\xff" * 64)

        # A dataset: shards of both widths, a manifest.
        ds = os.path.join(tmp, "ds")
        run(os.path.join(build, "tests/common/make-test-dataset"), os.path.join(tmp, "unigram.model"),
            text, ds, "--val-every", "5", "--docs-per-shard", "12")
        ds4 = os.path.join(tmp, "ds4")
        run(os.path.join(build, "tests/common/make-test-dataset"), os.path.join(tmp, "bpe.model"),
            text, ds4, "--docs-per-shard", "30", "--width", "4")
        shards = sorted(os.path.join(ds, n) for n in os.listdir(ds) if n.endswith(".tok"))
        shards.append(sorted(os.path.join(ds4, n) for n in os.listdir(ds4) if n.endswith(".tok"))[0])
        for i, p in enumerate(shards[:4]):
            b = open(p, "rb").read()
            put("shard_file", f"valid-{i}.tok", b)
            put("shard_header", f"valid-{i}.hdr", b[:4096])
        b = open(shards[0], "rb").read()
        put("shard_file", "truncated.tok", b[:len(b) - 7])
        put("shard_file", "header-only.tok", b[:4096])
        put("shard_file", "flipped-data.tok", flips(b, 6, 4096))
        put("shard_file", "flipped-header.tok", flips(b, 3, 0))
        put("shard_file", "short.tok", b[:100])
        h = bytearray(b[:4096])
        for off, val in ((56, (1 << 63) + 5), (64, 1 << 60), (96, 0), (80, 1 << 62)):
            g = bytearray(h)
            struct.pack_into("<Q", g, off, val)
            put("shard_header", f"field-{off}.hdr", bytes(g))
        for off, val in ((20, 3), (24, 0), (24, 70000), (44, 9), (8, 2), (12, 8192)):
            g = bytearray(h)
            struct.pack_into("<I", g, off, val)
            put("shard_header", f"field32-{off}-{val}.hdr", bytes(g))

        man = open(os.path.join(ds, "manifest.json"), "rb").read()
        put("manifest", "valid.json", man)
        put("manifest", "valid-width4.json", open(os.path.join(ds4, "manifest.json"), "rb").read())
        j = json.loads(man)
        def variant(name, edit):
            k = json.loads(man)
            edit(k)
            put("manifest", name, json.dumps(k, indent=1).encode())
        variant("huge-tokens.json", lambda k: k["shards"][0].update(tokens=(1 << 63) - 1))
        variant("wrapping-sum.json", lambda k: [s.update(tokens=(1 << 62)) for s in k["shards"]])
        variant("width-3.json", lambda k: k.update(token_width=3))
        variant("vocab-0.json", lambda k: k["tokenizer"].update(vocab_size=0))
        variant("bad-id.json", lambda k: k["tokenizer"].update(eos_id=1 << 30))
        variant("negative.json", lambda k: k["inputs"][0].update(documents=-1))
        variant("string-count.json", lambda k: k["shards"][0].update(documents="7"))
        variant("no-shards.json", lambda k: k.pop("shards"))
        variant("newer.json", lambda k: k.update(format_version=99))
        # tokenizer.type: a name no pretok writes (refused), "unknown" (import-bin
        # --vocab) and null (not recorded), both read
        variant("bad-type.json", lambda k: k["tokenizer"].update(type="sentencepiece"))
        variant("type-unknown.json", lambda k: k["tokenizer"].update(type="unknown"))
        variant("type-null.json", lambda k: k["tokenizer"].update(type=None))
        variant("damaged.json", lambda k: (k["inputs"][0].update(
            damage=k["inputs"][0]["name"] + ":7: truncated_zstd: zstd stream ends inside a frame"),
            k.update(damaged_inputs_accepted=True)))
        put("manifest", "truncated.json", man[:len(man) // 3])
        put("manifest", "deep.json", b"[" * 2000 + b"]" * 2000)
        put("manifest", "dup-keys.json", b'{"format": "ingot-dataset", "format": "x"}')

        # A checkpoint of a tiny model on synthetic data.
        ck = os.path.join(tmp, "ck")
        run(os.path.join(build, "train/ingot-train"), "--synthetic", "--vocab", "2",
            "--device", "cpu", "--layers", "1", "--heads", "1", "--dim", "4", "--seq-len", "4",
            "--batch", "1", "--steps", "1", "--val-every", "0", "--threads", "1",
            "--ckpt-dir", ck, stderr=subprocess.DEVNULL)
        c = open(os.path.join(ck, sorted(os.listdir(ck))[-1]), "rb").read()
        put("checkpoint", "valid.bin", c)
        put("checkpoint", "truncated.bin", c[:len(c) - 9])
        put("checkpoint", "header-only.bin", c[:4096])
        put("checkpoint", "flipped-payload.bin", flips(c, 4, 4096))
        for off, fmt, val in ((24, "<i", 1 << 20), (32, "<i", 0), (40, "<i", -1),
                              (44, "<i", 1 << 30), (48, "<Q", 1 << 61), (208, "<Q", 0)):
            g = bytearray(c)
            struct.pack_into(fmt, g, off, val)
            put("checkpoint", f"field-{off}.bin", bytes(g))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
