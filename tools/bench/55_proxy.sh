#!/usr/bin/env bash
# TCP proxy throughput: aioproto tcp_proxy vs a raw tokio proxy
# (copy_bidirectional with 64 KiB buffers, aioproto's read size; tokio's
# default 8 KiB makes the baseline about 2x slower here), both pinned to the server core in front of the same
# raw tokio echo upstream, same run. The load generator and the upstream share
# the load core. Reports MiB/s (bytes the clients got back) and proxy CPU per
# GiB relayed (both directions counted). Target: aioproto >= 0.9x raw tokio.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-3}
CONNS=${PROXY_CONNS:-4}

taskset -c "$LOAD_CORE" "$BIN/raw_tokio_echo" --port 0 >"$BENCH_TMP/upstream.out" 2>&1 &
UPSTREAM_PID=$!
trap 'kill ${SERVER_PID:-} ${UPSTREAM_PID} 2>/dev/null || true; rm -rf "$BENCH_TMP"' EXIT
UPSTREAM=$(wait_listening "$BENCH_TMP/upstream.out") || { echo "upstream echo did not start" >&2; exit 1; }

PROXIES=("aioproto:$BIN/tcp_proxy --port 0 --to $UPSTREAM" "raw-tokio:$BIN/raw_tokio_proxy --port 0 --to $UPSTREAM --buffer 65536")

echo "proxy in front of an echo upstream, $CONNS connections ping-pong, ${DURATION}s per run, proxy pinned to core $SERVER_CORE"
printf '%-10s %-10s %12s %20s\n' size proxy "MiB/s" "proxy CPU ms/GiB"
for size in 65536 1048576; do
    declare -A mibs cpu
    for entry in "${PROXIES[@]}"; do
        name=${entry%%:*}
        start_pinned "$name" ${entry#*:}
        before=$(cpu_ticks "$SERVER_PID")
        line=$(taskset -c "$LOAD_CORE" "$BIN/loadgen" echo "$ADDR" --conns "$CONNS" --size "$size" --duration "$DURATION")
        after=$(cpu_ticks "$SERVER_PID")
        stop_server
        requests=$(field requests "$line")
        elapsed=$(field elapsed "$line")
        mibs[$name]=$(awk -v n="$requests" -v s="$size" -v d="$elapsed" 'BEGIN { printf "%.1f", n * s / d / 1048576 }')
        cpu[$name]=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$requests" -v s="$size" \
            'BEGIN { printf "%.1f", t / hz * 1000 / (2 * n * s / 1073741824) }')
        printf '%-10s %-10s %12s %20s\n' "$size" "$name" "${mibs[$name]}" "${cpu[$name]}"
    done
    echo "  ratio aioproto/raw-tokio at $size B: throughput $(ratio "${mibs[aioproto]}" "${mibs[raw-tokio]}")x, CPU per GiB $(ratio "${cpu[aioproto]}" "${cpu[raw-tokio]}")x"
    baseline="tokio copy_bidirectional, 64 KiB buffers"
    record "TCP proxy $((size / 1024)) KiB messages, throughput" MiB/s aioproto "${mibs[aioproto]}" ">=0.9x"
    record "TCP proxy $((size / 1024)) KiB messages, throughput" MiB/s baseline "${mibs[raw-tokio]}" "$baseline"
    record "TCP proxy $((size / 1024)) KiB messages, proxy CPU" ms/GiB aioproto "${cpu[aioproto]}"
    record "TCP proxy $((size / 1024)) KiB messages, proxy CPU" ms/GiB baseline "${cpu[raw-tokio]}" "$baseline"
done
