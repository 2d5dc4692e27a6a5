#!/usr/bin/python3
"""Issue 13: scripts/parquet-to-jsonl.py feeds Parquet to ingot-pretok through
standard input. Two files (one of three row groups, with a null text and a
second column), a directory argument: every row in order with its source
file and row, the same ids as the same texts in a JSON Lines file, the null
counted as text_not_string, a missing column refused by name. Skips (77)
where pyarrow is not importable."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:
    print("pyarrow not importable: skipped")
    sys.exit(T.SKIP)

t = T.Tools(sys.argv)
script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "parquet-to-jsonl.py")
model = T.small_unigram(t)
docs = T.documents(141, 70)
d = t.path("pq")
os.makedirs(os.path.join(d, "sub"))
texts_a = docs[:50]
texts_a[7] = None
pq.write_table(pa.table({"text": texts_a, "n": list(range(50))}),
               os.path.join(d, "a.parquet"), row_group_size=20)     # 3 row groups
pq.write_table(pa.table({"text": docs[50:]}), os.path.join(d, "sub", "b.parquet"))
T.check(pq.ParquetFile(os.path.join(d, "a.parquet")).num_row_groups == 3, "setup: row groups")

# The JSON Lines stream itself: every row, in order, with its source.
p = subprocess.run([sys.executable, script, d], capture_output=True)
T.check(p.returncode == 0, "parquet-to-jsonl: %s" % p.stderr.decode())
rows = [json.loads(x) for x in p.stdout.decode().splitlines()]
T.check(len(rows) == 70, "parquet-to-jsonl: %d rows, expected 70" % len(rows))
T.check([r["text"] for r in rows] == texts_a + docs[50:], "parquet-to-jsonl: texts differ")
T.check(rows[7]["text"] is None, "a null text is not written as null")
T.check(rows[49]["source"] == {"file": os.path.join(d, "a.parquet"), "row": 49} and
        rows[50]["source"] == {"file": os.path.join(d, "sub", "b.parquet"), "row": 0},
        "source fields: %s, %s" % (rows[49]["source"], rows[50]["source"]))

# Into ingot-pretok through standard input.
conv = subprocess.Popen([sys.executable, script, d], stdout=subprocess.PIPE)
pt = subprocess.run([t.pretok, "--model", model, "--threads", "2", "--quiet", "--json",
                     "--max-skip-fraction", "0.05",
                     "--out", t.path("ds"), "-"], stdin=conv.stdout, capture_output=True)
conv.stdout.close()
T.check(conv.wait() == 0 and pt.returncode == 0, "pipe into ingot-pretok: %s" %
        pt.stderr.decode())
rep = json.loads(pt.stdout)
T.check(rep["documents"] == 69 and rep["skipped"] == {"text_not_string": 1},
        "pipe: %d documents, skips %s" % (rep["documents"], rep["skipped"]))
ref = t.path("ref.jsonl")
T.write_jsonl(ref, [x for x in texts_a + docs[50:] if x is not None])
t.run(["--model", model, "--threads", "2", "--quiet", "--out", t.path("refds"), ref])
got = T.dataset_docs(t.path("ds"))[1]
want = T.dataset_docs(t.path("refds"))[1]
T.check([x[2] for x in got] == [x[2] for x in want], "pipe: ids differ from the JSON Lines file")
T.check({x[0] for x in got} == {"<stdin>"}, "pipe: provenance %s" % {x[0] for x in got})

# A column that is not there is refused by name.
p = subprocess.run([sys.executable, script, "--text-column", "content", d], capture_output=True)
T.check(p.returncode == 1 and b"no column content" in p.stderr, "missing column: %s" % p.stderr)
# A binary text column: the UTF-8 text its bytes hold (it was written as the repr
# "b'caf\\xc3\\xa9'", which pretok tokenized); a file that is not Parquet and
# --batch-rows 0 (it wrote nothing, exit 0): one line, no traceback.
bd = t.path("bin")
os.makedirs(bd)
pq.write_table(pa.table({"text": pa.array([b"caf\xc3\xa9", b"ok"], type=pa.binary())}),
               os.path.join(bd, "b.parquet"))
p = subprocess.run([sys.executable, script, "--no-source", bd], capture_output=True)
rows = [json.loads(l) for l in p.stdout.decode().splitlines()]
T.check(p.returncode == 0 and rows == [{"text": "caf\u00e9"}, {"text": "ok"}],
        "binary column: %r %s" % (rows, p.stderr))
with open(os.path.join(bd, "not.parquet"), "w") as f:
    f.write("not parquet\n")
p = subprocess.run([sys.executable, script, os.path.join(bd, "not.parquet")], capture_output=True)
T.check(p.returncode == 1 and b"not a readable Parquet file" in p.stderr and
        b"Traceback" not in p.stderr, "not Parquet: %s" % p.stderr)
p = subprocess.run([sys.executable, script, "--batch-rows", "0", bd], capture_output=True)
T.check(p.returncode == 2 and b"--batch-rows 0" in p.stderr, "--batch-rows 0: %s" % p.stderr)
t.cleanup()
print("ok")
