#!/usr/bin/env python3
"""`ingot-train export --format hf` of an --arch llama checkpoint is transformers'
LlamaForCausalLM: two small models trained here (--synthetic, a few steps so that the
weights are no longer the init), grouped-query untied with rope-theta 500000 and
multi-query tied (rope-theta 1234567.891, which config.json must carry exactly), are
exported; config.json holds the llama fields;
AutoModelForCausalLM loads the folder (every tensor, none missing or unexpected) and
its logits on random ids equal Ingot's CPU model's (ex_logits) within 1e-4 in fp32;
`ingot-train generate` (greedy, full forwards on the CPU) continues a prompt exactly as
transformers' generate does. --format safetensors and llmc: Ingot's tensors, and a
refusal naming hf. Needs torch and transformers; skips (77) without them.
usage: test_export_hf_llama.py INGOT_TRAIN EX_LOGITS"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
TRAIN, EX_LOGITS = sys.argv[1], sys.argv[2]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(args, rc=0):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="PASSIVE"))
    if p.returncode != rc:
        fail("%s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s"
             % (" ".join(args), p.returncode, rc, p.stdout, p.stderr))
    return p.stdout + p.stderr


def main():
    try:
        import numpy as np
        import torch
        from transformers import AutoModelForCausalLM
        from transformers.utils import logging
    except ImportError as e:
        print("skipped: %s" % e)
        sys.exit(SKIP)
    logging.set_verbosity_error()
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="export_hf_llama_")
    try:
        cases = [
            ("gqa", ["--heads", "4", "--kv-heads", "2", "--rope-theta", "500000"], 2, False),
            # a theta of 10 significant digits: config.json carries it exactly
            ("mqa-tied", ["--heads", "4", "--kv-heads", "1", "--tie-embeddings",
                          "--norm-eps", "1e-6", "--rope-theta", "1234567.891"], 1, True),
        ]
        for name, flags, nkv, tied in cases:
            ck = os.path.join(tmp, "ck-" + name)
            run([TRAIN, "--device", "cpu", "--arch", "llama", "--model", "llama-tiny",
                 "--synthetic", "--vocab", "300", "--layers", "2", "--dim", "64",
                 "--seq-len", "32", "--batch", "4", "--steps", "20", "--lr", "1e-2",
                 "--val-every", "0", "--threads", "2", "--ckpt-dir", ck, "--quiet"] + flags)
            out = os.path.join(tmp, "hf-" + name)
            run([TRAIN, "export", ck, "--format", "hf", "--out", out])
            cfg = json.load(open(os.path.join(out, "config.json")))
            want = {"architectures": ["LlamaForCausalLM"], "model_type": "llama",
                    "vocab_size": 300, "hidden_size": 64, "intermediate_size": 256,
                    "num_hidden_layers": 2, "num_attention_heads": 4,
                    "num_key_value_heads": nkv, "head_dim": 16, "hidden_act": "silu",
                    "tie_word_embeddings": tied, "attention_bias": False, "mlp_bias": False}
            for k, v in want.items():
                if cfg.get(k) != v:
                    fail("%s: config.json %s = %r, want %r" % (name, k, cfg.get(k), v))
            theta = 500000.0 if name == "gqa" else 1234567.891
            eps = 1e-6 if tied else 1e-5
            if cfg["rope_theta"] != theta or abs(cfg["rms_norm_eps"] - eps) > 1e-12:
                fail("%s: rope_theta %r rms_norm_eps %r" % (name, cfg["rope_theta"],
                                                             cfg["rms_norm_eps"]))
            model, info = AutoModelForCausalLM.from_pretrained(
                out, torch_dtype=torch.float32, attn_implementation="eager",
                output_loading_info=True)
            bad = {k: v for k, v in info.items() if v}   # missing, unexpected, mismatched
            if bad:
                fail("%s: loading info %s" % (name, bad))
            model.eval()
            lp = os.path.join(tmp, "logits-" + name)
            run([EX_LOGITS, ck, lp, "3", "32", "7"])
            raw = open(lp, "rb").read()
            B, T, V = np.frombuffer(raw, "<i4", 3)
            ids = np.frombuffer(raw, "<i4", B * T, 12).reshape(B, T)
            ref = np.frombuffer(raw, "<f4", B * T * V, 12 + 4 * B * T).reshape(B, T, V)
            with torch.no_grad():
                hf = model(torch.tensor(ids, dtype=torch.long)).logits.numpy()
            diff = float(np.abs(hf - ref).max())
            scale = float(np.abs(ref).max())
            if not diff < 1e-4:
                fail("%s: max |HF logits - Ingot's| = %.3g (max |logit| %.3g)"
                     % (name, diff, scale))
            # greedy continuation
            prompt = [int(x) for x in ids[0, :5]]
            gen = run([TRAIN, "generate", ck, "--prompt-ids", " ".join(map(str, prompt)),
                       "--tokens", "12", "--top-k", "1", "--ids", "--threads", "1"])
            ingot_ids = [int(x) for x in gen.split("\n")[0].split()]
            with torch.no_grad():
                hf_ids = model.generate(torch.tensor([prompt]), max_new_tokens=12,
                                        do_sample=False, pad_token_id=0)[0].tolist()
            if ingot_ids != hf_ids:
                fail("%s: greedy generation: ingot %s, transformers %s"
                     % (name, ingot_ids, hf_ids))
            print("ok %s: LlamaForCausalLM logits within %.2g of Ingot's (max |logit| %.3g), "
                  "greedy generation of 12 tokens equal" % (name, diff, scale))
        # the other formats
        ck = os.path.join(tmp, "ck-gqa")
        raw_dir = os.path.join(tmp, "raw")
        run([TRAIN, "export", ck, "--format", "safetensors", "--out", raw_dir])
        from safetensors.numpy import load_file
        t = load_file(os.path.join(raw_dir, "model.safetensors"))
        shapes = {k: v.shape for k, v in t.items()}
        want = {"wte": (384, 64), "attn_norm": (2, 64), "wqkv": (2, 128, 64),
                "wo": (2, 64, 64), "ffn_norm": (2, 64), "w_gateup": (2, 512, 64),
                "w_down": (2, 64, 256), "norm": (64,), "lm_head": (384, 64)}
        if shapes != want:
            fail("safetensors: shapes %s, want %s" % (shapes, want))
        out = run([TRAIN, "export", ck, "--format", "llmc", "--out",
                   os.path.join(tmp, "llmc")], rc=2)
        if "--format hf or safetensors" not in out:
            fail("llmc of a llama checkpoint: %s" % out)
        print("ok: --format safetensors writes Ingot's llama tensors; llmc is refused")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
