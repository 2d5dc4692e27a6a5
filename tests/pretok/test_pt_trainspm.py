#!/usr/bin/python3
"""Issue 13: scripts/train-tokenizer.sh's defaults lose nothing. A model
trained with the defaults on code and prose gives decode(encode(x)) == x for
text with newlines, tabs, runs of spaces, indentation, leading and trailing
spaces, characters never seen in training and digits, and splits digits; a
model trained with SentencePiece's own defaults (the test's control) does
not. --help explains every default and how to override it. Skips (77)
without spm_train or the sentencepiece module."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
spm = T.import_sentencepiece()
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "train-tokenizer.sh")
env = dict(os.environ, INGOT_PRETOK=t.pretok, SPM_TRAIN=t.spm_train)

p = subprocess.run([script, "--help"], capture_output=True, env=env)
h = p.stdout.decode()
T.check(p.returncode == 0, "--help: exit %d" % p.returncode)
for want in ("byte fallback", "--no-byte-fallback", "identity", "--normalization nmt_nfkc",
             "--remove_extra_whitespaces=false", "--remove-extra-whitespaces",
             "--allow_whitespace_only_pieces=true", "--no-whitespace-pieces",
             "--split_digits=true", "--no-split-digits", "--spm-arg"):
    T.check(want in h, "--help does not explain %r" % want)
print("--help explains each default and its override")

CODE = '''def f(x):
    if x > 10:
        return x * 2
\telse:
\t\treturn   x  # spaced
'''
docs = []
for i, d in enumerate(T.documents(5, 300, multiline=True)):
    docs.append(d if i % 3 else CODE.replace("10", str(i)) + d)
inp = t.path("corpus.txt")
with open(inp, "w") as f:
    f.write("\n\n".join(docs) + "\n")


def train(prefix, extra):
    p = subprocess.run([script, "--out", t.path(prefix), "--vocab", "1000", "--txt-doc",
                        "paragraph", "--spm-arg", "--hard_vocab_limit=false",
                        "--spm-arg", "--minloglevel=2"] + extra + [inp],
                       capture_output=True, env=env)
    T.check(p.returncode == 0, "train-tokenizer %s: %s" % (extra, p.stderr.decode()[-3000:]))
    return spm.SentencePieceProcessor(model_file=t.path(prefix + ".model"))


samples = [
    CODE,
    "line one\nline two\n\n\nafter blank lines\n",
    "    four-space indent\n        eight\n\ttab\n",
    "  leading and trailing spaces  ",
    "a  b   c    d",
    "unseen: 漢字 ☃ 🎉 ÿ\r\n",
    "ﬁ full-width ＡＢＣ １２３",
    "digits 1234567890 and 3.14159",
    "\n",
    " ",
]
sp = train("lossless", [])
for s in samples:
    ids = sp.encode(s)
    back = sp.decode(ids)
    T.check(back == s, "defaults: decode(encode(%r)) = %r" % (s, back))
T.check(sp.unk_id() not in sp.encode("".join(samples)), "defaults: <unk> in the encoding")
pieces = sp.encode("x 1234567890", out_type=str)
T.check(all(sum(ch.isdigit() for ch in p) == 1 for p in pieces if any(ch.isdigit() for ch in p)),
        "defaults: digits not split: %s" % pieces)
ws = [sp.id_to_piece(i) for i in range(sp.get_piece_size())
      if set(sp.id_to_piece(i)) == {"▁"} and len(sp.id_to_piece(i)) > 1]
T.check(ws, "defaults: no whitespace-only piece (indentation) in the vocabulary")
print("defaults: %d samples round-trip exactly (newlines, tabs, indentation, unseen "
      "characters, NFKC-sensitive text); digits split; whitespace pieces %s" %
      (len(samples), ws[:3]))

# The control: SentencePiece's own behaviour loses text, so the test above
# can tell the difference.
ctl = train("control", ["--normalization", "nmt_nfkc", "--no-byte-fallback",
                        "--remove-extra-whitespaces"])
lost = [s for s in samples if ctl.decode(ctl.encode(s)) != s]
T.check(len(lost) >= 5, "control: only %d samples changed under SentencePiece's defaults"
        % len(lost))
print("control (nmt_nfkc, no byte fallback, whitespace removed): %d of %d samples change"
      % (len(lost), len(samples)))
# The sample spreads over the whole corpus. A corpus that compresses far
# better than a guess from the file sizes (here ~50x) used to fill the sample
# from its first documents, never reading the rest: the sample is now taken
# by pretok text --sample-bytes, one pass with a doubling stride.
import gzip
gz = t.path("rep.jsonl.gz")
with gzip.open(gz, "wt") as f:
    for i in range(4000):
        f.write('{"text": "%s doc %d"}\n' % ("the same words again " * 40, i))
p = subprocess.run([script, "--out", t.path("rep"), "--vocab", "300", "--sample-mb", "1",
                    "--spm-arg", "--hard_vocab_limit=false", gz], capture_output=True, env=env)
err = p.stderr.decode()
T.check(p.returncode == 0, "train-tokenizer on %s: %s" % (gz, err[-3000:]))
T.check("of 4000 documents written" in err and "an even sample of the whole input" in err,
        "the sample does not cover the corpus:\n" + err[-2000:])
T.check("LOG(INFO)" not in err and "Adding meta_piece" not in err,
        "spm_train's progress log is not quieted:\n" + err[-2000:])
print("the tokenizer's sample is even over a corpus whose size cannot be guessed")
t.cleanup()
print("ok")
