#!/usr/bin/env python3
"""ingot-train on a full or failing disk (tests/common/fault_inject.c
preloaded): a checkpoint that cannot be written, synced or renamed; the
run's config.json; a --metrics file and standard output that take nothing
(/dev/full). Each run exits 1 naming the file and the error and what to do
(the checkpoint to --resume from); no checkpoint is half-written under its
name, the earlier ones stay whole, and the resumed run ends with the
weights, optimizer state and metrics of a run that never failed.

    test_train_faults.py INGOT_TRAIN FAULT_INJECT_SO
(FAULT_INJECT_SO empty: a sanitizer build, skipped)"""
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import Tally, run_env  # noqa: E402

TRAIN = sys.argv[1]
SO = sys.argv[2] if len(sys.argv) > 2 else ""
if not SO or not os.path.exists(SO):
    print("no fault-injection preload (a sanitizer build): skipped")
    sys.exit(77)
BASE = [TRAIN, "--synthetic", "--vocab", "64", "--model", "tiny", "--layers", "1", "--dim",
        "32", "--heads", "2", "--seq-len", "16", "--batch", "2", "--steps", "6", "--threads",
        "1", "--val-every", "0", "--quiet", "--ckpt-every", "2"]
tally = Tally()
check, run = tally.check, run_env


def fault(**kv):
    env = {"LD_PRELOAD": SO}
    env.update({"INGOT_FAULT_" + k.upper(): str(v) for k, v in kv.items()})
    return env


def payload(path):
    """A checkpoint's tensors (weights, AdamW m and v): the bytes from
    params_offset to settings_offset (the header and settings carry
    run-specific fields such as the elapsed time and the paths)."""
    data = open(path, "rb").read()
    start, = struct.unpack_from("<Q", data, 184)
    end, = struct.unpack_from("<Q", data, 224)
    return data[start:end]


def losses(path):
    return [(r["step"], r["loss"]) for r in map(json.loads, open(path)) if "loss" in r]


with tempfile.TemporaryDirectory() as tmp:
    def p(*names):
        return os.path.join(tmp, *names)

    rc, err = run(BASE + ["--ckpt-dir", p("clean"), "--metrics", p("clean.jsonl")])
    check(rc == 0, "the clean run: %d %s" % (rc, err))
    clean6 = payload(p("clean", "ckpt-00000006.bin"))

    # (what, dir, preload settings, words the message must hold)
    cases = [
        ("disk full in a checkpoint", "full",
         fault(path="ckpt-00000004", after_bytes=5000),
         ["ckpt-00000004.bin", "No space left on device", "free space",
          "--resume to continue from", "ckpt-00000002.bin",
          # how much room a save needs (before: not said)
          "a checkpoint of this model takes about", "free there now"]),
        ("EIO at a checkpoint's fsync", "fsync",
         fault(path="ckpt-00000004", ops="fsync", errno="EIO"),
         ["ckpt-00000004.bin", "fsync failed: Input/output error", "check the disk",
          "ckpt-00000002.bin"]),
        ("a checkpoint's rename refused", "rename",
         fault(path="ckpt-00000004", ops="rename"),
         ["ckpt-00000004.bin", "cannot rename", "ckpt-00000002.bin"]),
    ]
    for what, d, env, words in cases:
        metrics = p(d + ".jsonl")
        rc, err = run(BASE + ["--ckpt-dir", p(d), "--metrics", metrics], env)
        check(rc == 1 and "fault_inject:" in err, "%s: exit %d: %s" % (what, rc, err))
        for w in words:
            check(w in err, "%s: the message lacks '%s': %s" % (what, w, err))
        left = sorted(os.listdir(p(d)))
        check(left == [".ingot-train.lock", "ckpt-00000002.bin", "config.json"],
              "%s: left %s" % (what, left))
        check(payload(p(d, "ckpt-00000002.bin")) == payload(p("clean", "ckpt-00000002.bin")),
              "%s: the earlier checkpoint changed" % what)
        rc, err = run([TRAIN, "--ckpt-dir", p(d), "--resume", "--threads", "1", "--quiet"])
        check(rc == 0, "%s: the resume: exit %d: %s" % (what, rc, err))
        check(payload(p(d, "ckpt-00000006.bin")) == clean6,
              "%s: the resumed run ends elsewhere than the clean one" % what)
        check(losses(metrics) == losses(p("clean.jsonl")),
              "%s: the metrics after the resume differ from the clean run's" % what)
        print("%s: exit 1, named; ckpt-2 whole; the resume ends as the clean run" % what)

    # kill -9 in the middle of a checkpoint (no handler runs): its hidden temp
    # file stays; then kill -9 in the resume's rewrite of --metrics (cut back
    # to the checkpoint), which has removed the first: FILE.tmp.<pid> stays
    # beside it (for good, before). The next resume removes it, saying so, and
    # ends as the clean run
    km = p("kill.jsonl")
    rc, err = run(BASE + ["--ckpt-dir", p("kill"), "--metrics", km],
                  fault(path="ckpt-00000004", after_bytes=5000, signal=9))
    left = sorted(os.listdir(p("kill")))
    check(rc == -9 and len(left) == 4 and left[0].startswith(".ckpt-00000004.bin.tmp."),
          "kill -9 in a checkpoint: exit %d, left %s" % (rc, left))
    resume = [TRAIN, "--ckpt-dir", p("kill"), "--resume", "--threads", "1", "--metrics", km]
    rc, err = run(resume, fault(path="kill.jsonl.tmp", after_bytes=10, signal=9))
    temps = [f for f in os.listdir(tmp) if f.startswith("kill.jsonl.tmp.")]
    check(rc == -9 and len(temps) == 1, "kill -9 in the metrics rewrite: exit %d, left %s: %s" %
          (rc, temps, err))
    p_ = subprocess.run(resume, capture_output=True, text=True)
    check(p_.returncode == 0 and "metrics: removed 1 stale temp file of a killed run beside %s" % km in p_.stdout and
          not [f for f in os.listdir(p("kill")) if ".tmp." in f] and
          not [f for f in os.listdir(tmp) if ".tmp." in f] and
          payload(p("kill", "ckpt-00000006.bin")) == clean6 and
          losses(km) == losses(p("clean.jsonl")),
          "kill -9 in a checkpoint and in the metrics rewrite, resumed: exit %d: %s" %
          (p_.returncode, p_.stdout + p_.stderr))
    print("kill -9 in a checkpoint, then in the resume's metrics rewrite: no temp file stays, "
          "and the resume ends as the clean run")

    # past the file-size limit (ulimit -f) in a --metrics line: the run
    # stops naming the file and the limit, as on a full disk (SIGXFSZ
    # killed it without a word)
    import resource

    def fsize_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, resource.RLIM_INFINITY))
    args = BASE[:BASE.index("--steps")] + ["--steps", "100", "--metrics", p("fsize.jsonl")]
    p_ = subprocess.run(args,
                        preexec_fn=fsize_limit, capture_output=True, text=True)
    check(p_.returncode == 1 and "--metrics %s: cannot write the record of step" %
          p("fsize.jsonl") in p_.stderr and "File too large" in p_.stderr and
          "file-size limit (ulimit -f, 3.0 kB)" in p_.stderr,
          "--metrics past ulimit -f: exit %d: %s" % (p_.returncode, p_.stderr))
    print("--metrics past ulimit -f: exit 1, named with the limit")

    # the run's config.json (written before the first step): nothing kept
    rc, err = run(BASE + ["--ckpt-dir", p("config")], fault(path="config.json", after_bytes=10))
    check(rc == 1 and "config.json" in err and "No space left on device" in err and
          "no checkpoint was written" in err and "run the same command again" in err,
          "config.json on a full disk: exit %d: %s" % (rc, err))
    check(not os.path.exists(p("config")), "config.json on a full disk: the directory is left")
    print("config.json on a full disk: exit 1, named, nothing left")

    # a --ckpt-dir without room for one checkpoint: said at the start, not
    # only at the first save, which may be hours later (before: nothing)
    rc, err = run(BASE + ["--ckpt-dir", p("nearly-full"), "--stop-after", "1"],
                  {"LD_PRELOAD": SO, "INGOT_FAULT_FREE_BYTES": "4096"})
    check(rc == 0 and "warning: --ckpt-dir %s has 4.1 kB free, and a checkpoint of this model "
          "takes about" % p("nearly-full") in err and "the first save will fail" in err,
          "a nearly full --ckpt-dir: exit %d: %s" % (rc, err))
    rc, err = run(BASE + ["--ckpt-dir", p("roomy"), "--stop-after", "1"])
    check(rc == 0 and "warning" not in err, "room enough: warned: %s" % err)
    print("a --ckpt-dir without room for a checkpoint: warned at the start")

    # --metrics that takes nothing: the run stops at once, saying so
    rc, err = run(BASE + ["--ckpt-dir", p("metrics"), "--metrics", "/dev/full"])
    check(rc == 1 and "--metrics /dev/full: cannot write the record of step 1: No space left "
          "on device" in err and "no checkpoint was written" in err,
          "--metrics /dev/full: exit %d: %s" % (rc, err))
    print("--metrics /dev/full: exit 1, named")

    # progress lines that cannot be written: the run stops at the next step
    # with a checkpoint, as when its reader is gone (SIGPIPE)
    args = [a for a in BASE if a != "--quiet"] + ["--ckpt-dir", p("stdout")]
    with open("/dev/full", "w") as full:
        rc, err = run(args, stdout=full)
    check(rc == 1 and "standard output: cannot write the progress lines: No space left on "
          "device" in err and "stopped after step 1" in err and
          "continue from %s" % p("stdout", "ckpt-00000001.bin") in err,
          "training > /dev/full: exit %d: %s" % (rc, err))
    rc, err = run([TRAIN, "--ckpt-dir", p("stdout"), "--resume", "--threads", "1", "--quiet"])
    check(rc == 0 and payload(p("stdout", "ckpt-00000006.bin")) == clean6,
          "training > /dev/full, resumed: exit %d: %s" % (rc, err))
    print("training > /dev/full: exit 1 after step 1 with a checkpoint; the resume completes")

tally.end()
