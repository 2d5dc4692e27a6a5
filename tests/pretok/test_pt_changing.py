#!/usr/bin/python3
"""An input that changes while the conversion reads it: a file still being
written (a download, a writer appending) or replaced in place. It was read
up to the size it had when opened, its cut last line taken as a record
(a truncated document, or a malformed_json skip), what was appended lost,
and the run ended "done" with exit 0. Now the file counts as damaged: the
records up to its last whole line are kept, the cut line is not, and the run
fails once the dataset is written, naming the file and what changed; an
input changed between the listing and its reading (the state and manifest
keep the listed size and time) the same."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
T.need_hooks(t.pretok)
model = T.small_unigram(t)
docs = T.documents(40, 3000)
# slow: every read 4 KiB, batches of 8 records that each take 10 ms, so that
# the reads of a 300 kB file take seconds
slow = {"INGOT_PRETOK_TEST_BATCH_DELAY_MS": "10", "INGOT_PRETOK_TEST_BATCH_ITEMS": "8",
        "INGOT_PRETOK_TEST_CHUNK_BYTES": "4096"}
common = ["--model", model, "--threads", "2", "--max-skip-fraction", "1"]


def is_open(pid, path):
    """True when process pid holds path open."""
    d = "/proc/%d/fd" % pid
    try:
        for fd in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, fd)) == path:
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def run_changing(args, opened, change, not_opened=None):
    """Run ingot-pretok; once it holds `opened` open (and not `not_opened`),
    call change(). Returns (rc, stderr)."""
    p = T.subprocess.Popen([t.pretok] + args, stdout=T.subprocess.PIPE,
                           stderr=T.subprocess.PIPE, env=dict(os.environ, **slow))
    t0 = time.time()
    while not is_open(p.pid, opened):
        if p.poll() is not None:
            T.fail("it ended before it opened %s: %s" % (opened, p.stderr.read().decode()))
        T.check(time.time() - t0 < 30, "%s never opened" % opened)
        time.sleep(0.001)
    if not_opened:
        T.check(not is_open(p.pid, not_opened), "%s opened already" % not_opened)
    change()
    out, err = p.communicate(timeout=120)
    return p.returncode, err.decode("utf-8", "replace")


def lines(ds):
    return "".join(x + "\n" for x in ds)


# 1. A JSON Lines file being written: 2000 whole records and half of the
# next when the run opens it; the writer finishes while it is read.
recs = [json.dumps({"text": d}) for d in docs[:2500]]
grow = t.path("grow.jsonl")
head = lines(recs[:2000]) + recs[2000][:20]
with open(grow, "w") as f:
    f.write(head)


def append_rest():
    with open(grow, "a") as f:
        f.write(recs[2000][20:] + "\n" + lines(recs[2001:]))


out = t.path("out1")
rc, err = run_changing(common + ["--out", out, grow], grow, append_rest)
T.check(rc == 1, "a file that grew while read: exit %d, expected 1\n%s" % (rc, err))
for w in ("grow.jsonl:2001: unreadable_file: changed while read",
          "%d bytes when listed" % len(head.encode()), "Kept up to line 2000",
          "--allow-damaged-inputs", "new --out"):
    T.check(w in err, "the message lacks %r:\n%s" % (w, err))
T.check("malformed_json" not in err, "the cut line was parsed:\n%s" % err)
m, got = T.dataset_docs(out)
T.check([r for _, r, _ in got] == list(range(1, 2001)),
        "the records kept are not lines 1-2000: %d of them" % len(got))
t.verify(out)

# 2. The same for a text file, one document per line: the cut line became a
# document ("no final newline", nothing lost).
grow_t = t.path("grow.txt")
with open(grow_t, "w") as f:
    f.write(lines(docs[:2000]) + docs[2000][:10])


def append_text():
    with open(grow_t, "a") as f:
        f.write(docs[2000][10:] + "\n" + lines(docs[2001:2500]))


out = t.path("out2")
rc, err = run_changing(common + ["--out", out, "--txt-doc", "line", grow_t], grow_t,
                       append_text)
T.check(rc == 1, "a text file that grew while read: exit %d, expected 1\n%s" % (rc, err))
T.check("grow.txt:2001: unreadable_file: changed while read" in err, err)
T.check("no_final_newline" not in err, "the cut line was taken:\n%s" % err)
m, got = T.dataset_docs(out)
T.check(len(got) == 2000 and got[-1][1] == 2000, "kept %d documents" % len(got))

# 3. Changed after the listing, before it was opened: a second file, written
# to while the first is read. Its listed size and time (what the manifest and
# the state keep) are not those of what was read.
first, second = t.path("first.jsonl"), t.path("second.jsonl")
with open(first, "w") as f:
    f.write(lines(recs[:2000]))
with open(second, "w") as f:
    f.write(lines(recs[2000:2100]))


def append_second():
    with open(second, "a") as f:
        f.write(lines(recs[2100:2200]))


out = t.path("out3")
rc, err = run_changing(common + ["--out", out, first, second], first, append_second,
                       not_opened=second)
T.check(rc == 1, "a file changed after the listing: exit %d, expected 1\n%s" % (rc, err))
T.check("second.jsonl:" in err and "changed while read" in err and
        "first.jsonl: unreadable" not in err, err)

# 3b. Rewritten in place while read, the size unchanged (another version of
# it written over it): its time tells.
same = t.path("same.jsonl")
with open(same, "w") as f:
    f.write(lines(recs[:2000]))
st0 = os.stat(same)


def rewrite():
    data = lines(recs[:2000][::-1]).encode()
    fd = os.open(same, os.O_WRONLY)
    os.write(fd, data)
    os.close(fd)
    os.utime(same, ns=(st0.st_atime_ns, st0.st_mtime_ns + 2 * 10**9))


out = t.path("out3b")
rc, err = run_changing(common + ["--out", out, same], same, rewrite)
T.check(rc == 1 and "same.jsonl:" in err and "changed while read" in err and
        "; modified)" in err, "rewritten in place: exit %d\n%s" % (rc, err))

# 4. Unchanged, the same slow run is clean (exit 0, nothing damaged).
out = t.path("out4")
rc, err = run_changing(common + ["--out", out, first, second], first, lambda: None)
T.check(rc == 0 and "changed" not in err, "an unchanged input: exit %d\n%s" % (rc, err))

t.cleanup()
print("ok")
