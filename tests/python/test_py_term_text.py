#!/usr/bin/python3
"""The Python package's _term_text (scripts/python/ingot/term_text.py, as
dataset._term_text) shows text from
files as common/term_text.c does: C0, DEL and C1 controls, the bidirectional controls
(overrides, embeddings, isolates, marks), the invisible format characters (zero-width
ones, U+2060..U+206F, U+FEFF, U+180E) and the line and paragraph separators as '?';
a byte that is not UTF-8 (a surrogateescape'd file name) as one '?'; other text
("café", "日本語", emoji) unchanged. Then the two are compared on every code point
and on random bytes, through tests/common/test_term_text --hex.

    test_py_term_text.py TEST_TERM_TEXT"""
import os
import random
import subprocess
import sys

from pyt_util import check, need_numpy

need_numpy()
from ingot.dataset import _term_text  # noqa: E402


def shown(b):
    """_term_text of the bytes b, as bytes: b decoded as os.fsdecode decodes a file
    name (a byte that is not UTF-8 as a surrogate); what comes out must encode as
    strict UTF-8 (no surrogate left)."""
    return _term_text(b.decode("utf-8", "surrogateescape")).encode("utf-8")


CASES = [
    # controls: C0, DEL, C1 (U+009B is the 8-bit CSI)
    ("a\x1b[2Jb\x7f", "a?[2Jb?"), ("x\x9b2Jy\x85", "x?2Jy?"),
    # ordinary text of any script: kept
    ("café", "café"), ("日本語", "日本語"), ("€ \u209b \U0001F600", "€ \u209b \U0001F600"),
    ("سلام", "سلام"), ("\u200a\u2027\u202f\u205f\u2070\ufefe\uff00\u061b\u180d",
                       "\u200a\u2027\u202f\u205f\u2070\ufefe\uff00\u061b\u180d"),
    # bidirectional overrides, embeddings, isolates, marks
    ("a\u202etxt.exe", "a?txt.exe"), ("\u202a\u202b\u202c\u202d\u202e", "?????"),
    ("\u2066\u2067\u2068\u2069", "????"), ("l\u200er\u200fa\u061c", "l?r?a?"),
    # invisible format characters
    ("tr\u200bain\u200c\u200d", "tr?ain??"), ("\u2060\u2064\u2065\u206a\u206f", "?????"),
    ("\ufeffx\u180ey", "?x?y"),
    # line and paragraph separators
    ("one\u2028two\u2029", "one?two?"),
    # bytes that are not UTF-8 (os.fsdecode's surrogates): one '?' a byte
    ("caf\udce9 \udc9b2J", "caf? ?2J"), ("\udcff\ufeff\u202e", "???"),
]
for s, want in CASES:
    got = _term_text(s)
    check(got == want, "_term_text(%r): %r, want %r" % (s, got, want))
check(shown(b"caf\xe9 \xe2\x82\xac\x9b") == "caf? €?".encode(), "bytes: %r" %
      shown(b"caf\xe9 \xe2\x82\xac\x9b"))
print("_term_text: %d cases, every class" % len(CASES))

# C and Python agree: every code point between two letters, every byte alone and
# after a letter, malformed forms, random bytes biased to the high half.
inputs = [b"a" + chr(c).encode("utf-8") + b"b" for c in range(1, 0x110000)
          if not 0xd800 <= c <= 0xdfff]
inputs += [bytes([c]) for c in range(1, 256)] + [b"x" + bytes([c]) for c in range(128, 256)]
inputs += [b"\xc1\x9b", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80\xaf",
           b"\xe2\x82ab", b"ab\xf0\x9f\x98", b"\xf8\x88\x80\x80\x80", b"\xef\xbb"]
rng = random.Random(11)
for _ in range(50000):
    inputs.append(bytes(rng.choice((rng.randrange(1, 128), rng.randrange(128, 256),
                                    rng.randrange(128, 256)))
                        for _ in range(rng.randrange(1, 9))))
p = subprocess.run([sys.argv[1], "--hex"], input="".join(b.hex() + "\n" for b in inputs),
                   capture_output=True, text=True, timeout=120)
check(p.returncode == 0, "test_term_text --hex: exit %d: %s" % (p.returncode, p.stderr))
lines = p.stdout.splitlines()
check(len(lines) == len(inputs), "%d lines back for %d inputs" % (len(lines), len(inputs)))
bad = []
for b, line in zip(inputs, lines):
    c_hex, c_plain = line.split()
    py = shown(b)
    if py.hex() != c_hex or (py == b) != (c_plain == "1"):
        bad.append("%r: C %s (plain %s), Python %r" % (b, bytes.fromhex(c_hex), c_plain, py))
check(not bad, "C and Python differ on %d inputs, e.g.\n%s" % (len(bad), "\n".join(bad[:10])))
print("C and Python agree on %d inputs (every code point, bytes not UTF-8)" % len(inputs))
