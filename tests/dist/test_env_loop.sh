#!/usr/bin/env bash
# scripts/launch/env-loop.sh: when one rank fails, the others are stopped at
# once and the first failure's status is returned (a rank that failed before
# the rendezvous left the others waiting for --dist-timeout, 600 s by
# default). The ranks here are a stand-in for ingot-train: rank 0 fails,
# rank 1 would wait 60 s.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/rank" <<'SH'
#!/usr/bin/env bash
[ "$RANK" = 0 ] && exit 3
exec sleep 60
SH
chmod +x "$tmp/rank"
t0=$(date +%s)
INGOT_TRAIN=$tmp/rank timeout 30 "$here/scripts/launch/env-loop.sh" 2 > "$tmp/out" 2>&1
rc=$?
dt=$(( $(date +%s) - t0 ))
if [ "$rc" -ne 3 ] || [ "$dt" -gt 10 ] || ! grep -q "stopping the others" "$tmp/out"; then
    echo "FAIL: env-loop with a failing rank 0: exit $rc after $dt s"; cat "$tmp/out"; exit 1
fi
# all succeed: 0
cat > "$tmp/rank" <<'SH'
#!/usr/bin/env bash
exit 0
SH
INGOT_TRAIN=$tmp/rank timeout 30 "$here/scripts/launch/env-loop.sh" 3 || { echo "FAIL: all ok"; exit 1; }
echo "ok: a failing rank stops the others within $dt s (status 3 returned)"
