#!/usr/bin/python3
"""Crash safety and resume (needs -Dtest_hooks=true; skips otherwise): tiny
reads (every record straddles a read) give the same shards; a kill -9
part-way (at shard boundaries and at a random moment) followed by the same
command gives the same output; SIGINT stops cleanly with exit 130 and
resumes; a resume with other options is refused."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
T.need_hooks(t.pretok)
model, inputs, common = T.mixed_corpus(t)


def convert(out, extra=(), env=None, rc=0):
    return t.run(common + ["--out", t.path(out)] + list(extra) + inputs, rc=rc, env=env,
                 what=out)


convert("t1", ["--threads", "1"])
m, _ = T.dataset_docs(t.path("t1"))
n_shards = len(m["shards"])
convert("tiny", ["--threads", "2"], {"INGOT_PRETOK_TEST_CHUNK_BYTES": "1000"})
T.same_dataset(t.path("t1"), t.path("tiny"), "tiny")
print("tiny reads: identical (%d shards)" % n_shards)

# kill -9 through the test hook, after and before the state is written.
for k, mode in [(1, "after_state"), (3, "after_state"), (4, "before_state"),
                (n_shards, "before_state"), (n_shards, "after_state")]:
    out = "kill%d%s" % (k, mode)
    convert(out, ["--threads", "2"], {"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": str(k),
                                      "INGOT_PRETOK_TEST_CRASH_MODE": mode}, rc=-9)
    T.check(not os.path.exists(t.path(out, "manifest.json")), "%s: manifest after a crash" % out)
    convert(out, ["--threads", "3"])
    T.same_dataset(t.path("t1"), t.path(out), out)
print("kill -9 at shard boundaries + rerun: identical")

# kill -9 at a random moment (the writer is slowed down so it is mid-way).
slow = {"INGOT_PRETOK_TEST_BATCH_DELAY_MS": "20", "INGOT_PRETOK_TEST_BATCH_ITEMS": "16",
        "INGOT_PRETOK_TEST_CHUNK_BYTES": "4096"}
for delay in (0.4, 1.2):
    out = t.path("rk%g" % delay)
    p = subprocess.Popen([t.pretok] + common + ["--out", out, "--threads", "2"] + inputs,
                         env=dict(os.environ, **slow), stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.kill()
    p.wait()
    T.check(p.returncode == -9, "the slowed-down run ended before the kill")
    T.check(not os.path.exists(os.path.join(out, "manifest.json")), "manifest before the end")
    convert(os.path.basename(out), ["--threads", "2"])
    T.same_dataset(t.path("t1"), out, "random kill after %gs" % delay)
print("kill -9 at random moments + rerun: identical")

# SIGINT: exit 130, nothing half-written, resumable.
out = t.path("int")
p = subprocess.Popen([t.pretok] + common + ["--out", out, "--threads", "2"] + inputs,
                     env=dict(os.environ, **slow), stderr=subprocess.PIPE)
time.sleep(0.8)
p.send_signal(signal.SIGINT)
_, err = p.communicate()
T.check(p.returncode == 130, "SIGINT: exit %d, expected 130: %s" % (p.returncode, err))
T.check(b"interrupted" in err and b"again" in err, "SIGINT message: %s" % err)
n = len(json.load(open(os.path.join(out, ".pretok-state.json")))["shards"])
T.check(("interrupted: %d shard%s finished and kept; run the same command again to resume" %
         (n, "" if n == 1 else "s")).encode() in err, "SIGINT message, %d shards: %s" % (n, err))
left = os.listdir(out)
T.check(not any(f.endswith(".tmp") for f in left), "temp files left: %s" % left)
T.check("manifest.json" not in left, "manifest after SIGINT")
convert("int", ["--threads", "2"])
T.same_dataset(t.path("t1"), out, "SIGINT + rerun")
print("SIGINT: exit 130, clean, resumed identical")

# SIGINT ignored at start (a shell's background job): the conversion goes on.
out = t.path("ign")
p = subprocess.Popen([t.pretok] + common + ["--out", out, "--threads", "2"] + inputs,
                     env=dict(os.environ, **slow), stderr=subprocess.PIPE,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
time.sleep(0.8)
T.check(p.poll() is None, "the slowed-down run ended before the signal")
p.send_signal(signal.SIGINT)
_, err = p.communicate()
T.check(p.returncode == 0, "ignored SIGINT: exit %d, expected 0: %s" % (p.returncode, err))
T.same_dataset(t.path("t1"), out, "ignored SIGINT")
print("SIGINT ignored at start: the conversion completes, identical")

# A resume with other options is refused.
convert("kill1after_state", ["--shard-tokens", "5000"], rc=1)

# A state changed after the crash, a number still in range: refused by its
# checksum (persisted 1 -> 1000000 lost 22 documents silently; changed counts
# made a manifest that does not add up), the shards left as they are.
out = "kill3edited"
convert(out, ["--threads", "2"], {"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "3",
                                  "INGOT_PRETOK_TEST_CRASH_MODE": "after_state"}, rc=-9)
sp = t.path(out, ".pretok-state.json")
st = json.load(open(sp))
T.check("checksum" in st, "the state has no checksum")
st["persisted"][0][1] += 1000000


def refused_state(st, want, what):
    """st written over the state: the rerun is refused (want in its message), no manifest."""
    with open(sp, "w") as f:
        json.dump(st, f, indent=1)
    _, err = convert(out, ["--threads", "2"], rc=1)
    T.check("damaged resume state" in err and want in err, "%s: not refused: %s" % (what, err))
    T.check(not os.path.exists(t.path(out, "manifest.json")), "%s: a manifest written" % what)


refused_state(st, "checksum", "an edited state")
print("an edited resume state: refused (checksum), nothing written")
# ... and with its checksum key renamed (states older than the checksum have none, but
# none of them has "mtimes"): the check is not turned off (it lost 187 of 1200
# documents with exit 0)
st["checksun"] = st.pop("checksum")
refused_state(st, "has no checksum", "a state without its checksum")
print("a resume state whose checksum key is gone: refused, nothing written")

# An input changed under an unfinished conversion: its own command is this one, so the
# message says to restore the inputs (it said "made with other settings ... finish it
# with its own command: <this command>", which failed again)
ch = t.path("chg")
os.makedirs(ch)
shutil.copy(t.path("b.jsonl"), ch)
args = common + ["--out", t.path("chgout"), ch]
t.run(args, rc=-9, env={"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "1",
                        "INGOT_PRETOK_TEST_CRASH_MODE": "after_state"}, what="chg, killed")
with open(os.path.join(ch, "b.jsonl"), "a") as f:
    f.write('{"text": "one more"}\n')
_, err = t.run(args, rc=1, what="chg, an input grew")
T.check("inputs have changed since it started" in err and "restore them" in err and
        "its own command" not in err, "an input changed under a resume: %s" % err)
print("an input changed under an unfinished conversion: says to restore it, not to rerun")

# Standard input: a resume reads the stream again from its start. One that ends before
# the finished shards' records (an upstream command that failed: an empty pipe), or
# another stream (the same files in another order), is refused, the shards kept (both
# sealed the dataset with exit 0: 306 of 1200 documents, or a mix of the two streams);
# the same stream completes it as an uninterrupted run.
stream = open(t.path("b.jsonl"), "rb").read() + open(t.path("d", "e.jsonl"), "rb").read()
other = open(t.path("d", "e.jsonl"), "rb").read() + open(t.path("b.jsonl"), "rb").read()


def from_stdin(out, data, rc, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("INGOT_PRETOK_TEST_")}
    e.update(env or {})
    p = subprocess.run([t.pretok] + common + ["--out", t.path(out), "-"], input=data,
                       capture_output=True, env=e)
    err = p.stderr.decode("utf-8", "replace")
    T.check(p.returncode == rc, "%s: exit %d, expected %d: %s" % (out, p.returncode, rc, err))
    return err


from_stdin("sref", stream, 0)
from_stdin("scrash", stream, -9, {"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "3",
                                  "INGOT_PRETOK_TEST_CRASH_MODE": "after_state"})
st = json.load(open(t.path("scrash", ".pretok-state.json")))
T.check(st.get("stdin_head", [0])[0] == 65536, "the state has no stdin_head: %s"
        % st.get("stdin_head"))
for data, what, msg in ((b"", "an empty stream", "standard input ended after 0 lines"),
                        (stream[:5000], "a shorter stream", "standard input ended after"),
                        (other, "another order", "is not the stream the interrupted run read")):
    err = from_stdin("scrash", data, 1)
    T.check(msg in err and "pipe the same data again" in err, "%s: %s" % (what, err))
    T.check(not os.path.exists(t.path("scrash", "manifest.json")), "%s: sealed" % what)
# Another stream whose first 64 KiB match: a record inside the finished shards but
# past the head changed (`cat a b` resumed as `cat a c`); it was mixed in with exit 0.
st = json.load(open(t.path("scrash", ".pretok-state.json")))
at = st.get("stdin_chain", [0])[0]
lines = stream.split(b"\n")
T.check(at > 0 and len(b"\n".join(lines[:at - 1])) > 65536,
        "the state's stdin_chain %s is not past the 64 KiB head" % st.get("stdin_chain"))
late = lines[:]
late[at - 2] = late[at - 2].replace(b'"text": "', b'"text": "changed ', 1)
T.check(late[at - 2] != lines[at - 2], "the test did not change line %d" % (at - 1))
late = b"\n".join(late)
T.check(late[:65536] == stream[:65536], "the changed stream's head differs")
err = from_stdin("scrash", late, 1)
T.check("its records up to line %d differ" % at in err and "pipe the same data again" in err,
        "a stream changed past its head: %s" % err)
T.check(not os.path.exists(t.path("scrash", "manifest.json")), "a late change: sealed")
# ... and one that changes only after the finished shards' records is the same run
# going on: taken (those records are not in any shard yet)
after = lines[:]
after[-2] = after[-2].replace(b'"text": "', b'"text": "later ', 1)
from_stdin("slate", stream, -9, {"INGOT_PRETOK_TEST_CRASH_AFTER_SHARD": "3",
                                 "INGOT_PRETOK_TEST_CRASH_MODE": "after_state"})
from_stdin("slate", b"\n".join(after), 0)
from_stdin("scrash", stream, 0)
T.same_dataset(t.path("sref"), t.path("scrash"), "standard input resumed")
print("standard input: an empty, shorter or other stream (also one that differs only past "
      "its first 64 KiB) refused on resume; the same stream completes it identically")

t.cleanup()
print("ok")
