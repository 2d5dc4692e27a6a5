#!/usr/bin/env bash
# scripts/bench-llama.sh's table, from stand-in runs (no GPU, no PyTorch): ROUNDS=3
# alternates Ingot and each PyTorch run, prints every round's ratios and takes the
# median of the rounds' ratios; ROUNDS=1 (the default) is one pair of runs as before;
# a bad ROUNDS is refused before anything runs. VARIANTS: their runs follow the
# default one in every round with their variables set, each gets a row, a ratio to
# the default row and its step's GPU times; a malformed word is refused. PyTorch
# compiles the whole model unless TORCH_COMPILE says otherwise (a bad one refused),
# in torch.compile's default mode unless TORCH_COMPILE_MODE names another (a bad
# one refused), and the table says which. POWER=1: every run under gpu-power.sh (a
# stand-in nvidia-smi) and a line per row with its medians; a bad POWER refused.
#   test_bench_llama_table.sh SOURCE_ROOT
set -u
root=$1
. "$(dirname "$0")/../test_check.sh"

# Under POWER=1 the stand-ins source this (STUB_POWER): they wait for their run's
# sampler to have printed, so the samplers' order is the runs' order however fast
# the stand-ins end; a sampler that never comes is logged (checked below).
cat >"$tmp/wait-sampler" <<'SH'
for _ in $(seq 1 600); do [ -e "$STUB/sampling" ] && break; sleep 0.05; done
[ -e "$STUB/sampling" ] || echo "no sampler for $0" >>"$STUB/errors"
rm -f "$STUB/sampling"
SH

# Stand-ins: the n-th call of each returns the n-th figure of its list; every call
# is logged in order.
mkdir -p "$tmp/build/train"
cat >"$tmp/build/train/ingot-train" <<'SH'
#!/usr/bin/env bash
[ -n "${STUB_POWER:-}" ] && . "$STUB_POWER"
vals=(76000 78000 74000)
n=$(cat "$STUB/n_ingot" 2>/dev/null || echo 0)
tps=${STUB_TPS:-${vals[$n]}}
[ -n "${STUB_TAG:-}" ] && echo "tag $STUB_TAG" >>"$STUB/args"
[ -n "${STUB_FAIL:-}" ] && { echo ingot:fail >>"$STUB/calls"; exit 1; }
# a VARIANTS run (STUB_TPS set) leaves the default runs' sequence alone
[ -n "${STUB_TPS:-}" ] || echo $((n + 1)) >"$STUB/n_ingot"
echo "ingot${STUB_TPS:+:$STUB_TPS}" >>"$STUB/calls"
metrics=
while [ $# -gt 0 ]; do
    [ "$1" = --metrics ] && metrics=$2
    [ "$1" = --batch-tokens ] && echo "ingot --batch-tokens $2" >>"$STUB/args"
    shift
done
for i in $(seq 1 8); do
    bwd=${STUB_BWD:-130.25}
    [ "$i" -le 3 ] && bwd=999 # the steps the table leaves out
    echo "{\"step\": $i, \"tok_per_s\": $tps, \"mfu\": 0.56, \"fwd_ms\": 60.5," \
        "\"bwd_ms\": $bwd, \"opt_ms\": 13}"
done >"$metrics"
echo "device memory: parameters, 41472.0 MiB"
SH
cat >"$tmp/py" <<'SH'
#!/usr/bin/env bash
case "$1" in
-c) exit 0 ;;           # "import torch"
-) exec python3 "$@" ;; # the table's program
esac
[ -n "${STUB_POWER:-}" ] && . "$STUB_POWER"
k= prev=
for a in "$@"; do
    [ "$prev" = --sdpa ] && k=$a
    [ "$prev" = --accum ] && echo "torch --accum $a" >>"$STUB/args"
    [ "$prev" = --compile ] && echo "torch --compile $a" >>"$STUB/compile"
    [ "$prev" = --compile-mode ] && echo "torch --compile-mode $a" >>"$STUB/cmode"
    prev=$a
done
case $k in
fused) vals=(69000 70000 68000) ;;
flash) vals=(66000 64000 65000) ;;
esac
n=$(cat "$STUB/n_$k" 2>/dev/null || echo 0)
echo $((n + 1)) >"$STUB/n_$k"
echo "torch-$k" >>"$STUB/calls"
echo "{\"bench\": \"llama\", \"tok_per_s\": ${vals[$n]}, \"mfu\": 0.49, \"peak_mem_gib\": 43.4}"
SH
# nvidia-smi for gpu-power.sh: its n-th sampler prints the n-th (W, MHz, power-cap
# flag): no flag for ingot's runs, set in one of fused's two, in both of flash's
mkdir -p "$tmp/bin"
cat >"$tmp/bin/nvidia-smi" <<'SH'
#!/usr/bin/env bash
case "$*" in
*power.limit*) echo "700.00" ;;
*-lms*)
    w=(690 680 690 690 684 690) c=(1605 1700 1740 1615 1720 1760) f=(N 4 4 N 0 4)
    n=$(cat "$STUB/n_smi" 2>/dev/null || echo 0)
    echo $((n + 1)) >"$STUB/n_smi"
    r=0x000000000000000${f[$n]}
    [ "${f[$n]}" = N ] && r="[N/A]" # a driver that does not say: no capped share
    for i in 1 2 3; do echo "${w[$n]}.0, ${c[$n]}, $r"; done
    echo "150.0, 345, 0x0000000000000000" # idle: under a quarter of the limit, left out
    touch "$STUB/sampling"
    exec sleep 30 ;;
*) echo "clocks_event_reasons.active" ;;
esac
SH
chmod +x "$tmp/build/train/ingot-train" "$tmp/py" "$tmp/bin/nvidia-smi"

launch() { # launch NAME ROUNDS [ACCUM [VARIANTS]]: a fresh stand-in state, OUT=$tmp/NAME; its status
    rm -f "$tmp"/stub/*
    mkdir -p "$tmp/stub"
    env STUB="$tmp/stub" PYTHON="$tmp/py" OUT="$tmp/$1" ROUNDS="$2" ACCUM="${3:-1}" STEPS=8 \
        VARIANTS="${4:-}" bash "$root/scripts/bench-llama.sh" "$tmp/build" >"$tmp/$1.out" 2>&1
}

ran() { # ran NAME WHAT ROUNDS [ACCUM [VARIANTS]]: launch, check it exits 0; t: its table
    local name=$1 what=$2
    shift 2
    launch "$name" "$@"
    local rc=$?
    t=$tmp/$name/bench-llama/table.txt
    check "$what exits 0 (rc $rc)" test "$rc" = 0
}

passes() { # passes VAR=VALUE STUB_FILE ARG LINE: one round with it set; PyTorch got ARG, the table has LINE
    local -x "$1"
    ran passes "$1" 1
    check "$1 reaches PyTorch" test "$(sort -u "$tmp/stub/$2")" = "$3"
    check "$1: the table says so" grep -Fxq "$4" "$t"
}

refused() { # refused VAR=VALUE EXPECTED: with it set, the bench refuses before running anything
    local -x "$1"
    launch refused 1
    local rc=$?
    check "$1 refused (rc $rc)" test "$rc" = 2
    check "$1 says what is expected" grep -Fq "$1: $2" "$tmp/refused.out"
    check "$1 ran nothing" test ! -e "$tmp/stub/calls"
}

run() { # run NAME ROUNDS CALLS: ran, and the stand-ins called in that order
    ran "$1" "ROUNDS=$2" "$2"
    check "ROUNDS=$2: the runs in order" test "$(tr '\n' ' ' <"$tmp/stub/calls")" = "$3"
}

run three 3 \
    "ingot torch-fused torch-flash ingot torch-fused torch-flash ingot torch-fused torch-flash "
check "Ingot's row is the rounds' median" grep -Eq '^ingot-train --arch llama +76000 ' "$t"
check "PyTorch's rows are the rounds' medians" \
    grep -Eq '^pytorch compiled, SDPA flash +65000 ' "$t"
check "each round's ratios" grep -Fq \
    "round 2: ingot 78000, SDPA fused 70000 (1.114), SDPA flash 64000 (1.219)" "$t"
check "the flash ratio is the median of the rounds' ratios" grep -Fq \
    "ingot / pytorch compiled (SDPA flash): 1.152 (median of 3 rounds, 1.138-1.219; target >= 1.2: NOT met)" "$t"
check "the fused ratio likewise" grep -Fq \
    "ingot / pytorch compiled (SDPA fused): 1.101 (median of 3 rounds, 1.088-1.114;" "$t"
check "the rounds' logs are kept apart" test -s "$tmp/three/bench-llama/torch-flash-r3.log"
check "PyTorch compiles the whole model by default" test \
    "$(sort -u "$tmp/stub/compile")" = "torch --compile full"
check "the table says how PyTorch was compiled" grep -Fxq \
    "PyTorch compiled: the whole model (TORCH_COMPILE=full)" "$t"
check "PyTorch in torch.compile's default mode by default" test \
    "$(sort -u "$tmp/stub/cmode")" = "torch --compile-mode default"
passes TORCH_COMPILE_MODE=reduce-overhead cmode "torch --compile-mode reduce-overhead" \
    "PyTorch compiled: the whole model (TORCH_COMPILE=full, TORCH_COMPILE_MODE=reduce-overhead)"
refused TORCH_COMPILE_MODE=fastest "expected default, reduce-overhead,"
TORCH_COMPILE=none refused TORCH_COMPILE_MODE=reduce-overhead "not with TORCH_COMPILE=none"
passes TORCH_COMPILE=regional compile "torch --compile regional" \
    "PyTorch compiled: each decoder layer (TORCH_COMPILE=regional)"
refused TORCH_COMPILE=max "expected full, regional or none"

PATH="$tmp/bin:$PATH" POWER=1 STUB_POWER=$tmp/wait-sampler ran power POWER=1 2
check "POWER=1: a sampler per run" test "$(cat "$tmp/stub/n_smi")" = 6
check "POWER=1: every stand-in found its sampler" test ! -e "$tmp/stub/errors"
check "POWER=1: Ingot's power line, medians over the rounds" grep -Fxq \
    "  ingot: 690 W, SM clock 1610 MHz, power-capped in n/a of the samples" "$t"
check "POWER=1: PyTorch's, one line per SDPA" grep -Fxq \
    "  pytorch, SDPA flash: 690 W, SM clock 1750 MHz, power-capped in 100% of the samples" "$t"
check "POWER=1: SDPA fused" grep -Fxq \
    "  pytorch, SDPA fused: 682 W, SM clock 1710 MHz, power-capped in 50% of the samples" "$t"
# with an nvidia-smi on PATH, as on a GPU machine: nothing samples unless asked
PATH="$tmp/bin:$PATH" ran nopower "POWER unset" 1
check "POWER unset: no sampler ran" test ! -e "$tmp/stub/n_smi"
check "POWER unset: no power lines" bash -c "test -s '$t' && ! grep -q '^power' '$t'"
check "POWER unset: no run's log has a sampler's summary" bash -c \
    "! grep -lq '^gpu-power:' '$tmp'/nopower/bench-llama/*.log"
refused POWER=2 "expected 0 or 1"

run one 1 "ingot torch-fused torch-flash "
check "ROUNDS=1: the one ratio, no rounds" grep -Fq \
    "ingot / pytorch compiled (SDPA flash): 1.152 (target >= 1.2: NOT met)" "$t"
check "ROUNDS=1: no round lines" bash -c "test -s '$t' && ! grep -q '^round ' '$t'"

check "ACCUM=1: one micro-step of 8 x 2048 on both sides" test \
    "$(tr '\n' ' ' <"$tmp/stub/args")" = \
    "ingot --batch-tokens 16384 torch --accum 1 torch --accum 1 "
check "ACCUM=1: the header" grep -Fq "batch 8 (16384 tokens per optimizer step)" "$t"

ran accum ACCUM=8 1 8
check "ACCUM=8: eight micro-steps of 8 x 2048 on both sides" test \
    "$(tr '\n' ' ' <"$tmp/stub/args")" = \
    "ingot --batch-tokens 131072 torch --accum 8 torch --accum 8 "
check "ACCUM=8: the header" grep -Fq \
    "batch 8 x 8 micro-steps (131072 tokens per optimizer step)" "$t"

ran var VARIANTS 2 1 "fast=STUB_TPS=80000,STUB_BWD=120 slow=STUB_TPS=70000"
check "VARIANTS: each round runs them after the default, before PyTorch" test \
    "$(tr '\n' ' ' <"$tmp/stub/calls")" = \
    "ingot ingot:80000 ingot:70000 torch-fused torch-flash ingot ingot:80000 ingot:70000 torch-fused torch-flash "
check "VARIANTS: the default row is the default runs' median" \
    grep -Eq '^ingot-train --arch llama +77000 ' "$t"
check "VARIANTS: a row per variant, with its variables" \
    grep -Eq '^  fast +80000 .* STUB_TPS=80000,STUB_BWD=120$' "$t"
check "VARIANTS: the second variant's row" grep -Eq '^  slow +70000 .* STUB_TPS=70000$' "$t"
check "VARIANTS: each round's figures" grep -Fq \
    "round 1: ingot 76000, fast 80000, slow 70000, SDPA fused 69000" "$t"
check "VARIANTS: the ratio to the default row, median of the rounds'" grep -Fq \
    "fast / ingot: 1.039 (median of 2 rounds, 1.026-1.053)" "$t"
check "VARIANTS: below 1 where slower" grep -Fq "slow / ingot: 0.909 (median of 2 rounds" "$t"
check "VARIANTS: the step's GPU times per row" grep -Fq \
    "forward / backward / optimizer: default 60.50 / 130.25 / 13.00; fast 60.50 / 120.00 / 13.00; slow 60.50 / 130.25 / 13.00" "$t"
ran var1 "VARIANTS with ROUNDS=1" 1 1 "fast=STUB_TPS=80000"
check "VARIANTS, one round: its ratio" grep -Fq "fast / ingot: 1.053 (one round)" "$t"

# a variant named like another's later round: each keeps its own files
ran varnames "VARIANTS a, a-r2" 2 1 "a=STUB_TPS=81000 a-r2=STUB_TPS=82000"
check "VARIANTS: a and a-r2 keep their own runs (round 1)" grep -Fq \
    "round 1: ingot 76000, a 81000, a-r2 82000" "$t"
check "VARIANTS: a and a-r2 keep their own runs (round 2)" grep -Fq \
    "round 2: ingot 78000, a 81000, a-r2 82000" "$t"

ran varfail "VARIANTS with a failing run" 2 1 "broken=STUB_FAIL=1,STUB_TPS=1"
check "VARIANTS: a failed variant's row is n/a" grep -Eq '^  broken +n/a ' "$t"
check "VARIANTS: and its ratio says so" grep -Fq "broken / ingot: n/a (no round where both ran)" "$t"
check "VARIANTS: the failure names the run" grep -Fq "ingot-train failed (ingotv@broken)" \
    "$tmp/varfail.out"

# a VALUE is passed as written, never globbed against the working directory
mkdir -p "$tmp/globdir" && touch "$tmp/globdir/STUB_TAG=xyz"
(cd "$tmp/globdir" && launch varglob 1 1 "g=STUB_TPS=80000,STUB_TAG=x*")
check "VARIANTS: a VALUE with '*' reaches the run as written" grep -Fxq "tag x*" "$tmp/stub/args"

for bad in "q128" "a=1=2" "a=X=1 a=Y=2" "a=X=1,,Y=2" "a:b=X=1" "a=X=1,"; do
    launch badvar 1 1 "$bad"
    rc=$?
    check "VARIANTS='$bad' refused (rc $rc)" test "$rc" = 2
    check "VARIANTS='$bad' says what is expected" grep -Fq "expected NAME=VAR=VALUE" \
        "$tmp/badvar.out"
    check "VARIANTS='$bad' ran nothing" test ! -e "$tmp/stub/calls"
done

launch badaccum 1 0
rc=$?
check "ACCUM=0 refused (rc $rc)" test "$rc" = 2
check "ACCUM=0 says what is expected" grep -Fq "ACCUM=0: expected a whole number" \
    "$tmp/badaccum.out"
check "ACCUM=0 ran nothing" test ! -e "$tmp/stub/calls"

env BATCH=0x2 OUT="$tmp/badbatch" bash "$root/scripts/bench-llama.sh" "$tmp/build" \
    >"$tmp/badbatch.out" 2>&1
rc=$?
check "BATCH=0x2 refused (rc $rc)" test "$rc" = 2
check "BATCH=0x2 says what is expected" grep -Fq "BATCH=0x2: expected a whole number" \
    "$tmp/badbatch.out"

launch bad 0
rc=$?
check "ROUNDS=0 refused (rc $rc)" test "$rc" = 2
check "ROUNDS=0 says what is expected" grep -Fq "ROUNDS=0: expected a whole number" "$tmp/bad.out"
check "ROUNDS=0 ran nothing" test ! -e "$tmp/stub/calls"

check_done
