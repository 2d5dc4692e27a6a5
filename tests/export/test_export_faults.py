#!/usr/bin/env python3
"""ingot-train export on a full disk (tests/common/fault_inject.c
preloaded): each format with a file that cannot be written. The export
exits 1 naming the file and the error, leaves no temporary file, and no
folder that looks whole: llmc's model.bin and safetensors' model.safetensors
are there whole or not at all. Every file is staged before any is put in
place, so an hf export that fails while writing leaves an earlier export in
its folder byte for byte as it was; one that fails while putting its files
in place removes the earlier config.json first (what loaders open first)
and says the folder does not load. A signal in the middle of a file
(tokenizer.json) leaves no temporary file either, and a summary that
standard output does not take fails the command, and leaves the export
it calls complete in place.

    test_export_faults.py INGOT_TRAIN FAULT_INJECT_SO TOKENIZER_MODEL
(FAULT_INJECT_SO empty: a sanitizer build, skipped)"""
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import Tally, run_env  # noqa: E402

TRAIN, SO, TOK = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "", sys.argv[3]
if not SO or not os.path.exists(SO):
    print("no fault-injection preload (a sanitizer build): skipped")
    sys.exit(77)
tally = Tally()
check = tally.check


def run(args, env=None, stdout=subprocess.PIPE):
    return run_env([TRAIN] + args, env, stdout)


def folder(d):
    """Every file of d and its bytes."""
    out = {}
    for f in os.listdir(d):
        with open(os.path.join(d, f), "rb") as fh:
            out[f] = fh.read()
    return out


def fault(**kv):
    env = {"LD_PRELOAD": SO}
    env.update({"INGOT_FAULT_" + k.upper(): str(v) for k, v in kv.items()})
    return env


with tempfile.TemporaryDirectory() as tmp:
    def p(*names):
        return os.path.join(tmp, *names)

    ck = p("ck")
    rc, err = run(["--synthetic", "--vocab", "128", "--model", "tiny", "--layers", "1", "--dim",
                   "32", "--heads", "2", "--seq-len", "16", "--batch", "2", "--steps", "1",
                   "--threads", "1", "--val-every", "0", "--quiet", "--ckpt-dir", ck])
    check(rc == 0, "the checkpoint: %d %s" % (rc, err))

    # (format, the file that fails, its bytes before the failure)
    cases = [("hf", "model.safetensors", 1000), ("hf", "generation_config.json", 10),
             ("hf", "tokenizer.json", 100), ("hf", "tokenizer.model", 100),
             ("hf", "tokenizer_config.json", 10), ("hf", "/config.json", 10),
             ("llmc", "model.bin", 1000), ("safetensors", "model.safetensors", 1000)]
    for i, (fmt, name, after) in enumerate(cases):
        out = p("x%d" % i)
        os.mkdir(out)
        what = "export %s, a full disk at %s" % (fmt, name.lstrip("/"))
        earlier = {}
        if fmt == "hf":   # an earlier export, kept whole by a failed one
            rc, err = run(["export", ck, "--format", fmt, "--out", out, "--tokenizer", TOK])
            check(rc == 0, "%s: the earlier export: exit %d: %s" % (what, rc, err))
            earlier = folder(out)
        rc, err = run(["export", ck, "--format", fmt, "--out", out, "--tokenizer", TOK],
                      fault(path=name, after_bytes=after))
        check(rc == 1 and "fault_inject:" in err and name.lstrip("/") in err and
              "No space left on device" in err, "%s: exit %d: %s" % (what, rc, err))
        # what to do (before: the error alone)
        check("free space" in err and "run the same command again" in err,
              "%s: no hint: %s" % (what, err))
        left = os.listdir(out)
        check(not [f for f in left if ".tmp" in f], "%s: temporary files %s" % (what, left))
        main = {"hf": "config.json", "llmc": "model.bin", "safetensors": "model.safetensors"}[fmt]
        if earlier:   # before: its config.json removed first, "no longer loads"
            check(folder(out) == earlier and "does not load" not in err,
                  "%s: the earlier export changed: %s" % (what, sorted(left)))
        else:
            check(main not in left, "%s: %s left: %s" % (what, main, left))
        rc, err = run(["export", ck, "--format", fmt, "--out", out, "--tokenizer", TOK])
        check(rc == 0 and main in os.listdir(out), "%s, again: exit %d: %s" % (what, rc, err))
        print("%s: exit 1, named, %s; the export again completes"
              % (what, "the earlier export as it was" if earlier else "no " + main))

    # an hf export that cannot put a file in place (a rename refused): the earlier
    # config.json is gone first and the message says the folder does not load
    out = p("rename")
    rc, err = run(["export", ck, "--format", "hf", "--out", out, "--tokenizer", TOK])
    check(rc == 0, "the export to re-export over: exit %d: %s" % (rc, err))
    rc, err = run(["export", ck, "--format", "hf", "--out", out, "--tokenizer", TOK],
                  fault(path="tokenizer.model", ops="rename", errno="EIO"))
    left = os.listdir(out)
    check(rc == 1 and "cannot rename" in err and "is incomplete and does not load" in err and
          "config.json" not in left and not [f for f in left if ".tmp" in f],
          "a refused rename: exit %d, left %s: %s" % (rc, sorted(left), err))
    rc, err = run(["export", ck, "--format", "hf", "--out", out, "--tokenizer", TOK])
    check(rc == 0 and "config.json" in os.listdir(out), "again: exit %d: %s" % (rc, err))
    # a model without a tokenizer over an export with one: its tokenizer files go
    rc, err = run(["export", ck, "--format", "hf", "--out", out])
    left = os.listdir(out)
    check(rc == 0 and not [f for f in left if f.startswith("tokenizer")] and
          "config.json" in left, "re-export without a tokenizer: exit %d, left %s: %s"
          % (rc, sorted(left), err))
    print("a refused rename: said, no config.json; the export again completes")

    # a failed export into folders it made itself leaves none of them behind (an empty
    # --out stayed); a folder that was there stays
    made = p("made", "deep")
    rc, err = run(["export", ck, "--format", "llmc", "--out", made],
                  fault(path="model.bin", after_bytes=0))
    check(rc == 1 and not os.path.exists(p("made")), "a failed export into new folders: "
          "exit %d, left %s: %s" % (rc, os.path.exists(p("made")), err))
    os.mkdir(p("there"))
    rc, err = run(["export", ck, "--format", "llmc", "--out", p("there")],
                  fault(path="model.bin", after_bytes=0))
    check(rc == 1 and os.path.isdir(p("there")), "a failed export into an existing folder: "
          "exit %d, folder gone" % rc)
    # files already whole in a folder the export made go too (a full disk at
    # tokenizer.json left the model-sized weights file, the space to free)
    rc, err = run(["export", ck, "--format", "hf", "--out", p("made2", "x"), "--tokenizer", TOK],
                  fault(path="tokenizer.json", after_bytes=100))
    check(rc == 1 and not os.path.exists(p("made2")), "a failed hf export into new folders: "
          "exit %d, left %s" % (rc, os.listdir(p("made2", "x")) if os.path.exists(p("made2", "x"))
                                else os.path.exists(p("made2"))))
    print("a failed export removes the empty folders it made, keeps one that was there")

    # SIGTERM in the middle of tokenizer.json: the export dies of it, and
    # its handler removes the temporary file (it missed tokenizer.json's)
    out = p("sig")
    rc, err = run(["export", ck, "--format", "hf", "--out", out, "--tokenizer", TOK],
                  fault(path="tokenizer.json", after_bytes=100, signal=int(signal.SIGTERM)))
    left = os.listdir(out) if os.path.isdir(out) else []
    check(rc == -signal.SIGTERM and "signal 15 raised" in err and
          not [f for f in left if ".tmp" in f] and "config.json" not in left,
          "SIGTERM in tokenizer.json: exit %d, left %s: %s" % (rc, left, err))
    print("SIGTERM in tokenizer.json: no temporary file, no config.json")
    # SIGTERM in the first file of an export into new folders: they go too, as on a
    # failure (Ctrl-C left the empty --out behind)
    rc, err = run(["export", ck, "--format", "llmc", "--out", os.path.join(p("sigmade"), "a")],
                  fault(path="model.bin", after_bytes=0, signal=int(signal.SIGTERM)))
    check(rc == -signal.SIGTERM and not os.path.exists(p("sigmade")),
          "SIGTERM into new folders: exit %d, left %s" % (rc, os.path.exists(p("sigmade"))))
    print("SIGTERM in the first file: the folders it made are gone")

    # SIGKILL in the middle of model.safetensors (no handler runs): its temp file stays;
    # the next export into the folder removes it (its writer is gone) and says so, and
    # leaves another live process's and an unrelated file alone
    out = p("kill")
    rc, err = run(["export", ck, "--format", "hf", "--out", out, "--tokenizer", TOK],
                  fault(path="model.safetensors", after_bytes=1000, signal=int(signal.SIGKILL)))
    left = [f for f in os.listdir(out) if ".tmp." in f]
    check(rc == -signal.SIGKILL and len(left) == 1 and left[0].startswith("model.safetensors"),
          "SIGKILL in model.safetensors: exit %d, temp files %s" % (rc, left))
    live = os.path.join(out, "tokenizer.json.tmp.%d" % os.getpid())   # this test is alive
    other = os.path.join(out, "notes.tmp.1")
    for f in (live, other):
        open(f, "w").close()
    res = subprocess.run([TRAIN, "export", ck, "--format", "hf", "--out", out, "--tokenizer",
                          TOK], capture_output=True, text=True)
    after = os.listdir(out)
    check(res.returncode == 0 and "removed 1 stale temp file of a killed export" in res.stdout
          and not [f for f in after if f.startswith("model.safetensors.tmp.")] and
          os.path.exists(live) and os.path.exists(other),
          "export after a SIGKILL: exit %d, %s, left %s" % (res.returncode, res.stdout, after))
    print("SIGKILL in model.safetensors: the next export removes the stale temp file")

    # a --ckpt-dir whose newest checkpoint is removed as it is opened (a run
    # still training there with --ckpt-keep saved a newer one and pruned it):
    # export and generate take the directory's newest again (they failed
    # with 'ckpt-00000002.bin: No such file or directory')
    for sub, args in [("export", ["--format", "llmc", "--out", p("live-x")]),
                      ("generate", ["--ids", "--prompt-ids", "1", "--tokens", "2",
                                    "--threads", "1"])]:
        live = p("live-" + sub)
        rc, err = run(["--synthetic", "--vocab", "128", "--model", "tiny", "--layers", "1",
                       "--dim", "32", "--heads", "2", "--seq-len", "16", "--batch", "2",
                       "--steps", "2", "--ckpt-every", "1", "--threads", "1", "--val-every",
                       "0", "--quiet", "--ckpt-dir", live])
        check(rc == 0, "the live directory's run: %d %s" % (rc, err))
        rc, err = run([sub, live] + args, fault(path="ckpt-00000002", ops="vanish"))
        check(rc == 0 and "removed just before the open" in err and
              not os.path.exists(os.path.join(live, "ckpt-00000002.bin")),
              "%s of a directory whose newest checkpoint vanished: exit %d: %s" % (sub, rc, err))
    print("a --ckpt-dir's newest checkpoint removed as it is read: export and generate take "
          "the next")

    # the summary on a full standard output: the files are whole, the exit 1
    with open("/dev/full", "w") as full:
        rc, err = run(["export", ck, "--format", "llmc", "--out", p("stdout")], stdout=full)
    check(rc == 1 and "standard output: cannot write the summary: No space left on device" in err
          and "complete" in err and "the disk is full" not in err,   # it said both
          "export > /dev/full: exit %d: %s" % (rc, err))
    print("export > /dev/full: exit 1, named")

    # ... and the export it calls complete is there: a folder the export made
    # was removed with its files after the summary failed (hf and llmc), as
    # it was on a closed pipe with SIGPIPE ignored
    whole = {}
    for fmt in ("hf", "llmc"):
        rc, err = run(["export", ck, "--format", fmt, "--out", p("whole-" + fmt)])
        check(rc == 0, "export --format %s: exit %d: %s" % (fmt, rc, err))
        whole[fmt] = folder(p("whole-" + fmt))
    for fmt in ("hf", "llmc"):
        for how in ("full", "pipe"):
            out = p("sum-%s-%s" % (fmt, how), "new")   # two folders made by the export
            args = [TRAIN, "export", ck, "--format", fmt, "--out", out]
            if how == "full":
                with open("/dev/full", "w") as sink:
                    q = subprocess.run(args, stdout=sink, stderr=subprocess.PIPE, text=True)
            else:
                r, w = os.pipe()
                os.close(r)
                # Python ignores SIGPIPE; restore_signals=False passes that on
                q = subprocess.run(args, stdout=w, stderr=subprocess.PIPE, text=True,
                                   restore_signals=False)
                os.close(w)
            check(q.returncode == 1 and "cannot write the summary" in q.stderr and
                  "complete" in q.stderr, "export %s > %s: exit %d: %s" %
                  (fmt, how, q.returncode, q.stderr))
            check(os.path.isdir(out) and folder(out) == whole[fmt],
                  "export %s > %s: the export it calls complete is not there whole: %s" %
                  (fmt, how, sorted(os.listdir(out)) if os.path.isdir(out) else "no folder"))
    print("export > /dev/full, to a closed pipe: the export stays, whole")

tally.end()
