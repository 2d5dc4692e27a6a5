#!/usr/bin/python3
"""scripts/train-tokenizer.sh's outputs and names:
- PREFIX.model and PREFIX.vocab appear whole or not at all: a trainer that fails
  after writing part of the model leaves an earlier PREFIX.model as it was (it was
  half-overwritten), and one killed (kill PID, as timeout does) writes nothing later
  (the trainer went on and wrote PREFIX.model after the script had failed); no
  sample, log or temporary directory is left beside PREFIX either way;
- an --out or an INPUT whose name starts with '-' is a name, not an option (dirname
  and ingot-pretok text took them for options);
- the Python trainer (where spm_train is not installed) takes paths with spaces
  (its flags were joined into one string and cut at the space).
Skips (77) without /usr/bin/python3's sentencepiece module (the last part only).
    test_train_tokenizer_script.py SCRIPTS_DIR INGOT_PRETOK"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

scripts, pretok = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
script = os.path.join(scripts, "train-tokenizer.sh")
tmp = tempfile.mkdtemp(prefix="ingot-train-tok-")
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    fails += not cond


def leftovers(d, keep=()):
    return sorted(n for n in os.listdir(d) if n not in keep)


def stand_in(name, body):
    """An spm_train stand-in: writes what body says to --model_prefix's files."""
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write('#!/bin/sh\nfor a; do case $a in --model_prefix=*) P=${a#*=} ;; esac; done\n[ -n "$P" ] || exit 0   # --help\n'
                + body)
    os.chmod(p, 0o755)
    return p


try:
    corpus = os.path.join(tmp, "corpus.jsonl")
    T.write_jsonl(corpus, T.documents(7, 300))
    env = dict(os.environ, INGOT_PRETOK=pretok)
    base = ["--vocab", "400", "--sample-mb", "1"]

    # a trainer that dies while writing the model: the earlier model untouched
    out = os.path.join(tmp, "a")
    os.mkdir(out)
    for ext, text in ((".model", "earlier model\n"), (".vocab", "earlier vocab\n")):
        with open(os.path.join(out, "sp" + ext), "w") as f:
            f.write(text)
    half = stand_in("spm-half", 'printf half > "$P.model"\nkill -KILL $$\n')
    p = subprocess.run([script, "--out", os.path.join(out, "sp")] + base + [corpus],
                       env=dict(env, SPM_TRAIN=half), capture_output=True)
    got = [open(os.path.join(out, "sp" + e)).read() for e in (".model", ".vocab")]
    check(p.returncode == 1 and got == ["earlier model\n", "earlier vocab\n"],
          "trainer dies mid-write: exit %d, the earlier model kept: %r" % (p.returncode, got))
    check(leftovers(out, ("sp.model", "sp.vocab")) == [],
          "trainer dies mid-write: nothing else left %s" % leftovers(out))

    # killed while the trainer runs (kill PID): nothing written then, or later
    out = os.path.join(tmp, "b")
    os.mkdir(out)
    slow = stand_in("spm-slow", 'sleep 2\necho m > "$P.model"; echo v > "$P.vocab"\n')
    p = subprocess.Popen([script, "--out", os.path.join(out, "sp")] + base + [corpus],
                         env=dict(env, SPM_TRAIN=slow), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline and not any(".tmp." in n or ".sample." in n
                                              for n in os.listdir(out)):
        time.sleep(0.05)
    time.sleep(0.8)   # the sample written, the trainer started
    p.send_signal(signal.SIGTERM)
    p.wait()
    time.sleep(3)     # past the trainer's end
    check(p.returncode != 0 and leftovers(out) == [],
          "killed: exit %s, nothing beside PREFIX, then or later: %s"
          % (p.returncode, leftovers(out)))

    # names that start with '-'
    dash = os.path.join(tmp, "dash")
    os.mkdir(dash)
    shutil.copy(corpus, os.path.join(dash, "-notes.jsonl"))
    ok = stand_in("spm-ok", 'echo m > "$P.model"; echo v > "$P.vocab"\n')
    p = subprocess.run([script, "--out", "-tok"] + base + ["--", "-notes.jsonl"], cwd=dash,
                       env=dict(env, SPM_TRAIN=ok), capture_output=True)
    check(p.returncode == 0 and sorted(os.listdir(dash)) ==
          ["-notes.jsonl", "-tok.model", "-tok.vocab"],
          "--out -tok, INPUT -notes.jsonl: exit %d, %s %r"
          % (p.returncode, sorted(os.listdir(dash)), p.stderr.decode()[-300:]))

    # the Python trainer, paths with a space: a PATH without spm_train
    if subprocess.run(["/usr/bin/python3", "-c", "import sentencepiece"]).returncode:
        print("skipped: /usr/bin/python3 has no sentencepiece module")
    else:
        bin_ = os.path.join(tmp, "bin")
        os.mkdir(bin_)
        for d in ("/usr/local/bin", "/usr/bin", "/bin"):
            for n in os.listdir(d) if os.path.isdir(d) else []:
                if n != "spm_train" and not os.path.exists(os.path.join(bin_, n)):
                    os.symlink(os.path.join(d, n), os.path.join(bin_, n))
        sp = os.path.join(tmp, "with space")
        os.mkdir(sp)
        shutil.copy(corpus, os.path.join(sp, "in put.jsonl"))
        e = dict(env, PATH=bin_, PYTHON="/usr/bin/python3")
        e.pop("SPM_TRAIN", None)
        p = subprocess.run([script, "--out", os.path.join(sp, "t k")] + base +
                           [os.path.join(sp, "in put.jsonl")], env=e, capture_output=True)
        m = os.path.join(sp, "t k.model")
        check(p.returncode == 0 and os.path.exists(m) and os.path.getsize(m) > 1000,
              "Python trainer, paths with spaces: exit %d %r"
              % (p.returncode, p.stderr.decode()[-300:]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
