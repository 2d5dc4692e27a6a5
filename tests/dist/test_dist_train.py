#!/usr/bin/env python3
"""ingot-train data-parallel on the CPU back end, with real processes.

    test_dist_train.py INGOT_TRAIN DIST_MIX_DATA mpi|tcp [MPIRUN]

DIST_MIX_DATA: the program that writes the two datasets of the mixture case
(dist_mix_data.c).

mpi: ranks started by mpirun (Open MPI; --allow-run-as-root --oversubscribe
for CI on 2 cores as root); skipped (77) without mpirun.
tcp: ranks started here with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT, the
way torchrun or a shell loop starts them.

Checks: 2 and 3 ranks give the losses and gradient norms of one process on
the same global batch (fp32 summation tolerance); only rank 0 prints and
writes metrics; resume 2 -> 1 and 1 -> 2 continue the same run, saying that
the checkpoint's world size differs; refused
shapes say the arithmetic. --zero 1 (sharded AdamW state) at 1, 2 and 3
ranks gives the losses of --zero 0, resumes 2 -> 1 and 1 -> 2 (the
checkpoint's whole m and v are gathered from the shards), and reports less
memory; --grad-reduce bf16 stays close to fp32 without equalling it. tcp also: a stop signal to one rank stops every
rank after the same step with a checkpoint, the signalled rank saying so and the
others naming it (and Ctrl-C to the process group: each rank signalled; rank 0's
output lost: rank 1 names it, exit 1); a configuration mismatch names
the rank (also different starting weights: --init-from on one rank); SIGINT at the
rendezvous ends a rank at once; a rank that leaves the rendezvous after its hello
(a signal, kill -9) is named at once by rank 0, and a signalled rank 0 by the
others; a rank killed mid-run makes the survivor fail fast;
a rank frozen while rank 0 samples makes rank 0 fail naming it; the
third of 3 ranks killed or frozen is named by both others (rank 1 named rank 0); a rank whose host
name holds an escape sequence and U+202E (a UTS namespace of its own, where
allowed) is named with '?' in their place, in its own messages and rank 0's stop
line, and none of those bytes is printed. --arch llama:
2 ranks (--zero 0 and 1) equal one process, and resume 2 -> 1. A mixture
(--data web:3 --data code): 2 ranks give one process's losses and its val
loss by source (every rank evaluates the whole val set; rank 0 reports).
"""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
TRAIN = os.path.abspath(sys.argv[1])
MIX_DATA = os.path.abspath(sys.argv[2])
MODE = sys.argv[3]
MPIRUN = sys.argv[4] if len(sys.argv) > 4 else shutil.which("mpirun")
# 6 micro-steps of 2 x 16 tokens: divides among 1, 2 and 3 ranks
BASE = ["--device", "cpu", "--synthetic", "--vocab", "256", "--layers", "2", "--heads", "2",
        "--dim", "32", "--seq-len", "16", "--batch", "2", "--batch-tokens", "192",
        "--steps", "8", "--lr", "1e-2", "--warmup", "1", "--threads", "1", "--val-every", "0",
        "--print-every", "1"]
TMP = tempfile.mkdtemp(prefix="dist_train_")
HOST = socket.gethostname()[:63]   # what the ranks name each other by
ENV = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_tcp(n, args, per_rank=None, timeout="20", ranks=None, port=None, group=False,
              setup=None):
    """Start n ranks as torchrun would (plain env vars); returns the Popens.
    ranks: which of the n to start (all); group: in a process group of their own,
    led by the first (a terminal's job: Ctrl-C reaches every rank); setup(r): a
    function the rank's process runs before ingot-train starts, or None."""
    port = port or str(free_port())
    procs = []
    for r in ranks if ranks is not None else range(n):
        env = dict(ENV, RANK=str(r), WORLD_SIZE=str(n), LOCAL_RANK=str(r),
                   LOCAL_WORLD_SIZE=str(n), MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        extra = per_rank(r) if per_rank else []
        pre = setup(r) if setup else None
        if group:
            pg = procs[0].pid if procs else 0
            pre = (lambda pg=pg: os.setpgid(0, pg))
        procs.append(subprocess.Popen([TRAIN] + args + extra + ["--dist-timeout", timeout],
                                      env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, preexec_fn=pre))
    return procs


def past_step_3(proc, what):
    """Read proc's (rank 0's) stdout until it prints step 3 (--print-every 1), for at
    most 60 s between lines; fail naming what if it ends first."""
    deadline, seen = time.time() + 60, ""
    while time.time() < deadline:
        line = proc.stdout.readline()
        seen += line
        if not line:
            fail("%s: rank 0 ended before step 3:\n%s%s" % (what, seen, proc.communicate()[1]))
        if "step      3/" in line:
            return
    fail("%s: rank 0 printed no step 3 in 60 s:\n%s" % (what, seen))


def run(n, args, expect_rc=0):
    """Run n ranks (n == 1: one plain process); returns (rc, stdout, stderr)."""
    if n == 1:
        p = subprocess.run([TRAIN] + args, env=ENV, capture_output=True, text=True, timeout=120)
        rc, out, err = p.returncode, p.stdout, p.stderr
    elif MODE == "mpi":
        p = subprocess.run([MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", str(n),
                            TRAIN] + args + ["--dist", "mpi"], env=ENV, capture_output=True,
                           text=True, timeout=120)
        rc, out, err = p.returncode, p.stdout, p.stderr
    else:
        procs = spawn_tcp(n, args)
        outs = [p.communicate(timeout=120) for p in procs]
        rcs = [p.returncode for p in procs]
        rc = max(rcs, key=abs)
        out, err = "".join(o for o, _ in outs), "".join(e for _, e in outs)
    if (expect_rc == 0) != (rc == 0):
        fail("%d ranks %s: exit %d\nstdout:\n%s\nstderr:\n%s" % (n, " ".join(args), rc, out, err))
    return rc, out, err


def metrics(path):
    rows = [json.loads(l) for l in open(path)]
    steps = [r["step"] for r in rows if "loss" in r]
    if len(steps) != len(set(steps)):
        fail("%s: a step logged twice (did a rank other than 0 write?): %s" % (path, steps))
    return {r["step"]: r for r in rows if "loss" in r}


def close(a, b, what):
    for s in sorted(b):
        for k in ("loss", "grad_norm"):
            x, y = a[s][k], b[s][k]
            if abs(x - y) > 2e-5 * max(1.0, abs(x)):
                fail("%s: step %d %s %.7f vs %.7f" % (what, s, k, x, y))


def parity():
    ref = os.path.join(TMP, "w1.jsonl")
    run(1, BASE + ["--metrics", ref])
    m1 = metrics(ref)
    if sorted(m1) != list(range(1, 9)):
        fail("one process logged steps %s" % sorted(m1))
    for n in (2, 3):
        path = os.path.join(TMP, "w%d.jsonl" % n)
        _, out, _ = run(n, BASE + ["--metrics", path])
        mn = metrics(path)
        if sorted(mn) != sorted(m1):
            fail("%d ranks logged steps %s" % (n, sorted(mn)))
        close(m1, mn, "%d ranks vs 1" % n)
        # rank 0 alone prints: each step line once, and the world once
        for s in range(1, 9):
            if out.count("step %6d/8 |" % s) != 1:
                fail("%d ranks: step %d printed %d times:\n%s" % (n, s, out.count(
                    "step %6d/8 |" % s), out))
        if out.count("data parallel: %d ranks" % n) != 1:
            fail("%d ranks: no single 'data parallel' line:\n%s" % (n, out))
        print("parity: %d ranks = 1 process over 8 steps (max |dloss| %.2g)" % (n, max(
            abs(m1[s]["loss"] - mn[s]["loss"]) for s in m1)))
    return m1


def resume(m1):
    for a, b in ((2, 1), (1, 2)):
        ck = os.path.join(TMP, "ck%d%d" % (a, b))
        run(a, BASE + ["--ckpt-dir", ck, "--stop-after", "4"])
        if not os.listdir(ck):
            fail("no checkpoint written by %d ranks" % a)
        path = os.path.join(TMP, "r%d%d.jsonl" % (a, b))
        _, out, _ = run(b, BASE + ["--ckpt-dir", ck, "--resume", "--metrics", path])
        mr = metrics(path)
        if sorted(mr) != [5, 6, 7, 8]:
            fail("resume %d -> %d logged steps %s\n%s" % (a, b, sorted(mr), out))
        close(m1, mr, "resume %d -> %d" % (a, b))
        # the checkpoint records its world size: the resume says it changed, once
        want = {(2, 1): "note: resuming a checkpoint written by 2 ranks with 1: this process "
                        "now takes all 6 micro-steps of a step (each of the 2 ranks took 3)",
                (1, 2): "note: resuming a checkpoint written by 1 rank with 2: each rank now "
                        "takes 3 of a step's 6 micro-steps (one process took them all)"}[a, b]
        if out.count(want) != 1 or out.count("resuming a checkpoint written by") != 1:
            fail("resume %d -> %d: want '%s' once in:\n%s" % (a, b, want, out))
        print("resume %d -> %d ranks continues the 1-process run, and says so" % (a, b))


def zero(m1):
    z = BASE + ["--zero", "1"]
    for n in (1, 2, 3):
        path = os.path.join(TMP, "z%d.jsonl" % n)
        run(n, z + ["--metrics", path])
        mz = metrics(path)
        if sorted(mz) != sorted(m1):
            fail("--zero 1, %d ranks logged steps %s" % (n, sorted(mz)))
        close(m1, mz, "--zero 1 at %d ranks vs --zero 0 at 1" % n)
        print("zero: --zero 1 at %d ranks = --zero 0 at 1 over 8 steps (max |dloss| %.2g)" % (
            n, max(abs(m1[s]["loss"] - mz[s]["loss"]) for s in m1)))
    for a, b in ((2, 1), (1, 2), (3, 2)):
        ck = os.path.join(TMP, "zck%d%d" % (a, b))
        run(a, z + ["--ckpt-dir", ck, "--stop-after", "4"])
        path = os.path.join(TMP, "zr%d%d.jsonl" % (a, b))
        _, out, _ = run(b, z + ["--ckpt-dir", ck, "--resume", "--metrics", path])
        mr = metrics(path)
        if sorted(mr) != [5, 6, 7, 8]:
            fail("--zero 1 resume %d -> %d logged steps %s\n%s" % (a, b, sorted(mr), out))
        close(m1, mr, "--zero 1 resume %d -> %d" % (a, b))
        said = "resuming a checkpoint written by %d rank%s with %d" % (a, "s" * (a > 1), b)
        if out.count(said) != 1:
            fail("--zero 1 resume %d -> %d: want '%s' once in:\n%s" % (a, b, said, out))
        print("zero: resume %d -> %d ranks with --zero 1 continues the 1-process run" % (a, b))
    # memory: a model whose m and v are megabytes; one step
    big = [x if x != "32" else "256" for x in BASE]
    big = [x if x != "8" else "1" for x in big]
    mib = {}
    for zz in ("0", "1"):
        _, out, _ = run(2, big + ["--zero", zz])
        line = [l for l in out.splitlines() if l.startswith("ingot-train: device")]
        if len(line) != 1:
            fail("--zero %s: no single header line:\n%s" % (zz, out))
        mib[zz] = float(line[0].rsplit(",", 1)[1].split()[0])
    if not mib["1"] < mib["0"]:
        fail("--zero 1 at 2 ranks reports %g MiB, --zero 0 %g MiB: not smaller" % (
            mib["1"], mib["0"]))
    print("zero: 2 ranks hold %g MiB each with --zero 1, %g MiB with --zero 0" % (
        mib["1"], mib["0"]))


def grad_reduce_bf16(m1):
    path = os.path.join(TMP, "bf.jsonl")
    run(2, BASE + ["--grad-reduce", "bf16", "--zero", "1", "--metrics", path])
    mb = metrics(path)
    d = max(abs(m1[s]["loss"] - mb[s]["loss"]) for s in m1)
    g = max(abs(m1[s]["grad_norm"] - mb[s]["grad_norm"]) for s in m1)
    if d > 1e-2 or g == 0.0:
        fail("--grad-reduce bf16: max |dloss| %g, max |dnorm| %g against fp32 (want < 1e-2, "
             "and not equal: the reduce is lossy)" % (d, g))
    print("grad-reduce bf16 at 2 ranks: max |dloss| %.2g, |dnorm| %.2g against fp32" % (d, g))


def default_batch():
    """Without --batch-tokens the global batch is one micro-step per rank: 2 ranks
    train the 1-process run of two micro-steps (they were refused: one micro-step
    does not divide among 2 ranks)."""
    no_bt = [x for i, x in enumerate(BASE) if x != "--batch-tokens" and
             (i == 0 or BASE[i - 1] != "--batch-tokens")]
    ref = os.path.join(TMP, "db1.jsonl")
    run(1, no_bt + ["--batch-tokens", "64", "--metrics", ref])
    path = os.path.join(TMP, "db2.jsonl")
    _, out, _ = run(2, no_bt + ["--metrics", path])
    m1, m2 = metrics(ref), metrics(path)
    if sorted(m2) != sorted(m1) or "64 tokens" not in out.replace(",", ""):
        fail("default --batch-tokens on 2 ranks: steps %s\n%s" % (sorted(m2), out))
    close(m1, m2, "default --batch-tokens, 2 ranks vs 1 process of 2 micro-steps")
    print("default --batch-tokens: 2 ranks = 1 process of 2 micro-steps (64 tokens a step)")


def refuse_shape():
    # 3 micro-steps do not divide among 2 ranks
    args = [x if x != "192" else "96" for x in BASE]
    _, out, err = run(2, args, expect_rc=1)
    want = "3 micro-steps, which do not divide among 2 ranks: use --batch 1 (the same 96 " \
           "tokens per step), or a multiple of batch x seq-len x ranks = 64 (e.g. " \
           "--batch-tokens 64 or 128)"
    if want not in err:
        fail("shape refusal: want '%s' in:\n%s" % (want, err))
    # met before the rendezvous, on every rank: each line says which rank (tcp: the
    # launcher's variables; under mpirun too)
    if MODE == "tcp" and not all("ingot-train (rank %d of 2 on " % r in err for r in (0, 1)):
        fail("shape refusal: the ranks' lines do not name their rank:\n%s" % err)
    print("refused: 3 micro-steps over 2 ranks, with the arithmetic, each rank named")
    # a checkpoint's 64 tokens (4 sequences) resumed on 3 ranks: no --batch splits
    # them (it said "or another --batch"); the numbers of ranks that do are named
    ck = os.path.join(TMP, "ck-shape")
    run(1, [x if x != "192" else "64" for x in BASE] + ["--ckpt-dir", ck, "--steps", "1"])
    _, _, err = run(3, ["--threads", "1", "--ckpt-dir", ck, "--resume", "--steps", "2"],
                    expect_rc=1)
    want = "(e.g. --batch-tokens 96 or 192: another global batch than the checkpoint's), or " \
           "run on 2 or 4 ranks: no --batch splits its 4 sequences of --seq-len 16 among 3 ranks"
    if want not in err or "another --batch" in err:
        fail("a checkpoint's global batch over 3 ranks: want '%s' in:\n%s" % (want, err))
    print("refused: a checkpoint's 4 sequences a step over 3 ranks names 2 or 4 ranks")


def stop_collective(extra=()):
    """SIGUSR1 to rank 1 alone: both ranks stop after the same step, and both
    exit 128 + SIGUSR1 (138): rank 0, never signalled, exits as the rank that
    stopped it (every rank exited 130 whatever the signal). With --zero 1,
    rank 1 leaves its loop before rank 0's checkpoint gathers the shards: it
    serves the gather on its way out."""
    ck = os.path.join(TMP, "ckstop" + "".join(extra))
    args = [x if x != "8" else "100000" for x in BASE] + ["--ckpt-dir", ck, "--print-every",
                                                         "1"] + list(extra)
    procs = spawn_tcp(2, args)
    past_step_3(procs[0], "stop vote")
    procs[1].send_signal(signal.SIGUSR1)
    outs = [p.communicate(timeout=60) for p in procs]
    rcs = [p.returncode for p in procs]
    if rcs != [128 + signal.SIGUSR1] * 2:
        fail("collective stop: exit codes %s, want 128 + SIGUSR1 on both\n%s" % (rcs, outs))
    # rank 1 says it was signalled; rank 0, never signalled, names rank 1 and its
    # host (both said "interrupted after step N", as if each had been)
    stops = []
    for r, said in ((0, "stopped after step "), (1, "interrupted after step ")):
        err = outs[r][1]
        if said not in err:
            fail("collective stop: rank %d has no '%s': %s" % (r, said, err))
        stops.append(err.split(said)[1].split()[0].rstrip(":"))
    want = ["stopped after step %s: rank 1 (%s) was interrupted by SIGUSR1, and this rank stops "
            "with it; checkpoint written" % (stops[0], HOST),
            "interrupted after step %s by SIGUSR1 to this rank, and the other ranks stopped "
            "with it; checkpoint written" % stops[1]]
    for r in (0, 1):
        if want[r] not in outs[r][1] or (r == 0 and "interrupted" in outs[0][1].replace(
                "was interrupted by", "")):
            fail("collective stop: rank %d: want '%s' in:\n%s" % (r, want[r], outs[r][1]))
    if stops[0] != stops[1]:
        fail("ranks stopped after different steps: %s" % stops)
    names = os.listdir(ck)
    if not any(stops[0] in n for n in names):
        fail("no checkpoint of step %s in %s" % (stops[0], names))
    if extra:   # the gathered checkpoint loads and continues
        run(1, BASE + ["--ckpt-dir", ck, "--resume", "--steps", str(int(stops[0]) + 1)] +
            list(extra))
    print("collective stop%s: SIGUSR1 to rank 1, both ranks stopped after step %s, rank 0 "
          "wrote the checkpoint" % (" " + " ".join(extra) if extra else "", stops[0]))


def stale_temps_rank0():
    """A save killed half-way left temp files in the shared --ckpt-dir: rank 0 (it
    saves) removes them and says so; rank 1, started first, leaves them (whichever
    rank came first removed them, and a rank other than 0 printed the note)."""
    ck = os.path.join(TMP, "ck-stale")
    os.makedirs(ck)
    gone = subprocess.Popen(["true"])
    gone.wait()
    for step in (2, 4):
        open(os.path.join(ck, ".ckpt-%08d.bin.tmp.%d" % (step, gone.pid)), "w").close()
    port = str(free_port())
    args = BASE + ["--ckpt-dir", ck, "--steps", "1"]
    procs = spawn_tcp(2, args, ranks=(1,), port=port)
    time.sleep(1.0)   # rank 1 has prepared the directory and waits for rank 0
    # rank 1 alone so far: the files must still be there (checked here, not only at the
    # end, where rank 0 would have removed them whoever came first)
    if sorted(n for n in os.listdir(ck) if ".tmp." in n) != sorted(
            ".ckpt-%08d.bin.tmp.%d" % (s, gone.pid) for s in (2, 4)):
        fail("stale temp files: rank 1 touched them before rank 0 started: %s" % os.listdir(ck))
    procs += spawn_tcp(2, args, ranks=(0,), port=port)
    outs = [p.communicate(timeout=60) for p in procs]   # rank 1, rank 0
    said = "removed 2 stale temp files of killed saves in %s" % ck
    if [p.returncode for p in procs] != [0, 0] or said not in outs[1][0] or \
            "removed" in outs[0][0] or any(".tmp." in n for n in os.listdir(ck)):
        fail("stale temp files: rank 0 should remove them and say '%s'; rank 1 said:\n%s\n"
             "rank 0 said:\n%s\nleft: %s" % (said, outs[0][0], outs[1][0], os.listdir(ck)))
    print("stale temp files of a killed save: rank 0 removes them and says so, rank 1 not")


def own_ckpt_dir_resume():
    """`--ckpt-dir D --resume` alone, rank 1 given a directory of its own, which
    rank 0 never writes: rank 1 says it holds nothing to resume from and that it
    needs rank 0's directory (it said "no data: pass --data DIR")."""
    ck0, ck1 = os.path.join(TMP, "ck-own0"), os.path.join(TMP, "ck-own1")
    run(1, BASE + ["--ckpt-dir", ck0, "--steps", "1"])
    procs = spawn_tcp(2, ["--threads", "1", "--resume", "--steps", "2"],
                      per_rank=lambda r: ["--ckpt-dir", ck1 if r else ck0])
    _, err = procs[1].communicate(timeout=60)
    procs[0].kill()
    procs[0].communicate()
    said = "--resume: --ckpt-dir %s holds no checkpoint and no config.json to take the " \
           "run's settings from" % ck1
    if procs[1].returncode != 2 or said not in err or "rank 0's --ckpt-dir" not in err:
        fail("rank 1 with a --ckpt-dir of its own: exit %d, want '%s':\n%s" % (
            procs[1].returncode, said, err))
    print("rank 1 resumed from an empty --ckpt-dir of its own: told to use rank 0's")


def time_limit():
    """--time-limit on every rank, then on rank 1 alone: both ranks stop after the same
    step with exit 0 (one vote carries it, apart from a signal's stop) and rank 0 writes
    the checkpoint of that step."""
    for case, per_rank in (("all", lambda r: ["--time-limit", "2s"]),
                           ("rank 1", lambda r: ["--time-limit", "2s"] if r == 1 else [])):
        ck = os.path.join(TMP, "cktime-" + case.replace(" ", ""))
        args = [x if x != "8" else "1000000" for x in BASE] + ["--ckpt-dir", ck,
                                                              "--print-every", "1000"]
        procs = spawn_tcp(2, args, per_rank)
        outs = [p.communicate(timeout=90) for p in procs]
        rcs = [p.returncode for p in procs]
        if rcs != [0, 0]:
            fail("time limit (%s): exit codes %s\n%s" % (case, rcs, outs))
        out0 = outs[0][0]
        # with limits on every rank, either may reach its own first
        want = ("--time-limit",) if case == "all" else ("another rank's --time-limit",)
        if "stopped after step" not in out0 or not all(w in out0 for w in want):
            fail("time limit (%s): rank 0 says %r" % (case, out0[-600:]))
        step = out0.split("stopped after step ")[1].split()[0]
        if not os.path.exists(os.path.join(ck, "ckpt-%08d.bin" % int(step))):
            fail("time limit (%s): no checkpoint of step %s in %s" % (case, step,
                                                                     os.listdir(ck)))
        print("time limit (%s): both ranks stopped after step %s, exit 0, checkpoint written"
              % (case, step))


def mismatch():
    procs = spawn_tcp(2, BASE, per_rank=lambda r: ["--batch", "1"] if r == 1 else [])
    outs = [p.communicate(timeout=60) for p in procs]
    for (_, err), p in zip(outs, procs):
        if p.returncode == 0 or "rank 1" not in err or "'batch=1', rank 0 has 'batch=2'" not in err:
            fail("mismatch: exit %d, stderr:\n%s" % (p.returncode, err))
    print("mismatch: --batch 1 on rank 1 is named on both ranks")
    # the steps where the ranks wait for rank 0's local work must agree: a rank
    # without the sample timed out in its next collective while rank 0 sampled
    for extra, said in ((["--sample-every", "3"], "'sample-every=3', rank 0 has 'sample-every=0'"),
                        (["--stop-after", "4"], "'end=4', rank 0 has 'end=8'"),
                        (["--ckpt-dir", os.path.join(TMP, "mm")],
                         "'ckpt-dir=given', rank 0 has 'ckpt-dir=none'"),
                        # one word per flag, named as the flag
                        (["--min-lr", "1e-5"], "'min-lr=1e-05', rank 0 has 'min-lr=0.001'")):
        procs = spawn_tcp(2, BASE, per_rank=lambda r: extra if r == 1 else [])
        outs = [p.communicate(timeout=60) for p in procs]
        for (_, err), p in zip(outs, procs):
            if p.returncode == 0 or said not in err:
                fail("mismatch %s: exit %d, stderr:\n%s" % (extra, p.returncode, err))
    print("mismatch: --sample-every, --stop-after or --ckpt-dir on rank 1 only is named on both "
          "ranks")
    # the same schedule in other words is no mismatch: --stop-after at --steps; nor
    # --precision fp32 on the CPU, which computes in fp32 without it
    for extra in (["--stop-after", "8"], ["--precision", "fp32"]):
        procs = spawn_tcp(2, BASE, per_rank=lambda r: extra if r == 1 else [])
        outs = [p.communicate(timeout=60) for p in procs]
        if any(p.returncode for p in procs):
            fail("%s on rank 1 only: %s" % (" ".join(extra), outs[1][1]))


def weights_mismatch():
    """--init-from on rank 1 only: the ranks would train different copies
    (each rank loads its own), so the rendezvous compares the weights'
    identity and names it."""
    ck = os.path.join(TMP, "wm")
    run(1, BASE + ["--ckpt-dir", ck, "--steps", "2"])
    init = ["--init-from", os.path.join(ck, "ckpt-00000002.bin")]
    procs = spawn_tcp(2, BASE, per_rank=lambda r: init if r == 1 else [])
    outs = [p.communicate(timeout=60) for p in procs]
    for (_, err), p in zip(outs, procs):
        if p.returncode == 0 or "rank 1" not in err or "weights=" not in err or \
                "rank 0 has 'weights=new'" not in err:
            fail("weights mismatch: exit %d, stderr:\n%s" % (p.returncode, err))
    procs = spawn_tcp(2, BASE + init)   # the same on both: trains
    outs = [p.communicate(timeout=60) for p in procs]
    if any(p.returncode for p in procs):
        fail("--init-from on both ranks: exit %s, %s" % ([p.returncode for p in procs],
                                                        outs[0][1]))
    print("weights: --init-from on rank 1 only is refused on both ranks; on both it trains")


def interrupt_rendezvous():
    """SIGINT to a rank still at the rendezvous (rank 0 waiting for rank 1,
    or rank 1 for an absent rank 0) ends it at once with 130 (128 + SIGINT),
    SIGTERM with 143; it used to wait out --dist-timeout (20 s here, 600 by
    default)."""
    port = str(free_port())
    for r, sig in ((0, signal.SIGINT), (1, signal.SIGINT), (0, signal.SIGTERM),
                   (1, signal.SIGTERM)):
        env = dict(ENV, RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        p = subprocess.Popen([TRAIN] + BASE + ["--dist-timeout", "20"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        t0 = time.time()
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        dt = time.time() - t0
        if p.returncode != 128 + sig or dt > 3.0 or "stopped by a signal" not in err:
            fail("%s at the rendezvous (rank %d): exit %d after %.1f s, want %d: %s" %
                 (sig.name, r, p.returncode, dt, 128 + sig, err))
    print("SIGINT and SIGTERM at the rendezvous: rank 0 and rank 1 exit 130 and 143 within a "
          "second or two")


def ctrl_c_training():
    """SIGINT to the ranks' process group (Ctrl-C in their terminal): every rank was
    signalled, and each says so of itself, exit 130 (128 + SIGINT)."""
    args = [x if x != "8" else "100000" for x in BASE]
    procs = spawn_tcp(2, args, group=True)
    try:
        while "step      2/" not in procs[0].stdout.readline():
            if procs[0].poll() is not None:
                fail("Ctrl-C: rank 0 ended before step 2: %s" % (procs[0].communicate(),))
        os.killpg(procs[0].pid, signal.SIGINT)
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, outs):
        if p.returncode != 130 or "by SIGINT to this rank (all 2 ranks were signalled)" not in err:
            fail("Ctrl-C to both ranks: exit %d: %s" % (p.returncode, err))
    print("Ctrl-C to both ranks: each says it was signalled, exit 130")


def output_lost_rank0():
    """Rank 0's progress lines cannot be written (stdout on a full disk): it stops
    with exit 1, as one process does, and rank 1 names it, exit 1 (it said
    "interrupted after step 1" and exited 130, though no rank was signalled)."""
    port = str(free_port())
    procs = []
    for r in (0, 1):
        env = dict(ENV, RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        with open("/dev/full", "w") as full:
            procs.append(subprocess.Popen(
                [TRAIN] + BASE + ["--dist-timeout", "20"], env=env, stderr=subprocess.PIPE,
                stdout=full if r == 0 else subprocess.DEVNULL, text=True))
    errs = [p.communicate(timeout=60)[1] for p in procs]
    said = "stopped after step 1: rank 0 (%s) could not write its progress lines (standard " \
           "output), and this rank stops with it" % HOST
    if [p.returncode for p in procs] != [1, 1] or said not in errs[1] or \
            "cannot write the progress lines" not in errs[0]:
        fail("rank 0's output lost: exits %s, want 1 and 1 with '%s':\n%s\n%s" % (
            [p.returncode for p in procs], said, errs[0], errs[1]))
    print("rank 0's output lost: both exit 1, rank 1 names rank 0")


def wait_connected(port, n, limit=30.0):
    """Until rank 0 holds n accepted connections on port (its rendezvous), as
    /proc/net/tcp says; a second at most where there is none."""
    end = time.time() + limit
    while time.time() < end:
        try:
            rows = [l.split() for l in open("/proc/net/tcp").read().splitlines()[1:]]
        except OSError:
            time.sleep(1.0)
            return
        # local port (hex) is rank 0's; state 01: established
        if sum(1 for c in rows if int(c[1].split(":")[1], 16) == int(port) and c[3] == "01") >= n:
            time.sleep(0.3)   # its hello read
            return
        time.sleep(0.05)
    fail("rendezvous: %d ranks did not connect to port %s within %g s" % (n, port, limit))


def leave_rendezvous():
    """A rank that connected, then left before the rendezvous completed (world 3,
    rank 2 never comes): rank 0 counted it as present and waited for --dist-timeout
    (20 s); now it fails at once naming it -- exit 128 + N when signal N stopped it
    (collective stop: 143 on every rank present for SIGTERM; rank 0 exited 130), 1
    when it died. A signalled rank 0: rank 1 names it (it said "stopped by a signal"
    as if it had been signalled), and exits 143 as rank 0 does."""
    for how in ("SIGTERM", "kill -9"):
        port = str(free_port())
        procs = spawn_tcp(3, BASE, ranks=(0, 1), port=port)
        wait_connected(port, 1)
        t0 = time.time()
        if how == "kill -9":
            procs[1].kill()
        else:
            procs[1].send_signal(signal.SIGTERM)
        outs = [p.communicate(timeout=60) for p in procs]
        dt = time.time() - t0
        said = "rendezvous: rank 1 (%s) %s before the rendezvous completed" % (
            HOST, "was stopped by a signal (SIGTERM)" if how == "SIGTERM" else "left")
        want_rc = 128 + signal.SIGTERM if how == "SIGTERM" else 1
        if procs[0].returncode != want_rc or said not in outs[0][1] or dt > 5.0:
            fail("rendezvous, %s to rank 1: rank 0 exit %d after %.1f s, want %d and '%s':\n%s"
                 % (how, procs[0].returncode, dt, want_rc, said, outs[0][1]))
        if how == "SIGTERM" and (procs[1].returncode != 143 or "rank 1 stopped by a signal "
                                 "(SIGTERM) while waiting for rank 0's verdict" not in outs[1][1]):
            fail("rendezvous, SIGTERM to rank 1: rank 1 exit %d: %s" % (procs[1].returncode,
                                                                        outs[1][1]))
        print("rendezvous, %s to rank 1: rank 0 exits %d after %.1f s naming it" % (
            how, procs[0].returncode, dt))
    port = str(free_port())
    procs = spawn_tcp(3, BASE, ranks=(0, 1), port=port)
    wait_connected(port, 1)
    procs[0].send_signal(signal.SIGTERM)
    outs = [p.communicate(timeout=60) for p in procs]
    said = "rank 1 (%s): rendezvous: rank 0 (%s) was stopped by a signal (SIGTERM) while " \
           "waiting for the ranks (2 of 3 present); this rank stops with it" % (HOST, HOST)
    if [p.returncode for p in procs] != [143, 143] or said not in outs[1][1] or \
            "stopped by a signal (SIGTERM) while waiting for the ranks" not in outs[0][1]:
        fail("rendezvous, SIGTERM to rank 0: exits %s, want rank 1 to say '%s':\n%s\n%s" % (
            [p.returncode for p in procs], said, outs[0][1], outs[1][1]))
    print("rendezvous, SIGTERM to rank 0: rank 1 names it, both exit 143")


def rank_dies():
    args = [x if x != "8" else "100000" for x in BASE]
    procs = spawn_tcp(2, args)
    while True:
        line = procs[0].stdout.readline()
        if not line:
            fail("rank 0 ended before step 2: %s" % procs[0].communicate())
        if "step      2/" in line:
            break
    t0 = time.time()
    procs[1].kill()
    _, err = procs[0].communicate(timeout=30)
    dt = time.time() - t0
    procs[1].communicate()
    if procs[0].returncode == 0 or "rank 1" not in err or dt > 10:
        fail("rank 0 after rank 1 was killed: exit %d after %.1f s: %s" % (
            procs[0].returncode, dt, err))
    print("kill -9 of rank 1: rank 0 exits %d after %.2f s: %s" % (
        procs[0].returncode, dt, err.strip().splitlines()[-1]))


def third_rank_lost():
    """3 ranks; rank 2 killed (kill -9), or frozen (SIGSTOP) past --dist-timeout 2: rank 0
    names it, and so does rank 1, which talks to rank 0 alone (tcp: the sockets form a
    star): it named rank 0, as if rank 0 had died or hung ("all-reduce: rank 0 ... closed
    the connection", "... did not answer in time"). Every survivor exits 1 in bounded
    time; none blames rank 0, none ends by the watchdog's line that names nobody."""
    args = [x if x != "8" else "100000" for x in BASE]
    for how, said, limit in (("kill -9", "closed the connection (the process ended?)", 10.0),
                             ("SIGSTOP", "did not answer in time", 30.0)):
        procs = spawn_tcp(3, args, timeout="2")
        try:
            past_step_3(procs[0], "rank 2 lost (%s)" % how)
            t0 = time.time()
            if how == "kill -9":
                procs[2].kill()
            else:
                os.kill(procs[2].pid, signal.SIGSTOP)
            errs = [p.communicate(timeout=60)[1] for p in procs[:2]]
            dt = time.time() - t0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.communicate()
        # the exchange under way when rank 2 went is the all-reduce or the stop vote
        # (timing): any, as long as rank 2 is the one named
        h, sd = re.escape(HOST), re.escape(said)
        want = [r"rank 0 \(%s\): [a-z -]+: rank 2 \(%s\) %s" % (h, h, sd),
                r"rank 1 \(%s\): [a-z -]+: rank 2 \(%s\) %s, rank 0 \(%s\) reports" % (
                    h, h, sd, h)]
        for r in (0, 1):
            if procs[r].returncode != 1 or not re.search(want[r], errs[r]) or dt > limit:
                fail("rank 2 of 3 lost (%s): rank %d exit %d after %.1f s, want 1 and '%s':\n%s"
                     % (how, r, procs[r].returncode, dt, want[r], errs[r]))
        print("rank 2 of 3 lost (%s): ranks 0 and 1 name it, exit 1 after %.1f s" % (how, dt))


def shard_fails_on_rank1():
    """Each rank with its own copy of the data; rank 1's shards truncated while mapped:
    rank 1 fails naming the shard and saying that rank 0 saves only if its own data
    failed too (it said "the checkpoint ... is written" while rank 0, its data whole,
    stopped without one); rank 0 stops too, not hanging."""
    data = os.path.join(TMP, "mixdata")   # made by mixture()
    mine = os.path.join(TMP, "web-rank1")
    args = ["--device", "cpu", "--layers", "1", "--heads", "2", "--dim", "32", "--seq-len",
            "16", "--batch", "2", "--batch-tokens", "64", "--steps", "1000000", "--threads",
            "1", "--val-every", "0", "--print-every", "1", "--data-order", "sequential"]

    def truncated_on(rank, extra):
        """2 ranks, `rank` on its own copy of web, truncated after step 3: stderrs."""
        shutil.rmtree(mine, ignore_errors=True)
        shutil.copytree(os.path.join(data, "web"), mine)
        procs = spawn_tcp(2, args + extra, per_rank=lambda r: [
            "--data", mine if r == rank else os.path.join(data, "web")])
        past_step_3(procs[0], "shard on rank %d" % rank)
        for name in os.listdir(mine):
            if name.endswith(".tok"):
                os.truncate(os.path.join(mine, name), 4096)
        return procs, [p.communicate(timeout=60)[1] for p in procs]

    procs, errs = truncated_on(1, ["--ckpt-dir", os.path.join(TMP, "ck-bus")])
    if procs[1].returncode != 1 or ".tok: the shard was truncated" not in errs[1] or \
            "rank 1, after step" not in errs[1] or "only if its data failed there too" \
            not in errs[1] or "is written" in errs[1] or procs[0].returncode == 0:
        fail("shard truncated on rank 1: exits %d / %d:\n%s\n%s" % (
            procs[0].returncode, procs[1].returncode, errs[0], errs[1]))
    print("a shard truncated on rank 1 only: rank 1 says no checkpoint may be written, "
          "rank 0 stops (exit %d)" % procs[0].returncode)
    # the same on rank 0 under --zero 1: rank 1 says rank 0 left the loop (it read as
    # a protocol mismatch, "rank 0 is at 'end' where this rank is at 'step'")
    procs, errs = truncated_on(0, ["--zero", "1", "--ckpt-dir", os.path.join(TMP, "ck-bus0")])
    if procs[0].returncode != 1 or ".tok: the shard was truncated" not in errs[0] or \
            procs[1].returncode == 0 or "is at 'end' where" in errs[1]:
        fail("shard truncated on rank 0, --zero 1: exits %d / %d:\n%s\n%s" % (
            procs[0].returncode, procs[1].returncode, errs[0], errs[1]))
    print("... and on rank 0 under --zero 1: rank 1 says: %s" % errs[1].strip().splitlines()[-1])


# steps of a few ms even under ASan; rank 0's sample at step 2 takes ~2 s in a
# release build (~40 s under ASan), longer than --dist-timeout 2
LONG_SAMPLE = ["--device", "cpu", "--synthetic", "--vocab", "256", "--layers", "2", "--heads",
               "2", "--dim", "32", "--seq-len", "64", "--batch", "1", "--batch-tokens", "128",
               "--threads", "1", "--val-every", "0", "--print-every", "1",
               "--sample-every", "2", "--sample-tokens", "6000"]


def local_work_untimed():
    """Rank 0's sample (and a save) longer than --dist-timeout 2: the watchdog does not
    time rank-local work, nor rank 1's wait for it (it killed both ranks, blaming a
    peer); the run finishes and rank 1 waited in the vote after it."""
    procs = spawn_tcp(2, LONG_SAMPLE + ["--steps", "2", "--ckpt-dir", os.path.join(TMP, "lw")],
                      timeout="2")
    t0 = time.time()
    outs = [p.communicate(timeout=120) for p in procs]
    dt = time.time() - t0
    rcs = [p.returncode for p in procs]
    if rcs != [0, 0] or "sample at step 2" not in outs[0][0]:
        fail("rank-local work past --dist-timeout: exits %s after %.1f s\n%s" % (
            rcs, dt, "\n".join(o + e for o, e in outs)))
    print("rank 0's sample of %.1f s with --dist-timeout 2: both ranks finish" % dt)


def peer_hangs_during_sample():
    """Rank 1 freezes (SIGSTOP: alive, silent) while rank 0 samples for longer than
    --dist-timeout 2: after its sample rank 0 waits on a clock again and fails naming
    rank 1, instead of waiting for ever in the next step's collective."""
    procs = spawn_tcp(2, LONG_SAMPLE + ["--steps", "4"], timeout="2")
    try:
        while True:   # rank 0 printed step 2: both voted, rank 0 now samples
            line = procs[0].stdout.readline()
            if not line:
                fail("rank 0 ended before step 2: %s" % (procs[0].communicate(),))
            if "step      2/" in line:
                break
        os.kill(procs[1].pid, signal.SIGSTOP)
        t0 = time.time()
        try:
            # the sample takes ~2 s in a release build, ~40 s under ASan on CI
            out, err = procs[0].communicate(timeout=240)
        except subprocess.TimeoutExpired:
            fail("rank 1 frozen during rank 0's sample: rank 0 still waits after 240 s")
        dt = time.time() - t0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    # the tcp all-reduce's own deadline, or else the watchdog (exit 3), ends it
    named = "rank 1 (" in err and "did not answer in time" in err
    if procs[0].returncode == 0 or not (named or "no progress for 2 s" in err) or \
            "sample at step 2" not in out:
        fail("rank 1 frozen during rank 0's sample: rank 0 exit %d after %.1f s\n%s%s" % (
            procs[0].returncode, dt, out, err))
    print("rank 1 frozen during rank 0's sample: rank 0 fails %.1f s later: %s" % (
        dt, err.strip().splitlines()[-1]))


def foreign_listener():
    """Another program on the rendezvous port (accepts, never answers): rank 1 says so
    within --dist-timeout (it said "rank 0 ... did not answer in time before answering")."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = str(srv.getsockname()[1])
    env = dict(ENV, RANK="1", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    try:
        p = subprocess.run([TRAIN] + BASE + ["--dist-timeout", "1"], env=env,
                           capture_output=True, text=True, timeout=60)
    finally:
        srv.close()
    if p.returncode == 0 or "another program listening on that port" not in p.stderr:
        fail("a foreign listener on the port: exit %d: %s" % (p.returncode, p.stderr))
    print("a foreign listener on the rendezvous port: named")


def addr_with_port():
    """MASTER_ADDR given as host:port (the port belongs in MASTER_PORT): named as such at
    once (it said the host "has no IPv4 address")."""
    env = dict(ENV, RANK="1", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1:29500", MASTER_PORT="29500")
    p = subprocess.run([TRAIN] + BASE + ["--dist-timeout", "5"], env=env,
                       capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "MASTER_ADDR '127.0.0.1:29500' holds a port" not in p.stderr:
        fail("MASTER_ADDR with a port: exit %d: %s" % (p.returncode, p.stderr))
    print("MASTER_ADDR host:port: named")


HOSTILE_HOST = "h\x1b]0;pwned\x07\u202eh"   # ESC ] 0 ; pwned BEL, RIGHT-TO-LEFT OVERRIDE
SHOWN_HOST = "h?]0;pwned??h"                # as term_text() shows it
RAW = ("\x1b", "\x07", "\u202e")


def hostile_uts():
    """This process in a UTS namespace of its own, named HOSTILE_HOST (root, or
    CAP_SYS_ADMIN); exits 1 where that is not allowed."""
    libc = ctypes.CDLL(None, use_errno=True)
    name = HOSTILE_HOST.encode()
    if libc.unshare(0x04000000) != 0 or libc.sethostname(name, len(name)) != 0:   # CLONE_NEWUTS
        os._exit(1)


def hostile_host():
    """Any byte may be set as a host name (sethostname(2)): rank 1's, with an escape
    sequence and U+202E, reached the terminal raw in its own messages (the
    launcher's " (rank 1 of 2 on HOST)") and in rank 0's stop line, which names
    the rank that asked and its host."""
    probe = subprocess.run([sys.executable, "-c", "import socket; print(socket.gethostname())"],
                           preexec_fn=hostile_uts, capture_output=True, text=True)
    if probe.returncode != 0 or probe.stdout.strip() != HOSTILE_HOST:
        print("hostile host name: skipped (no UTS namespace of its own here)")
        return
    setup = (lambda r: hostile_uts if r == 1 else None)
    # an error before the rendezvous names the rank and its host
    p = spawn_tcp(2, BASE + ["--no-such-flag"], ranks=[1], setup=setup)[0]
    out, err = p.communicate(timeout=60)
    if p.returncode != 2 or "(rank 1 of 2 on %s)" % SHOWN_HOST not in err or \
            any(r in out + err for r in RAW):
        fail("hostile host name, an error on rank 1: exit %d: %r" % (p.returncode, err))
    # the stop vote: rank 0 names rank 1 and its host
    args = [x if x != "8" else "100000" for x in BASE]
    procs = spawn_tcp(2, args, setup=setup)
    past_step_3(procs[0], "hostile host name")
    procs[1].send_signal(signal.SIGUSR1)
    outs = [p.communicate(timeout=60) for p in procs]
    said = "rank 1 (%s) was interrupted by SIGUSR1" % SHOWN_HOST
    if said not in outs[0][1] or any(r in o + e for o, e in outs for r in RAW):
        fail("hostile host name: want %r on rank 0, no raw byte anywhere:\n%r" % (said, outs))
    print("hostile host name: shown as %s by rank 1 and in rank 0's stop line" % SHOWN_HOST)


def llama():
    """--arch llama (grouped-query, 2 heads over 1 kv head): 2 ranks, with
    --zero 0 and 1, give the 1-process losses; resume 2 -> 1 continues."""
    la = BASE + ["--arch", "llama", "--kv-heads", "1"]
    ref = os.path.join(TMP, "l1.jsonl")
    run(1, la + ["--metrics", ref])
    m1 = metrics(ref)
    for zz in ("0", "1"):
        path = os.path.join(TMP, "l2z%s.jsonl" % zz)
        run(2, la + ["--zero", zz, "--metrics", path])
        m2 = metrics(path)
        if sorted(m2) != sorted(m1):
            fail("llama: 2 ranks logged steps %s" % sorted(m2))
        close(m1, m2, "llama: 2 ranks --zero %s vs 1" % zz)
    ck = os.path.join(TMP, "lck")
    run(2, la + ["--ckpt-dir", ck, "--stop-after", "4"])
    path = os.path.join(TMP, "lr.jsonl")
    run(1, ["--threads", "1", "--ckpt-dir", ck, "--resume", "--metrics", path])
    mr = metrics(path)
    if sorted(mr) != [5, 6, 7, 8]:
        fail("llama: resume 2 -> 1 logged steps %s" % sorted(mr))
    close(m1, mr, "llama: resume 2 -> 1")
    print("llama: 2 ranks (--zero 0 and 1) = 1 process over 8 steps, loss %.4f -> %.4f; "
          "resume 2 -> 1 continues it" % (m1[1]["loss"], m1[8]["loss"]))


def mixture():
    """--data web:3 --data code on 2 ranks: the 1-process losses, and in each val
    record the same loss by source ("val_src", "val_src_windows"), whose
    window-weighted mean is the record's val_loss; the val line names the sources
    once (rank 0 alone prints)."""
    data = os.path.join(TMP, "mixdata")
    subprocess.run([MIX_DATA, data], check=True)
    args = ["--device", "cpu", "--data", os.path.join(data, "web") + ":3", "--data",
            os.path.join(data, "code"), "--layers", "2", "--heads", "2", "--dim", "32",
            "--seq-len", "16", "--batch", "2", "--batch-tokens", "128", "--steps", "6",
            "--lr", "1e-2", "--warmup", "1", "--threads", "1", "--val-every", "3",
            "--val-tokens", "256", "--print-every", "1"]
    ref, path = os.path.join(TMP, "mix1.jsonl"), os.path.join(TMP, "mix2.jsonl")
    run(1, args + ["--metrics", ref])
    _, out, _ = run(2, args + ["--metrics", path])
    close(metrics(ref), metrics(path), "mixture: 2 ranks vs 1")

    def vals(p):
        return {r["step"]: r for r in map(json.loads, open(p)) if "val_loss" in r}
    v1, v2 = vals(ref), vals(path)
    if sorted(v1) != [3, 6] or sorted(v2) != sorted(v1):
        fail("mixture: val records at steps %s (1 process) and %s (2 ranks)" % (
            sorted(v1), sorted(v2)))
    worst = 0.0
    for s in v1:
        a, b = v1[s], v2[s]
        for r in (a, b):
            src, win = r.get("val_src"), r.get("val_src_windows")
            if not src or len(src) != 2 or win != a.get("val_src_windows") or sum(win) != 16 \
                    or min(win) < 1:
                fail("mixture: step %d: val record %s (1 process: %s)" % (s, r, a))
            mean = sum(x * w for x, w in zip(src, win)) / sum(win)
            if abs(mean - r["val_loss"]) > 1e-9 * (1 + abs(mean)):
                fail("mixture: step %d: val_src %s weighted by %s is %.9f, val_loss %.9f" % (
                    s, src, win, mean, r["val_loss"]))
        for x, y in zip(a["val_src"], b["val_src"]):
            worst = max(worst, abs(x - y))
            if abs(x - y) > 2e-5 * max(1.0, abs(x)):
                fail("mixture: step %d: val by source %s on 2 ranks, %s in one process" % (
                    s, b["val_src"], a["val_src"]))
    lines = [l for l in out.splitlines() if "| val loss" in l]
    if len(lines) != 2 or not all(") | web " in l and ", code " in l for l in lines):
        fail("mixture: 2 ranks' val lines:\n%s" % out)
    print("mixture: 2 ranks = 1 process, val by source too (max |d| %.2g): %s" % (
        worst, lines[-1].strip()))
    if MODE != "tcp":
        return
    # the ranks' data must be the same: another mixture weight, or another dataset of
    # the same size and tokenizer (code in place of web), trained apart without a word
    other = [a.replace(os.path.join(data, "web") + ":3", os.path.join(data, "web") + ":1")
             for a in args]
    web, code = os.path.join(data, "web"), os.path.join(data, "code")
    swapped = [code + ":3" if a == web + ":3" else web if a == code else a for a in args]
    for what, r1 in (("another weight", other), ("the datasets swapped", swapped)):
        procs = spawn_tcp(2, [], per_rank=lambda r: args if r == 0 else r1)
        outs = [p.communicate(timeout=60) for p in procs]
        for (_, err), p in zip(outs, procs):
            if p.returncode == 0 or "data-content=" not in err:
                fail("mixture, %s on rank 1: exit %d, stderr:\n%s" % (what, p.returncode, err))
    print("mixture: another weight or another dataset on rank 1: refused (data-content)")


def main():
    if MODE == "mpi" and not (MPIRUN and os.path.exists(MPIRUN)):
        print("mpirun not found: skipped")
        sys.exit(SKIP)
    try:
        m1 = parity()
        resume(m1)
        zero(m1)
        grad_reduce_bf16(m1)
        refuse_shape()
        default_batch()
        llama()
        mixture()
        if MODE == "tcp":
            stop_collective()
            stop_collective(("--zero", "1"))
            stale_temps_rank0()
            own_ckpt_dir_resume()
            time_limit()
            mismatch()
            weights_mismatch()
            interrupt_rendezvous()
            leave_rendezvous()
            ctrl_c_training()
            if os.path.exists("/dev/full"):
                output_lost_rank0()
            rank_dies()
            third_rank_lost()
            shard_fails_on_rank1()
            local_work_untimed()
            peer_hangs_during_sample()
            foreign_listener()
            addr_with_port()
            hostile_host()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


main()
