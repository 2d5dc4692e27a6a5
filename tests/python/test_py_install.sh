#!/bin/sh
# scripts/python installs with pip, offline and without a compiler, and the installed
# package imports and runs (its splitmix64 against the reference value). Skips (77) where
# /usr/bin/python3 has no pip or setuptools. The source is copied first: pip builds
# in-tree and would leave build/ and *.egg-info in the repository.
# usage: test_py_install.sh SCRIPTS_PYTHON_DIR
set -eu
SRC=$1
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
site = sys.argv[1]
assert os.path.realpath(ingot.__file__).startswith(os.path.realpath(site)), ingot.__file__
assert callable(ingot.open_dataset) and callable(ingot.open_checkpoint)
from ingot.order import mix64
assert mix64(0) == 0xE220A8397B1DCDAF   # splitmix64's first output from seed 0
assert sorted(ingot.epoch_permutation(50, 1337, 0).tolist()) == list(range(50))
print("ok: pip installed ingot", ingot.__version__, "into", site)
PY
