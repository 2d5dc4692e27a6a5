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
the event files an earlier one wrote into the log directory (their names end in
.ingot-metrics), so running it again updates rather than duplicates; --follow
keeps converting new records as training writes them (and starts over when a
resumed run rewrites the file).
"""
import argparse
import glob
import json
import os
import signal
import sys
import time

SUFFIX = ".ingot-metrics"
STEP_KEYS = (("loss", "train/loss"), ("accuracy", "train/accuracy"), ("lr", "train/lr"),
             ("grad_norm", "train/grad_norm"), ("tok_per_s", "train/tok_per_s"))


def records(lines):
    """Parsed JSON objects of complete lines; other lines are skipped."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int):
            yield rec


def scalars(recs, base_time=0.0):
    """(tag, step, value, wall_time) for every number of every record.
    Evaluation records have no elapsed_s: they take the time of the last
    step record before them."""
    elapsed = 0.0
    for r in recs:
        step = r["step"]
        if isinstance(r.get("elapsed_s"), (int, float)):
            elapsed = r["elapsed_s"]
        wall = base_time + elapsed
        if "val_loss" in r:
            if isinstance(r["val_loss"], (int, float)):
                yield "val/loss", step, float(r["val_loss"]), wall
            for i, v in enumerate(r.get("val_src") or []):
                if isinstance(v, (int, float)):   # null: no windows of that source
                    yield "val/src%d_loss" % i, step, float(v), wall
            continue
        for key, tag in STEP_KEYS:
            v = r.get(key)
            if isinstance(v, (int, float)):
                yield tag, step, float(v), wall
        for i, v in enumerate(r.get("src_tokens") or []):
            if isinstance(v, (int, float)):
                yield "data/src%d_tokens" % i, step, float(v), wall


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


class Converter:
    def __init__(self, path, logdir, writer_cls):
        self.path, self.logdir, self.writer_cls = path, logdir, writer_cls
        self.writer, self.offset, self.ino, self.n = None, 0, None, 0

    def restart(self):
        """Drop what earlier conversions wrote and start a fresh event file."""
        if self.writer:
            self.writer.close()
        os.makedirs(self.logdir, exist_ok=True)
        for f in glob.glob(os.path.join(self.logdir, "events.out.tfevents.*" + SUFFIX)):
            os.unlink(f)
        self.writer = self.writer_cls(log_dir=self.logdir, filename_suffix=SUFFIX)
        self.offset, self.n = 0, 0

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
        lines = data[:end].decode("utf-8", "replace").splitlines()
        recs = list(records(lines))
        last = max([r["elapsed_s"] for r in recs if isinstance(r.get("elapsed_s"), (int, float))]
                   or [0.0])
        base = st.st_mtime - last
        for tag, step, value, wall in scalars(recs, base):
            self.writer.add_scalar(tag, value, global_step=step, walltime=wall)
            self.n += 1
        self.writer.flush()
        return len(recs)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("metrics", help="ingot-train --metrics file (JSON Lines)")
    ap.add_argument("--logdir", help="TensorBoard log directory (default: runs/<file name>)")
    ap.add_argument("--follow", nargs="?", const=10.0, type=float, metavar="SECONDS",
                    help="keep converting new records every SECONDS (default 10) until ^C")
    ap.add_argument("--list", action="store_true",
                    help="print tag, step, value per scalar instead of writing events")
    args = ap.parse_args()

    if args.list:
        try:
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `--list | head`: quietly
            with open(args.metrics, encoding="utf-8", errors="replace") as f:
                for tag, step, value, _ in scalars(records(f)):
                    print("%s\t%d\t%.17g" % (tag, step, value))
        except OSError as e:
            sys.exit("metrics-to-tensorboard: %s: %s" % (args.metrics, e.strerror))
        return 0
    cls = summary_writer()
    if cls is None:
        print("metrics-to-tensorboard: needs a TensorBoard writer: torch with the "
              "tensorboard package (pip install torch tensorboard) or tensorboardX "
              "(pip install tensorboardX); neither imports in %s. --list prints the "
              "scalars without them." % sys.executable, file=sys.stderr)
        return 2
    if not os.path.isfile(args.metrics):
        sys.exit("metrics-to-tensorboard: %s: not a file" % args.metrics)
    logdir = args.logdir or os.path.join(
        "runs", os.path.splitext(os.path.basename(args.metrics))[0])
    if args.follow is not None and not args.follow > 0:
        ap.error("--follow %g: seconds, more than 0" % args.follow)
    conv = Converter(args.metrics, logdir, cls)
    conv.poll(final=not args.follow)
    print("%s: %d scalars -> %s" % (args.metrics, conv.n, logdir))
    try:
        while args.follow:
            time.sleep(args.follow)
            if conv.poll():
                print("%s: %d scalars" % (args.metrics, conv.n))
    except KeyboardInterrupt:
        pass
    conv.writer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
