"""One Ingot shard file (docs/shard-format.md): header, memory-mapped token
array, document index and provenance, checked as common/shard_reader.c does."""
import os
import stat

import numpy as np

from . import xxh3
from .errors import ChecksumError, FormatError

MAGIC = b"INGOTSHD"
VERSION = 1
HEADER_SIZE = 4096
ENDIAN_MARK = 0x01020304
SPLITS = ("train", "val")

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
        if not stat.S_ISREG(st.st_mode):
            self._fail("file", "not a regular file (a directory, FIFO or device); a shard is a "
                       "plain file")
        with open(self.path, "rb") as f:
            raw = f.read(HEADER_SIZE)
        self._raw_header = raw
        self.header_checksum = (int(np.frombuffer(raw, "<u8", 1, HEADER_CHECKSUM_AT)[0])
                                if len(raw) >= HEADER_SIZE else 0)
        self.header = self._check_header(raw)
        h = self.header
        self.n_tokens, self.n_docs = int(h["n_tokens"]), int(h["n_docs"])
        self.split = SPLITS[h["split"]]
        self.vocab_size = int(h["vocab_size"])
        width = "<u2" if h["token_width"] == 2 else "<u4"
        self.tokens = _map(self.path, width, HEADER_SIZE, self.n_tokens)
        self.index = _map(self.path, "<u8", int(h["index_offset"]), self.n_docs + 1)
        self.provenance = _map(self.path, PROVENANCE, int(h["prov_offset"]), self.n_docs)
        self._check_index()

    def _fail(self, field, what, exc=FormatError):
        raise exc("%s: %s: %s" % (self.path, field, what))

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
        stored = int(np.frombuffer(raw, "<u8", 1, HEADER_CHECKSUM_AT)[0])
        if h["version"] != VERSION or h["header_size"] != HEADER_SIZE:
            why = "written by a newer Ingot" if h["version"] > VERSION else "unknown"
            self._fail("version", "%d (%s); this reader knows version %d"
                       % (h["version"], why, VERSION))
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
        return h

    def _check_index(self):
        ix = self.index
        if len(ix) and (ix[0] != 0 or ix[-1] != self.n_tokens):
            self._fail("index", "must run from 0 to n_tokens %d" % self.n_tokens)
        if len(ix) > 1 and np.any(ix[1:] < ix[:-1]):
            self._fail("index", "offsets decrease")

    def document(self, d):
        """Ids of document d as stored (BOS/EOS included), a memmap slice."""
        if not 0 <= d < self.n_docs:
            raise IndexError("%s: document %d of %d" % (self.path, d, self.n_docs))
        return self.tokens[int(self.index[d]):int(self.index[d + 1])]

    def verify(self):
        """Recompute the three payload checksums and check every id < vocab_size.
        Raises ChecksumError naming the section, VerifyUnavailable without xxhash."""
        h = self.header
        sections = (("tokens_checksum", self.tokens), ("index_checksum", self.index),
                    ("prov_checksum", self.provenance))
        for field, arr in sections:
            got = xxh3.xxh3_64(arr) if len(arr) else xxh3.xxh3_64(b"")
            if got != int(h[field]):
                self._fail(field, "recorded %016x, computed %016x: the shard is corrupt"
                           % (int(h[field]), got), ChecksumError)
        stored = int(np.frombuffer(self._raw_header, "<u8", 1, HEADER_CHECKSUM_AT)[0])
        if xxh3.xxh3_64(self._raw_header[:HEADER_CHECKSUM_AT]) != stored:
            self._fail("header_checksum", "does not match the header", ChecksumError)
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
