"""Helpers for the Python-package tests (run with /usr/bin/python3, Debian's, which
has numpy). Each test is called by meson as
    test_x.py INGOT_PRETOK INGOT_DUMP INGOT_TRAIN SPM_TRAIN
with PYTHONPATH pointing at scripts/python. The fixture is a small corpus made here,
a SentencePiece model trained on it and a dataset of several shards per split."""
import json
import os
import random
import shutil
import subprocess
import struct
import sys
import tempfile

SKIP = 77

WORDS = ("the a river mountain runs quietly over stones and light falls on green fields "
         "where old trees stand near houses children read books under blue sky while "
         "wind moves clouds across hills toward distant towns of stone and glass").split()


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Tally:
    """For a test that reports every case: check() counts a failure and goes on;
    end() prints the count and exits 1 if there was one."""

    def __init__(self):
        self.failures = 0

    def check(self, cond, what):
        if not cond:
            print("FAIL:", what)
            self.failures += 1
        return cond

    def end(self):
        print("%d failure(s)" % self.failures)
        sys.exit(1 if self.failures else 0)


# The name the term_text tests put in paths, values and pieces: an escape sequence
# (ESC ] 0 ; pwned BEL, which retitles the terminal's window) and a RIGHT-TO-LEFT
# OVERRIDE; as term_text() shows it; the bytes that must reach no terminal.
HOSTILE = "n\x1b]0;pwned\x07\u202eh"
HOSTILE_SHOWN = "n?]0;pwned??h"
HOSTILE_RAW = (b"\x1b", b"\x07", "\u202e".encode())


def run_shown(tally, argv, want_rc, what, says=(), out=(), env=None, stdin=None, timeout=120):
    """Run argv for a term_text test: exit status want_rc ('nonzero': any failure),
    every text of says on standard error and of out on standard output, none of
    HOSTILE_RAW on either (each a tally check). Returns the CompletedProcess (bytes)."""
    e = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    e.update(env or {})
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, input=stdin,
                       env=e, timeout=timeout)
    ok = p.returncode != 0 if want_rc == "nonzero" else p.returncode == want_rc
    tally.check(ok, "%s: exit %d, want %s: %r" % (what, p.returncode, want_rc, p.stderr))
    for s in says:
        s = s if isinstance(s, bytes) else s.encode()
        tally.check(s in p.stderr, "%s: no %r on stderr: %r" % (what, s, p.stderr))
    for s in out:
        s = s if isinstance(s, bytes) else s.encode()
        tally.check(s in p.stdout, "%s: no %r on stdout: %r" % (what, s, p.stdout[:2000]))
    tally.check(not any(r in p.stderr or r in p.stdout for r in HOSTILE_RAW),
                "%s: ESC, BEL or U+202E reached the terminal: %r" % (what,
                                                                     p.stderr + p.stdout[:2000]))
    return p


def run_env(args, env=None, stdout=subprocess.PIPE):
    """(exit status, stderr text) of args, with env added to the environment."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(args, env=e, stdout=stdout, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stderr


def bounded(seconds, what, fn):
    """fn() under an alarm of seconds: a call that blocks (open() of a FIFO) fails the
    test naming what, instead of hanging it."""
    import signal

    def hung(signum, frame):
        raise TimeoutError("%s blocked for %d s" % (what, seconds))
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        return fn()
    except TimeoutError as e:
        fail(str(e))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def in_child(what, fn):
    """fn() in a forked child, so that a crash (SIGBUS from reading a memmap past a
    truncated file's end) fails the test naming what and the signal, rather than
    killing it without a word. fn fails as the tests do (fail(), check())."""
    import signal
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            fn()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:   # noqa: BLE001 - reported, then the child exits 1
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        fail("%s: the process died of %s" % (what, signal.Signals(os.WTERMSIG(status)).name))
    check(os.WEXITSTATUS(status) == 0, "%s: failed (above)" % what)


def need_numpy():
    try:
        import numpy  # noqa: F401
    except ImportError:
        print("numpy missing: skipped")
        sys.exit(SKIP)


class Fixture:
    def __init__(self, argv):
        if len(argv) < 5:
            sys.exit("usage: %s INGOT_PRETOK INGOT_DUMP INGOT_TRAIN SPM_TRAIN" % argv[0])
        self.pretok, self.dump, self.train, self.spm_train = argv[1:5]
        if not self.spm_train or not os.path.exists(self.spm_train):
            print("spm_train not found: skipped")
            sys.exit(SKIP)
        need_numpy()
        self.tmp = tempfile.mkdtemp(prefix="ingot_py_")

    def path(self, *names):
        return os.path.join(self.tmp, *names)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, args, what=""):
        """Run a command; fail the test (with its stderr) when it exits non-zero;
        return stdout as text."""
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
        p = subprocess.run(args, capture_output=True, env=env)
        if p.returncode:
            fail("%s: %s: exit %d\n%s" % (what, " ".join(args), p.returncode,
                                          p.stderr.decode("utf-8", "replace")[-3000:]))
        return p.stdout.decode("utf-8", "replace")

    def dataset(self, n_docs=400, shard_tokens=2000, seed=7):
        """Corpus -> model -> dataset with several train and val shards; returns its dir."""
        rng = random.Random(seed)
        corpus = self.path("corpus.jsonl")
        with open(corpus, "w", encoding="utf-8") as f:
            for _ in range(n_docs):
                words = [rng.choice(WORDS) for _ in range(rng.randint(5, 40))]
                f.write(json.dumps({"text": " ".join(words)}) + "\n")
        text = self.path("corpus.txt")
        with open(text, "w", encoding="utf-8") as f:
            f.write(self.run([self.pretok, "text", corpus], "pretok text"))
        self.run([self.spm_train, "--input=" + text, "--model_prefix=" + self.path("tok"),
                  "--vocab_size=150", "--hard_vocab_limit=false", "--minloglevel=2",
                  "--num_threads=1"], "spm_train")
        out = self.path("ds")
        self.run([self.pretok, "--model", self.path("tok.model"), "--out", out,
                  "--shard-tokens", str(shard_tokens), "--val-fraction", "0.1", "--threads", "1",
                  "--quiet", corpus], "ingot-pretok")
        return out


# common/shard_format.h: header offsets the tests edit and reseal
WIDTH_AT, TOKENS_SUM_AT, PROV_SUM_AT = 20, 112, 128


def reseal(path, sections=True):
    """Recompute the payload checksums (sections) and the header checksum of a
    shard in place: a hand-edited shard that only the checks past the checksums
    can catch."""
    from ingot import xxh3
    with open(path, "r+b") as f:
        head = bytearray(f.read(4096))
        n_tok, n_doc = struct.unpack_from("<QQ", head, 56)
        width = struct.unpack_from("<I", head, WIDTH_AT)[0]
        tok_off, idx_off, prov_off = struct.unpack_from("<QQQ", head, 72)
        if sections:
            for at, off, size in ((TOKENS_SUM_AT, tok_off, n_tok * width),
                                  (120, idx_off, 8 * (n_doc + 1)), (PROV_SUM_AT, prov_off, 16 * n_doc)):
                f.seek(off)
                struct.pack_into("<Q", head, at, xxh3.xxh3_64(f.read(size)))
        struct.pack_into("<Q", head, 4096 - 8, xxh3.xxh3_64(bytes(head[:4096 - 8])))
        f.seek(0)
        f.write(head)
