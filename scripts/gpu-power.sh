#!/usr/bin/env bash
# Runs a command while nvidia-smi samples the GPU's power draw, SM clock and
# clock-limit reasons, then prints, for the samples taken under load (power
# above a quarter of the board's limit): the median and mean power, the
# median and mean SM clock, and the share of samples held by the software
# power cap. Why: on an H200 both Ingot's and PyTorch's training steps run
# at the 700 W cap, so a kernel's speed depends on what runs around it
# (docs/performance.md, round 14); this is how those figures were taken.
#
#   scripts/gpu-power.sh [-i MS] [-g GPU] [-l LABEL] -- COMMAND [ARGS...]
#
#   -i MS     sampling interval in milliseconds (default 100)
#   -g GPU    which GPU to sample (nvidia-smi index, default 0)
#   -l LABEL  name on the summary line (default: the command's name)
# Exit status: the command's; 2 for a usage error or without nvidia-smi.
set -uo pipefail
. "$(dirname "$0")/script_help.sh"
interval=100 gpu=0 label=
# getopts knows no long options: --help, and another --NAME named as unknown
case ${1:-} in
    --help) script_help; exit 0 ;;
    --?*) script_usage_error "unknown option '$1'" ;;
esac
while getopts "i:g:l:h" o; do
    case $o in
    i) interval=$OPTARG ;;
    g) gpu=$OPTARG ;;
    l) label=$OPTARG ;;
    h) script_help; exit 0 ;;
    *) script_help >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
    echo "gpu-power: no command given" >&2
    script_help >&2
    exit 2
fi
case $interval in
'' | *[!0-9]*) echo "gpu-power: -i $interval: give the interval in whole milliseconds" >&2; exit 2 ;;
esac
[ "$interval" -ge 10 ] || { echo "gpu-power: -i $interval: 10 ms is the shortest interval" >&2; exit 2; }
if ! command -v nvidia-smi >/dev/null; then
    echo "gpu-power: nvidia-smi not found: this needs an NVIDIA GPU and its driver" >&2
    exit 2
fi
label=${label:-$(basename "$1")}
# newer drivers name the field clocks_event_reasons; older ones only the other
reasons=clocks_event_reasons.active
nvidia-smi -i "$gpu" --query-gpu=$reasons --format=csv >/dev/null 2>&1 ||
    reasons=clocks_throttle_reasons.active
limit=$(nvidia-smi -i "$gpu" --query-gpu=power.limit --format=csv,noheader,nounits 2>/dev/null |
    head -1 | tr -d ' ')
samples=$(mktemp "${TMPDIR:-/tmp}/gpu-power.XXXXXX")
# no EXIT trap yet: the sampler's fork inherits it, and killed before its
# exec (a command that ends at once) it ran it and removed the samples file
nvidia-smi -i "$gpu" --query-gpu=power.draw,clocks.sm,$reasons --format=csv,noheader,nounits \
    -lms "$interval" >"$samples" 2>/dev/null &
smi=$!
# the sampler goes with this script, also on Ctrl-C or a kill (a background
# job of a non-interactive shell ignores SIGINT)
trap 'kill "$smi" 2>/dev/null; rm -f "$samples"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$@"
status=$?
kill "$smi" 2>/dev/null
wait "$smi" 2>/dev/null
python3 - "$samples" "$label" "${limit:-0}" <<'PY'
import statistics
import sys

path, label, limit = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    limit = float(limit)
except ValueError:
    limit = 0.0
rows = []
for line in open(path):
    f = [x.strip() for x in line.split(",")]
    try:
        rows.append((float(f[0]), float(f[1]), int(f[2], 16) if f[2].startswith("0x") else -1))
    except (ValueError, IndexError):
        pass   # "[N/A]" fields, a line cut off by the kill
floor = limit / 4 if limit > 0 else 100.0
loaded = [r for r in rows if r[0] > floor]
if not loaded:
    print(f"gpu-power: {label}: no sample above {floor:.0f} W among {len(rows)} "
          f"(the command ran too briefly, or not on this GPU)")
    sys.exit(0)
pw = [r[0] for r in loaded]
ck = [r[1] for r in loaded]
known = [r for r in loaded if r[2] >= 0]
capped = (f"{100.0 * sum(1 for r in known if r[2] & 0x4) / len(known):.1f}%"
          if known else "n/a")
print(f"gpu-power: {label}: {len(loaded)} of {len(rows)} samples under load: power median "
      f"{statistics.median(pw):.1f} W, mean {statistics.mean(pw):.1f} W (limit {limit:.0f} W); "
      f"SM clock median {statistics.median(ck):.0f} MHz, mean {statistics.mean(ck):.0f} MHz; "
      f"power-capped in {capped} of them")
PY
exit $status
