#!/usr/bin/env bash
# Set up, build and run every test. Exit status is meson's: 0 when all pass
# (skips, e.g. GPU tests on a machine without a GPU, count as passing).
#
#   scripts/test.sh [BUILD_DIR] [extra meson options...]
set -euo pipefail
. "$(dirname "$0")/script_help.sh"
script_args 1 "$@"
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
shift || true
[ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
# -Dtest_hooks=true: the pretok crash/resume tests need the INGOT_PRETOK_TEST_* hooks,
# test_gpu_cli the trainer's INGOT_TRAIN_TEST_LOOP_REFUSE
"$here/scripts/setup.sh" "$build" -Dtest_hooks=true "$@"
ninja -C "$here/$build"
meson test -C "$here/$build" --print-errorlogs --num-processes "$(nproc)"
