"""The reader of ingot-train metrics files (--metrics, JSON Lines) that
scripts/plot-metrics.py and scripts/metrics-to-tensorboard.py share, so that a
hand-edited or damaged file is read the same way by both (standard library only).

A record is what ingot-train writes and its resume keeps: a JSON object with a whole
"step" (0 <= step < 2^63), plus "loss" (a step record) or "val_loss" (an evaluation).
- Lines that are no record (not UTF-8, not JSON, not an object, no whole step, neither
  loss nor val_loss) are skipped; values of the known fields that are no number (a
  string, a boolean, a list) are ignored as if absent. Both are counted and reported in
  one line per file (Skipped.summary), with the first line numbers of each kind.
- null, NaN and the infinities become None: ingot-train writes a non-finite value as
  null (a diverged step), and a plot or TensorBoard shows it as a gap.
- A file that cannot be read, or holds no record at all (empty, a directory, another
  file named by mistake), raises MetricsError, whose text names the file and the fix.
- Steps that go back (`cat a.jsonl b.jsonl`: another run appended; ingot-train's own
  file only grows, a resume cuts it back to its checkpoint first) are found by Runs,
  which names the lines where each further run starts; split() cuts the records there.
Numbers come back as float (a whole number too large for a float: None); each record
is a Record, a dict that knows its line number (.line)."""
import json
import math
import os

NUMBERS = ("loss", "accuracy", "lr", "grad_norm", "tokens", "tok_per_s", "elapsed_s",
           "val_loss")
NUMBER_LISTS = ("src_tokens", "val_src", "val_src_windows")
STRING_LISTS = ("val_src_names",)
STEP_MAX = 1 << 63
FORMAT_HINT = ('each line of an ingot-train --metrics file is a JSON object such as '
               '{"step": 12, "loss": 3.9} or {"step": 100, "val_loss": 4.1}')


class MetricsError(Exception):
    """A metrics file that cannot be used; str() is the whole message."""


class Skipped:
    """Skipped lines and ignored values of one file, by kind, for one warning line."""
    SHOWN = 3   # line numbers given per kind

    def __init__(self):
        self.lines, self.values, self.kinds = 0, 0, {}

    def _add(self, kind, n):
        c = self.kinds.setdefault(kind, [0, []])
        c[0] += 1
        if len(c[1]) < self.SHOWN:
            c[1].append(n)

    def line(self, n, why):
        self.lines += 1
        self._add(why, n)

    def value(self, n, key, why):
        self.values += 1
        self._add('"%s" %s' % (key, why), n)

    def summary(self, path, hint=FORMAT_HINT):
        """One line (no newline) ending in (hint), or None where nothing was skipped."""
        if not self.kinds:
            return None
        done = []
        if self.lines:
            done.append("skipped %d line%s" % (self.lines, "s" * (self.lines != 1)))
        if self.values:
            done.append("ignored %d value%s" % (self.values, "s" * (self.values != 1)))
        kinds = "; ".join(
            "%d %s (line%s %s%s)" % (c, why, "s" * (c != 1), ", ".join(map(str, ns)),
                                     ", ..." if c > len(ns) else "")
            for why, (c, ns) in self.kinds.items())
        return "%s: %s: %s (%s)" % (path, " and ".join(done), kinds, hint)


class Record(dict):
    """A record: the line's JSON object (its known fields checked), and .line, its
    line number in the file."""
    __slots__ = ("line",)


class Runs:
    """Where the steps of a file go back: the start of another run appended to it.
    Within one run (what ingot-train writes) step records have rising steps and so do
    evaluations, each after the step record of its step; a record whose step is below
    the one before it, or a second step record (or evaluation) of the same step,
    starts another run."""
    SHOWN = 3   # restarts named in the warning

    def __init__(self):
        self.starts = []    # (line, step, step before it), one per further run
        self._prev, self._kind_prev = None, {}

    def see(self, rec):
        """True where rec (a Record, in file order) starts another run."""
        step, kind = rec["step"], "val_loss" in rec
        new = self._prev is not None and (step < self._prev or
                                          self._kind_prev.get(kind) == step)
        if new:
            self.starts.append((rec.line, step, self._prev))
            self._kind_prev = {}
        self._prev, self._kind_prev[kind] = step, step
        return new

    def warning(self, path, what):
        """One line (no newline) naming where further runs start and what the caller
        does about it (what), or None for a file of one run."""
        if not self.starts:
            return None
        shown = "; ".join("line %d: step %d after step %d" % s
                          for s in self.starts[:self.SHOWN])
        more = len(self.starts) - self.SHOWN
        return "%s: %s%s: another run appended to this file? %s" % (
            path, shown, "; and %d more" % more if more > 0 else "", what)


def split(recs):
    """(runs, Runs): recs (Records in file order) cut where another run starts."""
    runs, found = [], Runs()
    for r in recs:
        if found.see(r) or not runs:
            runs.append([])
        runs[-1].append(r)
    return runs, found


def _number(v):
    """(value, ok): a finite float or None for a number or null; ok False for others."""
    if v is None:
        return None, True
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None, False
    try:
        v = float(v)
    except OverflowError:   # a whole number of hundreds of digits
        return None, True
    return (v if math.isfinite(v) else None), True


def _record(rec, n, skipped):
    """rec with its known fields checked (see the module's text), or None (skipped)."""
    if not isinstance(rec, dict):
        skipped.line(n, "not a JSON object")
        return None
    step = rec.get("step")
    if type(step) is not int or not 0 <= step < STEP_MAX:
        skipped.line(n, 'without a whole-number "step"' if "step" in rec else
                     'without "step"')
        return None
    if "loss" not in rec and "val_loss" not in rec:
        skipped.line(n, 'with neither "loss" nor "val_loss"')
        return None
    out = Record(rec)
    out.line = n
    for k in NUMBERS:
        if k in rec:
            out[k], ok = _number(rec[k])
            if not ok:
                skipped.value(n, k, "not a number")
    for k in NUMBER_LISTS + STRING_LISTS:
        if k not in rec or rec[k] is None:
            continue
        if not isinstance(rec[k], list):
            del out[k]
            skipped.value(n, k, "not a list")
            continue
        vals, bad = [], False
        for v in rec[k]:
            if k in STRING_LISTS:
                ok = isinstance(v, str) or v is None
                v = v if isinstance(v, str) else None
            else:
                v, ok = _number(v)
            bad |= not ok
            vals.append(v)
        out[k] = vals
        if bad:
            skipped.value(n, k, "with an entry that is not a %s"
                          % ("string" if k in STRING_LISTS else "number"))
    return out


def parse(lines, skipped, first=1):
    """The records of lines (bytes or str, numbered from first), in order."""
    for n, line in enumerate(lines, first):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError:
                skipped.line(n, "not UTF-8 text")
                continue
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except (ValueError, RecursionError):   # RecursionError: [[[[... nested deep
            skipped.line(n, "not JSON")
            continue
        rec = _record(rec, n, skipped)
        if rec is not None:
            yield rec


def open_error(path, e):
    """MetricsError for an OSError e met opening or reading path."""
    if isinstance(e, IsADirectoryError) or os.path.isdir(path):
        why = "a directory, not a metrics file (name the file given to ingot-train --metrics)"
    elif isinstance(e, FileNotFoundError) or not os.path.lexists(path):
        why = "no such file (the file given to ingot-train --metrics)"
    else:
        why = e.strerror or str(e)
    return MetricsError("%s: %s" % (path, why))


def no_records(path, nlines, skipped):
    """MetricsError for a file without any record."""
    if nlines == 0:
        return MetricsError("%s: empty; ingot-train --metrics writes a record per step "
                            "(wait for the first, or name another file)" % path)
    s = skipped.summary(path)
    return MetricsError("%s: no step or val records in %d line%s%s" % (
        path, nlines, "s" * (nlines != 1),
        "; " + s[len(path) + 2:] if s else " (%s)" % FORMAT_HINT))


def read(path):
    """(records, skipped) of the metrics file at path; MetricsError where it cannot be
    read or holds no record."""
    skipped, nlines = Skipped(), [0]

    def counted(f):
        for line in f:   # split at b"\n" only, as ingot-train does
            nlines[0] += 1
            yield line
    try:
        with open(path, "rb") as f:
            recs = list(parse(counted(f), skipped))
    except OSError as e:
        raise open_error(path, e) from None
    if not recs:
        raise no_records(path, nlines[0], skipped)
    return recs, skipped
