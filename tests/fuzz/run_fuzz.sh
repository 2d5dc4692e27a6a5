#!/usr/bin/env bash
# Long libFuzzer runs, one target at a time, niced (docs/fuzzing.md).
#   tests/fuzz/run_fuzz.sh FUZZ_BUILD_DIR OUT_DIR SECONDS [TARGET...]
# Each target starts from its committed corpus (read-only here: new inputs
# go to OUT_DIR/<target>/corpus) and writes OUT_DIR/<target>.log; crash and
# leak inputs land in OUT_DIR/<target>/ as crash-*, leak-*, timeout-*.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1 out=$2 secs=$3
shift 3
targets=("$@")
((${#targets[@]})) || targets=(shard_header shard_file manifest checkpoint spm_model config pt_json)
mkdir -p "$out"
for t in "${targets[@]}"; do
    if [ "$t" = pt_json ]; then
        bin=$build/tests/pretok/fuzz_pt_json seeds=$here/../pretok/json_corpus
    else
        bin=$build/tests/fuzz/fuzz_$t seeds=$here/corpus/$t
    fi
    mkdir -p "$out/$t/corpus"
    echo "== $t: $secs s"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    nice -n 15 "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$out/$t/" "$out/$t/corpus" "$seeds" \
        > "$out/$t.log" 2>&1
    echo "   exit $?; $(grep -E '^stat::number_of_executed_units' "$out/$t.log")"
done
