#!/usr/bin/env bash
# make demo: a scripted tour of aioproto's example programs. Runs and exits.
# Each step lives in tools/demo/NN_name.sh and is run in order with the helpers below.
set -euo pipefail
BIN=$(realpath "${1:-target/release}")
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Starts a server in the background, waits for its "listening on" line, and
# prints the address. Usage: start_server OUTFILE CMD...
start_server() {
    local out=$1; shift
    "$@" >"$out" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        if grep -q '^listening on ' "$out"; then
            sed -n 's/^listening on //p' "$out" | head -n1
            return 0
        fi
        sleep 0.05
    done
    echo "server did not start: $(cat "$out")" >&2
    return 1
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

TMP=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; rm -rf "$TMP"' EXIT

for script in tools/demo/[0-9]*.sh; do
    # shellcheck source=/dev/null
    source "$script"
done
echo
echo "demo finished"
