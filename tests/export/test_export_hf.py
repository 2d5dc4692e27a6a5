#!/usr/bin/python3
"""The Hugging Face export loads in transformers and is Ingot's model: a small GPT-2
trained here on a real dataset is exported with `ingot-train export --format hf`;
AutoModelForCausalLM's logits on a batch equal the CPU trainer's (from
`ingot-train --dump-batch`) within 1e-4 in fp32, and AutoTokenizer gives
SentencePiece's ids on a text sample; `ingot-train generate` (greedy) continues a prompt
exactly as transformers' generate does. Needs torch, transformers and sentencepiece;
skips (77) without them. INGOT_TEST_PYTHON=/path/to/python reruns this script with
an interpreter that has them.
usage: test_export_hf.py INGOT_PRETOK INGOT_DUMP INGOT_TRAIN SPM_TRAIN"""
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
    dec = tok.decode(sp.encode(texts[0]))
    check(dec == sp.decode(sp.encode(texts[0])), "decode: %r" % dec)

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
    fx.cleanup()
    print("ok: transformers GPT2LMHeadModel logits within %.2g of Ingot's (max |logit| %.3g), "
          "AutoTokenizer ids = SentencePiece's on %d texts, greedy generation equal"
          % (diff, scale, len(texts)))


if __name__ == "__main__":
    main()
