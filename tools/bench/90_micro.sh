#!/usr/bin/env bash
# Micro-benchmarks of the hot path (criterion, framework/benches/hot_path.rs):
# a 1 KiB write flushed by the real driver, and a 1 KiB chunk dispatched to an
# echoing protocol, over the in-memory test connection. Short runs: these are
# for comparing one change with the last, not with raw tokio.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench --quiet -p aioproto --bench hot_path -- --warm-up-time 1 --measurement-time 3 2>/dev/null \
    | grep -E "time:" | sed 's/^/  /'
