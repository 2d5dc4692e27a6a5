#!/usr/bin/env bash
# LLaMA training throughput on the GPU machine, in one call: ingot-train
# --arch llama --model llama-1b (TinyLlama-1.1B's shape: 22 layers, 32 query /
# 4 kv heads of 64, C 2048, F 5632, T 2048, vocab 32000, untied) in bf16 on
# synthetic ids, then the same shape and batch in PyTorch
# (scripts/torch-llama-bench.py: torch.compile of the whole model, SDPA flash
# with GQA, bf16 autocast, fused AdamW). Prints tok/s, MFU and memory of each, the
# ratio (issue 15's target: ingot >= 1.2x PyTorch), and TinyLlama's published
# 24k tok/s per A100-40G beside it, as MFU by the same formula.
#
# MFU: FLOPs per trained token = 6 x (matmul weights) + 12 x L x T x C
# (PaLM appendix B; train/tr_llama_params.c tr_llama_flops_per_token; 7.314
# GFLOP for llama-1b at T 2048) over the GPU's dense bf16 peak (H100/H200
# 989.4 TFLOP/s, A100 312).
#
#   scripts/bench-llama.sh [BUILD_DIR]
# Time: ingot-train's start-up is mostly the host's serial random init of
# 1.1G parameters (5-50 s), then 30 steps; PyTorch's is torch.compile of the
# model (30-60 s), then 3 + 30 steps; each run is capped at 100 s (60 + 40 x ACCUM). 30 steps:
# both trainers run at the GPU's power cap for most of them (8 steps moved
# PyTorch's figure by +-4% between calls, docs/performance.md round 16).
# env: BATCH (default 8 sequences of 2048), STEPS (ingot profiled steps,
#      default 30; the first 3 are not counted), TORCH_STEPS (default 30),
#      MODEL (default llama-1b), TORCH=0 (ingot only), PYTHON, OUT (default /tmp),
#      ATTN="expand mat" extra ingot rows with INGOT_LLAMA_ATTN set (the default
#      row is the flash GQA path; about 30 s each), TORCH_SDPA (default "fused
#      flash": PyTorch's SDPA picking among its fused kernels, cuDNN's on Hopper,
#      then only FlashAttention-2, the issue's "SDPA flash"; one row and ratio each),
#      TORCH_COMPILE (default full): torch.compile of the whole model, PyTorch's
#      faster setting here (H100, one call: 66 466 against 63 213 tok/s for
#      regional, docs/performance.md round 26); regional compiles each decoder
#      layer (the bench's PyTorch before session 32), none runs eagerly
#      TORCH_COMPILE_MODE (default: torch.compile's default mode): reduce-overhead,
#      max-autotune or max-autotune-no-cudagraphs (torch-llama-bench.py
#      --compile-mode; not with TORCH_COMPILE=none); at TinyLlama's shape
#      reduce-overhead and max-autotune-no-cudagraphs were within 0.4% of the
#      default (H100, one call, docs/performance.md round 27)
#      ROUNDS (default 1): Ingot and each PyTorch run alternately ROUNDS times; the
#      table gives each round and the medians (tok/s, MFU; the ratio: the median of
#      the rounds' ratios, each of runs minutes apart), since one pair of runs moved
#      PyTorch's figure by several percent between calls (round 16)
#      VARIANTS "NAME=VAR=VALUE[,VAR=VALUE...] ..." (optional): more ingot rows, run
#      in every round after the default one, in the order given, with those
#      variables set (e.g. "ropepass=INGOT_LLAMA_ROPE_EPI=0
#      c1=INGOT_G9_CLUSTER=1,INGOT_G9_GROUP=4"; a VALUE holds no comma or space),
#      each with its ratio to the default row (the median of the rounds' ratios: a
#      variant runs beside the default run of its round, on the same warm GPU, so
#      this A/B is steadier than runs in two calls); TORCH=0 ROUNDS=3 VARIANTS=...
#      is the usual A/B of a kernel switch
#      POWER=1: every run under scripts/gpu-power.sh (nvidia-smi every 100 ms, GPU
#      POWER_GPU: nvidia-smi's index, default 0), and
#      a line per row under the table: the median power, SM clock and share of
#      power-capped samples (both trainers run at the 700 W cap; the clock the cap
#      leaves is where a ratio comes from, docs/performance.md round 27)
#      ACCUM (default 1): micro-batches of BATCH per optimizer step on both sides
#      (ingot --batch-tokens, PyTorch --accum); TinyLlama's own pretrain script runs
#      8 of 8 sequences per GPU (global batch 512 on 8 GPUs), so ACCUM=8 is its
#      recipe per GPU; STEPS and TORCH_STEPS stay optimizer steps
# The default ingot row and each VARIANTS row also get their forward, backward and
# optimizer GPU time per step (medians of --profile's fwd_ms, bwd_ms, opt_ms),
# printed under the table.
# Results: $OUT/bench-llama/{ingot*.log,ingot*.jsonl,torch-*.log,table.txt}.
set -uo pipefail
# --help: this header; an option it does not know (a BUILD_DIR is not one): refused,
# before anything is built or started
. "$(dirname "$0")/script_help.sh"
script_args 1 "$@"
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
batch=${BATCH:-8}
steps=${STEPS:-30}
tsteps=${TORCH_STEPS:-30}
model=${MODEL:-llama-1b}
py=${PYTHON:-python3}
out=${OUT:-/tmp}/bench-llama
rounds=${ROUNDS:-1}
accum=${ACCUM:-1}
if ! [[ $accum =~ ^[1-9][0-9]{0,2}$ ]]; then
    echo "bench-llama: ACCUM=$accum: expected a whole number of micro-batches from 1 to 999" >&2
    exit 2
fi
if ! [[ $batch =~ ^[1-9][0-9]{0,3}$ ]]; then
    echo "bench-llama: BATCH=$batch: expected a whole number of sequences from 1 to 9999" >&2
    exit 2
fi
# each run's time limit: 100 s at one micro-step, the steps' share growing with ACCUM
limit=$((60 + 40 * accum))
case $model in # the presets' sequence lengths (train/tr_llama_params.c)
llama-tiny) seq=64 ;;
llama-60m | llama-350m) seq=1024 ;;
*) seq=2048 ;;
esac
compile=${TORCH_COMPILE:-full}
case $compile in
full | regional | none) ;;
*)
    echo "bench-llama: TORCH_COMPILE=$compile: expected full, regional or none" >&2
    exit 2
    ;;
esac
power=${POWER:-0}
case $power in
0) ;;
1)
    if ! command -v nvidia-smi >/dev/null; then
        echo "bench-llama: POWER=1 samples the GPU with nvidia-smi, which is not here" >&2
        exit 2
    fi
    ;;
*)
    echo "bench-llama: POWER=$power: expected 0 or 1" >&2
    exit 2
    ;;
esac
cmode=${TORCH_COMPILE_MODE:-default}
case $cmode in
default) ;;
reduce-overhead | max-autotune | max-autotune-no-cudagraphs)
    if [ "$compile" = none ]; then
        echo "bench-llama: TORCH_COMPILE_MODE=$cmode: not with TORCH_COMPILE=none (an eager" \
            "model has no compile mode)" >&2
        exit 2
    fi
    ;;
*)
    echo "bench-llama: TORCH_COMPILE_MODE=$cmode: expected default, reduce-overhead," \
        "max-autotune or max-autotune-no-cudagraphs" >&2
    exit 2
    ;;
esac
if ! [[ $rounds =~ ^[1-9][0-9]{0,2}$ ]]; then
    echo "bench-llama: ROUNDS=$rounds: expected a whole number from 1 to 999" >&2
    exit 2
fi
# VARIANTS: NAME=VAR=VALUE[,VAR=VALUE...] words, checked before anything runs
# (read as words, never globbed: a VALUE may hold '*' or '['); vnames / venv: the
# names and, per name, its assignments (space-separated). An empty array is
# expanded as ${a[@]+"${a[@]}"}: under set -u bash before 4.4 calls "${a[@]}"
# of an empty one unbound.
vnames=()
declare -A venv=()
read -r -d '' -a vwords <<<"${VARIANTS:-}"
for v in ${vwords[@]+"${vwords[@]}"}; do
    name=${v%%=*}
    assigns=${v#*=}
    ok=1
    [[ $v == *=* && $name =~ ^[A-Za-z0-9_.-]{1,40}$ && -z ${venv[$name]+x} ]] || ok=0
    # a trailing comma would be dropped by read: refused as the empty field it is
    [[ $assigns == *, ]] && ok=0
    IFS=, read -r -a list <<<"$assigns"
    [ ${#list[@]} -gt 0 ] || ok=0
    for a in ${list[@]+"${list[@]}"}; do
        [[ $a =~ ^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*$ ]] || ok=0
    done
    if [ $ok = 0 ]; then
        echo "bench-llama: VARIANTS word '$v': expected NAME=VAR=VALUE[,VAR=VALUE...] with a" \
            "new NAME of letters, digits, '_', '.' or '-'" >&2
        exit 2
    fi
    vnames+=("$name")
    venv[$name]="${list[*]}"
done
mkdir -p "$out"
rm -f "$out"/ingot*.jsonl "$out"/*.log
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}

# sampled LABEL COMMAND...: the command, under gpu-power.sh with POWER=1 (its
# summary line follows the command's output)
sampled() {
    local label=$1
    shift
    if [ "$power" = 1 ]; then
        "$here/scripts/gpu-power.sh" -g "${POWER_GPU:-0}" -l "$label" -- "$@"
    else
        "$@"
    fi
}

# ingot TAG [ENV...]: one profiled run -> $out/TAG.{log,jsonl}
ingot() {
    local tag=$1
    shift
    echo "== $tag: ingot-train --arch llama --model $model --batch $batch x $accum (bf16, synthetic ids) $*"
    sampled "$tag" env "$@" timeout "$limit" "$build/train/ingot-train" --device cuda --arch llama --model "$model" \
        --batch "$batch" --batch-tokens $((batch * seq * accum)) --precision bf16 --synthetic --vocab 32000 --profile "$steps" \
        --val-every 0 --print-every 1000 --metrics "$out/$tag.jsonl" >"$out/$tag.log" 2>&1 ||
        { echo "ingot-train failed ($tag):"; tail -5 "$out/$tag.log"; }
}
sdpas=${TORCH_SDPA:-fused flash}
if [ "${TORCH:-1}" = 0 ] || ! "$py" -c 'import torch' 2>/dev/null; then
    sdpas=
fi
# torch K SUFFIX: one PyTorch run -> $out/torch-K$SUFFIX.log
torch_run() {
    echo "== PyTorch: scripts/torch-llama-bench.py --model $model --batch $batch --sdpa $1 --compile $compile --compile-mode $cmode"
    sampled "torch-$1$2" timeout "$limit" "$py" "$here/scripts/torch-llama-bench.py" --model "$model" --batch "$batch" \
        --accum "$accum" --steps "$tsteps" --warmup 3 --sdpa "$1" --compile "$compile" --compile-mode "$cmode" \
        >"$out/torch-$1$2.log" 2>&1 ||
        { echo "torch-llama-bench --sdpa $1 failed:"; tail -5 "$out/torch-$1$2.log"; }
}
t_torch=0
for r in $(seq 1 "$rounds"); do
    sfx=
    [ "$r" -gt 1 ] && sfx=-r$r
    t0=$(date +%s)
    ingot "ingot$sfx"
    [ "$r" = 1 ] && t_ingot=$(($(date +%s) - t0))
    for v in ${vnames[@]+"${vnames[@]}"}; do
        # tags ingotv[-rN]@NAME: a NAME holds no '@', so no two runs share files
        read -r -a assigns <<<"${venv[$v]}"
        ingot "ingotv$sfx@$v" "${assigns[@]}"
    done
    if [ "$r" = 1 ]; then
        for a in ${ATTN:-}; do ingot "ingot-$a" INGOT_LLAMA_ATTN="$a"; done
    fi
    t0=$(date +%s)
    for k in $sdpas; do torch_run "$k" "$sfx"; done
    t_torch=$((t_torch + $(date +%s) - t0))
done

vdesc=
for v in ${vnames[@]+"${vnames[@]}"}; do vdesc+="$v:${venv[$v]// /,} "; done
VDESC="$vdesc" SDPAS="$sdpas" COMPILE="$compile" CMODE="$cmode" POWER="$power" ROUNDS="$rounds" ACCUM="$accum" SEQ="$seq" "$py" - "$out" \
    "$model" "$batch" "$t_ingot" "$t_torch" ${ATTN:-} <<'PY' |
import functools, json, os, re, statistics as st, sys
out, model, batch, s_ingot, s_torch = sys.argv[1:6]
variants = sys.argv[6:]
sdpas = os.environ["SDPAS"].split()
T, tiny_tps, a100_peak = int(os.environ["SEQ"]), 24000.0, 312.0
accum = int(os.environ["ACCUM"])
fpt = 7.3138176e9 if model == "llama-1b" else None
@functools.lru_cache(maxsize=None)
def steps(tag):
    """the profiled steps after 3 of an ingot run's metrics (each file read once:
    ingot() and phases() both ask)"""
    rows = []
    try:
        rows = [json.loads(l) for l in open(f"{out}/{tag}.jsonl") if l.strip()]
    except OSError:
        pass
    return [r for r in rows if "tok_per_s" in r][3:]
def phases(tag):
    """medians of the forward, backward and optimizer GPU ms per step (None: absent)"""
    rows = steps(tag)
    def m(k):
        xs = [r[k] for r in rows if isinstance(r.get(k), (int, float)) and r[k] >= 0]
        return st.median(xs) if xs else None
    return m("fwd_ms"), m("bwd_ms"), m("opt_ms")
def ingot(tag):
    """median tok/s, MFU of the profiled steps after 3; GiB of the run's allocations"""
    mem = None
    rows = steps(tag)
    tps = st.median(r["tok_per_s"] for r in rows) if rows else None
    mfus = [r["mfu"] for r in rows if isinstance(r.get("mfu"), (int, float)) and r["mfu"] >= 0]
    try:
        m = re.search(r"parameters, ([0-9.]+)([kMG]?) MiB", open(f"{out}/{tag}.log").read())
        if m:
            mem = float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)] / 1024
    except OSError:
        pass
    return tps, (st.median(mfus) if mfus else None), mem
rounds = int(os.environ["ROUNDS"])
sfx = ["" if r == 1 else f"-r{r}" for r in range(1, rounds + 1)]
def med(xs):
    xs = [x for x in xs if x is not None]
    return st.median(xs) if xs else None
ing = [ingot("ingot" + x) for x in sfx]
def vtag(n, x):
    """variant n's run of the round with suffix x (the shell's ingotv[-rN]@NAME)"""
    return f"ingotv{x}@{n}"
# VARIANTS: (name, its assignments, its rounds' ingot() triples)
vrs = [(n, a, [ingot(vtag(n, x)) for x in sfx])
       for n, a in (w.split(":", 1) for w in os.environ["VDESC"].split())]
ing_tps, ing_mfu = med(t for t, _, _ in ing), med(u for _, u, _ in ing)
mem = med(g for _, _, g in ing)
def torch_run(k):
    """the JSON line of torch-llama-bench --sdpa k, None when it failed"""
    tj = None
    try:
        for l in open(f"{out}/torch-{k}.log"):
            if l.startswith('{"bench"'):
                tj = json.loads(l)
    except OSError:
        pass
    return tj
# per SDPA: the rounds' JSON lines (None where a run failed), and a line of medians
tor = {k: [torch_run(k + x) for x in sfx] for k in sdpas}
def tmed(runs):
    ok = [t for t in runs if t]
    if not ok:
        return None
    return {"tok_per_s": st.median(t["tok_per_s"] for t in ok),
            "mfu": st.median(t["mfu"] for t in ok), "peak_mem_gib": max(t["peak_mem_gib"] for t in ok)}
tjs = [(k, tmed(tor[k])) for k in sdpas]
def ratios(k):
    """Ingot / PyTorch per round, for the rounds where both ran"""
    return [i[0] / t["tok_per_s"] for i, t in zip(ing, tor[k]) if i[0] and t]
peak = None
if ing_tps and ing_mfu and fpt:
    peak = ing_tps * fpt / ing_mfu / 1e12
def f(v, fmt):
    return fmt.format(v) if v is not None else "n/a"
micro = f" x {accum} micro-steps" if accum > 1 else ""
print(f"bench-llama: {model}, bf16, T={T}, batch {batch}{micro} "
      f"({int(batch) * T * accum} tokens per optimizer step), "
      f"synthetic ids, vocab 32000" + (f"; {rounds} rounds, medians" if rounds > 1 else ""))
print(f"{'run':<34} {'tok/s':>8} {'MFU%':>6} {'GiB':>6} {'wall_s':>7}")
print(f"{'ingot-train --arch llama':<34} {f(ing_tps, '{:.0f}'):>8} "
      f"{f(ing_mfu and 100 * ing_mfu, '{:.1f}'):>6} {f(mem, '{:.1f}'):>6} {s_ingot:>7}")
for n, a, runs in vrs:
    t, u, g = (med(x[i] for x in runs) for i in range(3))
    print(f"{'  ' + n:<34} {f(t, '{:.0f}'):>8} {f(u and 100 * u, '{:.1f}'):>6} "
          f"{f(g, '{:.1f}'):>6}          {a}")
for v in variants:
    t, u, g = ingot(f"ingot-{v}")
    print(f"{'  INGOT_LLAMA_ATTN=' + v:<34} {f(t, '{:.0f}'):>8} {f(u and 100 * u, '{:.1f}'):>6} "
          f"{f(g, '{:.1f}'):>6}")
for k, tj in tjs:
    name = {"fused": "pytorch compiled, SDPA fused", "flash": "pytorch compiled, SDPA flash"}
    if tj:
        print(f"{name.get(k, 'pytorch compiled, SDPA ' + k):<34} {tj['tok_per_s']:>8.0f} "
              f"{100 * tj['mfu'] if tj['mfu'] >= 0 else float('nan'):>6.1f} "
              f"{tj['peak_mem_gib']:>6.1f}")
if fpt:
    mfu_a100 = tiny_tps * fpt / (a100_peak * 1e12)
    line = f"{'TinyLlama paper, per A100-40G':<34} {tiny_tps:>8.0f} {100 * mfu_a100:>6.1f}"
    if peak:
        line += f"   (that MFU on this GPU: {mfu_a100 * peak * 1e12 / fpt:.0f} tok/s)"
    print(line)
if rounds > 1:
    for i, x in enumerate(sfx):
        line = f"round {i + 1}: ingot {f(ing[i][0], '{:.0f}')}"
        for n, _, runs in vrs:
            line += f", {n} {f(runs[i][0], '{:.0f}')}"
        for k in sdpas:
            t = tor[k][i]
            line += f", SDPA {k} {f(t and t['tok_per_s'], '{:.0f}')}"
            if ing[i][0] and t:
                line += f" ({ing[i][0] / t['tok_per_s']:.3f})"
        print(line)
def spread(rs):
    """how a median of per-round ratios came about; None for one round"""
    return f"median of {len(rs)} rounds, {min(rs):.3f}-{max(rs):.3f}" if len(rs) > 1 else None
for k in sdpas:
    rs = ratios(k)
    if rs:
        r, sp = st.median(rs), spread(rs)
        print(f"ingot / pytorch compiled (SDPA {k}): {r:.3f} "
              f"({sp + '; ' if sp else ''}target >= 1.2: {'met' if r >= 1.2 else 'NOT met'})")
for n, _, runs in vrs:
    rs = [v[0] / i[0] for v, i in zip(runs, ing) if v[0] and i[0]]
    if not rs:
        print(f"{n} / ingot: n/a (no round where both ran)")
        continue
    print(f"{n} / ingot: {st.median(rs):.3f} ({spread(rs) or 'one round'})")
def watts(tag):
    """gpu-power.sh's summary in a run's log: (W, MHz, % capped or None), or None"""
    try:
        text = open(f"{out}/{tag}.log").read()
    except OSError:
        return None
    m = re.search(r"^gpu-power: .*power median ([0-9.]+) W.*SM clock median ([0-9]+) MHz"
                  r".*power-capped in ([0-9.]+%|n/a)", text, re.M)
    if not m:
        return None
    return float(m.group(1)), float(m.group(2)), (float(m.group(3)[:-1])
                                                   if m.group(3) != "n/a" else None)
def power_line(name, tags):
    """one row's power: the medians over its rounds' runs"""
    ws = [w for w in (watts(t) for t in tags) if w]
    if not ws:
        return f"  {name}: no samples"
    w, c, cap = (med(x[i] for x in ws) for i in range(3))
    return (f"  {name}: {w:.0f} W, SM clock {c:.0f} MHz, power-capped in "
            f"{f(cap, '{:.0f}%')} of the samples")
if os.environ["POWER"] == "1":
    print("power (POWER=1, scripts/gpu-power.sh; medians over the rounds):")
    print(power_line("ingot", ["ingot" + x for x in sfx]))
    for n, _, _ in vrs:
        print(power_line(n, [vtag(n, x) for x in sfx]))
    for v in variants:
        print(power_line(f"INGOT_LLAMA_ATTN={v}", [f"ingot-{v}"]))
    for k in sdpas:
        print(power_line(f"pytorch, SDPA {k}", [f"torch-{k}{x}" for x in sfx]))
def ms(tags):
    """fwd / bwd / opt ms: the medians over the rounds' medians"""
    ps = [phases(t) for t in tags]
    return " / ".join(f(med(p[i] for p in ps), "{:.2f}") for i in range(3))
print("ingot GPU ms per step, forward / backward / optimizer: default " + ms(["ingot" + x for x in sfx])
      + "".join(f"; {n} " + ms([vtag(n, x) for x in sfx]) for n, _, _ in vrs))
if "fused" in sdpas:
    print("SDPA fused: PyTorch picks among flash, cuDNN and memory-efficient (cuDNN's on Hopper, "
          "whose backward is not deterministic); SDPA flash: FlashAttention-2 only")
if tjs:
    how = {"full": "the whole model", "regional": "each decoder layer",
           "none": "nothing (eager)"}[os.environ["COMPILE"]]
    mode = os.environ["CMODE"]
    print(f"PyTorch compiled: {how} (TORCH_COMPILE={os.environ['COMPILE']}"
          + ("" if mode == "default" else f", TORCH_COMPILE_MODE={mode}") + ")")
    print(f"PyTorch's runs took {s_torch} s of wall time together (compilation included)")
print("ingot: median of the profiled steps after 3; GiB = ingot's own device allocations "
      "(parameters, AdamW state, activations), PyTorch's = torch.cuda.max_memory_allocated")
print(f"MFU: (6 x matmul weights + 12 x L x T x C) = {f(fpt and fpt / 1e9, '{:.3f}')} GFLOP "
      f"per token over the dense bf16 peak ({f(peak, '{:.1f}')} TFLOP/s here, A100 312)")
PY
tee "$out/table.txt"
