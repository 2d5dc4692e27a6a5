#!/usr/bin/env python3
"""scripts/plot-metrics.py and scripts/metrics-to-tensorboard.py, without
matplotlib, torch or tensorboardX (hidden where installed, by stand-in modules
that fail to import):
- the smoothed training curve is a bias-corrected EMA: its first point is the
  first loss, and on a falling curve it never lies above the running mean (a
  plain EMA started at the first loss stays near it for ~50 steps);
- without matplotlib plot-metrics says how to install it and still writes a
  valid PNG with the curves drawn;
- metrics-to-tensorboard without a writer package says what to install and
  exits 2; --list gives every scalar of step, val and mixture records (a
  mixture's val loss by source: one val/src<i>_loss per number, none for null);
- where matplotlib imports for real, plot-metrics draws a mixture's val loss
  by source (a null among them) without failing;
- run by the python of a venv made by /usr/bin/python3 -m venv (no matplotlib), it
  re-runs itself with /usr/bin/python3 when that one has matplotlib;
- where tensorboardX imports for real, the event file it writes holds those
  scalars, and a second conversion replaces it rather than adding one;
- hand-edited files (scripts/metrics_records.py, which both read with): lines that
  are no record (valid JSON but no object, a string or boolean step, neither loss nor
  val_loss, non-UTF-8 bytes, JSON nested too deep) are skipped and values that are no
  number ignored, reported in one line naming the kinds and the line numbers, the
  same line from both scripts, never a traceback; null, NaN, infinities and whole
  numbers too large for a float are gaps; an empty file, a directory, a missing file,
  a file without records, only null losses (plot) and an -o that cannot be written
  are refused in one line with exit 2, before anything is written (the event files
  of an earlier conversion stay); the converter numbers lines across --follow polls
  and refuses a --logdir that is a file;
- two runs in one file (`cat m.jsonl m.jsonl`): both scripts warn naming the line where
  the second starts; plot-metrics draws each run as its own curve (run 1, run 2), the
  converter warns while following too;
- several files are labelled by the shortest path ending that tells them apart
  (r1/metrics.jsonl, r2/metrics.jsonl), seen in matplotlib's legend where it imports;
- a PNG write that fails (a file size limit) leaves the earlier PNG whole and no temp
  file; values beyond +-1e300 (a range of them overflows) are gaps, counted, no traceback;
- metrics-to-tensorboard (a stand-in tensorboardX that writes text) refuses, exit 2,
  a log directory holding another metrics file's events (r1/metrics.jsonl and
  r2/metrics.jsonl both default to runs/metrics) and leaves them as they were, while
  converting the same file again replaces them; --follow waits for a file not yet
  there, saying so once.
usage: test_metrics_scripts.py SCRIPTS_DIR"""
import importlib.util
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read_png(path):
    """(width, height, rows of RGB bytes) of an 8-bit RGB PNG, filter 0 only."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s: not a PNG" % path)
    i, idat, w, h = 8, b"", None, None
    while i < len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + n]
        crc = struct.unpack(">I", data[i + 8 + n:i + 12 + n])[0]
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            fail("%s: bad CRC in %s" % (path, kind))
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype != 2:
                fail("%s: not 8-bit RGB" % path)
        elif kind == b"IDAT":
            idat += body
        i += 12 + n
    raw = zlib.decompress(idat)
    stride = 3 * w + 1
    if len(raw) != stride * h:
        fail("%s: %d bytes of pixels for %dx%d" % (path, len(raw), w, h))
    return w, h, [raw[r * stride + 1:(r + 1) * stride] for r in range(h)]


def run(cmd, env=None):
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    return p.returncode, p.stdout, p.stderr


GOOD = ('{"step": 1, "loss": 5.0, "accuracy": 0.1, "tok_per_s": 100, "elapsed_s": 1}\n'
        '{"step": 2, "loss": 4.0, "accuracy": 0.2, "tok_per_s": 100, "elapsed_s": 2}\n')
# name: (content after GOOD's two lines, the warning's words); lines 3 and on
EDITED = {
    "list": (b'[1, 2]\n"a string"\n42\nnull\n', "skipped 4 lines: 4 not a JSON object "
             "(lines 3, 4, 5, ...)"),
    "strstep": (b'{"step": "3", "loss": 3.0}\n{"step": true, "loss": 3.0}\n'
                b'{"step": -1, "loss": 3.0}\n{"loss": 3.0}\n',
                'skipped 4 lines: 3 without a whole-number "step" (lines 3, 4, 5); '
                '1 without "step" (line 6)'),
    "noloss": (b'{"step": 3, "accuracy": 0.3}\n',
               'skipped 1 line: 1 with neither "loss" nor "val_loss" (line 3)'),
    "notnum": (b'{"step": 3, "loss": "3.0", "tok_per_s": [1]}\n'
               b'{"step": 4, "val_loss": 3, "val_src": "ab", "val_src_names": [1, "x"]}\n',
               'ignored 4 values: 1 "loss" not a number (line 3); 1 "tok_per_s" not a number '
               '(line 3); 1 "val_src" not a list (line 4); 1 "val_src_names" with an entry '
               'that is not a string (line 4)'),
    "utf8": (b'{"step": 3, "loss": \xff}\n\xfe\xfd\n{"step": 4, "loss": 2.5}\n',
             "skipped 2 lines: 2 not UTF-8 text (lines 3, 4)"),
    "deep": (b"[" * 100000 + b"]" * 100000 + b"\n{oops\n",
             "skipped 2 lines: 2 not JSON (lines 3, 4)"),
    # gaps, no warning: what ingot-train writes for a diverged step (null), and
    # hand-edited NaN, Infinity, a whole number too large for a float
    "gaps": (b'{"step": 3, "loss": null, "accuracy": null}\n{"step": 4, "loss": NaN}\n'
             b'{"step": 5, "loss": Infinity, "val_loss": -Infinity}\n'
             b'{"step": 6, "loss": 1' + b"0" * 400 + b'}\n', None),
}


def hand_edited(tmp, plot_py, tb_py, env, m2tb, writer):
    """Finding: plot-metrics died with a traceback on each of these."""
    d = os.path.join(tmp, "edited")
    os.makedirs(d)
    summaries = {}
    for name, (tail, want) in EDITED.items():
        path = os.path.join(d, name + ".jsonl")
        with open(path, "wb") as f:
            f.write(GOOD.encode() + tail)
        for extra in ([], ["--plain"]):
            png = os.path.join(d, name + "-".join([""] + extra) + ".png")
            rc, out, err = run([sys.executable, plot_py, path, "-o", png] + extra, env)
            warned = [ln for ln in err.splitlines() if path in ln]
            if rc != 0 or "Traceback" in err or not os.path.getsize(png) or \
                    (want and (len(warned) != 1 or want not in warned[0])) or \
                    (not want and warned):
                fail("plot-metrics %s %s: rc %d, wanted one warning %r, stderr %r"
                     % (name, extra, rc, want, err))
        summaries[name] = warned[0].split(": ", 1)[1] if want else None
        rc, out, err = run([sys.executable, tb_py, path, "--list"], env)
        warned = [ln for ln in err.splitlines() if path in ln]
        got = warned[0].split(": ", 1)[1] if warned else None
        if rc != 0 or "Traceback" in err or got != summaries[name] or \
                "train/loss\t2\t4" not in out:
            fail("metrics-to-tensorboard --list %s: rc %d, warning %r, plot-metrics' %r, "
                 "stdout %r" % (name, rc, got, summaries[name], out))
        if name == "gaps" and (any("train/loss\t%d\t" % k in out for k in (3, 4, 5, 6)) or
                               "val/loss" in out or "train/accuracy\t3\t" in out):
            fail("null, NaN, Infinity or 1e400 converted: %r" % out)
    print("hand-edited files: %d kinds of damage skipped or ignored with the same one-line "
          "warning from both scripts, no traceback" % len(EDITED))

    # refused in one line, exit 2, nothing written
    nulls = os.path.join(d, "nulls.jsonl")
    with open(nulls, "w") as f:
        f.write('{"step": 1, "loss": null}\n{"step": 2, "loss": NaN}\n')
    junk = os.path.join(d, "junk.jsonl")
    with open(junk, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n\x00\x01\nnot json\n")
    empty = os.path.join(d, "empty.jsonl")
    open(empty, "w").close()
    ok = os.path.join(d, "gaps.jsonl")
    refusals = [
        ([empty], "empty.jsonl: empty; ingot-train --metrics writes a record per step"),
        ([d], "edited: a directory, not a metrics file"),
        ([os.path.join(d, "missing.jsonl")], "missing.jsonl: no such file"),
        ([junk], "junk.jsonl: no step or val records in 4 lines; skipped 4 lines: "
                 "1 not UTF-8 text (line 1); 3 not JSON (lines 2, 3, 4)"),
    ]
    for files, want in refusals + [
            ([nulls], "nulls.jsonl: no finite loss to draw"),
            ([ok, "-o", os.path.join(d, "no-such-dir", "x.png")], "no directory"),
            ([ok, "-o", d], "a directory; name the PNG file"),
            ([ok, "-o", ok], "would be overwritten by the PNG")]:
        for extra in ([], ["--plain"]):
            rc, out, err = run([sys.executable, plot_py] + files + extra, env)
            if rc != 2 or len(err.splitlines()) != 1 or want not in err or out:
                fail("plot-metrics %s %s: rc %d (want 2), stderr %r (want one line with %r)"
                     % (files, extra, rc, err, want))
    for files, want in refusals:
        rc, out, err = run([sys.executable, tb_py, files[0], "--list"], env)
        if rc != 2 or len(err.splitlines()) != 1 or want not in err or out:
            fail("metrics-to-tensorboard --list %s: rc %d (want 2), stderr %r (want %r)"
                 % (files, rc, err, want))
    with open(ok, "rb") as f:
        if b"\x89PNG" in f.read():
            fail("-o naming the input overwrote it")
    print("plot-metrics, metrics-to-tensorboard: empty, directory, missing, no records, "
          "only null losses, unwritable -o: refused in one line, exit 2")

    # a one-shot conversion (a stand-in writer) refuses an empty file before it
    # replaces an earlier conversion's event files
    logdir = os.path.join(d, "tb")
    os.makedirs(logdir)
    old = os.path.join(logdir, "events.out.tfevents.1.host" + m2tb.SUFFIX)
    open(old, "w").close()
    m2tb.summary_writer = lambda: writer
    for args, want in (([empty, "--logdir", logdir], "empty"),
                       ([ok, "--logdir", old], "a file, not a directory"),
                       ([ok, "--follow", "inf"], "at most 86400")):
        sys.argv = ["metrics-to-tensorboard.py"] + args
        saved, sys.stderr = sys.stderr, open(os.path.join(d, "err.txt"), "w")
        try:
            rc = m2tb.main()
        except SystemExit as e:
            rc = e.code
        finally:
            sys.stderr.close()
            sys.stderr = saved
        err = open(os.path.join(d, "err.txt")).read()
        if rc != 2 or want not in err or "Traceback" in err or not os.path.exists(old):
            fail("metrics-to-tensorboard %s: rc %r, stderr %r, earlier events kept: %s"
                 % (args, rc, err, os.path.exists(old)))

    # --follow: lines numbered across polls, a warning only when it changes
    grow = os.path.join(d, "grow.jsonl")
    with open(grow, "w") as f:
        f.write(GOOD + "oops\n")
    conv = m2tb.Converter(grow, os.path.join(d, "tb2"), writer)
    conv.poll()
    w1 = conv.warning()
    with open(grow, "a") as f:
        f.write('{"step": 3, "loss": "x"}\n[]\n')
    conv.poll()
    w2 = conv.warning()
    conv.poll()
    w3 = conv.warning()
    if not w1 or "1 not JSON (line 3)" not in w1 or not w2 or \
            '1 "loss" not a number (line 4); 1 not a JSON object (line 5)' not in w2 or w3:
        fail("--follow warnings: %r, %r, %r" % (w1, w2, w3))
    print("metrics-to-tensorboard: an empty file and a --logdir that is a file refused "
          "(earlier events kept); --follow numbers lines across polls")


def colour_pixels(png, colour):
    w, h, rows = read_png(png)
    return sum(1 for r in rows for x in range(w) if tuple(r[3 * x:3 * x + 3]) == tuple(colour))


def limited_fsize(nbytes):
    """preexec_fn: a file size limit (writes past it fail with EFBIG; Python ignores
    SIGXFSZ)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))


# run by plot-metrics under a matplotlib that imports: the legend texts and the title
# it drew, written as JSON to argv[1]; argv[2:] the script and its arguments
MPL_HARNESS = r'''
import json, runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.figure as mf
seen, orig = {}, mf.Figure.savefig
def savefig(self, *a, **k):
    seen["legend"] = [t.get_text() for ax in self.axes if ax.get_legend()
                      for t in ax.get_legend().get_texts()]
    seen["title"] = self._suptitle.get_text() if self._suptitle else None
    return orig(self, *a, **k)
mf.Figure.savefig = savefig
out, sys.argv = sys.argv[1], sys.argv[2:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    with open(out, "w") as f:
        json.dump(seen, f)
'''


def runs_labels_writes(tmp, plot_py, tb_py, env, m, m2tb, writer, mpl):
    """Findings: two runs in one file were drawn as one curve going back from step 30
    to 1 (smoothed across both), silently; two files of one name were both labelled
    "metrics.jsonl"; a failed write (ulimit -f) left a truncated PNG over a good one;
    1e308 and -1e308 ended in a traceback."""
    d = os.path.join(tmp, "runs-labels")
    os.makedirs(d)
    plot = load(plot_py, "plot_metrics2")
    mixed = os.path.join(d, "mixed.jsonl")
    with open(m, "rb") as f:
        first = f.read().replace(b"not json\n", b"")   # 33 lines
    with open(mixed, "wb") as g:   # a second run after it, its loss 1 higher
        g.write(first + b"".join(
            json.dumps({"step": s, "loss": 6.0 - 0.1 * s, "elapsed_s": 0.5 * s}).encode() +
            b"\n" for s in range(1, 31)))
    want = "mixed.jsonl: line 34: step 1 after step 30: another run appended to this file?"
    png = os.path.join(d, "mixed.png")
    rc, out, err = run([sys.executable, plot_py, mixed, "-o", png, "--plain"], env)
    warned = [ln for ln in err.splitlines() if want in ln]
    if rc != 0 or len(warned) != 1 or "Drawn as 2 runs (run 1, run 2)" not in warned[0]:
        fail("plot-metrics, two runs in one file: rc %d, stderr %r (want one line with %r)"
             % (rc, err, want))
    n0, n1 = (colour_pixels(png, plot.COLORS[k]) for k in (0, 1))
    if n0 < 300 or n1 < 300:
        fail("plot-metrics, two runs in one file: %d and %d pixels of the two runs' curves "
             "(want each run drawn in its own colour)" % (n0, n1))
    rc, out, err = run([sys.executable, tb_py, mixed, "--list"], env)
    if rc != 0 or want not in err or len(err.splitlines()) != 1 or \
            out.count("train/loss\t1\t") != 2 or "train/loss\t30\t3\n" not in out:
        fail("metrics-to-tensorboard --list, two runs in one file: rc %d, stderr %r"
             % (rc, err))
    grow = os.path.join(d, "grow.jsonl")
    with open(grow, "wb") as f:
        f.write(first)
    conv = m2tb.Converter(grow, os.path.join(d, "tb"), writer)
    conv.poll()
    w1 = conv.runs_warning()
    with open(grow, "ab") as f:
        f.write(first)
    conv.poll()
    w2, w3 = conv.runs_warning(), conv.runs_warning()
    if w1 or not w2 or "line 34: step 1 after step 30" not in w2 or w3:
        fail("--follow, a second run appended: warnings %r, %r, %r" % (w1, w2, w3))
    print("two runs in one file: the line of the second named by both scripts (following "
          "too); plot-metrics draws each in its own colour")

    labels = plot.path_labels(["r1/metrics.jsonl", "r2/metrics.jsonl", "a.jsonl",
                               "b.jsonl", "b.jsonl"])
    if labels != ["r1/metrics.jsonl", "r2/metrics.jsonl", "a.jsonl", "b.jsonl #1",
                  "b.jsonl #2"]:
        fail("labels of several files: %r" % labels)
    print("plot-metrics labels: r1/metrics.jsonl, r2/metrics.jsonl (not metrics.jsonl twice)")

    # a write that fails leaves the earlier PNG as it was, and no temp file beside it
    keep = os.path.join(d, "keep.png")
    pys = [(sys.executable, env, ["--plain"])] + [(py, None, []) for py in mpl[:1]]
    for py, e, extra in pys:
        rc, out, err = run([py, plot_py, m, "-o", keep] + extra, e)
        if rc != 0:
            fail("plot-metrics -o keep.png: rc %d, stderr %r" % (rc, err))
        with open(keep, "rb") as f:
            good = f.read()
        before = sorted(os.listdir(d))
        p = subprocess.run([py, plot_py, m, "-o", keep] + extra, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, preexec_fn=limited_fsize(1024))
        with open(keep, "rb") as f:
            now = f.read()
        if p.returncode != 2 or "Traceback" in p.stderr or \
                "-o %s: File too large" % keep not in p.stderr or now != good or \
                sorted(os.listdir(d)) != before:
            fail("plot-metrics %s -o keep.png past a file size limit: rc %d, stderr %r, "
                 "keep.png %d bytes of %d %s, files %r (want the earlier PNG whole, no temp)"
                 % (extra, p.returncode, p.stderr, len(now), len(good),
                    "unchanged" if now == good else "changed", sorted(os.listdir(d))))
    print("plot-metrics: a write past a file size limit refused, the earlier PNG whole "
          "(%s)" % ", ".join("matplotlib" if not x else "plain" for _, _, x in pys))

    # values a range of which overflows: gaps, counted, no traceback
    huge = os.path.join(d, "huge.jsonl")
    with open(huge, "w") as f:
        f.write('{"step": 1, "loss": 1e308, "tok_per_s": 1e308}\n'
                '{"step": 2, "loss": -1e308, "tok_per_s": -1e308}\n'
                '{"step": 3, "loss": 2.0, "tok_per_s": 5}\n'
                '{"step": 4, "loss": -1e300, "tok_per_s": 6}\n')
    same = os.path.join(d, "same.jsonl")   # one value: the plain axes' range was 0
    with open(same, "w") as f:
        f.write('{"step": 1, "loss": 1e300}\n{"step": 2, "loss": 1e300}\n')
    want = ('huge.jsonl: ignored 4 values: 2 "loss" beyond +-1e300 (lines 1, 2); '
            '2 "tok_per_s" beyond +-1e300 (lines 1, 2) (not drawn, as gaps')
    for py, e, extra in pys:
        for path, w in ((huge, want), (same, None)):
            out_png = path + "-".join([""] + extra) + ".png"
            rc, out, err = run([py, plot_py, path, "-o", out_png] + extra, e)
            lines = [ln for ln in err.splitlines() if path in ln]
            if rc != 0 or "Traceback" in err or not os.path.getsize(out_png) or \
                    (w and (len(lines) != 1 or w not in lines[0])) or (not w and lines):
                fail("plot-metrics %s %s: rc %d, stderr %r (want one line with %r)"
                     % (os.path.basename(path), extra, rc, err, w))
    print("plot-metrics: +-1e308 not drawn, counted in one line; one value 1e300 drawn")

    if not mpl:
        return
    # matplotlib's legend: the files' distinguishing paths, a mixed file's runs
    r1, r2 = (os.path.join(d, r, "metrics.jsonl") for r in ("r1", "r2"))
    for r in (r1, r2):
        os.makedirs(os.path.dirname(r))
        with open(r, "wb") as f:
            f.write(first)
    seen_json = os.path.join(d, "seen.json")
    for files, want in (([r1, r2], ["r1/metrics.jsonl train", "r2/metrics.jsonl train"]),
                        ([mixed], ["run 1 train", "run 2 train"])):
        rc, out, err = run([mpl[0], "-c", MPL_HARNESS, seen_json, plot_py] + files +
                           ["-o", os.path.join(d, "legend.png")])
        with open(seen_json) as f:
            seen = json.load(f)
        if rc != 0 or any(w not in seen.get("legend", []) for w in want) or \
                any(t == "metrics.jsonl train" for t in seen.get("legend", [])) or \
                not all(w.split(" train")[0] + ":" in (seen.get("title") or "")
                        for w in want):
            fail("plot-metrics with matplotlib %s: rc %d, legend %r, title %r, stderr %r"
                 % ([os.path.relpath(x, d) for x in files], rc, seen.get("legend"),
                    seen.get("title"), err))
    print("plot-metrics with matplotlib: legend and title name r1/metrics.jsonl, "
          "r2/metrics.jsonl; a mixed file's run 1, run 2")


# a tensorboardX stand-in for subprocesses: each scalar a line of text in an event file
# named as the real writer names it (torch hidden, so that it is the one taken)
FAKE_TBX = '''import os, socket, time
class SummaryWriter:
    def __init__(self, log_dir, filename_suffix=""):
        os.makedirs(log_dir, exist_ok=True)
        self.f = open(os.path.join(log_dir, "events.out.tfevents.%d.%s%s" % (
            time.time_ns(), socket.gethostname(), filename_suffix)), "w")
    def add_scalar(self, tag, value, global_step, walltime):
        self.f.write("%s %d %r\\n" % (tag, global_step, value))
    def flush(self):
        self.f.flush()
    def close(self):
        self.f.close()
'''


def logdirs_and_follow(tmp, tb_py):
    """Findings: r1/metrics.jsonl then r2/metrics.jsonl both went to runs/metrics, the
    second deleting the first's events silently; --follow of a file not there yet exited
    2 "no such file" (the follower could not be started before the trainer)."""
    d, tb_py = os.path.join(tmp, "logdirs"), os.path.abspath(tb_py)   # run in d
    fake = os.path.join(d, "fake")
    for mod, text in (("tensorboardX", FAKE_TBX),
                      ("torch", "raise ImportError('hidden by test_metrics_scripts')\n")):
        os.makedirs(os.path.join(fake, mod))
        with open(os.path.join(fake, mod, "__init__.py"), "w") as f:
            f.write(text)
    env = dict(os.environ, PYTHONPATH=fake)
    for r in ("r1", "r2"):
        os.makedirs(os.path.join(d, r))
        with open(os.path.join(d, r, "metrics.jsonl"), "w") as f:
            f.write(GOOD)

    def tb(*args, timeout=30):
        p = subprocess.run([sys.executable, tb_py] + list(args), cwd=d, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def events(logdir):
        logdir = os.path.join(d, logdir)
        if not os.path.isdir(logdir):
            return {}
        return {n: open(os.path.join(logdir, n)).read() for n in os.listdir(logdir)
                if n.startswith("events.out.tfevents.")}
    rc, out, err = tb("r1/metrics.jsonl")
    first = events("runs/metrics")
    if rc != 0 or len(first) != 1 or "train/loss 2 4.0" not in list(first.values())[0]:
        fail("metrics-to-tensorboard r1/metrics.jsonl: rc %d, stderr %r, events %r"
             % (rc, err, first))
    want = ("--logdir runs/metrics holds 1 event file of %s; converting r2/metrics.jsonl "
            "there would delete it: pass --logdir DIR for this file (e.g. --logdir runs/r2)"
            % os.path.realpath(os.path.join(d, "r1", "metrics.jsonl")))
    for extra in ([], ["--follow", "0.1"]):
        rc, out, err = tb("r2/metrics.jsonl", *extra, timeout=10)
        if rc != 2 or len(err.splitlines()) != 1 or want not in err or \
                events("runs/metrics") != first:
            fail("metrics-to-tensorboard r2/metrics.jsonl %s after r1's: rc %d, stderr %r "
                 "(want exit 2, one line with %r), r1's events %s" % (
                     extra, rc, err, want, "kept" if events("runs/metrics") == first
                     else "changed"))
    rc, out, err = tb("r2/metrics.jsonl", "--logdir", "runs/r2")
    rc1, out1, err1 = tb("r1/metrics.jsonl")   # the same file again: replaced
    again = events("runs/metrics")
    if rc or rc1 or len(again) != 1 or set(again) == set(first) or len(events("runs/r2")) != 1:
        fail("metrics-to-tensorboard: r2 into runs/r2 (rc %d, %r), r1 again (rc %d, %r): "
             "event files %r (want one, replaced)" % (rc, err, rc1, err1, sorted(again)))
    os.makedirs(os.path.join(d, "runs", "old"))   # events of an earlier version: no source
    old = os.path.join(d, "runs", "old", "events.out.tfevents.1.host.ingot-metrics")
    open(old, "w").close()
    rc, out, err = tb("r1/metrics.jsonl", "--logdir", "runs/old")
    if rc != 2 or "did not record its metrics file" not in err or not os.path.exists(old):
        fail("metrics-to-tensorboard into a logdir of unknown events: rc %d, stderr %r"
             % (rc, err))
    print("metrics-to-tensorboard: r2/metrics.jsonl refused where r1's events are (exit 2, "
          "--logdir named, r1's kept); r1 again replaces its own")

    # --follow, started before the file exists: waits, says so once, converts it
    errf = os.path.join(d, "follow.err")
    with open(errf, "w") as ef:
        p = subprocess.Popen([sys.executable, tb_py, "later.jsonl", "--follow", "0.1"],
                             cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=ef)
    try:
        time.sleep(1.0)
        early = p.poll()
        with open(os.path.join(d, "later.jsonl"), "w") as f:
            f.write(GOOD)
        got, deadline = {}, time.time() + 20
        while early is None and time.time() < deadline and \
                "train/loss 2 4.0" not in "".join(got.values()):
            time.sleep(0.1)
            got = events("runs/later")
    finally:
        if p.poll() is None:
            p.terminate()
        p.wait()
    err = open(errf).read()
    if early is not None or "train/loss 2 4.0" not in "".join(got.values()) or \
            err.count("later.jsonl: not there yet; waiting for ingot-train to create it") != 1:
        fail("metrics-to-tensorboard --follow later.jsonl (not there yet): exited %r before "
             "the file came, events %r, stderr %r" % (early, got, err))
    print("metrics-to-tensorboard --follow: waits for a file not there yet (said once), "
          "then converts it")


def reexec_from_venv(tmp, plot_py, m, sys_mpl):
    """From a venv made by /usr/bin/python3 -m venv (no matplotlib in it; its python
    is /usr/bin/python3 by realpath), plot-metrics re-runs with /usr/bin/python3 when
    that one has matplotlib (sys_mpl): the PNG is matplotlib's (it names itself in the
    file), with no plain-PNG message."""
    sysp = "/usr/bin/python3"
    if not sys_mpl:
        print("/usr/bin/python3 has no matplotlib: the re-run from a venv not checked")
        return
    venv = os.path.join(tmp, "venv")
    if run([sysp, "-m", "venv", "--without-pip", venv])[0] != 0:
        print("/usr/bin/python3 -m venv unavailable: the re-run from a venv not checked")
        return
    vpy = os.path.join(venv, "bin", "python3")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "INGOT_PLOT_REEXEC")}
    rc, out, err = run([vpy, "-c", "import matplotlib"], env=env)
    if rc == 0:
        print("the venv imports matplotlib (a site-wide path?): the re-run not checked")
        return
    png = os.path.join(tmp, "venv.png")
    rc, out, err = run([vpy, plot_py, m, "-o", png], env=env)
    if rc != 0 or "plain PNG" in err or not os.path.exists(png) or \
            b"matplotlib" not in open(png, "rb").read().lower():
        fail("plot-metrics from a venv of /usr/bin/python3: rc %d, stderr %r (want the "
             "re-run with /usr/bin/python3 and matplotlib's figure)" % (rc, err))
    print("plot-metrics from a venv of /usr/bin/python3: re-run there, matplotlib's figure")


def main():
    scripts = sys.argv[1]
    plot_py = os.path.join(scripts, "plot-metrics.py")
    tb_py = os.path.join(scripts, "metrics-to-tensorboard.py")
    tmp = tempfile.mkdtemp(prefix="ingot-metrics-")

    # smoothing
    plot = load(plot_py, "plot_metrics")
    xs = [10.0] + [1.0 + 0.001 * i for i in range(199, 0, -1)]   # falls, then nearly flat
    sm = plot.smooth(xs)
    if sm[0] != xs[0]:
        fail("smoothed curve starts at %r, not the first loss %r" % (sm[0], xs[0]))
    for k in range(1, len(xs)):
        mean = sum(xs[:k + 1]) / (k + 1)
        if sm[k] > mean + 1e-9:
            fail("smoothed[%d] = %.4f is above the running mean %.4f: it starts high"
                 % (k, sm[k], mean))
    if not abs(sm[-1] - xs[-1]) < 0.5:
        fail("smoothed curve ends at %.4f, far from %.4f" % (sm[-1], xs[-1]))
    flat = plot.smooth([3.0] * 40 + [None, float("nan")] + [3.0] * 5)
    if any(abs(v - 3.0) > 1e-12 for v in flat if v == v) or flat[40] == flat[40]:
        fail("a constant curve does not stay constant, or a gap is not NaN: %r" % flat[38:43])
    print("smoothing: starts at the first loss, never above the running mean")

    # a metrics file: steps, evaluations, a mixture's src_tokens and val_src
    # (source 1 without windows at the first evaluation)
    m = os.path.join(tmp, "m.jsonl")
    with open(m, "w") as f:
        for s in range(1, 31):
            f.write(json.dumps({"step": s, "loss": 5.0 - 0.1 * s, "accuracy": 0.01 * s,
                                "lr": 1e-3, "grad_norm": 1.0 / s, "tokens": 64 * s,
                                "tok_per_s": 1000.0, "elapsed_s": 0.5 * s,
                                "src_tokens": [48 * s, 16 * s]}) + "\n")
            if s % 10 == 0:
                f.write(json.dumps({"step": s, "val_loss": 5.5 - 0.1 * s,
                                    "val_src": [5.4 - 0.1 * s, 5.8 - 0.1 * s if s > 10 else None],
                                    "val_src_windows": [6, 2 if s > 10 else 0],
                                    "val_src_names": ["web", "code"]}) + "\n")
        f.write("not json\n")

    # the legend names a source as the val line does (before: "val data 1"), and
    # falls back to its position for a file from before the names were recorded
    vals = [json.loads(line) for line in open(m) if line.startswith("{") and "val_loss" in line]
    if plot.src_name(vals, 1) != "code" or plot.src_name([{"val_src": [1.0]}], 0) != "data 0":
        fail("source names: %r, %r" % (plot.src_name(vals, 1),
                                       plot.src_name([{"val_src": [1.0]}], 0)))
    print("plot-metrics: sources named from val_src_names")

    # stand-ins that hide the optional packages
    hide = os.path.join(tmp, "hide")
    for mod in ("matplotlib", "torch", "tensorboardX"):
        os.makedirs(os.path.join(hide, mod))
        with open(os.path.join(hide, mod, "__init__.py"), "w") as f:
            f.write("raise ImportError('hidden by test_metrics_scripts')\n")
    env = dict(os.environ, PYTHONPATH=hide, INGOT_PLOT_REEXEC="1")

    png = os.path.join(tmp, "m.png")
    p = subprocess.run([sys.executable, plot_py, m, "-o", png], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0 or "apt install python3-matplotlib" not in p.stderr:
        fail("plot-metrics without matplotlib: rc %d, stderr %r" % (p.returncode, p.stderr))
    w, h, rows = read_png(png)
    n_dark = sum(1 for r in rows for x in range(w)
                 if tuple(r[3 * x:3 * x + 3]) == tuple(plot.COLORS[0]))
    n_val = sum(1 for r in rows for x in range(w) if tuple(r[3 * x:3 * x + 3]) == (214, 39, 40))
    if n_dark < w // 2 or n_val < 3 * 9:
        fail("plain PNG %dx%d: %d pixels of the smoothed curve, %d of val points"
             % (w, h, n_dark, n_val))
    print("plot-metrics without matplotlib: message, %dx%d PNG with %d curve pixels"
          % (w, h, n_dark))

    # installed but broken (a pip numpy beside an apt matplotlib raises AttributeError):
    # a message that says so, no traceback, the plain PNG
    broken = os.path.join(tmp, "broken")
    os.makedirs(os.path.join(broken, "matplotlib"))
    with open(os.path.join(broken, "matplotlib", "__init__.py"), "w") as f:
        f.write("raise AttributeError('_ARRAY_API not found')\n")
    png2 = os.path.join(tmp, "m2.png")
    p = subprocess.run([sys.executable, plot_py, m, "-o", png2],
                       env=dict(env, PYTHONPATH=broken), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0 or "fails to import (AttributeError" not in p.stderr or \
            "Traceback" in p.stderr or not os.path.exists(png2):
        fail("plot-metrics with a broken matplotlib: rc %d, stderr %r" % (p.returncode, p.stderr))
    print("plot-metrics with a broken matplotlib: says so, plain PNG")

    p = subprocess.run([sys.executable, tb_py, m, "--logdir", os.path.join(tmp, "tb")],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True)
    if p.returncode != 2 or "pip install tensorboardX" not in p.stderr or "tensorboard" \
            not in p.stderr:
        fail("metrics-to-tensorboard without a writer: rc %d, stderr %r"
             % (p.returncode, p.stderr))
    p = subprocess.run([sys.executable, tb_py, m, "--list"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if p.stderr != "metrics-to-tensorboard: %s: skipped 1 line: 1 not JSON (line 34) (%s)\n" \
            % (m, "each line of an ingot-train --metrics file is a JSON object such as "
               '{"step": 12, "loss": 3.9} or {"step": 100, "val_loss": 4.1}'):
        fail("--list: the line that is not JSON: stderr %r" % p.stderr)
    got = [line.split("\t") for line in p.stdout.splitlines()]
    tags = {}
    for tag, step, value in got:
        tags.setdefault(tag, []).append((int(step), float(value)))
    want = {"train/loss": 30, "train/accuracy": 30, "train/lr": 30, "train/grad_norm": 30,
            "train/tok_per_s": 30, "val/loss": 3, "data/src0_tokens": 30,
            "data/src1_tokens": 30, "val/src0_loss": 3, "val/src1_loss": 2}
    if p.returncode != 0 or {k: len(v) for k, v in tags.items()} != want:
        fail("--list: %r" % {k: len(v) for k, v in tags.items()})
    if tags["val/loss"][2] != (30, 2.5) or tags["data/src1_tokens"][-1] != (30, 480.0):
        fail("--list values: %r %r" % (tags["val/loss"], tags["data/src1_tokens"][-1]))
    if [s for s, _ in tags["val/src1_loss"]] != [20, 30] or \
            abs(tags["val/src0_loss"][0][1] - 4.4) > 1e-12:
        fail("--list val by source: %r %r" % (tags["val/src0_loss"], tags["val/src1_loss"]))
    print("metrics-to-tensorboard: message without a writer; --list gives %d scalars"
          % len(got))

    # the conversion itself, with a stand-in writer: a file whose last record lost its
    # newline gives every scalar in a one-shot conversion (it dropped the last record);
    # while following, that line waits for its newline
    import importlib.util
    spec = importlib.util.spec_from_file_location("m2tb", tb_py)
    m2tb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m2tb)

    class Writer:
        def __init__(self, log_dir, filename_suffix):
            self.n = 0

        def add_scalar(self, tag, value, global_step, walltime):
            self.n += 1

        def flush(self):
            pass

        def close(self):
            pass
    cut = os.path.join(tmp, "cut.jsonl")
    with open(m, "rb") as f, open(cut, "wb") as g:   # its last record, newline cut
        g.write(f.read().replace(b"not json\n", b"").rstrip(b"\n"))
    for final, want_n in ((True, len(got)), (False, None)):
        conv = m2tb.Converter(cut, os.path.join(tmp, "tb-stand-in"), Writer)
        conv.poll(final=final)
        if final and conv.n != want_n:
            fail("one-shot conversion without the final newline: %d scalars, --list %d"
                 % (conv.n, want_n))
        if not final and conv.n >= len(got):
            fail("following: a line without its newline was converted")
    print("metrics-to-tensorboard: a last record without its newline converted (one-shot)")

    hand_edited(tmp, plot_py, tb_py, env, m2tb, Writer)

    # the full figure, where matplotlib imports (here, or in the system Python the
    # script would re-run with): a mixture's val loss by source
    mpl = [py for py in (sys.executable, "/usr/bin/python3") if os.access(py, os.X_OK) and
           subprocess.run([py, "-c", "import matplotlib; matplotlib.use('Agg'); "
                           "import matplotlib.pyplot"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0]
    if mpl:
        png3 = os.path.join(tmp, "m3.png")
        p = subprocess.run([mpl[0], plot_py, m, "-o", png3], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
        if p.returncode != 0 or not os.path.getsize(png3):
            fail("plot-metrics with matplotlib, val by source: rc %d, stderr %r"
                 % (p.returncode, p.stderr))
        print("plot-metrics with matplotlib: a mixture's val by source drawn")
        # the hand-edited files through the full figure (its title took the last
        # record's loss, None there; a string step became a category)
        for name, (_, want) in EDITED.items():
            path = os.path.join(tmp, "edited", name + ".jsonl")
            rc, out, err = run([mpl[0], plot_py, path, "-o", path + ".full.png"])
            if rc != 0 or "Traceback" in err or (want and want not in err):
                fail("plot-metrics with matplotlib, %s: rc %d, stderr %r" % (name, rc, err))
        rc, out, err = run([mpl[0], plot_py, m, "-o", os.path.join(tmp, "m.txt")])
        if rc != 2 or "Traceback" in err or "-o %s: Format 'txt'" % os.path.join(tmp, "m.txt") \
                not in err.splitlines()[-1]:
            fail("plot-metrics with matplotlib, -o m.txt: rc %d, stderr %r" % (rc, err))
        print("plot-metrics with matplotlib: the hand-edited files drawn, -o x.txt refused")
    else:
        print("matplotlib not importable here: the full figure not checked")
    reexec_from_venv(tmp, plot_py, m, "/usr/bin/python3" in mpl)
    runs_labels_writes(tmp, plot_py, tb_py, env, m, m2tb, Writer, mpl)
    logdirs_and_follow(tmp, tb_py)

    # the real writer, where it is installed
    try:
        from tensorboardX.proto import event_pb2   # noqa: F401
    except Exception:
        print("tensorboardX not importable here: event files not checked")
        return 0
    logdir = os.path.join(tmp, "tb")
    for _ in range(2):
        subprocess.run([sys.executable, tb_py, m, "--logdir", logdir], check=True,
                       stdout=subprocess.DEVNULL)
    files = [n for n in os.listdir(logdir) if n != m2tb.SOURCE]
    if len(files) != 1:
        fail("two conversions left %r" % files)
    with open(os.path.join(logdir, m2tb.SOURCE)) as f:
        if f.read() != os.path.realpath(m) + "\n":
            fail("%s does not name %s" % (m2tb.SOURCE, m))
    data = open(os.path.join(logdir, files[0]), "rb").read()
    i, n = 0, 0
    while i < len(data):
        ln = struct.unpack("<Q", data[i:i + 8])[0]
        e = event_pb2.Event()
        e.ParseFromString(data[i + 12:i + 12 + ln])
        n += len(e.summary.value)
        i += 12 + ln + 4
    if n != len(got):
        fail("event file holds %d scalars, --list %d" % (n, len(got)))
    print("tensorboardX event file: %d scalars, one file after two conversions" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
