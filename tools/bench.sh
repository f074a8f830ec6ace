#!/usr/bin/env bash
# make bench: builds in release and runs every section in tools/bench/NN_name.sh,
# each comparing aioproto against raw tokio in the same run (see docs/DESIGN.md).
# Each section records its figures with `record` (tools/bench/lib.sh) into
# target/bench/results.tsv; at the end bench_report turns that file into
# target/bench/report.md (printed here) and target/bench/report.svg.
# Tunables: BENCH_ONLY="20 60" runs only the sections whose number is listed
# (the report then holds only their figures); NO_UVLOOP=1 skips the uvloop rows;
# INSN_RUNS=N: the TCP echo instruction rows take the lowest of N runs (3).
set -euo pipefail
cd "$(dirname "$0")/.."
# Checked before the build: a bad value would otherwise surface as an empty
# figure in section 20, minutes later.
case ${INSN_RUNS:-3} in
    '' | *[!0-9]* | 0*)
        echo "bench: INSN_RUNS must be a positive whole number, not '${INSN_RUNS}'" >&2
        exit 2
        ;;
esac
cargo build --release --workspace --bins
BIN=$(realpath target/release)
BENCH_RESULTS=$(pwd)/target/bench/results.tsv
export BIN BENCH_RESULTS
mkdir -p target/bench
printf 'section\tfigure\tunit\timpl\tvalue\tnote\n' >"$BENCH_RESULTS"
for script in tools/bench/[0-9]*.sh; do
    section=$(basename "$script" .sh)
    if [ -n "${BENCH_ONLY:-}" ] && ! grep -qw "${section%%_*}" <<<"$BENCH_ONLY"; then
        continue
    fi
    printf '\n## %s\n' "$section"
    BENCH_SECTION=$section bash "$script"
done
echo
"$BIN/bench_report" --results "$BENCH_RESULTS" --markdown target/bench/report.md --svg target/bench/report.svg
