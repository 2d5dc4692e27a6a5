#!/bin/sh
# scripts/python installs with pip and docs/python.md's quick start runs as written
# after the documented `pip install scripts/python`:
# 1. offline, without a compiler: the installed package imports and runs (its
#    splitmix64 against the reference value), and it requires numpy and xxhash (not as
#    an extra: open_checkpoint() checks the checksums by default, as does
#    open_dataset(verify=True));
# 2. the quick start (docs/python.md's first python block), on a dataset and a
#    checkpoint made here, with the installed copy under /usr/bin/python3 (numpy and
#    python3-xxhash from scripts/setup.sh); get_batch(device=) and IngotTrainDataset
#    without torch raise ingot.TorchUnavailable, a ModuleNotFoundError that names the
#    call and `pip install torch`;
# 3. the documented install itself: the package's wheel into a clean venv, numpy and
#    xxhash from PyPI, then 2 there (passed over, saying so, where PyPI cannot be
#    reached; some 15 s).
# Skips (77) where /usr/bin/python3 has no pip or setuptools. The source is copied
# first: pip builds in-tree and would leave build/ and *.egg-info in the repository.
# usage: test_py_install.sh SCRIPTS_PYTHON_DIR PYTHON_MD INGOT_PRETOK INGOT_TRAIN
set -eu
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SRC=$1 DOC=$(abs "$2") PRETOK=$(abs "$3") TRAIN=$(abs "$4")
PY=/usr/bin/python3
if ! "$PY" -m pip --version >/dev/null 2>&1 || ! "$PY" -c 'import setuptools' 2>/dev/null; then
    echo "pip or setuptools missing for $PY: skipped"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/ingot-pyinst-XXXXXX")
trap 'rm -rf "$T"' EXIT
cp -r "$SRC" "$T/src"
"$PY" -m pip install --quiet --no-deps --no-build-isolation --no-index --target "$T/site" \
    "$T/src" > "$T/pip.log" 2>&1 || { cat "$T/pip.log"; echo "FAIL: pip install"; exit 1; }
cd "$T"
PYTHONPATH="$T/site" "$PY" - "$T/site" <<'PY'
import os, sys
import ingot
from importlib import metadata
site = sys.argv[1]
assert os.path.realpath(ingot.__file__).startswith(os.path.realpath(site)), ingot.__file__
assert callable(ingot.open_dataset) and callable(ingot.open_checkpoint)
from ingot.order import mix64
assert mix64(0) == 0xE220A8397B1DCDAF   # splitmix64's first output from seed 0
assert sorted(ingot.epoch_permutation(50, 1337, 0).tolist()) == list(range(50))
print("ok: pip installed ingot", ingot.__version__, "into", site)
# what `pip install scripts/python` brings, extras aside
reqs = [r for r in metadata.requires("ingot") if "extra ==" not in r]
for mod in ("numpy", "xxhash"):
    assert any(r.startswith(mod) for r in reqs), "%s is not a dependency: %r" % (mod, reqs)
print("ok: the install requires", ", ".join(reqs))
PY

# docs/python.md's first python block, and the torch-less calls
awk '/^```python/ { n++; on = n == 1; next } /^```/ { on = 0 } on' "$DOC" > quickstart.py
grep -q open_checkpoint quickstart.py || { echo "FAIL: no quick start in $DOC"; exit 1; }
cat > notorch.py <<'PY'
import ingot
ds = ingot.open_dataset("data/")
for what, call in (("get_batch(device=", lambda: ds.get_batch("train", 2, 8, device="cpu")),
                   ("IngotTrainDataset", lambda: ingot.IngotTrainDataset)):
    try:
        call()
    except ingot.TorchUnavailable as e:
        assert isinstance(e, ModuleNotFoundError) and e.name == "torch", repr(e)
        assert what in str(e) and "pip install torch" in str(e), str(e)
    else:
        raise AssertionError(what + " without torch did not raise")
print("ok: without torch, device= and IngotTrainDataset say: pip install torch")
PY
# torch hidden where it is installed (CI installs it for the PyTorch reference tests)
mkdir -p hide/torch
echo 'raise ModuleNotFoundError("No module named torch (hidden)", name="torch")' \
    > hide/torch/__init__.py
"$PY" -c '
import random, struct
r = random.Random(1)
ids = []
while len(ids) < 40000:   # documents of 20-200 ids in 1..255, each ended by 0
    ids += [r.randrange(1, 256) for _ in range(r.randrange(20, 200))] + [0]
open("train.bin", "wb").write(struct.pack("<%dH" % len(ids), *ids))
open("val.bin", "wb").write(struct.pack("<4000H", *ids[:4000]))'
"$PRETOK" import-bin --format nanogpt --vocab 256 --eot 0 --out data train.bin --val val.bin \
    --quiet
OMP_WAIT_POLICY=PASSIVE "$TRAIN" --data data --model tiny --steps 2 --ckpt-dir ckpt --quiet
quickstart() { # PYTHON PYTHONPATH WHERE
    PYTHONPATH=$2 "$1" quickstart.py > qs.out 2>&1 ||
        { cat qs.out; echo "FAIL: the quick start $3"; exit 1; }
    echo "ok: the quick start $3: $(tail -n 1 qs.out)"
    PYTHONPATH=$T/hide${2:+:$2} "$1" notorch.py || { echo "FAIL: without torch, $3"; exit 1; }
}
if PYTHONPATH="$T/site" "$PY" -c 'import numpy, xxhash' 2>/dev/null; then
    quickstart "$PY" "$T/site" "with the installed copy under $PY"
else
    echo "note: $PY lacks numpy or xxhash (apt-get install python3-xxhash): the quick start" \
        "not run there"
fi

# the documented install: a clean venv (pip from $PY, so no ensurepip) and PyPI's
# numpy and xxhash; the wheel is built here, offline, as in 1
if ! "$PY" -m venv --without-pip venv >/dev/null 2>&1 ||
   ! "$PY" -m pip --python venv/bin/python --version >/dev/null 2>&1; then
    echo "note: no venv module, or a pip before 22.3 (no --python): the clean install not checked"
    exit 0
fi
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation --no-index -w wheel "$T/src" \
    > pip.log 2>&1 || { cat pip.log; echo "FAIL: pip wheel"; exit 1; }
if ! "$PY" -m pip --python venv/bin/python install --quiet --retries 1 --timeout 30 \
        wheel/ingot-*.whl > pip.log 2>&1; then
    offline='NewConnectionError|ProxyError|Failed to establish|name resolution|unreachable'
    if grep -qE "$offline|ConnectTimeout|ReadTimeout" pip.log; then
        echo "note: PyPI not reachable: the clean install not checked"
        exit 0
    fi
    cat pip.log
    echo "FAIL: pip install into a clean venv"
    exit 1
fi
quickstart venv/bin/python "" "in a clean venv after pip install ($(venv/bin/python -c \
    'import numpy, xxhash; print("numpy", numpy.__version__, "xxhash", xxhash.VERSION)'))"
