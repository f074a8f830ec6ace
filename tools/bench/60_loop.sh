#!/usr/bin/env bash
# Event loop and tasks: cost per call_soon callback and per spawned-and-awaited
# Task, against plain tokio baselines in the same run (tools/src/bin/loop_bench.rs).
# Tunable: LOOP_OPS (200000 operations per measurement).
set -euo pipefail
: "${BIN:?run through tools/bench.sh}"
"$BIN/loop_bench" "${LOOP_OPS:-200000}"
