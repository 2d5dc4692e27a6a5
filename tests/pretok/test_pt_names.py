#!/usr/bin/python3
"""Names and keys of any bytes. A file name, an --out directory or a JSON key
with a byte that is not UTF-8 used to end the run, after all the work, with
"out of memory while building the manifest" (jansson refuses invalid UTF-8 in
a string): no manifest, so the corpus could never be converted; the
missing_text example of such a key failed to reach the state, so a second run
succeeded without it. Now such bytes are written as the four characters \\xHH
in the manifest, the state and the --json report, and the run is the same on
a rerun."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, _ = T.small_corpus(t, n_files=1)
src = os.path.join(inp, sorted(os.listdir(inp))[0])
corpus = t.path("names")
os.mkdir(corpus)
bad = os.path.join(corpus, "a\udcffb.jsonl")   # the byte 0xFF (surrogateescape)
shutil.copy(src, bad)
with open(bad, "ab") as f:
    f.write(b'{"te\xffxt": "a"}\n')             # a key with 0xFF, no "text"
out = t.path("out\udcff")
args = ["--model", model, "--out", out, "--threads", "2", "--json", "--max-skip-fraction", "0.5",
        corpus]
stdout, err = t.run(args, what="a name, a key and --out with the byte 0xFF")
report = json.loads(stdout)
T.check(report["out"] == out.replace("\udcff", "\\xFF"), "--json out: %r" % report["out"])
man = json.load(open(os.path.join(out, "manifest.json"), encoding="utf-8"))
names = [i["name"] for i in man["inputs"]]
T.check(names == [bad.replace("\udcff", "\\xFF")], "manifest input names: %r" % names)
ex = [e for e in man["skip_examples"] if "missing_text" in e]
T.check(len(ex) == 1 and "te\\xFFxt" in ex[0] and "a\\xFFb.jsonl" in ex[0],
        "the missing_text example: %r" % man["skip_examples"])
T.check("\\xFF" in man["command_line"], "command_line: %r" % man["command_line"])
t.verify(out)
first = open(os.path.join(out, "manifest.json"), "rb").read()
# the state holds the example: a rerun finds the run complete, the manifest unchanged
t.run(args, what="rerun")
T.check(open(os.path.join(out, "manifest.json"), "rb").read() == first,
        "the rerun changed the manifest")
print("names, keys and --out with 0xFF: \\xFF in the manifest, state and report; rerun same")

t.cleanup()
print("ok")
