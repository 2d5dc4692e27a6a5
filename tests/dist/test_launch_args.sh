#!/usr/bin/env bash
# scripts/launch: what the launchers refuse before anything starts (a review of
# session 33 found torchrun.sh running a one-node job on every node for
# NNODES=two, 0 or empty, and env-loop.sh forking ranks without end for a rank
# count past bash's arithmetic, on after rank 0 had failed): bad NNODES,
# NODE_RANK and MASTER_PORT named; a rank count past 1048576; an ingot-train
# that is not there named with INGOT_TRAIN; env-loop.sh starting no more ranks
# once one has ended. torchrun is a stand-in that records its arguments.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/../test_check.sh"
mkdir -p "$tmp/bin"
printf '#!/usr/bin/env bash\necho "torchrun $*" >> "%s/calls"\n' "$tmp" > "$tmp/bin/torchrun"
printf '#!/usr/bin/env bash\nexit 0\n' > "$tmp/ingot-train"
chmod +x "$tmp/bin/torchrun" "$tmp/ingot-train"

launch() { # launch NAME SCRIPT ARGS... (env from the caller): status, $tmp/NAME.out
    local name=$1
    shift
    rm -f "$tmp/calls"
    PATH="$tmp/bin:$PATH" INGOT_TRAIN=${INGOT_TRAIN-$tmp/ingot-train} timeout 30 \
        "$here/scripts/launch/$@" > "$tmp/$name.out" 2>&1
}

refused() { # refused WHAT EXPECTED SCRIPT ARGS... : exit 2, EXPECTED said, nothing started
    local what=$1 want=$2
    shift 2
    launch refused "$@"
    local rc=$?
    check "$what: refused (rc $rc)" test "$rc" = 2
    check "$what: says '$want'" grep -Fq -- "$want" "$tmp/refused.out"
    check "$what: started nothing" test ! -e "$tmp/calls"
}

for v in two 0 '' -3 1.5; do
    NNODES=$v refused "NNODES='$v'" "NNODES='$v': a whole number from 1" torchrun.sh 8
done
NNODES=2 NODE_RANK=2 MASTER_ADDR=h refused "NODE_RANK=2 of 2 nodes" \
    "NODE_RANK='2': a whole number from 0 to 1" torchrun.sh 8
NNODES=2 NODE_RANK=abc MASTER_ADDR=h refused "NODE_RANK=abc" "NODE_RANK='abc'" torchrun.sh 8
NNODES=2 NODE_RANK=1 MASTER_ADDR=h MASTER_PORT=xyz refused "MASTER_PORT=xyz" \
    "MASTER_PORT='xyz': a whole number from 1 to 65535" torchrun.sh 8
NNODES=2 NODE_RANK=1 MASTER_ADDR=h launch twonodes torchrun.sh 8 --steps 3
check "two nodes: torchrun gets them" grep -Fq \
    "torchrun --nnodes 2 --node_rank 1 --master_addr h --master_port 29500 --nproc_per_node 8" \
    "$tmp/calls"
launch onenode torchrun.sh 4
check "one node: --standalone" grep -Fq "torchrun --standalone --nproc_per_node 4" "$tmp/calls"
for s in torchrun.sh env-loop.sh mpirun.sh; do
    refused "$s 99999999999999999999" "at most 1048576" "$s" 99999999999999999999
    refused "$s 1048577" "at most 1048576" "$s" 1048577
done
INGOT_TRAIN=$tmp/nowhere refused "env-loop.sh without an ingot-train" \
    "nowhere: no ingot-train there (build it, or set INGOT_TRAIN to its path)" env-loop.sh 2
INGOT_TRAIN=$tmp/nowhere refused "torchrun.sh without an ingot-train" "set INGOT_TRAIN" \
    torchrun.sh 2
INGOT_TRAIN=$tmp/nowhere refused "mpirun.sh without an ingot-train" "set INGOT_TRAIN" \
    mpirun.sh 2
MASTER_PORT=70000 refused "env-loop.sh MASTER_PORT=70000" "MASTER_PORT='70000'" env-loop.sh 2

# rank 0 fails at start-up; the others would wait: no more are started once it has gone
cat > "$tmp/rank" <<'SH'
#!/usr/bin/env bash
[ "$RANK" = 0 ] && exit 3
touch "$OUT/started.$RANK"
exec sleep 60
SH
chmod +x "$tmp/rank"
mkdir -p "$tmp/ranks"
OUT=$tmp/ranks INGOT_TRAIN=$tmp/rank launch stop env-loop.sh 400
rc=$?
n=$(ls "$tmp/ranks" | wc -l)
check "env-loop.sh: rank 0's status returned (rc $rc)" test "$rc" = 3
check "env-loop.sh: fewer than 400 ranks started after rank 0 failed ($n)" test "$n" -lt 399
check "env-loop.sh: says it started no more" grep -Fq "starting no more" "$tmp/stop.out"

check_done
