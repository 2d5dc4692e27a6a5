"""An Ingot dataset directory: manifest.json plus its shards, per split in
shard_seq order, as common/dataset.c opens it."""
import json
import operator
import os
import re
import struct
import warnings

import numpy as np

from . import xxh3
from .errors import FormatError, IngotError
from .shard import SPLITS, Shard
from .term_text import term_text as _term_text
from .torch_import import import_torch

_HEADER_FIELDS = {"tokens": "tokens_checksum", "index": "index_checksum",
                  "provenance": "prov_checksum"}
# common/fsutil.h's FS_READ_ALL_MAX: no tokenizer model is larger, and a file that
# is (a manifest naming a disk image) would be read whole into memory to hash it
_MODEL_MAX = 256 << 20

# the most tokens get_batch assembles at once (int64: 16 GiB); past it, a typo
_BATCH_MAX = 1 << 31

# common/shard_format.c's ingot_tokenizer_type_name
_TOKENIZER_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


def _index(i, what):
    """i as a Python int. numpy's unsigned ints (epoch_permutation's output) mixed with
    Python ints become float64 under numpy 1.x (uint64(2) * 3 is 6.0): a numpy float
    holding a whole number below 2^53 is taken as that number; any other float is no
    index."""
    try:
        return operator.index(i)
    except TypeError:
        if isinstance(i, np.floating) and float(i).is_integer() and abs(float(i)) < 2 ** 53:
            return int(i)
        raise TypeError("%s: %r is not an integer index" % (what, i)) from None


def _no_duplicates(pairs):
    """json's object hook: a key given twice is refused, as common/manifest.c's parser
    (JSON_REJECT_DUPLICATES) refuses it; the last one would win unseen."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError("key %r given twice" % k)
        out[k] = v
    return out


def _count(mpath, key, v, lo=0):
    """A manifest integer as common/manifest.c's get_u64 / get_int read it: a JSON
    integer (not a bool, not 2032.0) of at least lo."""
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise FormatError("%s: key %s: %r is not an integer >= %d" % (_term_text(mpath), key,
                                                                        v, lo))
    return v


def _text(mpath, key, v, optional=True):
    """A manifest string (or None where optional), as common/manifest.c reads it."""
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise FormatError("%s: key %s: %r; wrong type (expected a string)"
                          % (_term_text(mpath), key, v))
    return v


class Split:
    """The shards of one split seen as one token stream (as ingot-train reads it)."""

    def __init__(self, name, shards):
        self.name = name
        self.shards = shards
        self.token_starts = np.cumsum([0] + [s.n_tokens for s in shards], dtype=np.int64)
        self.doc_starts = np.cumsum([0] + [s.n_docs for s in shards], dtype=np.int64)
        self.n_tokens = int(self.token_starts[-1])
        self.n_docs = int(self.doc_starts[-1])

    def _locate_doc(self, i):
        i = _index(i, "document")
        if not -self.n_docs <= i < self.n_docs:
            raise IndexError("%s split: document %d of %d" % (self.name, i, self.n_docs))
        i %= self.n_docs
        k = int(np.searchsorted(self.doc_starts, i, side="right")) - 1
        return self.shards[k], i - int(self.doc_starts[k])

    def slice(self, start, stop):
        """Tokens [start, stop) of the stream, copied across shard boundaries
        (an int64 array)."""
        start, stop = _index(start, "start"), _index(stop, "stop")
        if not 0 <= start <= stop <= self.n_tokens:
            raise IndexError("%s split: tokens [%d, %d) of %d"
                             % (self.name, start, stop, self.n_tokens))
        out = np.empty(stop - start, dtype=np.int64)
        k = int(np.searchsorted(self.token_starts, start, side="right")) - 1
        done = 0
        while done < len(out):
            base = int(self.token_starts[k])
            lo = start + done - base
            sh = self.shards[k]
            take = min(sh.n_tokens - lo, len(out) - done)
            if take:
                sh.check_unchanged()
                part = out[done:done + take]
                part[:] = sh.tokens[lo:lo + take]
                # as common/data_loader.c checks every window: an id past the vocabulary
                # (a flipped bit; checksums are read only with verify) would index past
                # an embedding table
                if int(part.max()) >= sh.vocab_size:
                    j = int(np.argmax(part >= sh.vocab_size))
                    raise FormatError("%s: token %d is id %d, beyond the vocabulary of %d: the "
                                      "shard is corrupt (ingot-dump verify names the section)"
                                      % (_term_text(sh.path), lo + j, int(part[j]), sh.vocab_size))
            done += take
            k += 1
        return out


class Dataset:
    """An opened dataset. Attributes: path, manifest (the parsed JSON), vocab_size,
    bos_id, eos_id, pad_id, unk_id, splits {"train": Split, "val": Split}."""

    def __init__(self, path, verify=False):
        self.path = os.fspath(path)
        mpath = os.path.join(self.path, "manifest.json")
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise FormatError("%s: not a directory; open the dataset directory that holds "
                              "manifest.json (a single shard: ingot.Shard(path))"
                              % _term_text(self.path))
        shown = _term_text(mpath)
        if os.path.exists(mpath) and not os.path.isfile(mpath):   # a FIFO would block
            raise FormatError("%s: not a regular file" % shown)
        try:
            with open(mpath, "rb") as f:
                # at most _MODEL_MAX, as common/fsutil.c reads a manifest (a /proc file
                # says 0 bytes and reads on: the read is bounded, not only the size)
                if os.fstat(f.fileno()).st_size > _MODEL_MAX:
                    raise FormatError("%s: %d bytes, more than the %d a manifest may have"
                                      % (shown, os.fstat(f.fileno()).st_size, _MODEL_MAX))
                text = f.read(_MODEL_MAX + 1)
            if len(text) > _MODEL_MAX:
                raise FormatError("%s: more than the %d bytes a manifest may have"
                                  % (shown, _MODEL_MAX))
            self.manifest = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except FileNotFoundError:
            raise FormatError("%s: no manifest.json: not an Ingot dataset (run ingot-pretok)"
                              % _term_text(self.path)) from None
        except OSError as e:   # a symlink loop, no permission, a file that cannot be read
            raise FormatError("%s: %s" % (shown, e.strerror or e)) from None
        except ValueError as e:   # not JSON, not UTF-8, a key twice
            raise FormatError("%s: not valid JSON: %s" % (shown, _term_text(e))) from None
        except RecursionError:   # nested past Python's stack: no manifest pretok writes
            raise FormatError("%s: not valid JSON: nested too deep" % shown) from None
        try:
            self._open(mpath, verify)
        except IngotError:
            raise
        except (AttributeError, TypeError, KeyError, ValueError, IndexError, OverflowError) as e:
            # a key of another JSON type ("shards": 1, "tokenizer": null, ...): one
            # FormatError naming the file, not the parser's AttributeError
            raise FormatError("%s: a field of an unexpected type or value (%s: %s): not a "
                              "manifest ingot-pretok writes" % (shown, type(e).__name__,
                                                                _term_text(e))) from None
        except OSError as e:   # a listed shard missing, a directory where it belongs
            raise FormatError("%s: %s" % (_term_text(e.filename or mpath), e.strerror or e)) \
                from None

    def _open(self, mpath, verify):
        m = self.manifest
        shown = _term_text(mpath)   # a path may hold an escape sequence (term_text.py)
        if not isinstance(m, dict) or m.get("format") != "ingot-dataset":
            m = m if isinstance(m, dict) else {}
            raise FormatError("%s: format: %r, expected \"ingot-dataset\""
                              % (shown, m.get("format")))
        fv = m.get("format_version")
        if isinstance(fv, bool) or not isinstance(fv, int) or fv != 1:
            raise FormatError("%s: format_version: %r; this reader knows version 1"
                              % (shown, m.get("format_version")))
        tok = m.get("tokenizer", {})
        # as common/manifest.c: one of the names ingot-pretok writes, or null
        ttype = tok.get("type")
        if ttype is not None and ttype not in _TOKENIZER_TYPES.values() and ttype != "unknown":
            raise FormatError("%s: key tokenizer.type: \"%s\" is not a tokenizer type: "
                              "expected unigram, bpe, word, char or unknown (as ingot-pretok "
                              "writes it)" % (shown, _term_text(ttype)))
        self.vocab_size = _count(mpath, "tokenizer.vocab_size", tok.get("vocab_size"), 1)
        self.bos_id, self.eos_id, self.pad_id, self.unk_id = (
            _count(mpath, "tokenizer." + k, tok.get(k, -1), -1)
            for k in ("bos_id", "eos_id", "pad_id", "unk_id"))
        for key in ("file", "source", "hash"):
            _text(mpath, "tokenizer." + key, tok.get(key))
        # as common/manifest.c's get_hex (also where no shard header would disagree)
        th = tok.get("hash")
        if th is not None and not re.fullmatch(r"[0-9a-fA-F]{16}", th):
            raise FormatError("%s: key tokenizer.hash: %r is not 16 hex digits" % (shown, th))
        if not isinstance(m.get("damaged_inputs_accepted", False), bool):
            raise FormatError("%s: key damaged_inputs_accepted: %r; wrong type (expected true "
                              "or false)" % (shown, m.get("damaged_inputs_accepted")))
        per_split = {name: [] for name in SPLITS}
        self._in_manifest_order = []   # content_id() hashes them in this order
        _check_map_budget(self.path, len(m.get("shards", [])))
        for entry in m.get("shards", []):
            name = entry.get("file", "")
            # as common/dataset.c: a plain, printable name pretok made (a control
            # character in it, C0, DEL or C1 such as the 8-bit CSI U+009B, is an
            # escape sequence for whoever prints it; a bidirectional override or
            # an invisible character makes it read as another name)
            if (os.path.basename(name) != name or name.startswith(".") or
                    not name.endswith(".tok") or _term_text(name) != name):
                raise FormatError("%s: shards[].file %r must be a plain *.tok name, without "
                                  "control, format or bidirectional characters or invalid UTF-8" %
                                  (shown, name))
            sh = Shard(os.path.join(self.path, name))
            self._agree(mpath, entry, sh, len(per_split[sh.split]))
            per_split[sh.split].append(sh)
            self._in_manifest_order.append(sh)
        # as common/manifest.c: the totals add up the shards listed (a shard left
        # out of the list was read as a shorter split without a word)
        totals = m["totals"]
        for name in SPLITS + ("all",):
            shards = [sh for s in SPLITS for sh in per_split[s]] if name == "all" else \
                per_split[name]
            want = (sum(sh.n_tokens for sh in shards), sum(sh.n_docs for sh in shards))
            # integers as common/manifest.c reads them: 8680.0 == 8680 in Python
            got = tuple(_count(mpath, "totals.%s.%s" % (name, key), totals[name][key])
                        for key in ("tokens", "documents"))
            if got != want:
                raise FormatError("%s: key totals.%s: %r tokens / %r documents, but the shards "
                                  "add up to %d / %d: the dataset is inconsistent (rerun "
                                  "ingot-pretok)" % (shown, name, got[0], got[1], *want))
        # as common/manifest.c: the inputs are listed, each names its file (provenance()
        # reads it) and counts what it gave; a damage note is text
        if not isinstance(m.get("inputs"), list):
            raise FormatError("%s: key inputs: missing or not a list" % shown)
        for i, inp in enumerate(m["inputs"]):
            if not isinstance(inp, dict) or not isinstance(inp.get("name"), str):
                raise FormatError("%s: key inputs[%d].name: missing or not a string"
                                  % (shown, i))
            for key in ("documents", "tokens"):
                _count(mpath, "inputs[%d].%s" % (i, key), inp.get(key))
            _text(mpath, "inputs[%d].damage" % i, inp.get("damage"))
        self.splits = {name: Split(name, shards) for name, shards in per_split.items()}
        if verify:
            self.verify()
        if not self.damaged_accepted:   # as ingot-train warns
            d = self.damaged_inputs
            warnings.warn("%s: %d input file%s of this dataset %s damaged and ingot-pretok "
                          "exited 1, the loss not accepted (the first: %s); the dataset holds "
                          "what could be read (docs/pretok.md, 'Damaged input files')"
                          % (_term_text(self.path), len(d), "" if len(d) == 1 else "s",
                             "was" if len(d) == 1 else "were", _term_text(d[0]["damage"])),
                          stacklevel=4)

    def _agree(self, mpath, entry, sh, seq):
        """The shard header must say what the manifest says about it."""
        h = sh.header
        want = [("split", entry.get("split"), sh.split), ("tokens", entry.get("tokens"), sh.n_tokens),
                ("documents", entry.get("documents"), sh.n_docs),
                ("file_size", entry.get("file_size"), int(h["file_size"])),
                ("shard_seq", seq, int(h["shard_seq"]))]
        sums = entry.get("checksums", {})
        for key, field in _HEADER_FIELDS.items():
            want.append(("checksums." + key, sums.get(key), "%016x" % int(h[field])))
        want.append(("checksums.header", sums.get("header"), "%016x" % sh.header_checksum))
        tok = self.manifest.get("tokenizer", {})
        tok_hash = tok.get("hash")
        if tok_hash is not None:
            want.append(("tokenizer.hash", tok_hash, "%016x" % int(h["tokenizer_hash"])))
        # the rest of what common/dataset.c compares (ids, widths, the tokenizer's kind)
        want.append(("token_width", self.manifest.get("token_width"), int(h["token_width"])))
        for key in ("vocab_size", "bos_id", "eos_id", "pad_id", "unk_id"):
            want.append(("tokenizer." + key, tok.get(key), int(h[key])))
        if tok.get("type") is not None:
            want.append(("tokenizer.type", tok.get("type"),
                         _TOKENIZER_TYPES.get(int(h["tokenizer_type"]), "unknown")))
        for key, m_val, h_val in want:
            if key.startswith("checksums.") or key == "tokenizer.hash":
                m_val = m_val.lower() if isinstance(m_val, str) else m_val
            # true == 1 and 2032.0 == 2032 in Python; common/manifest.c reads integers
            if isinstance(h_val, int) and (isinstance(m_val, bool) or not isinstance(m_val, int)):
                raise FormatError("%s: %s: the manifest says %r; wrong type (expected an "
                                  "integer)" % (_term_text(sh.path), key, m_val))
            if m_val != h_val:
                raise FormatError("%s: %s: the manifest says %r, the shard header %r: the "
                                  "dataset is inconsistent (rerun ingot-pretok)"
                                  % (_term_text(sh.path), key, m_val, h_val))

    def _split(self, split):
        try:
            return self.splits[split]
        except KeyError:
            raise ValueError("split %r: expected one of %s" % (split, ", ".join(SPLITS))) from None

    def n_documents(self, split="train"):
        return self._split(split).n_docs

    def n_tokens(self, split="train"):
        return self._split(split).n_tokens

    def document(self, i, split="train"):
        """Ids of document i of the split (numbered across its shards in order), as
        stored: BOS/EOS included. A read-only numpy view into the memmap."""
        sh, d = self._split(split)._locate_doc(i)
        return sh.document(d)

    def provenance(self, i, split="train"):
        """Where document i came from: {"file", "file_index", "record", "shard", "doc"}
        (record: 1-based line, or record/paragraph number, in that input file)."""
        sh, d = self._split(split)._locate_doc(i)
        sh.check_unchanged()   # a read past a truncated file's end is SIGBUS
        p = sh.provenance[d]
        inputs = self.manifest.get("inputs", [])
        fi = int(p["file_index"])
        return {"file": inputs[fi]["name"] if fi < len(inputs) else None, "file_index": fi,
                "record": int(p["record"]), "shard": os.path.basename(sh.path), "doc": d}

    @property
    def damaged_inputs(self):
        """The input files ingot-pretok found damaged (truncated or corrupt compression,
        unreadable): [{"name", "damage", "documents"}] (damage: "file:line: reason:
        detail", where reading stopped; documents: those kept from it). Empty for an
        intact conversion and for manifests from before damage was recorded."""
        return [{"name": i.get("name"), "damage": i["damage"], "documents": i.get("documents")}
                for i in self.manifest.get("inputs", []) if i.get("damage")]

    @property
    def damaged_accepted(self):
        """Whether the damage was accepted (--allow-damaged-inputs); False when a damaged
        input's loss was not (that conversion exited 1), True when nothing is damaged."""
        return not self.damaged_inputs or bool(self.manifest.get("damaged_inputs_accepted"))

    @property
    def tokenizer_hash(self):
        """The tokenizer's XXH3-64 (an int) as the manifest records it (every shard header
        holds it too; ingot-train compares it with a checkpoint's on --resume); from
        the shards when the manifest has none; None when neither has it."""
        h = self.manifest.get("tokenizer", {}).get("hash")
        if h is not None:
            return int(h, 16)
        sh = self._in_manifest_order
        return int(sh[0].header["tokenizer_hash"]) if sh else None

    def content_id(self):
        """The id of the dataset's shards that a checkpoint records for each source
        (settings["data_position"]["sources"][i]["content"], 16 hex digits) and that
        ingot-train compares on --resume (train/data_loader.c, tr_loader_source_id):
        h = 0, then for each shard in the manifest's order h = XXH3-64 of the four
        little-endian 64-bit words h, split (0 train, 1 val), the tokens checksum and
        the index checksum. Another conversion, a shard added or removed changes it.
        An int; VerifyUnavailable without xxhash."""
        h = 0
        for sh in self._in_manifest_order:
            hd = sh.header
            h = xxh3.xxh3_64(struct.pack("<4Q", h, SPLITS.index(sh.split),
                                         int(hd["tokens_checksum"]), int(hd["index_checksum"])))
        return h

    def tokens(self, split="train"):
        """The split's token arrays, one read-only memmap per shard in stream order."""
        return [sh.tokens for sh in self._split(split).shards]

    def verify(self):
        """Recompute every checksum of every shard (XXH3-64; needs xxhash) and check
        what ingot-dump verify checks beside them: every document's provenance names a
        listed input, and the inputs add up to what the shards hold. Raises
        ChecksumError naming the shard and the section, FormatError for the rest."""
        inputs = self.manifest["inputs"]
        for split in self.splits.values():
            for sh in split.shards:
                sh.verify()
                sh.check_unchanged()
                fi = sh.provenance["file_index"]
                if len(fi) and int(fi.max()) >= len(inputs):
                    d = int(np.argmax(fi >= len(inputs)))
                    raise FormatError("%s: provenance: document %d names input %d, but "
                                      "manifest.json lists %d inputs: the dataset is "
                                      "inconsistent (rerun ingot-pretok)"
                                      % (_term_text(sh.path), d, int(fi[d]), len(inputs)))
        docs = sum(i["documents"] for i in inputs)
        toks = sum(i["tokens"] for i in inputs)
        held = (sum(s.n_docs for s in self.splits.values()),
                sum(s.n_tokens for s in self.splits.values()))
        if (docs, toks) != held:
            raise FormatError("%s: key inputs: the inputs add up to %d documents / %d tokens, "
                              "the shards hold %d / %d: the dataset is inconsistent (rerun "
                              "ingot-pretok)" % (os.path.join(_term_text(self.path),
                                                              "manifest.json"), docs, toks,
                                                 *held))

    def tokenizer_path(self):
        """The SentencePiece model that decodes the shards, chosen as common/dataset.c's
        dataset_tokenizer_pick() chooses it (ingot-dump, ingot-train): the first of a
        relative tokenizer.file inside the dataset directory (ingot-pretok copies the
        model there as tokenizer.model), tokenizer.file as given (older manifests name
        the path given to pretok), its base name inside the dataset, then the model
        given to pretok, tokenizer.source, whose XXH3-64 is the manifest's hash (needs
        xxhash to check). A candidate that is not there, is no regular file, is larger
        than any model or has another hash (a replaced copy, a changed source) is
        passed over; when one that is there was passed over, or the source is used, a
        warning names each passed over and why. Returns None when none is there (or
        no model is recorded); raises FormatError naming each candidate and why when
        some are there but none has the hash. Without xxhash nothing can be checked:
        the first tokenizer.file candidate that is a file, the source never."""
        tok = self.manifest.get("tokenizer", {})
        name = tok.get("file")
        if not name:
            return None
        want = (tok.get("hash") or "").lower()
        paths = [] if os.path.isabs(name) else [os.path.join(self.path, name)]
        paths += [name, os.path.join(self.path, os.path.basename(name))]
        if not (want and xxh3.available()):   # nothing to check against here
            return next((p for p in paths if os.path.isfile(p)), None)
        src = tok.get("source")
        cands = []   # (path, is tokenizer.source), each once, in the order tried
        for p, is_src in [(p, False) for p in paths] + ([(src, True)] if src else []):
            if all(p != q for q, _ in cands):
                cands.append((p, is_src))

        def why_not(path, is_src):
            """None when path is the model of the manifest's hash, else why not."""
            if not os.path.exists(path):
                return "not found"
            if not os.path.isfile(path):
                return "not a regular file"
            size = os.path.getsize(path)
            if size > _MODEL_MAX:   # never read whole: a manifest may name any file
                return ("%d bytes, more than the %d a tokenizer model may have"
                        % (size, _MODEL_MAX))
            try:
                with open(path, "rb") as f:
                    h = "%016x" % xxh3.xxh3_64(f.read())
            except OSError as e:
                return e.strerror or str(e)
            if h == want:
                return None
            if is_src:
                return "tokenizer hash %s: it has changed since ingot-pretok read it" % h
            return "tokenizer hash %s, not the model the dataset was made with (replaced?)" % h

        def shown(path, is_src):
            return _term_text(path) + (" (tokenizer.source)" if is_src else "")
        passed = []
        for path, is_src in cands:
            why = why_not(path, is_src)
            if why is None:
                if is_src or any(w != "not found" for _, _, w in passed):
                    note = ("%s: tokenizer.file %s: passed over %s; decoding with %s%s, which "
                            "has the dataset's hash %s"
                            % (os.path.join(_term_text(self.path), "manifest.json"),
                               _term_text(name),
                               "; ".join("%s: %s" % (shown(p, s), w) for p, s, w in passed),
                               "the model given to ingot-pretok, " if is_src else "",
                               shown(path, is_src), want))
                    if not os.path.isabs(name):
                        note += "; put the copy back: cp %s %s" % (_term_text(path),
                                                                   _term_text(cands[0][0]))
                    warnings.warn(note, stacklevel=2)
                return path
            passed.append((path, is_src, why))
        if all(w == "not found" for _, _, w in passed):
            return None
        raise FormatError("tokenizer model %s (from %s): none has the dataset's hash %s: tried "
                          "%s; pass the model the dataset was made with"
                          % (_term_text(name),
                             os.path.join(_term_text(self.path), "manifest.json"), want,
                             "; ".join("%s: %s" % (shown(p, s), w) for p, s, w in passed)))

    def get_batch(self, split, batch_size, block_size, rng=None, device=None):
        """nanoGPT's get_batch: batch_size random windows of block_size + 1 tokens from the
        split's stream; returns (x, y) int64 arrays of [batch_size, block_size], or torch
        tensors on device when device is given. rng: a numpy Generator or a seed."""
        s = self._split(split)
        for name, v in (("batch_size", batch_size), ("block_size", block_size)):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError("%s: %r; expected an integer >= 1" % (name, v))
        if batch_size * (block_size + 1) > _BATCH_MAX:
            raise ValueError("batch_size %d x (block_size %d + 1) tokens: more than the %d a "
                             "batch may hold" % (batch_size, block_size, _BATCH_MAX))
        if s.n_tokens < block_size + 1:
            raise ValueError("%s split has %d tokens, fewer than block_size + 1 = %d"
                             % (split, s.n_tokens, block_size + 1))
        rng = np.random.default_rng(rng)
        starts = rng.integers(0, s.n_tokens - block_size, size=batch_size)
        rows = np.stack([s.slice(int(p), int(p) + block_size + 1) for p in starts])
        x, y = rows[:, :-1], rows[:, 1:]
        if device is None:
            return np.ascontiguousarray(x), np.ascontiguousarray(y)
        torch = import_torch("get_batch(device=%r)" % (device,),
                             "without device= it gives numpy arrays")
        x, y = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
        if torch.device(device).type == "cuda":
            return (x.pin_memory().to(device, non_blocking=True),
                    y.pin_memory().to(device, non_blocking=True))
        return x.to(device), y.to(device)

    def __repr__(self):
        return "Dataset(%r, train=%d tokens, val=%d tokens, vocab=%d)" % (
            self.path, self.n_tokens("train"), self.n_tokens("val"), self.vocab_size)


# numpy maps each of a shard's three sections apart (tokens, index, provenance)
MAPS_PER_SHARD = 3
MAP_RESERVE = 1024   # left for the interpreter, numpy, torch and the program


def _check_map_budget(path, n_shards, limit=None, used=None):
    """Every shard of an open dataset stays mapped, MAPS_PER_SHARD mappings each; past
    vm.max_map_count the opens fail midway with a bare 'Cannot allocate memory' (or
    later, in torch's own allocations). Refuse first, saying what to raise, as the C
    readers do (common/dataset.c). limit, used: for tests (default: /proc)."""
    try:
        if limit is None:
            with open("/proc/sys/vm/max_map_count") as f:
                limit = int(f.read())
        if used is None:
            with open("/proc/self/maps", "rb") as f:
                used = sum(1 for _ in f)
    except (OSError, ValueError):
        return   # no such limit to check against
    need = n_shards * MAPS_PER_SHARD + used + MAP_RESERVE
    if need <= limit:
        return
    advise = (need + 65535) // 65536 * 65536
    raise IngotError("%s: %d shards, mapped %d times each while the dataset is open, but this "
                     "process may hold only %d memory mappings (vm.max_map_count; %d in use, "
                     "%d kept for the program): raise the limit to at least %d (as root: "
                     "sysctl -w vm.max_map_count=%d), or convert the corpus again with a larger "
                     "--shard-tokens" % (path, n_shards, MAPS_PER_SHARD, limit, used,
                                         MAP_RESERVE, need, advise))


def open_dataset(path, verify=False):
    """Open an Ingot dataset directory. verify=True recomputes every checksum."""
    return Dataset(path, verify=verify)
