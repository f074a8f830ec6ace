#!/usr/bin/env bash
# Subprocess pipe throughput: aioproto subprocess_exec vs plain tokio::process,
# same run, best of 5 rounds each. Target: aioproto >= 0.9x tokio.
set -euo pipefail
"$BIN/pipe_bench" --mib "${PIPE_BENCH_MIB:-512}" --rounds "${PIPE_BENCH_ROUNDS:-5}"
