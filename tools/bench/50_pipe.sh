#!/usr/bin/env bash
# Subprocess pipe throughput: aioproto subprocess_exec vs plain tokio::process,
# same run, best of 5 rounds each. Target: aioproto >= 0.9x tokio.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$BIN/pipe_bench" --mib "${PIPE_BENCH_MIB:-512}" --rounds "${PIPE_BENCH_ROUNDS:-5}" | tee "$BENCH_TMP/pipe.md"
# Rows: | workload | aioproto MiB/s | tokio::process MiB/s | ratio |
while IFS='|' read -r _ workload aioproto tokio _; do
    workload=$(echo $workload)
    record "subprocess pipe, $workload" MiB/s aioproto "$(echo $aioproto)" ">=0.9x"
    record "subprocess pipe, $workload" MiB/s baseline "$(echo $tokio)" "tokio::process"
done < <(grep -E '^\| (through|from)' "$BENCH_TMP/pipe.md")
