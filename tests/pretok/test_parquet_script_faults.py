#!/usr/bin/python3
"""scripts/parquet-to-jsonl.py on what goes wrong, each one line on stderr, no traceback:
a column that holds no text (numbers came out as JSON numbers, floats as NaN, which is
not JSON) refused by name and type before anything is written; a file damaged part-way
(its footer intact) named with the row, the rows before it kept; standard output closed
(exit 2) or full (/dev/full, exit 1); ^C ends it as a signal does any command, a closed
pipe quietly. Skips (77) where pyarrow is not importable.
    test_parquet_script_faults.py SCRIPTS_DIR"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:
    print("pyarrow not importable: skipped")
    sys.exit(77)

script = os.path.join(os.path.abspath(sys.argv[1]), "parquet-to-jsonl.py")
tmp = tempfile.mkdtemp(prefix="ingot-pq-faults-")
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    fails += not cond


def run(args, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    p = subprocess.run([sys.executable, script] + args, stderr=subprocess.PIPE, cwd=tmp, **kw)
    return p.returncode, p.stdout or b"", p.stderr.decode(errors="replace")


def one_line(err):
    return "Traceback" not in err and err.count("\n") == 1


try:
    # columns that hold no text: refused by file, column and type; nothing on stdout
    for name, arr, shown in (("int", pa.array([1, 2, None]), "int64"),
                             ("float", pa.array([1.5, float("nan"), float("inf")]), "double"),
                             ("list", pa.array([[1, 2], [3]]), "list<"),
                             ("struct", pa.array([{"a": 1}]), "struct<")):
        pq.write_table(pa.table({"text": arr}), os.path.join(tmp, name + ".parquet"))
        rc, out, err = run([name + ".parquet"])
        check(rc == 1 and out == b"" and "column text holds " + shown in err and
              name + ".parquet" in err and one_line(err),
              "a %s column refused by name and type: exit %d, %d bytes out, %r"
              % (name, rc, len(out), err))
    # text in every form pyarrow writes it passes: large, dictionary-encoded, all null
    for name, arr in (("large", pa.array(["x"], type=pa.large_string())),
                      ("dict", pa.array(["x", "y"]).dictionary_encode()),
                      ("nulls", pa.array([None, None], type=pa.null()))):
        pq.write_table(pa.table({"text": arr}), os.path.join(tmp, name + ".parquet"))
        rc, out, err = run(["--no-source", name + ".parquet"])
        rows = [json.loads(x) for x in out.decode().splitlines()]
        check(rc == 0 and rows and all(set(r) == {"text"} for r in rows),
              "a %s text column passes: exit %d %r %r" % (name, rc, rows, err))

    # a file damaged part-way: 3 row groups, the last one's data pages overwritten
    texts = ["document %d %s" % (i, os.urandom(40).hex()) for i in range(300)]
    good = os.path.join(tmp, "good.parquet")
    pq.write_table(pa.table({"text": texts}), good, row_group_size=100, compression="snappy",
                   use_dictionary=False)
    md = pq.ParquetFile(good).metadata
    start = md.row_group(2).column(0).data_page_offset
    end = start + md.row_group(2).column(0).total_compressed_size
    b = bytearray(open(good, "rb").read())
    for i in range(start + 40, end - 8):
        b[i] ^= 0x5A
    with open(os.path.join(tmp, "bad.parquet"), "wb") as f:
        f.write(b)
    rc, out, err = run(["bad.parquet"])
    rows = out.decode().splitlines()
    check(rc == 1 and "bad.parquet: damaged at row 200 (row group 2)" in err and one_line(err),
          "damaged part-way: named with its row, one line: exit %d %r" % (rc, err))
    check(len(rows) == 200 and json.loads(rows[-1])["text"] == texts[199],
          "damaged part-way: the 200 rows before it written (%d)" % len(rows))

    # standard output closed, full
    rc, out, err = run(["good.parquet"], stdout=None, pass_fds=(), preexec_fn=lambda: os.close(1))
    check(rc == 2 and "standard output is closed" in err and one_line(err),
          "stdout closed: exit %d %r" % (rc, err))
    with open("/dev/full", "wb") as full:
        rc, out, err = run(["good.parquet"], stdout=full)
    check(rc == 1 and "writing standard output: No space left on device" in err and
          one_line(err), "stdout full: exit %d %r" % (rc, err))

    # a closed pipe: quiet; ^C: ends as by the signal, no traceback
    p = subprocess.Popen("'%s' '%s' good.parquet | head -1" % (sys.executable, script),
                         shell=True, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    check(out.count(b"\n") == 1 and err == b"", "| head -1: one line, nothing on stderr %r" % err)
    big = os.path.join(tmp, "big.parquet")
    pq.write_table(pa.table({"text": ["row %d " % i * 40 for i in range(300000)]}), big,
                   row_group_size=20000)
    p = subprocess.Popen([sys.executable, script, big], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, cwd=tmp,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    err = p.communicate()[1].decode(errors="replace")
    check(p.returncode in (-signal.SIGINT, 130) and "Traceback" not in err,
          "^C: ended by the signal (%s), no traceback %r" % (p.returncode, err[-300:]))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("%d failure(s)" % fails)
sys.exit(1 if fails else 0)
