#!/usr/bin/env python3
"""One run per --metrics file (train/metrics.c, FILE.lock). A second run
naming the file of a live run (a branch resumed from a copied --ckpt-dir,
whose checkpoint names it, or a new run given the same --metrics) cut the
file back, moving the live run's records to FILE.dropped, and renamed its
own copy over it while the live run went on writing to the unlinked old
file: the live run's later records were lost, and both exited 0. Now the
second run is refused naming the holder, the live run's file keeps every
step, the lock goes with the run, a killed run's lock holds nobody back,
and /dev/null is shared.

    test_metrics_lock.py INGOT_TRAIN
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import Tally  # noqa: E402

TRAIN = sys.argv[1]
BASE = [TRAIN, "--synthetic", "--vocab", "64", "--model", "tiny", "--layers", "1", "--dim",
        "32", "--heads", "2", "--seq-len", "16", "--batch", "2", "--threads", "1",
        "--val-every", "0", "--quiet"]
tally = Tally()
check = tally.check


def wait_for(paths, p, what):
    """Until every path exists (the live run p got that far); False if p ended or 60 s went."""
    for _ in range(6000):
        if all(os.path.exists(x) for x in paths):
            return True
        if p.poll() is not None:
            break
        time.sleep(0.01)
    check(False, "%s: never got there (exit %s)" % (what, p.poll()))
    return False


def run(args):
    q = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    return q.returncode, q.stdout + q.stderr


def steps(path):
    with open(path) as f:
        return [json.loads(line)["step"] for line in f if line.strip()]


def live_run(tmp, name, metrics):
    """A long run writing metrics, saving every 5 steps into tmp/name."""
    d = os.path.join(tmp, name)
    p = subprocess.Popen(BASE + ["--steps", "1000000", "--ckpt-dir", d, "--ckpt-every", "5",
                                 "--metrics", metrics], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p, d


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    return p.returncode, out + err


with tempfile.TemporaryDirectory() as tmp:
    live = os.path.join(tmp, "live.jsonl")
    lock = live + ".lock"
    a, la = live_run(tmp, "la", live)
    if wait_for([os.path.join(la, "ckpt-00000005.bin")], a, "the live run"):
        holder = "pid %d on " % a.pid
        check(os.path.exists(lock), "no live.jsonl.lock while the run writes")
        # a branch from a copy of its --ckpt-dir: its checkpoint names live.jsonl
        lb = os.path.join(tmp, "lb")
        os.mkdir(lb)
        for f in ("config.json", "ckpt-00000005.bin"):
            shutil.copyfile(os.path.join(la, f), os.path.join(lb, f))
        rc, text = run([TRAIN, "--ckpt-dir", lb, "--resume", "--steps", "12", "--warmup", "1",
                        "--threads", "1"])
        check(rc != 0 and "--metrics " in text and "another ingot-train (" + holder in text and
              "is writing its records to this file" in text,
              "a resume naming a live run's metrics: exit %d: %s" % (rc, text))
        # a new run given the same --metrics
        rc, text = run(BASE + ["--steps", "3", "--metrics", live])
        check(rc != 0 and "another ingot-train (" + holder in text,
              "a new run on a live run's metrics: exit %d: %s" % (rc, text))
        check(not os.path.exists(live + ".dropped"),
              "the live run's records were moved to live.jsonl.dropped")
        check(a.poll() is None, "the live run ended early")
        time.sleep(0.3)   # the live run writes on
    rc, text = stop(a)
    got = steps(live)
    check(rc == 143 and len(got) > 5 and got == list(range(1, len(got) + 1)),
          "the live run's file: exit %d, steps %s...%s: %s" % (rc, got[:3], got[-3:], text))
    check(not os.path.exists(lock), "the lock file stays after the run")
    print("a second run on a live run's --metrics: refused, naming it; the file keeps steps "
          "1..%d" % len(got))

    # once it ended, the file is free again (its records go to .dropped, as before)
    rc, text = run(BASE + ["--steps", "3", "--metrics", live])
    check(rc == 0 and steps(live) == [1, 2, 3], "a new run after the live one: exit %d: %s" %
          (rc, text))

    # a run killed outright leaves its lock file, which holds nobody back
    k, kd = live_run(tmp, "lk", live)
    wait_for([os.path.join(kd, "ckpt-00000005.bin")], k, "the run to kill")
    k.kill()
    k.communicate(timeout=60)
    check(os.path.exists(lock), "no lock file left by the killed run (the case is not made)")
    rc, text = run(BASE + ["--steps", "3", "--metrics", live])
    check(rc == 0 and not os.path.exists(lock), "after a killed run's lock: exit %d: %s" %
          (rc, text))

    # /dev/null is no file of records: any number of runs write there
    n, nd = live_run(tmp, "ln", "/dev/null")
    if wait_for([os.path.join(nd, "ckpt-00000005.bin")], n, "the /dev/null run"):
        rc, text = run(BASE + ["--steps", "3", "--metrics", "/dev/null"])
        check(rc == 0, "a second run on /dev/null: exit %d: %s" % (rc, text))
    stop(n)
    print("the lock goes with its run (ended or killed); /dev/null is shared")
tally.end()
