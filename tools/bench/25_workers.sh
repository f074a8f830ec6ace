#!/usr/bin/env bash
# Echo with 1 and 2 workers (echo_server --workers N) under the same load:
# two load generators (one thread each) with LOAD_CONNS connections each,
# 1 KiB ping-pong, DURATION seconds. Nothing is pinned: with 2 workers the
# server is meant to use both cores. Prints requests/s, server CPU per request
# (every thread of the server, from /proc), and the 2-worker/1-worker ratios.
#
# What a 2-core machine can show: whether a second worker adds cost per
# request (contention between workers would raise CPU us/req) and whether it
# adds throughput while the load generators leave CPU to spare. What it cannot
# show: scaling, since the load generators need about as much CPU as the
# server, so both runs share the same 2 cores.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-3}
LOAD_CONNS=${LOAD_CONNS:-25}

echo "echo, 1 vs 2 workers: 2 load generators x $LOAD_CONNS connections, 1 KiB ping-pong, ${DURATION}s, unpinned, $(nproc) cores"
printf '%-10s %12s %18s\n' workers "requests/s" "server CPU us/req"
declare -A RPS US
for workers in 1 2; do
    # Unpinned on purpose (both workers need both cores), so not start_pinned.
    : >"$BENCH_TMP/w$workers.out"
    "$BIN/echo_server" --port 0 --workers "$workers" >"$BENCH_TMP/w$workers.out" 2>"$BENCH_TMP/w$workers.err" &
    SERVER_PID=$!
    ADDR=$(wait_listening "$BENCH_TMP/w$workers.out") ||
        { echo "echo_server did not start: $(cat "$BENCH_TMP/w$workers.err")" >&2; exit 1; }
    before=$(cpu_ticks "$SERVER_PID")
    "$BIN/loadgen" echo "$ADDR" --conns "$LOAD_CONNS" --size 1024 --duration "$DURATION" >"$BENCH_TMP/load1" &
    l1=$!
    "$BIN/loadgen" echo "$ADDR" --conns "$LOAD_CONNS" --size 1024 --duration "$DURATION" >"$BENCH_TMP/load2" &
    l2=$!
    wait "$l1" "$l2"
    after=$(cpu_ticks "$SERVER_PID")
    stop_server
    requests=$(( $(field requests "$(cat "$BENCH_TMP/load1")") + $(field requests "$(cat "$BENCH_TMP/load2")") ))
    RPS[$workers]=$(awk -v n="$requests" -v d="$DURATION" 'BEGIN { printf "%.0f", n / d }')
    US[$workers]=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    printf '%-10s %12s %18s\n' "$workers" "${RPS[$workers]}" "${US[$workers]}"
done
record "echo, 2 workers vs 1 worker, throughput" requests/s baseline "${RPS[1]}" "aioproto, 1 worker"
record "echo, 2 workers vs 1 worker, throughput" requests/s aioproto "${RPS[2]}"
record "echo, 2 workers vs 1 worker, CPU" us/request baseline "${US[1]}" "aioproto, 1 worker"
record "echo, 2 workers vs 1 worker, CPU" us/request aioproto "${US[2]}"
echo "  scaling ratio, requests/s 2 workers / 1 worker: $(ratio "${RPS[2]}" "${RPS[1]}")"
echo "  CPU per request, 2 workers / 1 worker:         $(ratio "${US[2]}" "${US[1]}") (1.00 = a second worker adds no cost per request)"
echo "  (on $(nproc) cores the load generators compete with the server; see the note above the script)"
