#!/usr/bin/env bash
# Micro-benchmarks of the hot path (criterion, framework/benches/hot_path.rs):
# a 1 KiB write flushed by the real driver, and a 1 KiB chunk dispatched to an
# echoing protocol, over the in-memory test connection. Short runs: these are
# for comparing one change with the last, not with raw tokio.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BENCH_ROOT"
cargo bench --quiet -p aioproto --bench hot_path -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
    | grep -E "time:" | sed 's/^/  /' | tee "$BENCH_TMP/micro.txt"
# "  NAME   time:   [LOW UNIT MID UNIT HIGH UNIT]": the middle estimate, in ns.
while IFS=$'\t' read -r name mid unit; do
    record "criterion: $name" ns aioproto "$(awk -v v="$mid" -v u="$unit" 'BEGIN {
        f = (u == "ns") ? 1 : (u == "ps") ? 0.001 : (u == "ms") ? 1e6 : (u == "s") ? 1e9 : 1000
        printf "%.1f", v * f }')"
done < <(sed -n 's/^ *\(.*[^ ]\) *time: *\[[^ ]* [^ ]* \([^ ]*\) \([^ ]*\) .*/\1\t\2\t\3/p' "$BENCH_TMP/micro.txt")
