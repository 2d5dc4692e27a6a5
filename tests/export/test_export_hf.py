#!/usr/bin/python3
"""The Hugging Face export loads in transformers and is Ingot's model: a small GPT-2
trained here on a real dataset is exported with `ingot-train export --format hf`;
AutoModelForCausalLM's logits on a batch equal the CPU trainer's (from
`ingot-train --dump-batch`) within 1e-4 in fp32, and AutoTokenizer gives
SentencePiece's ids on a text sample; `ingot-train generate` (greedy) continues a prompt
exactly as transformers' generate does, and generate(max_new_tokens=N) logs no
max_length warning. AutoTokenizer also decodes SentencePiece's ids back to SentencePiece's
text (leading and repeated spaces, newlines, tabs, non-ASCII, emoji, with BOS/EOS), for
the dataset's tokenizer (SentencePiece's defaults) and, exported with a synthetic-ids llama
model, for unigram and BPE models trained as scripts/train-tokenizer.sh trains them, with
and without byte fallback. Needs torch, transformers and sentencepiece;
skips (77) without them. INGOT_TEST_PYTHON=/path/to/python reruns this script with
an interpreter that has them.
usage: test_export_hf.py INGOT_PRETOK INGOT_DUMP INGOT_TRAIN SPM_TRAIN"""
import json
import os
import struct
import sys

SKIP = 77
T, B = 32, 4


def need_torch():
    try:
        import sentencepiece  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    except ImportError as e:
        missing = str(e)
    other = os.environ.get("INGOT_TEST_PYTHON")
    if other and not os.environ.get("INGOT_TEST_REEXEC"):   # once, not in a loop
        os.environ["INGOT_TEST_REEXEC"] = "1"
        os.execv(other, [other, os.path.abspath(__file__)] + sys.argv[1:])
    print("skipped: %s (set INGOT_TEST_PYTHON to a python with torch, transformers and "
          "sentencepiece)" % missing)
    sys.exit(SKIP)


def read_dump(path):
    """ids [B, T+1] and logits [B, T, Vp] of a --dump-batch file (train/parity_dump.h)."""
    import numpy as np
    raw = open(path, "rb").read()
    L, NH, C, TT, V, Vp, nb = struct.unpack_from("<7i", raw, 16)
    (n_params,) = struct.unpack_from("<Q", raw, 48)
    off = 256
    ids = np.frombuffer(raw, "<i4", nb * (TT + 1), off).reshape(nb, TT + 1)
    off += ids.nbytes + 4 * n_params
    logits = np.frombuffer(raw, "<f4", nb * TT * Vp, off).reshape(nb, TT, Vp)
    return ids, logits, V


# text SentencePiece's decode gives back as it was (with byte fallback and the export's
# default settings): spaces at the start and in runs, newlines, tabs, unseen characters
ROUND_TRIP = ["  indented\n\tcode \u00fc \U0001F600", "\n\nx  \n", "trailing  ", " ",
              "\t\ttabs\r\n", "\u65e5\u672c\u8a9e \u00e9t\u00e9 \u0416", "a\u2003b \u00a0c",
              "<0x0A> </s> <unk>", "\U0001F600\U0001F600x"]


def check_decode(tok, sp, texts, what):
    """AutoTokenizer's ids = SentencePiece's; its decode of them (alone, after BOS and
    before EOS) = SentencePiece's decode; with skip_special_tokens=True too, except that
    the unknown piece (special in transformers) is dropped where SentencePiece shows
    " \u2047 "."""
    from pyt_util import check
    bos, eos = sp.bos_id(), sp.eos_id()
    for t in texts:
        ids = sp.encode(t)
        got = tok(t, add_special_tokens=False)["input_ids"]
        check(got == ids, "%s: AutoTokenizer %r: %s, SentencePiece %s" % (what, t, got, ids))
        framed = ([bos] if bos >= 0 else []) + ids + ([eos] if eos >= 0 else [])
        for seq in (ids, framed):
            for skip in (False, True):
                want = sp.decode([i for i in seq if not (skip and i == sp.unk_id())])
                dec = tok.decode(seq, skip_special_tokens=skip)
                check(dec == want, "%s: decode of %r (ids %s, skip_special_tokens=%s): %r, "
                      "SentencePiece %r" % (what, t, seq, skip, dec, want))


def check_no_length_warning(model, start, pad):
    """generate(max_new_tokens=N) with the exported generation_config.json: no warning
    that max_length is set too (the export once wrote max_length)."""
    from pyt_util import check
    import logging as pylog
    import warnings
    import torch
    from transformers.utils import logging
    records = []

    class Keep(pylog.Handler):
        def emit(self, r):
            records.append(r.getMessage())

    h = Keep()
    logging.set_verbosity_warning()
    logging.get_logger("transformers").addHandler(h)
    try:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with torch.no_grad():
                # min_new_tokens: the sample would otherwise end at a document
                # boundary (generation_config's eos ids) before 5 tokens
                out = model.generate(torch.tensor([start]), max_new_tokens=5, min_new_tokens=5,
                                     pad_token_id=pad)
    finally:
        logging.get_logger("transformers").removeHandler(h)
        logging.set_verbosity_error()
    msgs = records + [str(x.message) for x in w]
    check(out.shape[1] == len(start) + 5, "generate gave %d tokens" % out.shape[1])
    check(not [m for m in msgs if "max_length" in m], "generate warned: %s" % msgs)


def tokenizer_variants(fx, texts):
    """Unigram and BPE, byte fallback on and off, trained with scripts/train-tokenizer.sh's
    settings (identity normalization, spaces kept, whitespace pieces, split digits),
    exported with a synthetic-ids llama model: ids and decode as SentencePiece."""
    from pyt_util import check
    import sentencepiece as spm
    from transformers import AutoTokenizer
    ck = fx.path("ck-llama")
    fx.run([fx.train, "--device", "cpu", "--arch", "llama", "--model", "llama-tiny",
            "--synthetic", "--vocab", "512", "--layers", "1", "--dim", "32", "--heads", "2",
            "--seq-len", "16", "--batch", "2", "--steps", "1", "--val-every", "0",
            "--threads", "1", "--ckpt-dir", ck, "--quiet"], "llama synthetic")
    # the corpus's words plus code-like lines: "<", ">", "/" and hex digits are then known
    # characters (a literal "<s>" made of characters the vocabulary lacks is a documented
    # limit with byte fallback: docs/export.md)
    code = fx.path("code.txt")
    with open(code, "w", encoding="utf-8") as f:
        for i in range(200):
            f.write("if (a%d < b) { x = 0x%02X; } else if (c > d) { y = a / %d; }\n" % (i, i, i + 1))
    n = 0
    for kind in ("unigram", "bpe"):
        for fallback in ("true", "false"):
            name = "%s-bf-%s" % (kind, fallback)
            fx.run([fx.spm_train, "--input=" + fx.path("corpus.txt") + "," + code,
                    "--model_prefix=" + fx.path(name), "--model_type=" + kind,
                    "--vocab_size=400", "--hard_vocab_limit=false", "--byte_fallback=" + fallback,
                    "--normalization_rule_name=identity", "--remove_extra_whitespaces=false",
                    "--allow_whitespace_only_pieces=true", "--split_digits=true",
                    "--minloglevel=2", "--num_threads=1"], "spm_train " + name)
            out = fx.path("hf-" + name)
            fx.run([fx.train, "export", ck, "--format", "hf", "--out", out, "--tokenizer",
                    fx.path(name + ".model")], "export " + name)
            tok = AutoTokenizer.from_pretrained(out)
            sp = spm.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model"))
            check(len(tok) == sp.get_piece_size(), "%s: %d tokens, SentencePiece %d"
                  % (name, len(tok), sp.get_piece_size()))
            check_decode(tok, sp, texts + [" leading"], name)
            if fallback == "true":   # these settings lose nothing: the text comes back
                for t in texts:
                    check(tok.decode(tok(t)["input_ids"]) == t, "%s: %r does not round-trip"
                          % (name, t))
            n += 1
    return n


def main():
    need_torch()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from pyt_util import WORDS, Fixture, check
    import numpy as np
    import sentencepiece as spm
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging
    logging.set_verbosity_error()

    fx = Fixture(sys.argv)
    d = fx.dataset()
    ck, hf, dump = fx.path("ck"), fx.path("hf"), fx.path("batch.bin")
    common = [fx.train, "--data", d, "--model", "tiny", "--layers", "2", "--dim", "64",
              "--heads", "4", "--seq-len", str(T), "--batch", str(B), "--steps", "30",
              "--lr", "1e-2", "--threads", "1", "--val-every", "0", "--ckpt-dir", ck]
    fx.run(common, "train")
    fx.run(common + ["--resume", "--dump-batch", dump], "dump-batch")
    fx.run([fx.train, "export", ck, "--format", "hf", "--out", hf, "--data", d], "export")
    ids, ingot_logits, V = read_dump(dump)

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32)
    model.eval()
    check(type(model).__name__ == "GPT2LMHeadModel", type(model).__name__)
    check(model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr(),
          "lm_head is tied to wte")
    with torch.no_grad():
        hf_logits = model(torch.from_numpy(ids[:, :T].astype(np.int64))).logits.numpy()
    check(hf_logits.shape == (B, T, V), "logits shape %s" % (hf_logits.shape,))
    diff = float(np.abs(hf_logits - ingot_logits[:, :, :V]).max())
    scale = float(np.abs(ingot_logits[:, :, :V]).max())
    check(diff <= 1e-4, "transformers' logits differ from Ingot's by %.3g (max |logit| %.3g)"
          % (diff, scale))

    tok = AutoTokenizer.from_pretrained(hf)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(hf, "tokenizer.model"))
    texts = [" ".join(WORDS[i:i + 9]) for i in range(0, len(WORDS), 5)]
    texts += ["  two  spaces\nnewline\ttab", "Zürich naïve 日本語 42 3.14 x=1;", "<s> literal",
              " leading space", "", "unseen QXZ ©"]
    for t in texts:
        got, want = tok(t, add_special_tokens=False)["input_ids"], sp.encode(t)
        check(got == want, "AutoTokenizer %r: %s, SentencePiece %s" % (t, got, want))
        check(tok(t)["input_ids"] == want, "AutoTokenizer adds no special tokens to %r" % t)
    check(len(tok) == sp.get_piece_size() == V, "tokenizer size %d, SentencePiece %d, model %d"
          % (len(tok), sp.get_piece_size(), V))
    check(tok.bos_token_id == sp.bos_id() and tok.eos_token_id == sp.eos_id(), "special ids")
    texts += ROUND_TRIP
    check_decode(tok, sp, texts, "dataset tokenizer")
    check(not os.path.exists(os.path.join(hf, "spiece.model")), "spiece.model written")

    # greedy continuation: ingot-train generate (KV cache) = transformers' generate
    prompt = "the river runs"
    out = fx.run([fx.train, "generate", ck, "--data", d, "--prompt", prompt, "--tokens", "20",
                  "--top-k", "1", "--ids", "--threads", "1"], "generate")
    ingot_ids = [int(x) for x in out.split()]
    start = [tok.bos_token_id] + tok(prompt)["input_ids"]
    with torch.no_grad():
        hf_ids = model.generate(torch.tensor([start]), max_new_tokens=20, do_sample=False,
                                pad_token_id=tok.eos_token_id)[0].tolist()
    check(ingot_ids == hf_ids, "greedy generation: ingot %s, transformers %s"
          % (ingot_ids, hf_ids))
    check_no_length_warning(model, start, tok.eos_token_id)
    # a continuation ends at a document boundary, EOS or BOS, as ingot-train generate's
    gc = json.load(open(os.path.join(hf, "generation_config.json")))
    check(gc["eos_token_id"] == [sp.eos_id(), sp.bos_id()] or
          (sp.eos_id() < 0 and gc["eos_token_id"] == sp.bos_id()),
          "generation_config eos_token_id %r (eos %d, bos %d)"
          % (gc["eos_token_id"], sp.eos_id(), sp.bos_id()))
    n_models = tokenizer_variants(fx, texts)
    fx.cleanup()
    print("ok: transformers GPT2LMHeadModel logits within %.2g of Ingot's (max |logit| %.3g), "
          "AutoTokenizer ids and decoded text = SentencePiece's on %d texts (and %d other "
          "tokenizers), greedy generation equal" % (diff, scale, len(texts), n_models))


if __name__ == "__main__":
    main()
