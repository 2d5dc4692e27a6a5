#!/usr/bin/python3
"""Issue 13: scripts/train-tokenizer.sh's defaults lose nothing. A model
trained with the defaults on code and prose gives decode(encode(x)) == x for
text with newlines, tabs, runs of spaces, indentation, leading and trailing
spaces, characters never seen in training and digits, and splits digits; a
model trained with SentencePiece's own defaults (the test's control) does
not. --help explains every default and how to override it. Odd arguments
(--vocab non-numeric, 0, negative, below the byte pieces, above what ingot-pretok
loads or a unigram model's seeds; --sample-mb 0, 08, huge; --out a directory or
under a file; an --spm-arg spm_train does not know) are refused in one line, exit
2, before the sampling starts (they sampled the whole input first, then failed in
spm_train, or ran); a --vocab the text cannot fill, or too small for its
characters, is explained in the script's words. Skips (77) without spm_train or
the sentencepiece module."""
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
for want in ("Checked before the sampling starts", "16777216", "--hard_vocab_limit=false",
             "a file prefix, not a directory",
             # README's example with the default 32000 fails on a small corpus
             "a small one yields fewer\npieces (an 8 MB corpus about 15000), so give it a "
             "smaller --vocab"):
    T.check(want in h, "--help does not say %r" % want)
print("--help explains each default and its override, and what is refused")

# Refused before the sampling (which reads the whole input): one line, exit 2
odd = t.path("odd")
os.makedirs(odd)
afile = t.path("odd", "afile")
open(afile, "w").close()
with open(t.path("odd", "in.txt"), "w") as f:
    f.write("some text\n")
for args, want in (
        (["--vocab", "abc"], "--vocab abc: the number of pieces, a whole number"),
        (["--vocab", "32k"], "--vocab 32k: the number of pieces"),
        (["--vocab", "1e3"], "--vocab 1e3: the number of pieces"),
        (["--vocab", "-5"], "--vocab -5: the number of pieces"),
        (["--vocab", "0"], "--vocab 0: at least 260 pieces (with byte fallback"),
        (["--vocab", "259"], "--vocab 259: at least 260 pieces"),
        (["--vocab", "3", "--no-byte-fallback"], "--vocab 3: at least 4 pieces"),
        (["--spm-arg", "--vocab_size=100"], "--spm-arg --vocab_size=100: at least 260"),
        (["--vocab", "16777217", "--type", "bpe"], "more than the 16777216 pieces ingot-pretok"),
        (["--vocab", "9" * 30], "more than the 16777216 pieces"),
        (["--vocab", "1000001"], "a unigram model is pruned from at most 1000000 seed pieces"),
        (["--sample-mb", "0"], "--sample-mb 0: whole megabytes, at least 1"),
        (["--sample-mb", "1.5"], "--sample-mb 1.5: whole megabytes"),
        (["--sample-mb", "9" * 25], "at most 1000000 (1 TB)"),
        (["--type", "char"], "--type char: unigram or bpe"),
        (["--normalization", "nfd"], "--normalization nfd: identity, nmt_nfkc"),
        (["--spm-arg", "character_coverage=1"], "give one spm_train flag as --flag=value"),
        (["--spm-arg", "--no_such_flag=1"], "has no flag --no_such_flag"),
        (["--out", odd], "a directory; give a file prefix"),
        (["--out", odd + "/"], "a file prefix, not a directory"),
        (["--out", os.path.join(afile, "tok")], "afile is not a directory")):
    cmd = [script] + (args if "--out" in args else ["--out", t.path("odd", "tok")] + args) + \
        [t.path("odd", "in.txt")]
    p = subprocess.run(cmd, capture_output=True, env=env)
    err = p.stderr.decode()
    T.check(p.returncode == 2 and len(err.splitlines()) == 1 and
            err.startswith("train-tokenizer: ") and want in err,
            "train-tokenizer %s: exit %d (want 2), stderr %r (want one line with %r)"
            % (args, p.returncode, err, want))
T.check(sorted(os.listdir(odd)) == ["afile", "in.txt"],
        "a refusal left files: %s" % sorted(os.listdir(odd)))
# accepted: leading zeros are decimal (bash read --sample-mb 08 as octal and failed)
p = subprocess.run([script, "--out", t.path("odd", "z"), "--vocab", "0300", "--sample-mb", "01",
                    "--no-byte-fallback", "--spm-arg", "--hard_vocab_limit=false",
                    t.path("odd", "in.txt")], capture_output=True, env=env)
T.check(p.returncode == 0 and os.path.exists(t.path("odd", "z.model")),
        "--vocab 0300 --sample-mb 01: exit %d, %s" % (p.returncode, p.stderr.decode()[-2000:]))
print("odd --vocab, --sample-mb, --out, --type, --normalization, --spm-arg: refused in one "
      "line before sampling; leading zeros read as decimal")

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

# What the text decides, once sampled, in the script's words: too few pieces for its
# characters; more pieces than it yields (at the end of the training)
for extra, want in ((["--vocab", "270"], "--vocab 270 is too small for this text: it needs "),
                    (["--vocab", "60000"], "--vocab 60000: this sample yields only ")):
    p = subprocess.run([script, "--out", t.path("limits")] + extra + ["--txt-doc", "paragraph",
                       inp], capture_output=True, env=env)
    last = p.stderr.decode().splitlines()[-1:]
    T.check(p.returncode == 2 and last and last[0].startswith("train-tokenizer: " + want),
            "train-tokenizer %s: exit %d, last line %r" % (extra, p.returncode, last))
print("a --vocab too small for the text's characters, or more than it yields: said so")
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
