#!/usr/bin/env python3
"""Convert an ingot-train metrics file (--metrics, JSON Lines) into TensorBoard
event files.

    scripts/metrics-to-tensorboard.py metrics.jsonl --logdir runs/NAME
    scripts/metrics-to-tensorboard.py metrics.jsonl --logdir runs/NAME --follow
    tensorboard --logdir runs

Scalars: train/loss, train/accuracy, train/lr, train/grad_norm, train/tok_per_s,
val/loss, and for a mixture data/src<i>_tokens (tokens taken from each --data
source) and val/src<i>_loss (the val loss of source i's windows; none where it
has no windows), with the step as x and wall times rebuilt from elapsed_s. Writes with
torch.utils.tensorboard (torch + the tensorboard package) or tensorboardX,
whichever imports; without either it says what to install and exits 2.
--list prints the scalars instead (no packages needed). Each conversion replaces
the event files an earlier one of the same metrics file wrote into the log directory
(their names end in .ingot-metrics; the file they came from is recorded beside them in
.ingot-metrics-source), so running it again updates rather than duplicates; events of
another file there (r1/metrics.jsonl and r2/metrics.jsonl both default to runs/metrics)
are refused with exit 2 and left as they are: pass --logdir. --follow keeps converting
new records as training writes them (and starts over when a resumed run rewrites the
file); started before the run creates the file, it waits for it.

A hand-edited or damaged file is read as plot-metrics.py reads it
(scripts/metrics_records.py): lines that are no record (not JSON, not an object, no
whole "step", neither "loss" nor "val_loss") are skipped and values that are no number
ignored, reported in one line; null, NaN and infinities give no scalar. A file whose
steps go back (another run appended to it: `cat a.jsonl b.jsonl`) is converted with a
warning naming the line where each further run starts (TensorBoard shows one series per
tag). A file that cannot be read or holds no record is refused (exit 2), except while
--follow waits for a run's first records.
"""
import argparse
import glob
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import metrics_records  # noqa: E402  (next to this script)

SUFFIX = ".ingot-metrics"
SOURCE = ".ingot-metrics-source"   # in the log directory: the file its events came from
RUNS_HINT = ("TensorBoard gets them as one series per tag, its steps going back (which it "
             "may drop as a restart): put each run in its own file and --logdir")
STEP_KEYS = (("loss", "train/loss"), ("accuracy", "train/accuracy"), ("lr", "train/lr"),
             ("grad_norm", "train/grad_norm"), ("tok_per_s", "train/tok_per_s"))
FOLLOW_MAX = 86400.0


def fail(msg):
    print("metrics-to-tensorboard: " + msg, file=sys.stderr)
    sys.exit(2)


def scalars(recs, base_time=0.0):
    """(tag, step, value, wall_time) for every number of every record.
    Evaluation records have no elapsed_s: they take the time of the last
    step record before them."""
    elapsed = 0.0
    for r in recs:   # numbers are floats or None (metrics_records)
        step = r["step"]
        if r.get("elapsed_s") is not None:
            elapsed = r["elapsed_s"]
        wall = base_time + elapsed
        if "val_loss" in r:
            if r["val_loss"] is not None:
                yield "val/loss", step, r["val_loss"], wall
            for i, v in enumerate(r.get("val_src") or []):
                if v is not None:   # null: no windows of that source
                    yield "val/src%d_loss" % i, step, v, wall
            continue
        for key, tag in STEP_KEYS:
            v = r.get(key)
            if v is not None:
                yield tag, step, v, wall
        for i, v in enumerate(r.get("src_tokens") or []):
            if v is not None:
                yield "data/src%d_tokens" % i, step, v, wall


def summary_writer():
    """SummaryWriter from torch.utils.tensorboard or tensorboardX, or None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
        return SummaryWriter
    except Exception:   # ImportError, or torch without the tensorboard package
        pass
    try:
        from tensorboardX import SummaryWriter
        return SummaryWriter
    except Exception:
        return None


class LogdirError(Exception):
    """The log directory cannot be written; str() is the whole message."""


class Converter:
    def __init__(self, path, logdir, writer_cls):
        self.path, self.logdir, self.writer_cls = path, logdir, writer_cls
        self.source = os.path.realpath(path)   # what SOURCE records
        self.writer, self.offset, self.ino, self.n = None, 0, None, 0
        self._fresh()

    def _fresh(self):
        self.lines, self.skipped, self.reported = 0, metrics_records.Skipped(), None
        self.runs, self.runs_reported = metrics_records.Runs(), None

    def _logdir_error(self, e):
        return LogdirError("--logdir %s: %s%s" % (
            self.logdir, e.strerror or e, " (a file, not a directory)"
            if os.path.exists(self.logdir) and not os.path.isdir(self.logdir) else ""))

    def check_logdir(self):
        """LogdirError where the log directory holds event files of another metrics
        file (or of a conversion that did not record its file), which a conversion
        would delete."""
        events = glob.glob(os.path.join(glob.escape(self.logdir),
                                        "events.out.tfevents.*" + SUFFIX))
        if not events:
            return
        try:
            with open(os.path.join(self.logdir, SOURCE), encoding="utf-8",
                      errors="surrogateescape") as f:
                theirs = f.read()
        except FileNotFoundError:
            theirs = None
        except OSError as e:
            raise self._logdir_error(e) from None
        if theirs is not None and theirs.endswith("\n"):
            theirs = theirs[:-1]
        if theirs == self.source:
            return
        parent = os.path.basename(os.path.dirname(self.source))
        other = os.path.join(os.path.dirname(os.path.normpath(self.logdir)), parent)
        if not parent or os.path.normpath(other) == os.path.normpath(self.logdir):
            other = os.path.normpath(self.logdir) + "-2"
        n = "%d event file%s" % (len(events), "s" * (len(events) != 1))
        whose = ("of %s" % theirs if theirs is not None else
                 "of a conversion that did not record its metrics file (no %s: an older "
                 "metrics-to-tensorboard.py)" % SOURCE)
        raise LogdirError(
            "--logdir %s holds %s %s; converting %s there would delete %s: pass "
            "--logdir DIR for this file (e.g. --logdir %s), or remove %s first to "
            "replace them" % (self.logdir, n, whose, self.path,
                              "it" if len(events) == 1 else "them", other,
                              os.path.join(self.logdir, "*" + SUFFIX)))

    def restart(self):
        """Drop what earlier conversions of this file wrote and start a fresh event
        file; LogdirError where the log directory holds another file's events."""
        if self.writer:
            self.writer.close()
            self.writer = None
        self.check_logdir()
        try:
            os.makedirs(self.logdir, exist_ok=True)
            for f in glob.glob(os.path.join(glob.escape(self.logdir),
                                            "events.out.tfevents.*" + SUFFIX)):
                os.unlink(f)
            src = os.path.join(self.logdir, SOURCE)
            with open(src + ".tmp", "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write(self.source + "\n")
            os.replace(src + ".tmp", src)
            self.writer = self.writer_cls(log_dir=self.logdir, filename_suffix=SUFFIX)
        except OSError as e:
            raise self._logdir_error(e) from None
        self.offset, self.n = 0, 0
        self._fresh()

    def warning(self):
        """The skipped lines and ignored values so far, once per change, or None."""
        s = self.skipped.summary(self.path)
        if s == self.reported:
            return None
        self.reported = s
        return s

    def runs_warning(self):
        """Where further runs start in the file (another run appended), once per
        change, or None."""
        s = self.runs.warning(self.path, RUNS_HINT)
        if s == self.runs_reported:
            return None
        self.runs_reported = s
        return s

    def poll(self, final=False):
        """Convert the complete lines added since the last call; start over
        when the file was replaced or shortened (a resumed run drops the
        records past its checkpoint). final: a one-shot conversion, where a last
        line without its newline is complete (a file cut by hand, or a run killed
        after the record's bytes); while following, it waits for its newline."""
        st = os.stat(self.path)
        if self.writer is None or st.st_ino != self.ino or st.st_size < self.offset:
            self.restart()
            self.ino = st.st_ino
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1   # a line being written waits for its newline
        if final and data and not data.endswith(b"\n"):
            end = len(data)
        if end == 0:
            return 0
        self.offset += end
        lines = data[:end].split(b"\n")   # as ingot-train splits them
        if lines[-1] == b"":
            lines.pop()
        recs = list(metrics_records.parse(lines, self.skipped, self.lines + 1))
        self.lines += len(lines)
        for r in recs:
            self.runs.see(r)
        last = max([r["elapsed_s"] for r in recs if r.get("elapsed_s") is not None] or [0.0])
        base = st.st_mtime - last
        for tag, step, value, wall in scalars(recs, base):
            self.writer.add_scalar(tag, value, global_step=step, walltime=wall)
            self.n += 1
        self.writer.flush()
        return len(recs)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics", metavar="FILE", help="ingot-train --metrics file (JSON Lines)")
    ap.add_argument("--logdir", metavar="DIR",
                    help="TensorBoard log directory (default: runs/<FILE without extension>)")
    ap.add_argument("--follow", nargs="?", const=10.0, type=float, metavar="SECONDS",
                    help="keep converting new records every SECONDS (default 10) until ^C")
    ap.add_argument("--list", action="store_true",
                    help="print tag, step, value per scalar instead of writing events")
    args = ap.parse_args()
    if args.follow is not None and not 0 < args.follow <= FOLLOW_MAX:
        ap.error("--follow %g: seconds, more than 0 and at most %g" % (args.follow, FOLLOW_MAX))

    if args.list or not args.follow:
        # the whole file now: refused before anything is written where it holds no record
        try:
            recs, skipped = metrics_records.read(args.metrics)
        except metrics_records.MetricsError as e:
            fail(str(e))
    if args.list:
        if skipped.summary(args.metrics):
            print("metrics-to-tensorboard: " + skipped.summary(args.metrics), file=sys.stderr)
        found = metrics_records.split(recs)[1]
        if found.starts:
            print("metrics-to-tensorboard: " + found.warning(args.metrics, RUNS_HINT),
                  file=sys.stderr)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `--list | head`: quietly
        for tag, step, value, _ in scalars(recs):
            print("%s\t%d\t%.17g" % (tag, step, value))
        return 0
    if os.path.isdir(args.metrics) or not (args.follow or os.path.exists(args.metrics)):
        fail(str(metrics_records.open_error(args.metrics, OSError())))
    cls = summary_writer()
    if cls is None:
        print("metrics-to-tensorboard: needs a TensorBoard writer: torch with the "
              "tensorboard package (pip install torch tensorboard) or tensorboardX "
              "(pip install tensorboardX); neither imports in %s. --list prints the "
              "scalars without them." % sys.executable, file=sys.stderr)
        return 2
    logdir = args.logdir or os.path.join(
        "runs", os.path.splitext(os.path.basename(args.metrics))[0])
    conv = Converter(args.metrics, logdir, cls)

    def poll(final=False):
        n = conv.poll(final=final)
        for w in (conv.warning(), conv.runs_warning()):
            if w:
                print("metrics-to-tensorboard: " + w, file=sys.stderr)
        return n
    try:
        conv.check_logdir()   # refused at once, not after waiting for the file
        if args.follow and not os.path.exists(args.metrics):
            print("metrics-to-tensorboard: %s: not there yet; waiting for ingot-train to "
                  "create it (checking every %gs; ^C to stop)" % (args.metrics, args.follow),
                  file=sys.stderr)
            while not os.path.exists(args.metrics):
                time.sleep(args.follow)
        poll(final=not args.follow)
        print("%s: %d scalars -> %s" % (args.metrics, conv.n, logdir))
        while args.follow:
            time.sleep(args.follow)
            if poll():
                print("%s: %d scalars" % (args.metrics, conv.n))
    except KeyboardInterrupt:
        pass
    except LogdirError as e:
        fail(str(e))
    except OSError as e:   # the file removed or unreadable since
        fail(str(metrics_records.open_error(args.metrics, e)))
    finally:
        if conv.writer:
            conv.writer.close()
    return 0

if __name__ == "__main__":
    sys.exit(main())
