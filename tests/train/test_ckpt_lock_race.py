#!/usr/bin/env python3
"""A checkpoint saved by another run between a run's start and its
--ckpt-dir lock (train_loop.c, lock_ckpt_dir): --resume found ckpt-2 at its
start; by the time it holds the lock, ckpt-3 is there. It must stop, naming
both, rather than continue from the older one and later prune the newer.
The run is held before its lock by a preloaded flock (flock_gate.c), so the
window is exact. Control: the same hold without a new checkpoint resumes.

    test_ckpt_lock_race.py INGOT_TRAIN FLOCK_GATE_SO
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import Tally  # noqa: E402

TRAIN, GATE_SO = sys.argv[1], sys.argv[2]
BASE = [TRAIN, "--synthetic", "--vocab", "64", "--model", "tiny", "--layers", "1", "--dim",
        "32", "--heads", "2", "--seq-len", "16", "--batch", "2", "--steps", "4", "--threads",
        "1", "--val-every", "0", "--quiet"]
tally = Tally()
check = tally.check


def held_resume(tmp, name, meanwhile):
    """--resume of a run stopped at step 2, held at its lock while meanwhile(ckpt_dir) runs."""
    d = os.path.join(tmp, name)
    subprocess.run(BASE + ["--stop-after", "2", "--ckpt-dir", d], check=True,
                   stdout=subprocess.DEVNULL)
    gate = os.path.join(tmp, name + ".gate")
    env = dict(os.environ, LD_PRELOAD=GATE_SO, INGOT_TEST_FLOCK_GATE=gate)
    p = subprocess.Popen([TRAIN, "--ckpt-dir", d, "--resume", "--threads", "1"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(3000):   # the run reaches its lock
        if os.path.exists(gate + ".waiting") or p.poll() is not None:
            break
        time.sleep(0.01)
    check(os.path.exists(gate + ".waiting"), "%s: the run never reached its lock" % name)
    meanwhile(d)
    open(gate, "w").close()
    out, err = p.communicate(timeout=60)
    return p.returncode, out + err


with tempfile.TemporaryDirectory() as tmp:
    rc, text = held_resume(tmp, "quiet", lambda d: None)
    check(rc == 0 and "resumed from" in text, "held without a new checkpoint: rc %d: %s" %
          (rc, text))

    def another_save(d):
        shutil.copyfile(os.path.join(d, "ckpt-00000002.bin"), os.path.join(d, "ckpt-00000003.bin"))
    rc, text = held_resume(tmp, "raced", another_save)
    check(rc != 0 and "its newest checkpoint is now" in text and "ckpt-00000003.bin" in text and
          "ckpt-00000002.bin" in text and "another run wrote there meanwhile" in text,
          "a checkpoint saved before the lock: rc %d: %s" % (rc, text))
    check(os.path.exists(os.path.join(tmp, "raced", "ckpt-00000003.bin")),
          "the other run's checkpoint was removed")
    print("lock race: a checkpoint saved between the start and the lock stops the run (rc %d)" % rc)
tally.end()
