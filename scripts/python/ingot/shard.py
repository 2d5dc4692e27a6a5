"""One Ingot shard file (docs/shard-format.md): header, memory-mapped token
array, document index and provenance, checked as common/shard_reader.c does."""
import os
import stat

import numpy as np

from . import xxh3
from .errors import ChecksumError, FormatError
from .term_text import term_text as _term_text

MAGIC = b"INGOTSHD"
VERSION = 1
HEADER_SIZE = 4096
ENDIAN_MARK = 0x01020304
SPLITS = ("train", "val")
TOKENIZER_TYPE_MAX = 4   # common/shard_format.h's INGOT_TOK_CHAR

HEADER = np.dtype([
    ("magic", "S8"), ("version", "<u4"), ("header_size", "<u4"), ("endian_mark", "<u4"),
    ("token_width", "<u4"), ("vocab_size", "<u4"), ("bos_id", "<i4"), ("eos_id", "<i4"),
    ("pad_id", "<i4"), ("unk_id", "<i4"), ("split", "<u4"), ("tokenizer_type", "<u4"),
    ("flags", "<u4"), ("n_tokens", "<u8"), ("n_docs", "<u8"), ("tokens_offset", "<u8"),
    ("index_offset", "<u8"), ("prov_offset", "<u8"), ("file_size", "<u8"),
    ("tokenizer_hash", "<u8"), ("tokens_checksum", "<u8"), ("index_checksum", "<u8"),
    ("prov_checksum", "<u8"), ("shard_seq", "<u8")])
HEADER_CHECKSUM_AT = HEADER_SIZE - 8

PROVENANCE = np.dtype([("file_index", "<u4"), ("reserved", "<u4"), ("record", "<u8")])


def _map(path, dtype, offset, count):
    """A read-only memmap of count items (an empty array when count is 0:
    numpy cannot map zero bytes)."""
    if count == 0:
        return np.empty(0, dtype=dtype)
    return np.memmap(path, mode="r", dtype=dtype, offset=offset, shape=(count,))


class Shard:
    """An open shard. tokens, index and provenance are read-only memmaps."""

    def __init__(self, path):
        self.path = os.fspath(path)
        # a FIFO or device would block open() or read() forever (ingot-dump refuses it)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._fail("file", "missing")
        except OSError as e:   # a symlink loop, a path through a file, no permission
            self._fail("file", e.strerror or str(e))
        if not stat.S_ISREG(st.st_mode):
            self._fail("file", "not a regular file (a directory, FIFO or device); a shard is a "
                       "plain file")
        try:
            with open(self.path, "rb") as f:
                raw = f.read(HEADER_SIZE)
        except OSError as e:
            self._fail("file", e.strerror or str(e))
        self._raw_header = raw
        self.header_checksum = (int(np.frombuffer(raw, "<u8", 1, HEADER_CHECKSUM_AT)[0])
                                if len(raw) >= HEADER_SIZE else 0)
        self.header = self._check_header(raw)
        h = self.header
        self.n_tokens, self.n_docs = int(h["n_tokens"]), int(h["n_docs"])
        self.split = SPLITS[h["split"]]
        self.vocab_size = int(h["vocab_size"])
        self.file_size = int(h["file_size"])
        width = "<u2" if h["token_width"] == 2 else "<u4"
        self.tokens = _map(self.path, width, HEADER_SIZE, self.n_tokens)
        self.index = _map(self.path, "<u8", int(h["index_offset"]), self.n_docs + 1)
        self.provenance = _map(self.path, PROVENANCE, int(h["prov_offset"]), self.n_docs)
        self._check_index()

    def _fail(self, field, what, exc=FormatError):
        raise exc("%s: %s: %s" % (_term_text(self.path), field, what))

    def _check_version(self, h, raw):
        """As common/shard_reader.c's check_ident: every version keeps the header
        checksum in its header's last 8 bytes, so a real newer file can be told
        from a flipped bit (which is corruption, not an upgrade to make)."""
        v, hs = int(h["version"]), int(h["header_size"])
        if v > VERSION:
            if not xxh3.available():
                self._fail("version", "%d, newer than %d: written by a newer Ingot, or the "
                           "header is corrupt (install xxhash to tell)" % (v, VERSION))
            if 16 <= hs <= len(raw) and hs % 8 == 0:
                stored = int(np.frombuffer(raw, "<u8", 1, hs - 8)[0])
                if stored == xxh3.xxh3_64(raw[:hs - 8]):
                    self._fail("version", "format version %d was written by a newer Ingot; "
                               "this reader knows version %d: upgrade ingot" % (v, VERSION))
            self._fail("header_checksum", "does not match, and version reads %d (newer than "
                       "%d): the header is corrupt" % (v, VERSION), ChecksumError)
        if v == 0:
            self._fail("version", "0 is not a valid version: the header is corrupt")
        if hs != HEADER_SIZE:
            self._fail("header_size", "%d, format version 1 has %d: the header is corrupt"
                       % (hs, HEADER_SIZE))

    def _check_header(self, raw):
        if len(raw) < HEADER_SIZE:
            self._fail("header", "file is %d bytes, shorter than the 4096-byte header "
                       "(truncated)" % len(raw))
        h = np.frombuffer(raw, dtype=HEADER, count=1)[0]
        if h["magic"] != MAGIC:
            self._fail("magic", "not an Ingot shard")
        if h["endian_mark"] != ENDIAN_MARK:
            self._fail("endian_mark", "0x%08x: written on a machine of the other endianness"
                       % h["endian_mark"])
        self._check_version(h, raw)
        stored = int(np.frombuffer(raw, "<u8", 1, HEADER_CHECKSUM_AT)[0])
        if xxh3.available() and xxh3.xxh3_64(raw[:HEADER_CHECKSUM_AT]) != stored:
            self._fail("header_checksum", "does not match the header: the header is corrupt",
                       ChecksumError)
        if h["token_width"] not in (2, 4):
            self._fail("token_width", "%d (must be 2 or 4)" % h["token_width"])
        if h["split"] >= len(SPLITS):
            self._fail("split", "%d (must be 0 train or 1 val)" % h["split"])
        n, d = int(h["n_tokens"]), int(h["n_docs"])
        index_off = (HEADER_SIZE + n * int(h["token_width"]) + 7) // 8 * 8
        prov_off = index_off + 8 * (d + 1)
        size = prov_off + PROVENANCE.itemsize * d
        for field, want in (("tokens_offset", HEADER_SIZE), ("index_offset", index_off),
                            ("prov_offset", prov_off), ("file_size", size)):
            if int(h[field]) != want:
                self._fail(field, "%d, but the counts give %d" % (int(h[field]), want))
        real = os.path.getsize(self.path)
        if real != size:
            self._fail("file_size", "the file is %d bytes, the header says %d (%s)"
                       % (real, size, "truncated" if real < size else "trailing bytes"))
        # the fields common/shard_reader.c checks besides (a resealed header may hold them)
        vocab, width = int(h["vocab_size"]), int(h["token_width"])
        if vocab == 0 or (width == 2 and vocab > 65536):
            self._fail("vocab_size", "%d does not fit token_width %d" % (vocab, width))
        for key in ("bos_id", "eos_id", "pad_id", "unk_id"):
            if not -1 <= int(h[key]) < vocab:
                self._fail(key, "%d, must be -1 or below vocab_size %d" % (int(h[key]), vocab))
        if int(h["tokenizer_type"]) > TOKENIZER_TYPE_MAX:
            self._fail("tokenizer_type", "%d unknown" % int(h["tokenizer_type"]))
        if int(h["flags"]):
            self._fail("flags", "0x%x, must be 0 in format version 1" % int(h["flags"]))
        nz = np.flatnonzero(np.frombuffer(raw, np.uint8, HEADER_CHECKSUM_AT - HEADER.itemsize,
                                          HEADER.itemsize))
        if len(nz):
            self._fail("reserved", "byte at header offset %d is not zero"
                       % (HEADER.itemsize + int(nz[0])))
        return h

    def _check_index(self):
        # the padding between the tokens and the index is under no checksum
        h = self.header
        end = HEADER_SIZE + self.n_tokens * int(h["token_width"])
        pad = int(h["index_offset"]) - end
        if pad:
            with open(self.path, "rb") as f:
                f.seek(end)
                nz = np.flatnonzero(np.frombuffer(f.read(pad), np.uint8))
            if len(nz):
                self._fail("index_offset", "padding byte at offset %d is not zero"
                           % (end + int(nz[0])))
        ix = self.index
        if len(ix) and (ix[0] != 0 or ix[-1] != self.n_tokens):
            self._fail("index", "must run from 0 to n_tokens %d" % self.n_tokens)
        if len(ix) > 1 and np.any(ix[1:] < ix[:-1]):
            self._fail("index", "offsets decrease")

    def check_unchanged(self):
        """Raises FormatError when the file is no longer the size it had when opened:
        reading a memmap past a truncated file's end kills the process (SIGBUS), as
        common/data_loader.c guards against. A truncation between this check and the
        read is still not caught."""
        try:
            size = os.stat(self.path).st_size
        except OSError as e:
            self._fail("file", "%s since it was opened" % (e.strerror or e))
        if size != self.file_size:
            self._fail("file_size", "the file is now %d bytes, %d when it was opened: it was "
                       "truncated or rewritten while open (reopen the dataset)"
                       % (size, self.file_size))

    def document(self, d):
        """Ids of document d as stored (BOS/EOS included), a memmap slice (the file's
        size is checked before its index is read, not when the slice is read later)."""
        if not 0 <= d < self.n_docs:
            raise IndexError("%s: document %d of %d" % (_term_text(self.path), d, self.n_docs))
        self.check_unchanged()
        return self.tokens[int(self.index[d]):int(self.index[d + 1])]

    def verify(self):
        """Recompute the three payload checksums and check every id < vocab_size.
        Raises ChecksumError naming the section, VerifyUnavailable without xxhash,
        FormatError when the file was truncated since it was opened."""
        h = self.header
        sections = (("tokens_checksum", self.tokens), ("index_checksum", self.index),
                    ("prov_checksum", self.provenance))
        for field, arr in sections:
            # each section is read whole: a file truncated since it was opened
            # (SIGBUS in the read), checked before each
            self.check_unchanged()
            got = xxh3.xxh3_64(arr) if len(arr) else xxh3.xxh3_64(b"")
            if got != int(h[field]):
                self._fail(field, "recorded %016x, computed %016x: the shard is corrupt"
                           % (int(h[field]), got), ChecksumError)
        stored = int(np.frombuffer(self._raw_header, "<u8", 1, HEADER_CHECKSUM_AT)[0])
        if xxh3.xxh3_64(self._raw_header[:HEADER_CHECKSUM_AT]) != stored:
            self._fail("header_checksum", "does not match the header", ChecksumError)
        self.check_unchanged()
        if self.n_tokens and int(self.tokens.max()) >= self.vocab_size:
            self._fail("tokens", "id %d >= vocab_size %d" % (int(self.tokens.max()),
                                                             self.vocab_size))
        if self.n_docs and np.any(self.provenance["reserved"]):
            self._fail("provenance", "reserved word not zero")
        if self.n_docs and not np.all(self.provenance["record"]):
            d = int(np.argmin(self.provenance["record"]))
            self._fail("provenance", "document %d names line/record 0; they count from 1" % d)

    def __repr__(self):
        return "Shard(%r, split=%s, tokens=%d, docs=%d)" % (self.path, self.split,
                                                             self.n_tokens, self.n_docs)
