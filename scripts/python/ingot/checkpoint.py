"""Ingot training checkpoints (docs/checkpoint-format.md, train/checkpoint.c) as numpy
arrays (memory-mapped) or torch tensors."""
import json
import math
import os
import re
import stat
from collections.abc import Mapping

import numpy as np

from . import xxh3
from .errors import ChecksumError, FormatError
from .term_text import term_text as _term_text
from .torch_import import import_torch

MAGIC = b"INGOTCKP"
VERSION = 3           # the newest this reader knows: 2 GPT-2, 3 llama; 1 (no settings) too
HEADER_SIZE = 4096
MAX_SETTINGS = 16 << 20
ENDIAN_MARK = 0x01020304

HEADER = np.dtype([
    ("magic", "S8"), ("version", "<u4"), ("header_size", "<u4"), ("endian_mark", "<u4"),
    ("flags", "<u4"), ("n_layer", "<i4"), ("n_head", "<i4"), ("n_embd", "<i4"),
    ("seq_len", "<i4"), ("vocab", "<i4"), ("vocab_padded", "<i4"), ("n_params", "<u8"),
    ("step", "<u8"), ("steps", "<u8"), ("seed", "<u8"), ("tokenizer_hash", "<u8"),
    ("data_epoch", "<u8"), ("data_index", "<u8"), ("synth_rng", "<u8", (4,)),
    ("tokens", "<u8"), ("elapsed_s", "<f8"), ("batch", "<i4"), ("grad_accum", "<i4"),
    ("lr", "<f4"), ("min_lr", "<f4"), ("weight_decay", "<f4"), ("grad_clip", "<f4"),
    ("warmup", "<i4"), ("reserved0", "<u4"), ("params_offset", "<u8"), ("m_offset", "<u8"),
    ("v_offset", "<u8"), ("file_size", "<u8"), ("payload_checksum", "<u8"),
    # version 2: the run's settings as JSON text after the tensors (zeros in version 1)
    ("settings_offset", "<u8"), ("settings_size", "<u8"), ("settings_checksum", "<u8"),
    # version 3 (--arch llama): the architecture and its fields (zeros before)
    ("arch", "<u4"), ("n_kv_head", "<i4"), ("ffn_dim", "<i4"), ("tie_embeddings", "<u4"),
    ("rope_theta", "<f8"), ("norm_eps", "<f4")])
HEADER_CHECKSUM_AT = HEADER_SIZE - 8
FLAG_SYNTHETIC, FLAG_SEQUENTIAL = 1, 2

NAMES = ("wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb")


LLAMA_NAMES = ("wte", "attn_norm", "wqkv", "wo", "ffn_norm", "w_gateup", "w_down", "norm",
               "lm_head")
ARCHS = ("gpt2", "llama")


def param_shapes(L, C, T, Vp):
    """GPT-2's 16 tensors in storage order (llm.c's), name -> shape."""
    return dict(zip(NAMES, [(Vp, C), (T, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C),
                            (L, C, C), (L, C), (L, C), (L, C), (L, 4 * C, C), (L, 4 * C),
                            (L, C, 4 * C), (L, C), (C,), (C,)]))


def llama_param_shapes(L, C, Vp, NH, NKV, F, tied):
    """The llama tensors in storage order (train/tr_llama_params.h; docs/llama.md):
    wqkv rows are [q; k; v], w_gateup rows [gate; up]; lm_head is absent when tied."""
    hs = C // NH
    shapes = [(Vp, C), (L, C), (L, (NH + 2 * NKV) * hs, C), (L, C, NH * hs), (L, C),
              (L, 2 * F, C), (L, C, F), (C,), (Vp, C)]
    out = dict(zip(LLAMA_NAMES, shapes))
    if tied:
        del out["lm_head"]
    return out


def parse_name(name):
    """The step a checkpoint file name says, or None when it is no name a save writes:
    train/checkpoint.c's parse_name, "ckpt-%08d.bin" exactly ("ckpt-999.bin", a copy by
    hand, is not a checkpoint name; a step of 9 digits or more has no leading zero)."""
    m = re.fullmatch(r"ckpt-([0-9]+)\.bin", name)
    if not m:
        return None
    s = 0
    for c in m.group(1):   # as C bounds it, short of int64's overflow
        if s > (2 ** 63 - 1) // 10 - 10:
            return None
        s = s * 10 + int(c)
    return s if name == "ckpt-%08d.bin" % s else None


class _Tensors(Mapping):
    """name -> memmap of one of a checkpoint's tensor sets (params, m, v), the file's
    size checked at each look-up: a tensor read past the end of a file truncated since
    it was opened kills the process (SIGBUS). An array already taken is not checked
    again when it is read."""

    def __init__(self, ck, arrays):
        self._ck, self._arrays = ck, arrays

    def __getitem__(self, name):
        a = self._arrays[name]
        self._ck.check_unchanged()
        return a

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self):
        return len(self._arrays)

    def __repr__(self):
        return "{%s}" % ", ".join("%r: shape %s" % (k, tuple(a.shape))
                                  for k, a in self._arrays.items())


class Checkpoint:
    """An opened checkpoint. header: the header fields (dict); arch: "gpt2" or "llama";
    config: arch, n_layer, n_head, n_embd, seq_len, vocab, vocab_padded (llama also
    n_kv_head, ffn_dim, tie_embeddings, rope_theta, norm_eps); shapes: name -> shape in
    storage order; params / m / v: name -> read-only float32
    memmap of the tensor (m and v are AdamW's moments; each look-up checks that the
    file was not truncated since it was opened, check_unchanged()); settings: the parsed JSON
    section that `ingot-train --resume` reads (versions 2 and 3; None for a version-1
    file): settings["settings"] the run's flags by long name ("lr", "batch-tokens"),
    settings["data_position"] where its data stopped, settings.get("world_size") how
    many ranks wrote it (absent from files before it was recorded)."""

    def __init__(self, path, verify=True):
        self.path = os.fspath(path)
        # a regular file only: open() of a FIFO named like a checkpoint blocks forever
        try:
            mode = os.stat(self.path).st_mode
        except OSError as e:   # missing, a symlink loop, no permission
            self._fail("file", e.strerror or str(e))
        if not stat.S_ISREG(mode):
            self._fail("file", "not a regular file (a directory, FIFO or device); pass a "
                       "ckpt-*.bin file")
        try:
            with open(self.path, "rb") as f:
                raw = f.read(HEADER_SIZE)
        except OSError as e:
            self._fail("file", e.strerror or str(e))
        if len(raw) < HEADER_SIZE:
            self._fail("header", "file is %d bytes, shorter than the header (truncated)"
                       % len(raw))
        h = np.frombuffer(raw, dtype=HEADER, count=1)[0]
        if h["magic"] != MAGIC:
            self._fail("magic", "not an Ingot checkpoint")
        if h["endian_mark"] != ENDIAN_MARK:
            self._fail("endian_mark", "written on a machine of the other endianness")
        if not 1 <= h["version"] <= VERSION or h["header_size"] != HEADER_SIZE:
            self._fail("version", "%d; this reader knows versions 1 to %d (a newer Ingot "
                       "wrote it?)" % (h["version"], VERSION))
        self.header = {k: (h[k].tolist() if k != "magic" else bytes(h[k])) for k in HEADER.names}
        hd = self.header
        if hd["version"] < 3:   # the llama fields were reserved zeros
            for k in ("arch", "n_kv_head", "ffn_dim", "tie_embeddings", "rope_theta",
                      "norm_eps"):
                hd[k] = 0
        # a copy, rename or symlink of another checkpoint under a step it is not (the
        # newest of a directory goes by the name), as the C reader refuses it
        named = parse_name(os.path.basename(self.path))
        if named is not None and named != hd["step"]:
            self._fail("step", "%d, but its name says step %d (a copy or rename of another "
                       "checkpoint?): move it out of its directory, or rename it "
                       "ckpt-%08d.bin" % (hd["step"], named, hd["step"]))
        if hd["arch"] >= len(ARCHS):
            self._fail("arch", "%d; this reader knows 0 (gpt2) and 1 (llama)" % hd["arch"])
        self.arch = ARCHS[hd["arch"]]
        self.config = {k: hd[k] for k in ("n_layer", "n_head", "n_embd", "seq_len", "vocab",
                                          "vocab_padded")}
        self.config["arch"] = self.arch
        L, C, T, Vp = hd["n_layer"], hd["n_embd"], hd["seq_len"], hd["vocab_padded"]
        NH, V = hd["n_head"], hd["vocab"]
        # the model shape as the C reader checks it (train/checkpoint.c, tr_config_check)
        if min(L, NH, C, T) < 1 or V < 2 or C % NH:
            self._fail("n_embd", "%d layers, %d heads, width %d, context %d, vocabulary %d: "
                       "not a model shape (the width must be a multiple of the heads)"
                       % (L, NH, C, T, V))
        if hd["tie_embeddings"] > 1:
            self._fail("tie_embeddings", "%d; 0 or 1" % hd["tie_embeddings"])
        if Vp != (V + 127) // 128 * 128:
            self._fail("vocab_padded", "%d, but the vocabulary %d rounds up to %d"
                       % (Vp, V, (V + 127) // 128 * 128))
        if self.arch == "llama":
            NKV, F = hd["n_kv_head"], hd["ffn_dim"]
            if NKV < 1 or NH % NKV or (C // NH) % 2 or F < 1 or hd["tie_embeddings"] > 1:
                self._fail("n_kv_head", "%d kv heads for %d heads, head size %d, ffn_dim %d: "
                           "not a llama shape" % (NKV, NH, C // NH, F))
            if not (math.isfinite(hd["rope_theta"]) and hd["rope_theta"] > 1.0):
                self._fail("rope_theta", "%r; a finite number above 1" % hd["rope_theta"])
            if not 0.0 < hd["norm_eps"] < 1.0:
                self._fail("norm_eps", "%r; a number in (0, 1)" % hd["norm_eps"])
            self.config.update(n_kv_head=NKV, ffn_dim=F, tie_embeddings=bool(hd["tie_embeddings"]),
                               rope_theta=hd["rope_theta"], norm_eps=hd["norm_eps"])
            self.shapes = llama_param_shapes(L, C, Vp, NH, NKV, F, hd["tie_embeddings"])
        else:
            # version 3 of a gpt2 model: llama's fields are 0 (train/checkpoint.c too)
            if hd["version"] >= 3 and (hd["n_kv_head"] or hd["ffn_dim"] or hd["tie_embeddings"]
                                       or hd["rope_theta"] != 0 or hd["norm_eps"] != 0):
                self._fail("n_kv_head", "n_kv_head..norm_eps (%d, %d, %d, %r, %r) are llama's "
                           "and must be 0 for a gpt2 model" % (
                               hd["n_kv_head"], hd["ffn_dim"], hd["tie_embeddings"],
                               hd["rope_theta"], hd["norm_eps"]))
            self.shapes = param_shapes(L, C, T, Vp)
        # exact integers: numpy's int64 product wraps for a crafted shape
        P = sum(math.prod(s) for s in self.shapes.values())
        ns = hd["settings_size"] if hd["version"] >= 2 else 0
        if ns > MAX_SETTINGS:
            self._fail("settings_size", "%d bytes, more than %d" % (ns, MAX_SETTINGS))
        want = {"n_params": P, "params_offset": HEADER_SIZE, "m_offset": HEADER_SIZE + 4 * P,
                "v_offset": HEADER_SIZE + 8 * P, "file_size": HEADER_SIZE + 12 * P + ns}
        if hd["version"] >= 2:
            want["settings_offset"] = HEADER_SIZE + 12 * P
        for k, v in want.items():
            if hd[k] != v:
                self._fail(k, "%d, but the model shape gives %d" % (hd[k], v))
        size = os.path.getsize(self.path)
        if size != hd["file_size"]:
            self._fail("file_size", "the file is %d bytes, the header says %d"
                       % (size, hd["file_size"]))
        self._raw_header = raw
        self._blob = np.memmap(self.path, mode="r", dtype="<f4", offset=HEADER_SIZE,
                               shape=(3 * P,))
        self.params, self.m, self.v = (_Tensors(self, self._tensors(k * P)) for k in range(3))
        self._settings_raw, self.settings = None, None
        if hd["version"] >= 2:
            with open(self.path, "rb") as f:
                f.seek(hd["settings_offset"])
                self._settings_raw = f.read(ns)
            try:
                self.settings = json.loads(self._settings_raw.decode("utf-8"))
            except (ValueError, RecursionError) as e:   # RecursionError: nested past the stack
                self._fail("settings", "not JSON text (%s)" % type(e).__name__
                           if isinstance(e, RecursionError) else "not JSON text (%s)" % e)
            # as ingot-train's reader (train/checkpoint.c): the settings name the
            # header's architecture, one this reader knows
            inner = self.settings.get("settings") if isinstance(self.settings, dict) else None
            said = inner.get("arch") if isinstance(inner, dict) else None
            if not isinstance(said, str):
                self._fail("settings", 'they name no model architecture ("arch")')
            if said not in ARCHS:
                self._fail("settings", "a model of architecture %r; this reader knows %s"
                           % (said, " and ".join(ARCHS)))
            if said != self.arch:
                self._fail("settings", "they say architecture %r, the header %r (version %d); "
                           "the file is damaged" % (said, self.arch, hd["version"]))
        if verify:
            self.verify()

    def _fail(self, field, what, exc=FormatError):
        raise exc("%s: %s: %s" % (_term_text(self.path), field, what))

    def check_unchanged(self):
        """Raises FormatError when the file is no longer the size it had when opened:
        reading the tensors' memmap past a truncated file's end kills the process
        (SIGBUS). A truncation between this check and the read is still not caught."""
        try:
            size = os.stat(self.path).st_size
        except OSError as e:
            self._fail("file", "%s since it was opened" % (e.strerror or e))
        if size != self.header["file_size"]:
            self._fail("file_size", "the file is now %d bytes, %d when it was opened: it was "
                       "truncated or rewritten while open (open it again)"
                       % (size, self.header["file_size"]))

    def _tensors(self, base):
        out, off = {}, base
        for name, shape in self.shapes.items():
            n = math.prod(shape)
            out[name] = self._blob[off:off + n].reshape(shape)
            off += n
        return out

    def verify(self):
        """Header and payload XXH3-64 checksums (needs xxhash); ChecksumError on mismatch."""
        stored = int(np.frombuffer(self._raw_header, "<u8", 1, HEADER_CHECKSUM_AT)[0])
        if xxh3.xxh3_64(self._raw_header[:HEADER_CHECKSUM_AT]) != stored:
            self._fail("header_checksum", "does not match the header: corrupt",
                       ChecksumError)
        if self._settings_raw is not None:
            got = xxh3.xxh3_64(self._settings_raw)
            if got != self.header["settings_checksum"]:
                self._fail("settings_checksum", "recorded %016x, computed %016x: the settings "
                           "are corrupt" % (self.header["settings_checksum"], got), ChecksumError)
        self.check_unchanged()
        got = xxh3.xxh3_64(self._blob)
        if got != self.header["payload_checksum"]:
            self._fail("payload_checksum", "recorded %016x, computed %016x: the tensors are "
                       "corrupt" % (self.header["payload_checksum"], got), ChecksumError)

    @property
    def step(self):
        return self.header["step"]

    def data_position(self, n_windows):
        """Run position q of the next training window (for TrainWindows(start_window=q)).
        One dataset only: a mixture's header counts the windows drawn from all sources;
        each source's position is in settings["data_position"]["sources"]."""
        pos = (self.settings or {}).get("data_position") or {}
        src = (pos.get("sources") if isinstance(pos, dict) else None) or []
        if not isinstance(src, list):
            raise FormatError("%s: settings: data_position is %r, not the object ingot-train "
                              "records" % (_term_text(self.path), pos))
        if len(src) > 1:
            raise ValueError("%s: trained on a mixture of %d datasets: its header's position "
                             "counts the windows of all of them; each source's (epoch, index) "
                             "is in settings['data_position']['sources']; "
                             "TrainWindows.from_checkpoint(ck) continues it"
                             % (_term_text(self.path), len(src)))
        index = int(self.header["data_index"])
        if index >= n_windows:   # as ingot-train refuses it (another dataset or --seq-len)
            raise ValueError("%s: saved position %d is beyond the %d windows of an epoch: "
                             "another dataset, or another --seq-len, than the run's"
                             % (_term_text(self.path), index, n_windows))
        return int(self.header["data_epoch"]) * n_windows + index

    def to_torch(self, which="params"):
        """name -> torch.float32 tensor (a copy) of params, m or v."""
        torch = import_torch("to_torch()", "ck.params, ck.m and ck.v are the numpy arrays")
        return {k: torch.from_numpy(np.array(a)) for k, a in getattr(self, which).items()}

    # nanoGPT's model.py names, per layer, of Ingot's GPT-2 tensors (both nn.Linear's
    # [out, in] layout, so no transposes)
    _NANOGPT_LAYER = (("ln_1.weight", "ln1w"), ("ln_1.bias", "ln1b"),
                      ("attn.c_attn.weight", "qkvw"), ("attn.c_attn.bias", "qkvb"),
                      ("attn.c_proj.weight", "attprojw"), ("attn.c_proj.bias", "attprojb"),
                      ("ln_2.weight", "ln2w"), ("ln_2.bias", "ln2b"),
                      ("mlp.c_fc.weight", "fcw"), ("mlp.c_fc.bias", "fcb"),
                      ("mlp.c_proj.weight", "fcprojw"), ("mlp.c_proj.bias", "fcprojb"))

    def nanogpt_config(self):
        """GPTConfig fields of nanoGPT's model.py for this GPT-2 checkpoint (vocab_size is
        the real vocabulary: Ingot's loss never sees the padded rows)."""
        self._need_gpt2("nanogpt_config")
        c = self.config
        return {"block_size": c["seq_len"], "vocab_size": c["vocab"], "n_layer": c["n_layer"],
                "n_head": c["n_head"], "n_embd": c["n_embd"], "dropout": 0.0, "bias": True}

    def to_nanogpt_state_dict(self, torch_tensors=True):
        """The weights under nanoGPT's model.py names, for GPT(GPTConfig(
        **ck.nanogpt_config())).load_state_dict(sd) (strict, with PyTorch's flash
        attention; older nanoGPT registers attn.bias masks: strict=False). wte is cut to
        the real vocabulary and lm_head.weight is wte (tied). Build nanoGPT's MLP with
        nn.GELU(approximate="tanh") to match Ingot (its GELU is the tanh form): exact
        nn.GELU() moves the loss by ~1e-3. numpy arrays when torch_tensors is False."""
        self._need_gpt2("to_nanogpt_state_dict")
        c, p = self.config, self.params
        sd = {"transformer.wte.weight": p["wte"][:c["vocab"]],
              "transformer.wpe.weight": p["wpe"]}
        for layer in range(c["n_layer"]):
            for key, name in self._NANOGPT_LAYER:
                sd["transformer.h.%d.%s" % (layer, key)] = p[name][layer]
        sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"] = p["lnfw"], p["lnfb"]
        sd["lm_head.weight"] = sd["transformer.wte.weight"]
        if not torch_tensors:
            return sd
        torch = import_torch("to_nanogpt_state_dict()",
                             "torch_tensors=False gives numpy arrays")
        return {k: torch.from_numpy(np.array(a)) for k, a in sd.items()}

    def _need_gpt2(self, what):
        if self.arch != "gpt2":
            raise ValueError("%s: %s is for GPT-2 checkpoints; this one is %s (its tensors: "
                             "ck.params, docs/llama.md)"
                             % (_term_text(self.path), what, self.arch))

    def __repr__(self):
        c = self.config
        kv = "/%d" % c["n_kv_head"] if self.arch == "llama" else ""
        return ("Checkpoint(%r, %s, step=%d, L%d H%d%s C%d T%d V%d)"
                % (self.path, self.arch, self.step, c["n_layer"], c["n_head"], kv, c["n_embd"],
                   c["seq_len"], c["vocab"]))


def latest_checkpoint(directory):
    """The newest checkpoint of a --ckpt-dir: the ckpt-<8 digits>.bin of the highest step
    (only names a save writes, as ingot-train picks it); None when there is none."""
    steps = [s for s in map(parse_name, os.listdir(directory)) if s is not None]
    return os.path.join(directory, "ckpt-%08d.bin" % max(steps)) if steps else None


def open_checkpoint(path, verify=True):
    """Open and (by default) verify an Ingot checkpoint: a ckpt-*.bin file, or a --ckpt-dir
    directory (its newest checkpoint, as ingot-train's export, generate and eval take it)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        latest = latest_checkpoint(path)
        if latest is None:
            # as ingot-train says it (train/checkpoint.c tr_ckpt_resolve): only the names a
            # save writes are read, and a "ckpt-30.bin" there is named as passed over
            other = sorted(n for n in os.listdir(path)
                           if re.fullmatch(r"ckpt-.*\.bin", n) and parse_name(n) is None)
            hint = ""
            if other:
                more = (" (and %d other name%s like it)" % (len(other) - 1,
                        "s" if len(other) > 2 else "")) if len(other) > 1 else ""
                m = re.fullmatch(r"ckpt-([0-9]{1,18})\.bin", other[0])
                canon = ("; if it is one, rename it ckpt-%08d.bin" % int(m.group(1))) if m else ""
                hint = "; %s%s is passed over%s" % (_term_text(other[0]), more, canon)
            raise FormatError("%s: no checkpoint in this directory (a checkpoint is read by the "
                              "name a save gives it, ckpt-<8 digits>.bin such as "
                              "ckpt-00000030.bin%s)" % (_term_text(path), hint))
        path = latest
    return Checkpoint(path, verify=verify)
