#!/usr/bin/env python3
"""Draw an ingot-train metrics file (--metrics, JSON Lines) to a PNG: training
loss (and a smoothed curve), val loss, accuracy, and throughput.

    scripts/plot-metrics.py metrics.jsonl [-o loss.png] [--title TEXT]
    scripts/plot-metrics.py a.jsonl b.jsonl -o compare.png     (several runs)

Needs matplotlib (Debian: python3-matplotlib; use /usr/bin/python3 where the
default python3 lacks it). Prints the PNG's path.
"""
import argparse
import json
import math
import os
import sys


def load(path):
    steps, vals = [], []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                print(f"{path}:{n}: skipping a line that is not JSON", file=sys.stderr)
                continue
            if "val_loss" in rec:
                vals.append(rec)
            elif "loss" in rec:
                steps.append(rec)
    return steps, vals


def smooth(xs):
    """Exponential moving average, started at the first finite value; the
    window grows with the run (about a tenth of it, at most ~50 steps)."""
    alpha = min(0.98, max(0.0, 1.0 - 10.0 / max(len(xs), 1)))
    out, m = [], None
    for x in xs:
        if x is None or not math.isfinite(x):
            out.append(float("nan"))
            continue
        m = x if m is None else alpha * m + (1 - alpha) * x
        out.append(m)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="metrics JSON Lines files")
    ap.add_argument("-o", "--output", help="PNG path (default: first file with .png)")
    ap.add_argument("--title", help="figure title")
    args = ap.parse_args()

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot-metrics: matplotlib is not installed (apt install python3-matplotlib, "
                 "or run with /usr/bin/python3)")

    runs = []
    for path in args.files:
        try:
            steps, vals = load(path)
        except OSError as e:
            sys.exit(f"plot-metrics: {path}: {e.strerror}")
        if not steps and not vals:
            sys.exit(f"plot-metrics: {path}: no step or val records")
        runs.append((path, steps, vals))

    out = args.output or os.path.splitext(args.files[0])[0] + ".png"
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax_loss, ax_acc, ax_tps = axes
    many = len(runs) > 1
    for i, (path, steps, vals) in enumerate(runs):
        color = f"C{i}"
        label = os.path.basename(path) if many else None
        if steps:
            x = [r["step"] for r in steps]
            loss = [r.get("loss") for r in steps]
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
            ax_loss.plot([r["step"] for r in vals], [r["val_loss"] for r in vals], "o-",
                         color=color if many else "C3", markersize=3.5, linewidth=1.4,
                         label=(label + " val" if many else "val"))
    ax_loss.set(xlabel="step", ylabel="loss (nats/token)", title="loss")
    ax_acc.set(xlabel="step", ylabel="top-1 accuracy (%)", title="next-token accuracy")
    ax_tps.set(xlabel="step", ylabel="tokens / s", title="throughput")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    ax_loss.legend()
    if many:
        ax_tps.legend()
    title = args.title or " | ".join(
        f"{os.path.basename(p)}: step {s[-1]['step']}, loss {s[-1]['loss']:.3f}"
        + (f", val {v[-1]['val_loss']:.3f}" if v else "")
        for p, s, v in runs if s)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
