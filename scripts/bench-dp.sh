#!/usr/bin/env bash
# Data-parallel training on the GPUs of one machine, in one command: what
# docs/multi-gpu.md's table needs.
#   one        1 GPU, --dist none (today's run)
#   one-nccl   1 GPU, --dist nccl with one rank (the distributed code path;
#              must give the same losses as "one", bit for bit), with the
#              per-block overlapped reduce, without it (INGOT_DP_OVERLAP=0),
#              and with --zero 1
#   dp         NGPU ranks (plain RANK/WORLD_SIZE env vars), same per-GPU batch
#              and micro-steps as "one": tok/s total and per GPU, scaling
#              efficiency tok/s(N) / (N x tok/s(1)), exposed communication
#              estimated as step time(N) - step time(1) (same work per GPU),
#              memory per GPU (nvidia-smi peak), CPU % of a core and host
#              syncs per step (rank 0's --profile; every rank's CPU % from
#              the shell's `times`), and every rank's own --profile line:
#              reduce time, exposed communication (the time the compute
#              stream waited for the comm stream), bus bandwidth (nccl-tests'
#              definition), syncs per step and GPU memory in use; with the
#              overlapped reduce, without it, and with --zero 1
#   parity     fp32 and bf16, PARITY_STEPS steps at the same global batch: 1
#              GPU vs NGPU ranks, max |loss difference|
#   torchrun   (when installed) NGPU ranks under torchrun --no-python: the
#              same losses as the env-var launch
#   kill       kill -9 of the last rank: how long the survivors take to exit
#              and the line they print
# NCCL_NVLS_ENABLE=0 is exported (the lent machines need it); your other
# NCCL_* settings pass through. Results: $OUT/bench-dp/table.txt.
#
#   scripts/bench-dp.sh [BUILD_DIR]
# env: NGPU (default: all visible), MODEL (gpt2-124m), BATCH (per-GPU
#      micro-batch, 32), ACCUM (per-GPU micro-steps per step, 1), STEPS (30),
#      PARITY_STEPS (50), DIST_TIMEOUT (for the kill test, 30), PYTHON, OUT
set -uo pipefail
# --help: this header; an option it does not know (a BUILD_DIR is not one): refused,
# before anything is built or started
. "$(dirname "$0")/script_help.sh"
script_args 1 "$@"
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
bin=$build/train/ingot-train
py=${PYTHON:-python3}
ngpu=${NGPU:-$(nvidia-smi -L 2>/dev/null | wc -l)}
model=${MODEL:-gpt2-124m}
batch=${BATCH:-32}
accum=${ACCUM:-1}
steps=${STEPS:-30}
psteps=${PARITY_STEPS:-50}
out=${OUT:-/tmp}/bench-dp
export NCCL_NVLS_ENABLE=0
mkdir -p "$out"
rm -f "$out"/*.jsonl "$out"/*.log "$out"/*.mem "$out"/*.cpu
[ -x "$bin" ] || { echo "bench-dp: no $bin (build first)"; exit 1; }
[ "$ngpu" -ge 1 ] || { echo "bench-dp: no GPU"; exit 1; }
T=1024
common=(--device cuda --model "$model" --synthetic --vocab 50304 --val-every 0
        --print-every 1000)

# launch TAG N [args...]: N ranks by env vars (N = 1: a plain process); rank
# 0's output in TAG.log, the others' in TAG.rR.log; each rank's CPU % of a
# core (the shell's `times` for its child over the wall time) in TAG.cpu; GPU
# memory sampled into TAG.mem. Returns the first non-zero exit status.
launch() {
    local tag=$1 n=$2
    shift 2
    local port=$((29500 + RANDOM % 1000)) pids=() rc=0
    nvidia-smi --query-gpu=index,memory.used --format=csv,noheader,nounits -lms 500 \
        >"$out/$tag.mem" 2>/dev/null &
    local smi=$!
    local t0
    t0=$(date +%s.%N)
    for ((r = 0; r < n; r++)); do
        local log=$out/$tag.log
        [ "$r" -gt 0 ] && log=$out/$tag.r$r.log
        local envs=()
        [ "$n" -gt 1 ] && envs=(RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r LOCAL_WORLD_SIZE=$n
                                MASTER_ADDR=127.0.0.1 MASTER_PORT=$port)
        ( env "${envs[@]}" timeout 600 "$bin" "$@" >"$log" 2>&1; s=$?; times >"$out/$tag.r$r.times"
          exit $s ) &
        pids+=($!)
    done
    for p in "${pids[@]}"; do
        wait "$p" || { local s=$?; [ "$rc" -eq 0 ] && rc=$s; }
    done
    local wall
    wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    : >"$out/$tag.cpu"
    for ((r = 0; r < n; r++)); do
        # the second line of `times`: the children's user and system time
        sed -n 2p "$out/$tag.r$r.times" 2>/dev/null | tr 'ms' '  ' |
            awk -v w="$wall" -v r="$r" 'NF >= 4 && w > 0 {
                printf "rank %d %.1f\n", r, 100 * ($1 * 60 + $2 + $3 * 60 + $4) / w }' \
            >>"$out/$tag.cpu"
    done
    kill "$smi" 2>/dev/null
    [ "$rc" -eq 0 ] || { echo "$tag: exit $rc:"; tail -3 "$out/$tag.log"; }
    return "$rc"
}

# dpstats TAG: every rank's data-parallel line (the back end prints it at the
# end of a --profile run) as "reduce_ms exposed_ms busbw syncs mem_MiB", each
# field the ranks' values joined by '/' (rank 0 first)
dpstats() {
    "$py" - "$out/$1" <<'PY'
import glob, re, sys
base = sys.argv[1]
pat = re.compile(r"reduce ([\d.]+) ms/step, exposed ([\d.]+) ms/step, bus bandwidth ([\d.]+) "
                 r"GB/s, ([\d.]+) syncs/step, GPU memory (\d+) MiB")
cols = [[], [], [], [], []]
logs = [base + ".log"] + sorted(glob.glob(base + ".r*.log"),
                                key=lambda p: int(re.search(r"\.r(\d+)\.log$", p).group(1)))
for path in logs:
    try:
        m = pat.search(open(path, errors="replace").read())
    except OSError:
        m = None
    for i in range(5):
        cols[i].append(m.group(i + 1) if m else "-")
print(" ".join("/".join(c) if c else "-" for c in cols))
PY
}

# stats TAG: "tok/s cpu% syncs mem_GiB(max over GPUs) per-rank-cpu"
stats() {
    "$py" - "$out/$1" <<'PY'
import json, sys, statistics as st
base = sys.argv[1]
try:
    rows = [json.loads(l) for l in open(base + ".jsonl") if l.strip()]
except OSError:
    rows = []
rows = [r for r in rows if "tok_per_s" in r][3:]
def med(k):
    v = [r[k] for r in rows if isinstance(r.get(k), (int, float)) and r[k] >= 0]
    return st.median(v) if v else float("nan")
mem = {}
try:
    for l in open(base + ".mem"):
        i, m = [x.strip() for x in l.split(",")]
        mem[i] = max(mem.get(i, 0), float(m))
except (OSError, ValueError):
    pass
try:
    cpu = " ".join(l.split()[2] for l in open(base + ".cpu"))
except OSError:
    cpu = "-"
print(f"{med('tok_per_s'):.0f} {med('cpu_pct'):.1f} {med('syncs'):.2f} "
      f"{max(mem.values()) / 1024 if mem else float('nan'):.1f} {cpu.replace(' ', '/') or '-'}")
PY
}

# maxdiff A B: max |loss difference| over the steps both logged
maxdiff() {
    "$py" - "$out/$1.jsonl" "$out/$2.jsonl" <<'PY'
import json, sys
def losses(p):
    try:
        return {r["step"]: r["loss"] for r in map(json.loads, open(p)) if "loss" in r}
    except OSError:
        return {}
a, b = losses(sys.argv[1]), losses(sys.argv[2])
common = sorted(set(a) & set(b))
print(f"{max(abs(a[s] - b[s]) for s in common):.3g} ({len(common)} steps)" if common else "n/a")
PY
}

echo "== machine"
{
    nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader
    nvidia-smi topo -m
    "$bin" --version
} 2>&1 | tee "$out/machine.txt"

g1=$((batch * T * accum))
perf=(--batch "$batch" --precision bf16 --profile "$steps")
echo "== one: 1 GPU, --dist none, $g1 tokens/step"
launch one 1 "${common[@]}" "${perf[@]}" --batch-tokens "$g1" --dist none --metrics "$out/one.jsonl"
echo "== one-nccl: 1 GPU, --dist nccl, one rank (overlap on, off; --zero 1)"
NCCL_DEBUG=VERSION launch one-nccl 1 "${common[@]}" "${perf[@]}" --batch-tokens "$g1" \
    --dist nccl --metrics "$out/one-nccl.jsonl"
nccl_ver=$(grep -o 'NCCL version [0-9.]*' "$out/one-nccl.log" | head -1)
INGOT_DP_OVERLAP=0 launch one-nccl-noov 1 "${common[@]}" "${perf[@]}" --batch-tokens "$g1" \
    --dist nccl --metrics "$out/one-nccl-noov.jsonl"
launch one-zero 1 "${common[@]}" "${perf[@]}" --batch-tokens "$g1" --dist nccl --zero 1 \
    --metrics "$out/one-zero.jsonl"
if [ "$ngpu" -gt 1 ]; then
    echo "== dp: $ngpu GPUs, $((g1 * ngpu)) tokens/step (overlap on, off; --zero 1)"
    launch dp "$ngpu" "${common[@]}" "${perf[@]}" --batch-tokens $((g1 * ngpu)) \
        --metrics "$out/dp.jsonl"
    INGOT_DP_OVERLAP=0 launch dp-noov "$ngpu" "${common[@]}" "${perf[@]}" \
        --batch-tokens $((g1 * ngpu)) --metrics "$out/dp-noov.jsonl"
    launch dp-zero "$ngpu" "${common[@]}" "${perf[@]}" --batch-tokens $((g1 * ngpu)) \
        --zero 1 --metrics "$out/dp-zero.jsonl"
fi

echo "== parity: fp32 and bf16, $psteps steps"
pb=8
gp=$((pb * T * ngpu))
for prec in fp32 bf16; do
    par=(--batch "$pb" --batch-tokens "$gp" --precision "$prec" --steps "$psteps" --warmup 5)
    launch "par1-$prec" 1 "${common[@]}" "${par[@]}" --dist none --metrics "$out/par1-$prec.jsonl"
    launch "parN-$prec" "$ngpu" "${common[@]}" "${par[@]}" --metrics "$out/parN-$prec.jsonl"
done
launch par1n-fp32 1 "${common[@]}" --batch "$pb" --batch-tokens "$gp" --precision fp32 \
    --steps "$psteps" --warmup 5 --dist nccl --metrics "$out/par1n-fp32.jsonl"
launch par1z-fp32 1 "${common[@]}" --batch "$pb" --batch-tokens "$gp" --precision fp32 \
    --steps "$psteps" --warmup 5 --dist nccl --zero 1 --metrics "$out/par1z-fp32.jsonl"
launch parNz-fp32 "$ngpu" "${common[@]}" --batch "$pb" --batch-tokens "$gp" --precision fp32 \
    --steps "$psteps" --warmup 5 --zero 1 --metrics "$out/parNz-fp32.jsonl"

trun="not installed"
if [ "$ngpu" -gt 1 ] && command -v torchrun >/dev/null; then
    echo "== torchrun"
    torchrun --standalone --nproc_per_node "$ngpu" --no-python "$bin" "${common[@]}" \
        --batch "$pb" --batch-tokens "$gp" --precision fp32 --steps 10 --warmup 5 \
        --metrics "$out/torchrun.jsonl" >"$out/torchrun.log" 2>&1 &&
        trun="max |dloss| vs env launch $(maxdiff parN-fp32 torchrun)" ||
        trun="failed: $(tail -1 "$out/torchrun.log")"
fi

kill_line="needs 2 GPUs"
if [ "$ngpu" -gt 1 ]; then
    echo "== kill -9 of rank $((ngpu - 1))"
    to=${DIST_TIMEOUT:-30}
    port=$((30500 + RANDOM % 1000))
    kp=()
    for ((r = 0; r < ngpu; r++)); do
        RANK=$r WORLD_SIZE=$ngpu LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
            "$bin" "${common[@]}" --batch "$pb" --batch-tokens "$gp" --steps 100000 \
            --print-every 1 --dist-timeout "$to" >"$out/kill.r$r.log" 2>&1 &
        kp+=($!)
    done
    for _ in $(seq 120); do grep -q 'step *5/' "$out/kill.r0.log" 2>/dev/null && break; sleep 1; done
    kill -9 "${kp[$((ngpu - 1))]}"
    t0=$(date +%s.%N)
    wait "${kp[0]}"
    rc0=$?
    dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    for p in "${kp[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    kill_line="rank 0 exit $rc0 after ${dt}s (timeout ${to}s): $(grep -h 'rank 0' "$out/kill.r0.log" | tail -1)"
fi

{
    echo "bench-dp: $model, T=$T, per-GPU batch $batch x $accum micro-steps, NCCL_NVLS_ENABLE=0, ${nccl_ver:-NCCL ?}"
    read -r t1 c1 s1 m1 r1 < <(stats one)
    read -r tn cn sn mn rn < <(stats one-nccl)
    printf '%-34s %10s %10s %6s %6s %7s %s\n' run tok/s tok/s/GPU CPU% syncs GiB "CPU% per rank"
    printf '%-34s %10s %10s %6s %6s %7s %s\n' "1 GPU --dist none" "$t1" "$t1" "$c1" "$s1" "$m1" "$r1"
    printf '%-34s %10s %10s %6s %6s %7s %s\n' "1 GPU --dist nccl (1 rank)" "$tn" "$tn" "$cn" "$sn" "$mn" "$rn"
    row() {   # row TAG LABEL N
        [ -f "$out/$1.jsonl" ] || return 0
        local t c s m r
        read -r t c s m r < <(stats "$1")
        printf '%-34s %10s %10s %6s %6s %7s %s\n' "$2" "$t" "$(awk -v t="$t" -v n="$3" \
            'BEGIN { printf "%.0f", t / n }')" "$c" "$s" "$m" "$r"
    }
    row one-nccl-noov "1 GPU nccl, INGOT_DP_OVERLAP=0" 1
    row one-zero "1 GPU nccl, --zero 1" 1
    if [ "$ngpu" -gt 1 ]; then
        read -r td cd sd md rd < <(stats dp)
        printf '%-34s %10s %10s %6s %6s %7s %s\n' "$ngpu GPUs" "$td" "$((td / ngpu))" "$cd" "$sd" "$md" "$rd"
        row dp-noov "$ngpu GPUs, INGOT_DP_OVERLAP=0" "$ngpu"
        row dp-zero "$ngpu GPUs, --zero 1" "$ngpu"
        "$py" -c "import sys
t1, td, n, tok = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
s1, sd = 1e3 * tok / t1, 1e3 * tok * n / td
print(f'scaling efficiency {td / (n * t1):.3f}; step {s1:.1f} ms on 1 GPU, {sd:.1f} ms on {n}: '
      f'exposed communication ~{sd - s1:.1f} ms ({100 * (sd - s1) / sd:.1f}% of the step)')" \
            "$t1" "$td" "$ngpu" "$g1" 2>/dev/null || echo "scaling: no data"
    fi
    echo "every rank's own --profile line (rank 0/rank 1/...; averages over the steps after the third):"
    printf '  %-30s %16s %16s %16s %12s %18s\n' run "reduce ms" "exposed ms" "busbw GB/s" \
        syncs/step "GPU memory MiB"
    for tag in one-nccl one-nccl-noov one-zero dp dp-noov dp-zero; do
        [ -f "$out/$tag.log" ] || continue
        read -r dr dx db ds dm < <(dpstats "$tag")
        printf '  %-30s %16s %16s %16s %12s %18s\n' "$tag" "$dr" "$dx" "$db" "$ds" "$dm"
    done
    echo "loss parity, $psteps steps, same global batch ($gp tokens):"
    echo "  1 GPU none vs 1 GPU nccl, fp32:   max |dloss| $(maxdiff par1-fp32 par1n-fp32)  (want 0)"
    echo "  1 GPU none vs nccl --zero 1, fp32: max |dloss| $(maxdiff par1-fp32 par1z-fp32)"
    echo "  1 GPU vs $ngpu GPUs --zero 1, fp32:  max |dloss| $(maxdiff par1-fp32 parNz-fp32)  (want < 1e-4)"
    echo "  1 GPU vs $ngpu GPUs, fp32:           max |dloss| $(maxdiff par1-fp32 parN-fp32)  (want < 1e-4)"
    echo "  1 GPU vs $ngpu GPUs, bf16:           max |dloss| $(maxdiff par1-bf16 parN-bf16)  (want < 1e-2)"
    echo "  1 GPU none vs nccl, perf run bf16: max |dloss| $(maxdiff one one-nccl)"
    echo "torchrun: $trun"
    echo "kill -9: $kill_line"
} | tee "$out/table.txt"
