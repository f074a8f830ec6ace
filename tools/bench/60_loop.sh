#!/usr/bin/env bash
# Event loop and tasks: cost per call_soon callback and per spawned-and-awaited
# Task, against plain tokio baselines in the same run (tools/src/bin/loop_bench.rs).
# 1. wall-clock ns per operation (best of 5; noisy on a shared machine);
# 2. user-space instructions per operation under cachegrind (noise-free): each
#    mode run with N and with 0 extra operations ("none"), difference / N.
# Tunables: LOOP_OPS (200000), LOOP_IR_OPS (20000).
set -euo pipefail
: "${BIN:?run through tools/bench.sh}"
"$BIN/loop_bench" "${LOOP_OPS:-200000}"

if ! command -v valgrind >/dev/null; then
    echo "(valgrind not installed: skipping instructions per operation)"
    exit 0
fi
N=${LOOP_IR_OPS:-20000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
irefs() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$BIN/loop_bench" "$N" "$1" 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ','
}
BASE=$(irefs none)
per_op() { echo $(( ($(irefs "$1") - BASE) / N )); }
CS=$(per_op call_soon); CB=$(per_op tokio_callbacks)
TK=$(per_op tasks); TB=$(per_op tokio_tasks)
echo
echo "instructions per operation (cachegrind, $N operations)"
echo "| operation | aioproto | plain tokio | ratio |"
echo "|---|---|---|---|"
awk -v a="$CS" -v b="$CB" 'BEGIN { printf "| call_soon callback (vs mpsc of boxed closures) | %d | %d | %.2f |\n", a, b, a / b }'
awk -v a="$TK" -v b="$TB" 'BEGIN { printf "| create_task + await (vs tokio::spawn + JoinHandle) | %d | %d | %.2f |\n", a, b, a / b }'
