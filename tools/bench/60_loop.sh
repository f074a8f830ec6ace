#!/usr/bin/env bash
# Event loop and tasks: cost per call_soon callback and per spawned-and-awaited
# Task, against plain tokio baselines in the same run (tools/src/bin/loop_bench.rs),
# and uvloop's when it is available (tools/bench/uvloop_loop.py).
# 1. wall-clock ns per operation (best of 5; noisy on a shared machine);
# 2. user-space instructions per operation under cachegrind (noise-free): each
#    mode run with N and with 0 extra operations ("none"), difference / N.
# Targets (issue 13): call_soon <= 1.1x the channel, create_task + await <= 1.5x spawn.
# Tunables: LOOP_OPS (200000), LOOP_IR_OPS (20000).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CALL_SOON="call_soon callback"
TASK="create_task + await"
CALL_SOON_BASE="mpsc of boxed closures"
TASK_BASE="tokio::spawn + JoinHandle"

"$BIN/loop_bench" "${LOOP_OPS:-200000}" | tee "$BENCH_TMP/loop.md"
# Table rows: | operation | aioproto ns/op | plain tokio ns/op | ratio |, call_soon first.
ns() { awk -F'|' -v row="$1" -v col="$2" '$3 ~ /^ *[0-9.]+ *$/ && ++n == row { gsub(/ /, "", $col); print $col }' "$BENCH_TMP/loop.md"; }
record "$CALL_SOON, time" ns/op aioproto "$(ns 1 3)"
record "$CALL_SOON, time" ns/op baseline "$(ns 1 4)" "$CALL_SOON_BASE"
record "$TASK, time" ns/op aioproto "$(ns 2 3)"
record "$TASK, time" ns/op baseline "$(ns 2 4)" "$TASK_BASE"
UVLOOP_PY=$(uvloop_python) || UVLOOP_PY=
if [ -n "$UVLOOP_PY" ]; then
    "$UVLOOP_PY" "$BENCH_ROOT/tools/bench/uvloop_loop.py" "${LOOP_OPS:-200000}" >"$BENCH_TMP/uvloop.txt"
    echo "uvloop ns/op: $(tr '\n' ' ' <"$BENCH_TMP/uvloop.txt")"
    record "$CALL_SOON, time" ns/op uvloop "$(awk '$1 == "call_soon" {print $2}' "$BENCH_TMP/uvloop.txt")"
    record "$TASK, time" ns/op uvloop "$(awk '$1 == "tasks" {print $2}' "$BENCH_TMP/uvloop.txt")"
fi

if ! command -v valgrind >/dev/null; then
    echo "(valgrind not installed: skipping instructions per operation)"
    exit 0
fi
N=${LOOP_IR_OPS:-20000}
irefs() {
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        "$@" 2>&1 | sed -n 's/.*I *refs: *//p' | tr -d ','
}
BASE=$(irefs "$BIN/loop_bench" "$N" none)
per_op() { echo $(( ($(irefs "$BIN/loop_bench" "$N" "$1") - BASE) / N )); }
CS=$(per_op call_soon); CB=$(per_op tokio_callbacks)
TK=$(per_op tasks); TB=$(per_op tokio_tasks)
echo
echo "instructions per operation (cachegrind, $N operations)"
echo "| operation | aioproto | plain tokio | ratio |"
echo "|---|---|---|---|"
echo "| $CALL_SOON (vs $CALL_SOON_BASE) | $CS | $CB | $(ratio "$CS" "$CB") |"
echo "| $TASK (vs $TASK_BASE) | $TK | $TB | $(ratio "$TK" "$TB") |"
record "$CALL_SOON, instructions" instructions/op aioproto "$CS" "<=1.1x"
record "$CALL_SOON, instructions" instructions/op baseline "$CB" "$CALL_SOON_BASE"
record "$TASK, instructions" instructions/op aioproto "$TK" "<=1.5x"
record "$TASK, instructions" instructions/op baseline "$TB" "$TASK_BASE"
if [ -n "$UVLOOP_PY" ]; then
    # Interpreted, so not comparable instruction for instruction; shown for scale.
    UV_BASE=$(irefs "$UVLOOP_PY" "$BENCH_ROOT/tools/bench/uvloop_loop.py" "$N" none)
    for mode in call_soon:"$CALL_SOON" tasks:"$TASK"; do
        per=$(( ($(irefs "$UVLOOP_PY" "$BENCH_ROOT/tools/bench/uvloop_loop.py" "$N" "${mode%%:*}") - UV_BASE) / N ))
        echo "uvloop ${mode#*:}: $per instructions/op"
        record "${mode#*:}, instructions" instructions/op uvloop "$per"
    done
fi
