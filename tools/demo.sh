#!/usr/bin/env bash
# make demo: a scripted tour of aioproto's example programs. Runs and exits.
# Each step lives in tools/demo/NN_name.sh and is run in order with the helpers below.
set -euo pipefail
BIN=$(realpath "${1:-target/release}")
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Starts a server in the background, waits for its "listening on" line, and
# prints the address. Usage: ADDR=$(start_server OUTFILE CMD...)
# It runs in a subshell, so the server's pid goes through a file for stop_server.
start_server() {
    local out=$1; shift
    "$@" >"$out" 2>&1 &
    echo $! >"$TMP/server.pid"
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
    local pid
    pid=$(cat "$TMP/server.pid" 2>/dev/null) || return 0
    rm -f "$TMP/server.pid"
    kill -TERM "$pid" 2>/dev/null || true
    # Not our child (started in a subshell): wait for it to exit by polling.
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    echo "server $pid did not exit on SIGTERM" >&2
}

TMP=$(mktemp -d)
trap 'stop_server; rm -rf "$TMP"' EXIT

for script in tools/demo/[0-9]*.sh; do
    # shellcheck source=/dev/null
    source "$script"
done
echo
echo "demo finished"
