#!/usr/bin/env python3
"""Stream Parquet files (FineWeb, most Hugging Face datasets) as JSON Lines on
standard output, for `ingot-pretok ... -`:

    scripts/parquet-to-jsonl.py data/ | ingot-pretok --model m.model --out ds -

Files are read one row group at a time (memory stays at one row group
whatever the file size), only the named columns are decoded, and each line
carries where it came from:

    {"text": "...", "source": {"file": "data/train-00000.parquet", "row": 17}}

(`row` counts from 0 within the file). ingot-pretok's own provenance names
"<stdin>" and the line; the `source` field keeps the Parquet file and row in
the JSON (ingot-dump docs --json shows the record). A null text is written
as null, so that ingot-pretok counts it (text_not_string) rather than losing
the row silently.

Arguments are Parquet files or directories (searched recursively for
*.parquet, sorted). Needs pyarrow (pip install pyarrow); exit status 2 with
a message when it is missing, or when standard output is closed.

Each named column must hold text (string or binary, dictionary-encoded or not;
a column of nulls only is let through): a number, a list or a struct is refused
by name before anything of that file is written (floats came out as NaN, which
is not JSON). A file that cannot be read, or whose data turns out damaged
part-way, stops the run with one line naming it and the row (exit 1): the rows
before it have been written. A closed pipe (`| head`) ends it quietly, ^C too.
"""
import argparse
import errno
import json
import os
import signal
import sys


def parquet_files(args):
    out = []
    for a in args:
        if os.path.isdir(a):
            found = []
            for root, dirs, files in os.walk(a):
                dirs.sort()
                found += [os.path.join(root, f) for f in files if f.endswith(".parquet")]
            if not found:
                sys.exit("parquet-to-jsonl: %s: no .parquet file in this directory" % a)
            out += sorted(found)
        elif os.path.exists(a):
            out.append(a)
        else:
            sys.exit("parquet-to-jsonl: %s: no such file or directory" % a)
    return out


def main():
    ap = argparse.ArgumentParser(
        description="Stream Parquet files as JSON Lines (one object per row) on stdout.")
    ap.add_argument("inputs", nargs="+", help="Parquet files or directories")
    ap.add_argument("--text-column", default="text",
                    help="column(s) to write, comma-separated (default: text); each is "
                         "written under its own name, so `ingot-pretok --text-key` "
                         "names the same (for several: --text-key a,b takes the first "
                         "that holds a string)")
    ap.add_argument("--no-source", action="store_true",
                    help="leave the source field (file and row) out")
    ap.add_argument("--batch-rows", type=int, default=8192,
                    help="rows decoded at a time inside a row group (default 8192)")
    a = ap.parse_args()
    if sys.stdout is None:   # started with >&-: sys.stdout.buffer was a traceback
        sys.stderr.write("parquet-to-jsonl: standard output is closed; the JSON Lines go "
                         "there: redirect it to a file or a pipe\n")
        return 2
    if a.batch_rows < 1:   # 0 wrote nothing and exited 0
        ap.error("--batch-rows %d: at least 1" % a.batch_rows)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        sys.stderr.write("parquet-to-jsonl: pyarrow is needed: pip install pyarrow\n")
        return 2
    columns = [c for c in a.text_column.split(",") if c]
    out = sys.stdout.buffer     # UTF-8 whatever the locale
    try:
        for path in parquet_files(a.inputs):
            rc = convert(pq, path, columns, a, out)
            if rc:
                return rc
        out.flush()
    except OSError as e:   # standard output: a full disk, an I/O error
        sys.stderr.write("parquet-to-jsonl: writing standard output: %s\n"
                         % (e.strerror or errno.errorcode.get(e.errno, e)))
        return 1
    return 0


def text_type(t):
    """Whether an Arrow type holds text: string or binary (large, view), dictionary-
    encoded or not, or nothing but nulls."""
    import pyarrow as pa
    if pa.types.is_dictionary(t):
        t = t.value_type
    views = [f(t) for f in (getattr(pa.types, "is_string_view", None),
                            getattr(pa.types, "is_binary_view", None)) if f]
    return (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or
            pa.types.is_large_binary(t) or pa.types.is_null(t) or any(views))


def convert(pq, path, columns, a, out):
    """One file's rows as JSON Lines on out; 0, or 1 after a message."""
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:   # pyarrow's ArrowInvalid and OSError: one line, no traceback
        sys.stderr.write("parquet-to-jsonl: %s: not a readable Parquet file: %s\n"
                         % (path, e))
        return 1
    schema = pf.schema_arrow
    names = set(schema.names)
    missing = [c for c in columns if c not in names]
    if missing:
        sys.stderr.write("parquet-to-jsonl: %s has no column %s (columns: %s); use "
                         "--text-column\n" % (path, ", ".join(missing),
                                              ", ".join(sorted(names))))
        return 1
    for c in columns:
        t = schema.field(c).type
        if not text_type(t):
            sys.stderr.write("parquet-to-jsonl: %s: column %s holds %s, not text (string "
                             "or binary); --text-column names the text column (columns: "
                             "%s)\n" % (path, c, t, ", ".join(
                                 "%s %s" % (f.name, f.type) for f in schema)))
            return 1
    row = 0
    for rg in range(pf.num_row_groups):
        batches = pf.iter_batches(batch_size=a.batch_rows, row_groups=[rg], columns=columns)
        while True:
            try:   # pyarrow's errors on damaged data: one line, no traceback
                batch = next(batches, None)
                if batch is None:
                    break
                cols = [batch.column(c).to_pylist() for c in columns]
            except Exception as e:
                sys.stderr.write("parquet-to-jsonl: %s: damaged at row %d (row group %d): "
                                 "%s; the %d rows before it were written, the rest of "
                                 "the file was not\n"
                                 % (path, row, rg, " ".join(str(e).split()).rstrip(".") or
                                    type(e).__name__, row))
                return 1
            for i in range(batch.num_rows):
                o = {c: text_of(cols[k][i], path, row, c) for k, c in enumerate(columns)}
                if not a.no_source:
                    o["source"] = {"file": path, "row": row}
                out.write(json.dumps(o, ensure_ascii=False, default=str).encode())
                out.write(b"\n")
                row += 1
    return 0


def text_of(v, path, row, column):
    """A binary column's bytes as the UTF-8 text they hold (they were written as the
    repr b'...', which pretok then tokenized); bytes that are not UTF-8 are left to
    pretok's --invalid-utf8 handling as U+FFFD (counted there as fixed)."""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    return v


if __name__ == "__main__":
    # A closed pipe (e.g. `| head`) ends the stream quietly, and ^C ends it as it
    # ends any command (no KeyboardInterrupt traceback); set before argparse writes.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(main())
