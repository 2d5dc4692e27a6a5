#!/usr/bin/python3
"""Issue 9, defect 2: one conversion per --out at a time. A run takes an
exclusive flock on OUT/.pretok.lock and writes its pid there; a second run
into the same directory (here: a process holding that lock, as a running
conversion does) exits 1 naming the holder's pid and leaves the directory
as it was. Once the holder is gone the same command works (the stale lock
file is harmless: flock is released with its process)."""
import fcntl
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, _ = T.small_corpus(t)
out = t.path("out")
args = ["--model", model, "--out", out, "--threads", "2", "--quiet", inp]

# A holder: a child process that takes the lock the way a conversion does and
# waits for us (its pid is what the message must name).
os.mkdir(out)
holder = subprocess.Popen([sys.executable, "-c", """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.write(fd, b"%d\\n" % os.getpid())
print("locked", flush=True)
sys.stdin.read()
""", os.path.join(out, ".pretok.lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
T.check(holder.stdout.readline().strip() == b"locked", "the lock holder did not start")
rc, _, err = T.run_bounded(t, args, 60)
T.check(rc == 1, "second run while locked: exit %s, expected 1: %s" % (rc, err))
T.check(str(holder.pid) in err, "the message does not name the holder's pid %d: %s" %
        (holder.pid, err))
T.check("in use" in err, "the message does not say the directory is in use: %s" % err)
left = sorted(f for f in os.listdir(out) if f != ".pretok.lock")
T.check(left == [], "the refused run wrote into %s: %s" % (out, left))
holder.stdin.close()
holder.wait()
print("locked --out: refused, names pid %d, wrote nothing" % holder.pid)

# The holder is gone: the same command converts; a rerun finds it complete.
t.run(args, what="after the holder ended")
t.verify(out)
t.run(args, what="rerun")
# The last run's pid stays in the lock file (it names whoever holds it).
T.check(open(os.path.join(out, ".pretok.lock")).read().strip().isdigit(),
        "the lock file does not hold a pid")
print("lock released with its process: converted, rerun fine")

# A closed standard descriptor is not taken by the lock file: with stdin
# closed, "-" read the lock file (its pid became a document); with stdout
# closed, --json went into it. Now they are /dev/null, and "-" on a closed
# stdin is refused.
def closed(fd):
    return lambda: os.close(fd)
out2 = t.path("out-closed-stdin")
p = subprocess.run([t.pretok, "--model", model, "--out", out2, "--stdin-format", "text", "-"],
                   preexec_fn=closed(0), capture_output=True, timeout=60)
err = p.stderr.decode()
# '-' with standard input closed is refused as such (it read as an empty input)
T.check(p.returncode == 2 and "standard input is closed" in err and not os.path.exists(out2),
        "stdin closed: exit %d, expected 2 naming the closed input: %s" % (p.returncode, err))
out3 = t.path("out-closed-stdout")
p = subprocess.run([t.pretok, "--model", model, "--out", out3, "--json", inp],
                   preexec_fn=closed(1), stderr=subprocess.PIPE, timeout=60)
lock = open(os.path.join(out3, ".pretok.lock")).read()
T.check(p.returncode == 0 and lock.strip().isdigit(),
        "stdout closed: exit %d, the lock file holds %r" % (p.returncode, lock[:80]))
t.verify(out3)
print("closed stdin / stdout: /dev/null, the lock file untouched")

# Something other than a regular file where the lock goes (planted, or left
# by a mistake) is never used: a link is not followed, a FIFO not blocked on.
# Before, a link said only "Too many levels of symbolic links" (exit 1), a
# directory "Is a directory" (exit 1), a FIFO "not a regular file" (exit 2).
# Now each is named by what it is, with what to do, and exits 2, as every
# other --out that holds what the command did not write; merge's OUT too.
target = t.path("not-mine")
with open(target, "w") as f:
    f.write("keep me\n")
for i, (kind, make) in enumerate([("a symbolic link", lambda p: os.symlink(target, p)),
                                  ("a symbolic link", lambda p: os.symlink(t.path("nowhere"), p)),
                                  ("a FIFO (named pipe)", os.mkfifo),
                                  ("a directory", os.mkdir)]):
    d = t.path("out-odd-%d" % i)
    os.mkdir(d)
    lock = os.path.join(d, ".pretok.lock")
    make(lock)
    convert = ["--model", model, "--out", d, "--quiet", inp]
    for what, a in [("convert", convert), ("merge", ["merge", d, out])]:
        what = "%s, %s at %s" % (what, kind, lock)
        rc, _, err = T.run_bounded(t, a, 60)
        T.check(rc == 2, "%s: exit %s, expected 2: %s" % (what, rc, err))
        T.check("%s: is %s, not ingot-pretok's lock file" % (lock, kind) in err and
                "remove it and run the same command again" in err,
                "%s: the message does not name the path, what it is and what to do: %s" %
                (what, err))
        T.check(os.listdir(d) == [".pretok.lock"], "%s: the refused run wrote into %s: %s" %
                (what, d, sorted(os.listdir(d))))
    T.check(open(target).read() == "keep me\n" and not os.path.exists(t.path("nowhere")),
            "%s: the link was followed" % kind)
    # removed, as the message says: the same command converts
    if kind == "a directory":
        os.rmdir(lock)
    else:
        os.unlink(lock)
    t.run(convert, what="%s removed" % kind)
    t.verify(d)
print("a link, a dangling link, a FIFO, a directory as the lock file: exit 2, named, "
      "nothing followed or written; once removed, converted")

t.cleanup()
print("ok")
