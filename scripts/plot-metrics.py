#!/usr/bin/env python3
"""Draw an ingot-train metrics file (--metrics, JSON Lines) to a PNG: training
loss (and a smoothed curve), val loss (a mixture's also by source, dashed, named as
the val line names them: "val web"; "val data i" for the i-th --data in files from
before the names were recorded), accuracy, and throughput.

    scripts/plot-metrics.py metrics.jsonl [-o loss.png] [--title TEXT]
    scripts/plot-metrics.py r1/m.jsonl r2/m.jsonl -o compare.png     (several runs)

Several files are overlaid, each named by the shortest end of its path that tells it
from the others (r1/m.jsonl, r2/m.jsonl). A file whose steps go back (another run
appended to it: `cat a.jsonl b.jsonl`) is drawn as one curve per run (run 1, run 2),
with a warning naming the line where each further run starts.

Uses matplotlib, which scripts/setup.sh installs for the system Python
(python3-matplotlib). Run by a python3 without it (a virtual environment, pyenv),
the script re-runs itself with /usr/bin/python3 when that one has it; otherwise it
says how to install it and writes a plain PNG of the loss curves (no text, no
dependencies). Prints the PNG's path.

A hand-edited or damaged file is read as metrics-to-tensorboard.py reads it
(scripts/metrics_records.py): lines that are no record (not JSON, not an object, no
whole "step", neither "loss" nor "val_loss") are skipped and values that are no number
ignored, reported in one line per file; null, NaN and infinities are gaps, and so are
values beyond +-1e300 (no loss or rate is that large; the range of two of them overflows
the axes), counted and reported. A file that cannot be read or holds no record is
refused (exit 2), as is an -o that cannot be written. The PNG is written to a temp file
beside -o and renamed over it, so a write that fails (a full disk, ^C) leaves an
earlier PNG as it was.
"""
import argparse
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import metrics_records  # noqa: E402  (next to this script)

NAN = float("nan")
PLOT_MAX = 1e300   # larger values are not drawn: hi - lo of two of them overflows
DRAWN = ("loss", "accuracy", "tok_per_s", "val_loss")


def load(path):
    """([(step records, val records) per run], Skipped, Runs) of a metrics file: one
    run unless another was appended to it (metrics_records.Runs); MetricsError where it
    cannot be read or holds no record."""
    recs, skipped = metrics_records.read(path)
    parts, found = metrics_records.split(recs)
    return ([([r for r in p if "val_loss" not in r], [r for r in p if "val_loss" in r])
             for p in parts], skipped, found)


def drop_too_large(recs, dropped):
    """Make the drawn values of recs beyond +-PLOT_MAX gaps, counted in dropped (a
    metrics_records.Skipped) by field and line."""
    for r in recs:
        for k in DRAWN:
            v = r.get(k)
            if v is not None and abs(v) > PLOT_MAX:
                r[k] = None
                dropped.value(r.line, k, "beyond +-1e300")
        src = r.get("val_src")
        if src and any(v is not None and abs(v) > PLOT_MAX for v in src):
            r["val_src"] = [None if v is not None and abs(v) > PLOT_MAX else v for v in src]
            dropped.value(r.line, "val_src", "with an entry beyond +-1e300")


def path_labels(paths):
    """Each path's shortest ending (whole components) that no other path ends in:
    r1/metrics.jsonl and r2/metrics.jsonl, a.jsonl beside them; a file named twice
    gets #1, #2 after its path."""
    parts = [os.path.abspath(p).split(os.sep) for p in paths]
    out = []
    for i, (p, comps) in enumerate(zip(paths, parts)):
        others = [c for j, c in enumerate(parts) if j != i]
        for k in range(1, len(comps) + 1):
            if all(c[-k:] != comps[-k:] for c in others):
                out.append(os.path.join(*comps[-k:]))
                break
        else:   # the same file named again
            out.append("%s #%d" % (p, sum(c == comps for c in parts[:i]) + 1))
    return out


def number(v):
    """v for a title: 3 decimals, or 3 digits for a large one."""
    return "%.3f" % v if abs(v) < 1e6 else "%.3g" % v


def write_replacing(out, write):
    """write(f) into a temp file beside out, renamed over out once complete (out's
    mode kept; through a symbolic link, its target): a write that fails leaves an
    earlier out whole and no temp file. OSError or write's exception on failure."""
    dest = os.path.realpath(out)
    try:
        mode = os.stat(dest).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest),
                               prefix="." + os.path.basename(dest) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def nan_for_none(xs):
    return [NAN if x is None else x for x in xs]


def last_finite(recs, key):
    """The last record with a finite value of key, or None."""
    return next((r for r in reversed(recs) if r.get(key) is not None), None)


def fail(msg):
    print("plot-metrics: " + msg, file=sys.stderr)
    sys.exit(2)


def src_val(rec, k):
    """Source k's val loss in a val record, NaN where it has none."""
    v = (rec.get("val_src") or [])[k:k + 1]
    return v[0] if v and v[0] is not None else NAN


def src_name(vals, k):
    """Source k's name as the val line prints it (the records' val_src_names, newest
    first); "data k" for files written before the names were recorded."""
    for r in reversed(vals):
        names = r.get("val_src_names") or []
        if k < len(names) and isinstance(names[k], str):
            return names[k]
    return f"data {k}"


def smooth(xs):
    """Bias-corrected exponential moving average (as Adam's moments and
    TensorBoard's smoothing): the average starts from 0 and is divided by
    1 - alpha^n, so the n-th point weighs the first n values about equally
    instead of dragging the first (highest) loss along for ~1/(1-alpha)
    steps. The window grows with the run (about a tenth of it, at most ~50
    steps). Missing or non-finite values give NaN and are skipped."""
    alpha = min(0.98, max(0.0, 1.0 - 10.0 / max(len(xs), 1)))
    out, m, n = [], 0.0, 0
    for x in xs:
        if x is None or not math.isfinite(x):
            out.append(float("nan"))
            continue
        n += 1
        m = alpha * m + (1 - alpha) * x
        out.append(m / (1 - alpha ** n) if alpha > 0 else x)
    return out


# ---- a PNG without matplotlib: curves only, standard library only ----

def _png(f, width, height, rows):
    """Write RGB rows (bytearrays of 3 * width) as a PNG to the binary file f."""
    import struct
    import zlib

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    f.write(b"\x89PNG\r\n\x1a\n")
    f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
    f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
    f.write(chunk(b"IEND", b""))


COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75)]


def plain_png(f, runs, width=900, height=500):
    """Loss (light: raw, dark: smoothed) and val loss (red dots) of every run
    on one pair of axes, inside a grey frame, as a PNG written to the file f."""
    rows = [bytearray(b"\xff" * (3 * width)) for _ in range(height)]
    L, R, T, B = 50, width - 20, 20, height - 40

    def put(x, y, c):
        if 0 <= x < width and 0 <= y < height:
            rows[y][3 * x:3 * x + 3] = bytes(c)

    def line(x0, y0, x1, y1, c):
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            put(x0, y0, c)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    pts = [(r["step"], r["loss"]) for _, st, _ in runs for r in st if r.get("loss") is not None]
    pts += [(r["step"], r["val_loss"]) for _, _, vs in runs for r in vs
            if r.get("val_loss") is not None]
    x_lo, x_hi = min(p[0] for p in pts), max(p[0] for p in pts)
    y_lo, y_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    x_hi = max(x_hi, x_lo + 1)
    if not y_hi > y_lo:   # one value (+ 1e-9 is no change to a large one)
        pad = max(abs(y_lo), 1.0) * 1e-6
        y_lo, y_hi = y_lo - pad, y_hi + pad

    def px(step, y):
        return (L + round((step - x_lo) / (x_hi - x_lo) * (R - L)),
                B - round((y - y_lo) / (y_hi - y_lo) * (B - T)))

    for x0, y0, x1, y1 in ((L, T, R, T), (R, T, R, B), (R, B, L, B), (L, B, L, T)):
        line(x0, y0, x1, y1, (128, 128, 128))
    for i, (_, steps, vals) in enumerate(runs):
        c = COLORS[i % len(COLORS)]
        light = tuple(255 - (255 - v) // 3 for v in c)
        xs = [r["step"] for r in steps]
        for curve, color in (([r.get("loss") for r in steps], light),
                             (smooth([r.get("loss") for r in steps]), c)):
            prev = None
            for step, y in zip(xs, curve):
                if y is None or not math.isfinite(y):
                    prev = None
                    continue
                p = px(step, y)
                if prev:
                    line(prev[0], prev[1], p[0], p[1], color)
                prev = p
        for r in vals:
            v = r.get("val_loss")
            if v is not None:
                x, y = px(r["step"], v)
                for ddx in range(-2, 3):
                    for ddy in range(-2, 3):
                        put(x + ddx, y + ddy, (214, 39, 40))
    _png(f, width, height, rows)


def reexec_with_system_python():
    """The Python that scripts/setup.sh provisions is the system one: when
    this interpreter lacks matplotlib and /usr/bin/python3 has it, run
    there instead (once). A virtual environment made by /usr/bin/python3 -m venv
    runs the same executable (its realpath is /usr/bin/python3's) with other
    site-packages, so only the system interpreter outside a venv is passed over."""
    sysp = "/usr/bin/python3"
    if os.environ.get("INGOT_PLOT_REEXEC") or not os.access(sysp, os.X_OK):
        return
    if os.path.realpath(sys.executable) == os.path.realpath(sysp) and \
            sys.prefix == getattr(sys, "base_prefix", sys.prefix):
        return   # this is /usr/bin/python3 with its own site-packages: nothing to gain
    import subprocess
    probe = subprocess.run([sysp, "-c", "import matplotlib; matplotlib.use('Agg'); "
                            "import matplotlib.pyplot"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    if probe.returncode == 0:
        os.environ["INGOT_PLOT_REEXEC"] = "1"
        os.execv(sysp, [sysp, os.path.abspath(__file__)] + sys.argv[1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", metavar="FILE",
                    help="ingot-train --metrics files (JSON Lines); several are overlaid")
    ap.add_argument("-o", "--output", metavar="PNG",
                    help="the image to write (default: the first FILE with .png for its "
                    "extension)")
    ap.add_argument("--title", help="figure title")
    ap.add_argument("--plain", action="store_true",
                    help="write the plain PNG (curves only) even where matplotlib exists")
    args = ap.parse_args()

    out = args.output or os.path.splitext(args.files[0])[0] + ".png"
    if os.path.isdir(out):
        fail("-o %s: a directory; name the PNG file to write" % out)
    if not os.path.isdir(os.path.dirname(out) or "."):
        fail("-o %s: no directory %s (create it first)" % (out, os.path.dirname(out)))
    if any(os.path.realpath(out) == os.path.realpath(f) for f in args.files):
        fail("%s would be overwritten by the PNG; name another with -o" % out)
    # read before matplotlib is looked for (a refusal comes at once), warned about
    # after it (a re-run under the system Python would repeat the warnings).
    # runs: (label, step records, val records) per curve: a file, or each run in it
    runs, warnings = [], []
    many_files = len(args.files) > 1
    for path, label in zip(args.files, path_labels(args.files)):
        try:
            parts, skipped, found = load(path)
        except metrics_records.MetricsError as e:
            fail(str(e))
        if skipped.summary(path):
            warnings.append("plot-metrics: " + skipped.summary(path))
        dropped = metrics_records.Skipped()
        for steps, vals in parts:
            drop_too_large(steps + vals, dropped)
        if dropped.summary(path):
            warnings.append("plot-metrics: " + dropped.summary(
                path, "not drawn, as gaps: no loss or rate is that large, and the range of "
                "two such values overflows the axes"))
        if len(parts) > 1:
            warnings.append("plot-metrics: " + found.warning(
                path, "Drawn as %d runs (%s)" % (len(parts), ", ".join(
                    "run %d" % (k + 1) for k in range(len(parts))))))
        for k, (steps, vals) in enumerate(parts):
            name = label if many_files else os.path.basename(path)
            if len(parts) > 1:
                name = ("%s run %d" % (label, k + 1)) if many_files else "run %d" % (k + 1)
            runs.append((name, steps, vals))
    if not any(r.get("loss") is not None for _, st, _ in runs for r in st) and \
            not any(r.get("val_loss") is not None for _, _, vs in runs for r in vs):
        fail("%s: no finite loss to draw (every loss is null, NaN or beyond +-1e300: a "
             "run that diverged from its first step?)" % ", ".join(args.files))

    plt = None
    if not args.plain:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            reexec_with_system_python()
            print("plot-metrics: matplotlib is not installed for %s; writing a plain PNG "
                  "(loss curves, no text). For the full figure: apt install "
                  "python3-matplotlib (scripts/setup.sh does) and run with /usr/bin/python3, "
                  "or pip install matplotlib" % sys.executable, file=sys.stderr)
            plt = None
        except Exception as e:   # installed but broken, e.g. against a pip numpy
            reexec_with_system_python()
            print("plot-metrics: matplotlib is installed for %s but fails to import (%s: %s; "
                  "often a numpy from pip beside a matplotlib from apt: pip install "
                  "matplotlib, or remove the pip numpy); writing a plain PNG (loss curves, "
                  "no text)" % (sys.executable, type(e).__name__, str(e).splitlines()[0]
                                if str(e) else ""), file=sys.stderr)
            plt = None
    for w in warnings:
        print(w, file=sys.stderr)

    if plt is None:
        try:
            write_replacing(out, lambda f: plain_png(f, runs))
        except OSError as e:
            fail("-o %s: %s" % (out, e.strerror or e))
        print(out)
        return 0
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax_loss, ax_acc, ax_tps = axes
    many = len(runs) > 1
    for i, (series, steps, vals) in enumerate(runs):
        color = f"C{i % 10}"
        label = series if many else None
        if steps:
            x = [r["step"] for r in steps]
            loss = nan_for_none([r.get("loss") for r in steps])
            ax_loss.plot(x, loss, color=color, alpha=0.25, linewidth=0.8)
            ax_loss.plot(x, smooth(loss), color=color, linewidth=1.6,
                         label=(label + " train" if many else "train (smoothed)"))
            acc = [100 * r["accuracy"] if r.get("accuracy") is not None else float("nan")
                   for r in steps]
            ax_acc.plot(x, acc, color=color, alpha=0.3, linewidth=0.8)
            ax_acc.plot(x, smooth(acc), color=color, linewidth=1.6, label=label)
            tps = [r.get("tok_per_s") or float("nan") for r in steps]
            ax_tps.plot(x, tps, color=color, linewidth=1.0, label=label)
        if vals:
            ax_loss.plot([r["step"] for r in vals], nan_for_none([r["val_loss"] for r in vals]),
                         "o-",
                         color=color if many else "C3", markersize=3.5, linewidth=1.4,
                         label=(label + " val" if many else "val"))
            # a mixture's val loss by source (null where a source has no windows)
            n_src = max(len(r.get("val_src") or []) for r in vals)
            for k in range(n_src):
                y = [src_val(r, k) for r in vals]
                name = src_name(vals, k)
                ax_loss.plot([r["step"] for r in vals], y, "s--",
                             color=color if many else f"C{(4 + k) % 10}", markersize=2.5,
                             linewidth=1.0, alpha=0.8,
                             label=(f"{label} val {name}" if many else f"val {name}"))
    ax_loss.set(xlabel="step", ylabel="loss (nats/token)", title="loss")
    ax_acc.set(xlabel="step", ylabel="top-1 accuracy (%)", title="next-token accuracy")
    ax_tps.set(xlabel="step", ylabel="tokens / s", title="throughput")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    ax_loss.legend()
    if many:
        ax_tps.legend()
    title = args.title or " | ".join(
        f"{p}: step {s['step']}, loss {number(s['loss'])}"
        + (f", val {number(v['val_loss'])}" if v else "")
        for p, s, v in ((p, last_finite(st, "loss"), last_finite(vs, "val_loss"))
                        for p, st, vs in runs) if s)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    # the format from -o's extension, as savefig(out) takes it, but png without one
    # (savefig(out) would write out.png, not the out printed)
    fmt = os.path.splitext(out)[1][1:] or "png"
    try:
        write_replacing(out, lambda f: fig.savefig(f, format=fmt, dpi=110))
    except OSError as e:
        fail("-o %s: %s" % (out, e.strerror or e))
    except ValueError as e:   # an extension matplotlib cannot write
        fail("-o %s: %s" % (out, str(e).splitlines()[0] if str(e) else "cannot write"))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
