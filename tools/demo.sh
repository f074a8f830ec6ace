#!/usr/bin/env bash
# make demo: a scripted tour of aioproto's example programs. Runs and exits.
set -euo pipefail
BIN=${1:-target/release}
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Starts a server in the background, waits for its "listening on" line, and
# prints the address. Usage: start_server OUTFILE CMD...
start_server() {
    local out=$1; shift
    "$@" >"$out" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
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
trap 'rm -rf "$TMP"' EXIT

step "TCP echo: echo_server + echo_client"
ADDR=$(start_server "$TMP/echo.out" "$BIN/echo_server" --port 0)
echo "server: listening on $ADDR"
"$BIN/echo_client" "${ADDR%:*}" "${ADDR##*:}" hello "from aioproto"
stop_server
