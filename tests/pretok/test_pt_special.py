#!/usr/bin/python3
"""Issue 9, defect 5: only regular files are inputs. A FIFO, a socket and a
device among the inputs (found in a directory or named) are a counted skip,
not_regular_file, and nothing blocks on them (before: a FIFO hung the run
forever, deaf to SIGINT). Their text is lost, so like damaged files they fail
the run once the dataset is written, unless --allow-damaged-inputs. SIGINT
and SIGTERM end a run within a second whatever its threads are doing
(checked with the test hooks' slowed-down writer, which sleeps 5 s per
batch)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, docs = T.small_corpus(t, "in", n_files=2, per_file=300)
os.mkfifo(os.path.join(inp, "fifo.jsonl"))
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.bind(os.path.join(inp, "sock.jsonl"))
out = t.path("out")
rc, _, err = T.run_bounded(t, ["--model", model, "--out", out, "--threads", "2", inp,
                               "/dev/null"], 30)
T.check(rc is not None, "a FIFO among the inputs: still running after 30 s (it blocks)")
T.check(rc == 1, "special files among the inputs: exit %s: %s" % (rc, err))
T.check("3 input files are damaged or unreadable" in err and "--allow-damaged-inputs" in err,
        "special files: the failure does not name them: %s" % err)
m = json.load(open(os.path.join(out, "manifest.json")))
skipped = {os.path.basename(x["name"]): x["skipped"] for x in m["inputs"]}
for name in ("fifo.jsonl", "sock.jsonl", "null"):
    T.check(skipped.get(name) == {"not_regular_file": 1},
            "%s: counted %s, expected not_regular_file" % (name, skipped.get(name)))
T.check(sum(x["documents"] for x in m["inputs"]) == len(docs), "documents lost")
T.check("not_regular_file" in err, "the report does not name the reason: %s" % err)
t.run(["--model", model, "--out", out, "--threads", "2", "--allow-damaged-inputs", inp,
       "/dev/null"], what="special files accepted")
sock.close()
# a pipe named as an input (a shell's <(zstdcat x.zst)) is not read: the
# message says how it is (before: no word of standard input)
T.check("standard input" in err and "ingot-pretok ... -" in err,
        "a FIFO among the inputs: the message does not point at '-': %s" % err)
print("FIFO, socket, /dev/null: counted not_regular_file, nothing blocked, exit 1 until "
      "accepted")

# nothing but a FIFO under --quiet: no document, and the error's "see the
# skipped records above" has something above it (before: nothing, so the
# run failed without naming the file or its reason)
fifo = os.path.join(inp, "fifo.jsonl")
rc, _, err = T.run_bounded(t, ["--model", model, "--out", t.path("fifo-only"), "--quiet",
                               fifo], 30)
T.check(rc == 1 and "no document was produced" in err and fifo in err and
        "not_regular_file" in err and "standard input" in err,
        "a FIFO alone, --quiet: exit %s: %s" % (rc, err))
print("a FIFO alone under --quiet: the error names it, its reason and '-'")

if not T.has_hooks(t.pretok):
    print("no test hooks: the signal deadline part is skipped")
else:
    slow = {"INGOT_PRETOK_TEST_BATCH_DELAY_MS": "5000", "INGOT_PRETOK_TEST_BATCH_ITEMS": "16"}
    for sig, want in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        o = t.path("sig%d" % sig)
        p = subprocess.Popen([t.pretok, "--model", model, "--out", o, "--threads", "2",
                              "--quiet", "--allow-damaged-inputs", inp],
                             env=dict(os.environ, **slow),
                             stderr=subprocess.PIPE)
        time.sleep(1.0)
        t0 = time.monotonic()
        p.send_signal(sig)
        try:
            _, e = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            T.fail("signal %d: still running 10 s later" % sig)
        took = time.monotonic() - t0
        T.check(p.returncode == want, "signal %d: exit %d, expected %d: %s" %
                (sig, p.returncode, want, e))
        T.check(took < 1.5, "signal %d: the run ended %.2f s after it (want < 1 s + slack)" %
                (sig, took))
        T.check("again" in e.decode(), "signal %d: the message does not say how to resume: %s"
                % (sig, e))
        # threads left behind (a 5 s batch): the message docs/pretok.md quotes, with the
        # count of shards the state keeps (it said "the finished shards are kept, the work
        # in flight was dropped")
        n = len(json.load(open(os.path.join(o, ".pretok-state.json")))["shards"])
        T.check(("interrupted: %d shard%s finished and kept; run the same command again to "
                 "resume" % (n, "" if n == 1 else "s")) in e.decode(),
                "signal %d, threads left behind: message %s (the state has %d shards)" %
                (sig, e, n))
        print("signal %d: exit %d after %.2f s" % (sig, want, took))
        t.run(["--model", model, "--out", o, "--threads", "2", "--quiet",
               "--allow-damaged-inputs", inp], what="resume after signal %d" % sig)
        t.verify(o)

t.cleanup()
print("ok")
