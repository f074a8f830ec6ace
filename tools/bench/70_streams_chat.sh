#!/usr/bin/env bash
# Streams and chat (run by tools/bench.sh with $BIN = the release dir).
#  1. line echo, ping-pong 64-byte lines over 10 connections for 3 s each:
#     aioproto streams (readline + write + drain) vs plain tokio (BufReader::read_until
#     + write_all), in the same run; requests/s and server CPU µs per request.
#  2. chat fan-out: 100 clients on chat_server; each round every client sends a
#     line and waits for the 99 lines of the others; deliveries per second.
set -euo pipefail
BIN=${BIN:-target/release}
source "$(dirname "$0")/lib.sh"
SECS=${BENCH_SECS:-3}
CONNS=10
TOOL="$BIN/streams_chat_bench"
TMP=$(mktemp -d)
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$TMP" "$BENCH_TMP"; }
trap cleanup EXIT

# Pin the server to core 0 and the load to core 1 when possible.
PIN_SERVER=() PIN_LOAD=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 0) PIN_LOAD=(taskset -c 1)
fi

start() { # start OUTFILE CMD... ; sets SERVER_PID and ADDR
    local out=$1; shift
    : >"$out" # so that the wait below never reads a previous run's address
    "${PIN_SERVER[@]}" "$@" >"$out" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        ADDR=$(sed -n 's/^listening on //p' "$out" | head -n1)
        [ -n "$ADDR" ] && return 0
        sleep 0.05
    done
    echo "server did not start: $(cat "$out")" >&2
    exit 1
}

stop() { kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

TICK_US=$((1000000 / $(getconf CLK_TCK)))
printf '%-34s %12s %16s\n' "line echo (10 conns, 64 B lines)" "requests/s" "server µs/req"
declare -A RPS
for kind in tokio streams; do
    start "$TMP/$kind.out" "$TOOL" server "$kind"
    before=$(cpu_ticks "$SERVER_PID")
    out=$("${PIN_LOAD[@]}" "$TOOL" echo-load "$ADDR" "$CONNS" "$SECS")
    after=$(cpu_ticks "$SERVER_PID")
    stop
    n=$(echo "$out" | awk '{print $2}')
    rps=$(echo "$out" | awk '{print $4}')
    RPS[$kind]=$rps
    us=$(awk -v t=$((after - before)) -v tick="$TICK_US" -v n="$n" 'BEGIN { printf "%.2f", t * tick / n }')
    label="plain tokio BufReader"
    [ "$kind" = streams ] && label="aioproto streams"
    printf '%-34s %12s %16s\n' "$label" "$rps" "$us"
    if [ "$kind" = streams ]; then
        record "streams line echo 64 B, CPU" us/request aioproto "$us" "<=1.10x"
        record "streams line echo 64 B, throughput" requests/s aioproto "$rps"
    else
        record "streams line echo 64 B, CPU" us/request baseline "$us" "tokio BufReader lines"
        record "streams line echo 64 B, throughput" requests/s baseline "$rps" "tokio BufReader lines"
    fi
done
awk -v a="${RPS[streams]}" -v b="${RPS[tokio]}" 'BEGIN { printf "%-34s %12.2f\n", "ratio streams / tokio", a / b }'

# Instructions per line echoed: cachegrind counts user-space instructions, which
# machine noise cannot move; 2,000 and 12,000 requests cancel start-up costs.
if command -v valgrind >/dev/null; then
    echo
    echo "user-space instructions per 64 B line (cachegrind, differential 2,000 vs 12,000 requests)"
    declare -A INS
    for kind in tokio streams; do
        refs=()
        for requests in 2000 12000; do
            start "$TMP/$kind-vg.out" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$TOOL" server "$kind"
            "${PIN_LOAD[@]}" "$TOOL" echo-load "$ADDR" "$CONNS" 120 --requests "$requests" >/dev/null
            # SIGTERM to the server itself (valgrind's child): valgrind then reports.
            kill -TERM "$(pgrep -P "$SERVER_PID" || echo "$SERVER_PID")" 2>/dev/null || true
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=
            refs+=("$(sed -n 's/.*I *refs: *//p' "$TMP/$kind-vg.out" | tr -d ',' | head -n1)")
        done
        INS[$kind]=$(awk -v a="${refs[0]}" -v b="${refs[1]}" 'BEGIN { printf "%.0f", (b - a) / 10000 }')
    done
    printf '  %-22s %8s\n  %-22s %8s\n  ratio %s\n' "plain tokio BufReader" "${INS[tokio]}" \
        "aioproto streams" "${INS[streams]}" "$(ratio "${INS[streams]}" "${INS[tokio]}")"
    record "streams line echo 64 B, instructions" instructions/request baseline "${INS[tokio]}" "tokio BufReader lines"
    record "streams line echo 64 B, instructions" instructions/request aioproto "${INS[streams]}" "<=1.10x"
fi

echo
start "$TMP/chat.out" "$BIN/chat_server" --port 0
"${PIN_LOAD[@]}" "$TOOL" chat-load "$ADDR" 100 "$SECS" >"$TMP/chat.txt"
awk '{ printf "chat fan-out: %s clients, %s rounds, %s lines delivered, %s deliveries/s\n", $2, $4, $6, $8 }' "$TMP/chat.txt"
record "chat_server fan-out, 100 clients" deliveries/s aioproto "$(awk '{print $8}' "$TMP/chat.txt")"
stop
