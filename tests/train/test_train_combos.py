#!/usr/bin/env python3
"""ingot-train's options in combination: a flag typed on the command line that
the run has no use for is named in a note at the start with what would use it,
where it used to be ignored without a word (--top-k, --temperature, --sample-tokens
without --sample-every; --val-tokens under --val-every 0; --peak-tflops
without --profile, or on the CPU; --min-lr under --lr-schedule constant;
--data-order and --tokenizer, never opened, with --synthetic); the same keys
in a --config file or a checkpoint's settings (which hold every key of a run)
are not. A schedule refusal names where each value came from (--resume --lr
1e-4 met the checkpoint's min-lr and said "--min-lr 0.0003 is above --lr
0.0001", a flag nobody gave). A --metrics or --dump-batch file in a directory
that is not there is refused before the model is built, exit 2 (it failed at
the first record, exit 1, blaming a lock file), and a --ckpt-dir this run
made for it is removed again; one a checkpoint carries over stays a note.
usage: test_train_combos.py INGOT_TRAIN"""
import os
import subprocess
import sys
import tempfile

TINY = ["--synthetic", "--vocab", "64", "--model", "tiny", "--layers", "1", "--dim", "32",
        "--seq-len", "16", "--batch", "2", "--device", "cpu", "--threads", "1"]
failures = 0


def run(binary, args, rc, what, want=(), absent=()):
    global failures
    p = subprocess.run([binary] + args, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    out = p.stdout + p.stderr
    bad = [w for w in want if w not in out] + [a for a in absent if a in out]
    ok = p.returncode == rc and not bad
    print("%-58s exit %d%s" % (what, p.returncode, "" if ok else "  FAIL"))
    if not ok:
        print("  want exit %d, %s; got:\n%s" % (rc, bad, out[-1500:]))
        failures += 1
    return out


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        def path(name):
            return os.path.join(tmp, name)
        short = TINY + ["--steps", "2", "--val-every", "0"]
        start = "ingot-train: device"   # the start line: the model was built

        # flags with no use in this run, given on the command line: named in a note
        # (not refused: a job script's fixed flags with `--val-every 0` appended)
        note = "note: not used by this run: "
        run(binary, short + ["--top-k", "5", "--temperature", "0.5"], 0,
            "--top-k, --temperature without --sample-every",
            [note + "--top-k, --temperature: for the samples of --sample-every, which is 0",
             "add --sample-every N"])
        run(binary, short + ["--sample-tokens", "8"], 0, "--sample-tokens without --sample-every",
            [note + "--sample-tokens: for the samples of --sample-every"])
        run(binary, short + ["--sample-every", "2", "--top-k", "5", "--sample-tokens", "4"], 0,
            "--top-k with --sample-every: used", ["sample at step 2"], [note])
        run(binary, short + ["--val-tokens", "64"], 0, "--val-tokens under --val-every 0",
            [note + "--val-tokens: for the val loss, which --val-every 0 turns off"])
        run(binary, TINY + ["--steps", "2", "--peak-tflops", "100", "--profile", "1"], 0,
            "--peak-tflops on the CPU", [note + "--peak-tflops: a GPU's peak", "--device cpu"])
        run(binary, [a for a in TINY if a not in ("--device", "cpu")] + [
            "--steps", "2", "--peak-tflops", "100", "--val-every", "0"], 0,
            "--peak-tflops without --profile",
            [note + "--peak-tflops: for the MFU of --profile N, which is not given"])
        run(binary, short + ["--lr-schedule", "constant", "--min-lr", "1e-4"], 0,
            "--min-lr under --lr-schedule constant",
            [note + "--min-lr: --lr-schedule constant holds --lr to the end"])
        run(binary, short + ["--lr-schedule", "cosine", "--min-lr", "1e-4"], 0,
            "--min-lr under cosine: used", ["-> 1.00e-04 (cosine)"], [note])
        # data-parallel flags on a single process (no launcher): --zero 1 saved nothing
        for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS",
                  "PMI_SIZE"):
            os.environ.pop(k, None)
        run(binary, short + ["--zero", "1", "--dist-timeout", "30", "--grad-reduce", "bf16"], 0,
            "--zero 1, --grad-reduce, --dist-timeout on one process",
            [note + "--zero 1, --grad-reduce bf16, --dist-timeout: for data parallelism",
             "single process"])
        run(binary, short + ["--zero", "0", "--grad-reduce", "fp32"], 0,
            "--zero 0, --grad-reduce fp32 on one process: no note", [], ["data parallelism"])
        run(binary, short + ["--data-order", "sequential", "--tokenizer", path("none.model")], 0,
            "--data-order, --tokenizer with --synthetic",
            [note + "--data-order: --synthetic draws random ids",
             "; --tokenizer: --synthetic ids have no tokenizer", "the file is not read"])
        run(binary, short + ["--top-k", "5", "--quiet"], 0, "... under --quiet: no note", [],
            [note])

        # the same keys from a --config file: a run's whole settings, not refused
        cfg = path("run.json")
        with open(cfg, "w") as f:
            f.write('{"top-k": 5, "temperature": 0.5, "val-tokens": 64, "sample-tokens": 8,'
                    ' "data-order": "sequential", "val-every": 0}\n')
        run(binary, TINY + ["--steps", "2", "--config", cfg], 0,
            "the same keys from --config: no note", ["step      2/2"], [note])
        # ... and from a checkpoint's settings (a run without validation resumed)
        ck = path("ck")
        run(binary, short + ["--steps", "4", "--stop-after", "2", "--ckpt-dir", ck,
                             "--metrics", path("m.jsonl"), "--lr", "3e-3"], 0,
            "a run stopped at step 2", ["checkpoint written"])
        run(binary, ["--ckpt-dir", ck, "--resume", "--stop-after", "3"], 0,
            "its resume: no note on the checkpoint's keys", ["step      3/4"], [note])

        # schedule refusals name where each value came from
        run(binary, ["--ckpt-dir", ck, "--resume", "--lr", "1e-4"], 2,
            "--resume --lr below the checkpoint's min-lr",
            ["--min-lr 0.0003 (from checkpoint ", "is above --lr 0.0001:",
             "give a --min-lr of at most --lr"])
        run(binary, short + ["--steps", "40", "--warmup", "10", "--ckpt-dir", path("ckw"),
                             "--stop-after", "1"], 0, "a run with --warmup 10")
        run(binary, ["--ckpt-dir", path("ckw"), "--resume", "--steps", "5"], 2,
            "--resume --steps below the checkpoint's warmup",
            ["--warmup 10 (from checkpoint ", "is longer than --steps 5;"])
        lrcfg = path("lr.json")
        with open(lrcfg, "w") as f:
            f.write('{"lr": 1e-4}\n')
        run(binary, short + ["--config", lrcfg, "--min-lr", "1e-3"], 2,
            "--min-lr above a --config file's lr",
            ["--min-lr 0.001 is above --lr 0.0001 (from --config "])

        # --metrics and --dump-batch in a directory that is not there: before the model
        run(binary, short + ["--metrics", path("nodir/m.jsonl")], 2,
            "--metrics in a missing directory",
            ["--metrics " + path("nodir/m.jsonl") + ": the directory " + path("nodir") +
             " is not there"], [start, "lock file"])
        run(binary, short + ["--ckpt-dir", path("made"), "--metrics", path("nodir/m.jsonl")], 2,
            "... with a --ckpt-dir it made", ["is not there"])
        if os.path.exists(path("made")):
            print("FAIL: the --ckpt-dir made by the refused run is left behind")
            failures_add()
        run(binary, short + ["--metrics", cfg + "/m.jsonl"], 2, "--metrics under a file",
            [cfg + " is a file, not a directory"], [start])
        run(binary, short + ["--dump-batch", path("nodir/b.bin")], 2,
            "--dump-batch in a missing directory", ["--dump-batch ", "is not there"], [start])
        run(binary, short + ["--ckpt-dir", path("ck2"), "--metrics", path("ck2/m.jsonl")], 0,
            "--metrics inside the --ckpt-dir it makes", ["checkpoint "])
        if not os.path.isfile(path("ck2/m.jsonl")):
            print("FAIL: ck2/m.jsonl not written")
            failures_add()
        # the lock beside --metrics as a link or a directory: what to do with it
        # (it said "remove it if it is not a regular file" whatever the cause)
        os.makedirs(path("lk"))
        os.symlink("/nowhere", path("lk/m.jsonl.lock"))
        os.makedirs(path("lk/d.jsonl.lock"))
        run(binary, short + ["--metrics", path("lk/m.jsonl")], 1, "--metrics lock a link",
            ["it is a symbolic link: remove it"])
        run(binary, short + ["--metrics", path("lk/d.jsonl")], 1, "--metrics lock a directory",
            ["it is a directory: move it away"])
        # a checkpoint's own --metrics, its directory gone: a note, as before
        os.makedirs(path("mdir"))
        run(binary, short + ["--steps", "4", "--stop-after", "2", "--ckpt-dir", path("ck3"),
                             "--metrics", path("mdir/m.jsonl")], 0,
            "a run with --metrics mdir/m.jsonl")
        os.remove(path("mdir/m.jsonl"))
        os.rmdir(path("mdir"))
        run(binary, ["--ckpt-dir", path("ck3"), "--resume"], 0,
            "its resume, mdir gone: a note", ["is not there (a checkpoint copied from elsewhere?)"])
    if failures:
        print("%d failure(s)" % failures)
        sys.exit(1)


def failures_add():
    global failures
    failures += 1


if __name__ == "__main__":
    main()
