#!/usr/bin/env bash
# make bench: builds in release and runs every section in tools/bench/NN_name.sh,
# each comparing aioproto against raw tokio in the same run (see docs/DESIGN.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --bins
BIN=$(realpath target/release)
export BIN
for script in tools/bench/[0-9]*.sh; do
    printf '\n## %s\n' "$(basename "$script" .sh)"
    bash "$script"
done
