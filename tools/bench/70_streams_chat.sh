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
load() { taskset -c "$LOAD_CORE" "$TOOL" "$@"; }

printf '%-34s %12s %16s\n' "line echo (10 conns, 64 B lines)" "requests/s" "server µs/req"
declare -A RPS
for kind in tokio streams; do
    start_pinned "$kind" "$TOOL" server "$kind"
    before=$(cpu_ticks "$SERVER_PID")
    out=$(load echo-load "$ADDR" "$CONNS" "$SECS")
    after=$(cpu_ticks "$SERVER_PID")
    stop_server
    n=$(echo "$out" | awk '{print $2}')
    rps=$(echo "$out" | awk '{print $4}')
    RPS[$kind]=$rps
    us=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$n" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
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
            start_pinned "$kind-vg" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$TOOL" server "$kind"
            load echo-load "$ADDR" "$CONNS" 120 --requests "$requests" >/dev/null
            stop_server # SIGTERM to valgrind's child, the server: valgrind then reports
            refs+=("$(sed -n 's/.*I *refs: *//p' "$BENCH_TMP/$kind-vg.err" | tr -d ',' | head -n1)")
        done
        INS[$kind]=$(awk -v a="${refs[0]}" -v b="${refs[1]}" 'BEGIN { printf "%.0f", (b - a) / 10000 }')
    done
    printf '  %-22s %8s\n  %-22s %8s\n  ratio %s\n' "plain tokio BufReader" "${INS[tokio]}" \
        "aioproto streams" "${INS[streams]}" "$(ratio "${INS[streams]}" "${INS[tokio]}")"
    record "streams line echo 64 B, instructions" instructions/request baseline "${INS[tokio]}" "tokio BufReader lines"
    record "streams line echo 64 B, instructions" instructions/request aioproto "${INS[streams]}" "<=1.10x"
fi

echo
start_pinned chat "$BIN/chat_server" --port 0
load chat-load "$ADDR" 100 "$SECS" >"$BENCH_TMP/chat.txt"
awk '{ printf "chat fan-out: %s clients, %s rounds, %s lines delivered, %s deliveries/s\n", $2, $4, $6, $8 }' "$BENCH_TMP/chat.txt"
record "chat_server fan-out, 100 clients" deliveries/s aioproto "$(awk '{print $8}' "$BENCH_TMP/chat.txt")"
stop_server
