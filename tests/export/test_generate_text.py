#!/usr/bin/python3
"""ingot-train generate's text interface on a trained checkpoint with its SentencePiece
tokenizer:
- a continuation ends at a document boundary (the tokenizer's EOS or BOS), and is the
  --no-stop continuation of the same seed cut just after that id; --no-stop goes on;
- the text printed as it is generated (streamed) is exactly SentencePiece's decode of
  the ids, for every one of --samples N (sample i draws with seed + i, after a
  '### sample i' line);
- --top-p 1e-6 keeps only the likeliest token: the greedy continuation; --top-p with
  --top-k 1 is refused;
- stderr's closing line says how many samples ended at a document boundary;
- --prompt-ids with --ids stops there too (the checkpoint's dataset gives EOS/BOS);
- --prompt-file FILE and --prompt-file - (standard input) give what --prompt gives, less
  one final newline (echo's, an editor's); a prompt of many 4096-id windows prints exactly
  the decode of its ids; a NUL inside, a missing file, two prompts and
  a prompt given as a second argument ('-', or the text without --prompt) are refused,
  the message naming --prompt-file -.
Needs numpy, spm_train and the sentencepiece module (skips 77 otherwise)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import SKIP, Fixture, check  # noqa: E402


def main():
    try:
        import sentencepiece as spm
    except ImportError:
        print("the sentencepiece module is missing: skipped")
        sys.exit(SKIP)
    fx = Fixture(sys.argv)
    d = fx.dataset()
    ck = fx.path("ck")
    fx.run([fx.train, "--data", d, "--model", "tiny", "--steps", "30", "--threads", "1",
            "--val-every", "0", "--ckpt-dir", ck], "train")
    sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "tokenizer.model"))
    stops = {i for i in (sp.eos_id(), sp.bos_id()) if i >= 0}
    check(stops, "the fixture's tokenizer has neither BOS nor EOS")
    N, NEW = 12, 60
    gen = [fx.train, "generate", ck, "--prompt", "the river", "--tokens", str(NEW),
           "--threads", "1", "--samples", str(N), "--temperature", "1.5"]

    def id_lines(out):
        return [[int(x) for x in line.split()] for line in out.splitlines() if line.strip()]

    free = id_lines(fx.run(gen + ["--ids", "--no-stop"], "generate --no-stop"))
    cut = id_lines(fx.run(gen + ["--ids"], "generate"))
    check(len(free) == len(cut) == N, "%d and %d samples, not %d" % (len(free), len(cut), N))
    n_prompt = len(sp.encode("the river")) + (1 if sp.bos_id() >= 0 else 0)
    stopped = 0
    for i, (f, c) in enumerate(zip(free, cut)):
        check(len(f) == n_prompt + NEW, "sample %d with --no-stop: %d ids" % (i, len(f)))
        new = f[n_prompt:]
        first = next((k for k, t in enumerate(new) if t in stops), None)
        want = f if first is None else f[:n_prompt + first + 1]
        check(c == want, "sample %d: %s is not the --no-stop continuation %s cut after its "
              "first stop id" % (i, c, f))
        stopped += first is not None and first < NEW - 1
    check(stopped > 0, "no sample of %d reached a document boundary: the stop is untested" % N)
    # and stderr says how many (before: "N new tokens in all samples", a short sample
    # looked like a fault)
    ended = sum(len(c) > n_prompt and c[-1] in stops for c in cut)
    p = subprocess.run(gen + ["--ids"], capture_output=True, text=True)
    check(p.returncode == 0 and "(%d of %d samples ended at a document boundary" % (ended, N)
          in p.stderr, "the closing line does not count the stops (%d): %s" % (ended, p.stderr))

    # --prompt-ids with --ids needs no tokenizer, but stops where the text does: the
    # EOS/BOS come from the checkpoint's dataset (it ran past every boundary)
    by_ids = [fx.train, "generate", ck, "--prompt-ids", " ".join(map(str, cut[0][:n_prompt])),
              "--tokens", str(NEW), "--threads", "1", "--samples", str(N), "--temperature",
              "1.5", "--ids"]
    check(id_lines(fx.run(by_ids, "generate --prompt-ids --ids")) == cut,
          "--prompt-ids --ids did not stop where --prompt --ids did")

    # streamed text = SentencePiece's decode of the ids, sample by sample
    text = fx.run(gen, "generate text")
    parts = text.split("### sample ")[1:]
    check(len(parts) == N, "%d '### sample' parts, not %d" % (len(parts), N))
    for i, (part, ids) in enumerate(zip(parts, cut)):
        head, _, body = part.partition("\n")
        check(head == str(i + 1), "sample header %r, want %d" % (head, i + 1))
        check(body == sp.decode(ids) + "\n", "sample %d: streamed %r, decode %r"
              % (i + 1, body, sp.decode(ids)))

    # nucleus: a tiny top-p leaves the likeliest token alone
    one = [fx.train, "generate", ck, "--prompt", "the river", "--tokens", "20", "--threads",
           "1", "--ids", "--no-stop"]
    greedy = fx.run(one + ["--top-k", "1"], "greedy")
    nucleus = fx.run(one + ["--top-k", "40", "--top-p", "1e-6"], "top-p 1e-6")
    check(greedy == nucleus, "--top-p 1e-6: %r, greedy %r" % (nucleus, greedy))
    p = subprocess.run(one + ["--top-k", "1", "--top-p", "0.5"], capture_output=True, text=True)
    check(p.returncode == 2 and "--top-p 0.5 with --top-k 1" in p.stderr, p.stderr)

    # --prompt-file, from a file and from standard input
    pf = fx.path("prompt.txt")
    with open(pf, "w", encoding="utf-8") as f:
        f.write("the river\n runs")
    base = [fx.train, "generate", ck, "--tokens", "12", "--threads", "1", "--top-k", "1"]
    want = fx.run(base + ["--prompt", "the river\n runs"], "--prompt")
    got = fx.run(base + ["--prompt-file", pf], "--prompt-file")
    check(got == want and got.startswith("the river"), "--prompt-file: %r, --prompt %r"
          % (got, want))
    p = subprocess.run(base + ["--prompt-file", "-"], input=b"the river\n runs",
                       capture_output=True)
    check(p.returncode == 0 and p.stdout.decode() == want, "--prompt-file -: %r" % p.stdout)
    # the final newline of `echo TEXT |` and of an edited file is not the prompt's (before:
    # the continuation started on a new line); a second one is
    p = subprocess.run(base + ["--prompt-file", "-"], input=b"the river\n runs\n",
                       capture_output=True)
    check(p.returncode == 0 and p.stdout.decode() == want, "--prompt-file - with echo's "
          "newline: %r, want %r" % (p.stdout, want))
    with open(pf, "w", encoding="utf-8") as f:
        f.write("the river\n runs\n\n")
    want_nl = fx.run(base + ["--prompt", "the river\n runs\n"], "--prompt with a newline")
    got = fx.run(base + ["--prompt-file", pf], "--prompt-file, two newlines")
    check(got == want_nl, "--prompt-file ending in two newlines: %r, want %r" % (got, want_nl))
    # a prompt of many windows (stream_prompt prints 4096 ids at a time): the text is
    # still exactly the decode of every id, across the windows' joins
    with open(pf, "w", encoding="utf-8") as f:
        f.write(" ".join("the river runs café naïve 東京 %d" % i for i in range(4000)))
    longp = base + ["--prompt-file", pf, "--top-k", "40", "--seed", "7"]
    ids = id_lines(fx.run(longp + ["--ids"], "long prompt, ids"))[0]
    got = fx.run(longp, "long prompt, text")
    check(len(ids) > 3 * 4096 and got == sp.decode(ids) + "\n",
          "a prompt of %d ids: the text differs from the decode of its ids" % len(ids))
    for extra in (["-"], ["the river"]):
        p = subprocess.run(base + extra, capture_output=True, text=True)
        check(p.returncode == 2 and "--prompt-file - reads standard input" in p.stderr,
              "a second argument %s: exit %d: %s" % (extra, p.returncode, p.stderr))
    with open(pf, "wb") as f:
        f.write(b"the\0river")
    for extra, msg in ((["--prompt-file", pf], "a NUL byte at offset 3"),
                       (["--prompt-file", fx.path("none.txt")], "none.txt"),
                       (["--prompt-file", pf, "--prompt", "x"], "one of them")):
        p = subprocess.run(base + extra, capture_output=True, text=True)
        check(p.returncode != 0 and msg in p.stderr, "%s: exit %d: %s"
              % (extra, p.returncode, p.stderr))
    fx.cleanup()
    print("ok: %d of %d samples stopped at a document boundary, each the --no-stop "
          "continuation cut there; streamed text = decode; top-p; --prompt-file" % (stopped, N))


main()
