#!/usr/bin/env bash
# TLS echo: echo_server --tls (aioproto) vs raw_tls_echo (plain tokio-rustls),
# same run, same load (tls_load, vmbench ping-pong; TLS 1.3, ring). Reports
# requests/s and server CPU µs per request (from /proc/<pid>/stat) at 1, 10 and
# 100 KiB, full handshakes per second with CPU µs per handshake, and (with
# valgrind) user instructions per 1 KiB request. Target: aioproto <= 1.15x raw
# CPU per request. Needs $BIN and certs/ (make bench runs make certs).
# Tunables: TLS_CONNS (10), DURATION (3 s).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CONNS=${TLS_CONNS:-10}
DURATION=${DURATION:-3}
use_certs

SERVERS=("aioproto:$BIN/echo_server --port 0 --tls --cert $CERT --key $KEY" "raw-rustls:$BIN/raw_tls_echo $CERT $KEY")
impl() { [ "$1" = aioproto ] && echo aioproto || echo baseline; }
note() { [ "$1" = aioproto ] && echo "$2" || echo "raw tokio-rustls"; }
load() { taskset -c "$LOAD_CORE" "$BIN/tls_load" "$ADDR" --ca "$CA" --conns "$CONNS" "$@"; }
per() { awk -v t="$1" -v hz="$TICKS" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", t / hz * 1e6 / n; else print "n/a" }'; }

echo "TLS ping-pong echo, $CONNS connections, ${DURATION}s per run, server pinned to core $SERVER_CORE"
printf '%-10s %-11s %12s %16s\n' size server "requests/s" "server CPU us/req"
for size in 1024 10240 102400; do
    declare -A us
    for entry in "${SERVERS[@]}"; do
        name=${entry%%:*}
        # shellcheck disable=SC2086
        start_pinned "$name" ${entry#*:}
        load --size "$size" --seconds 1 >/dev/null # warm-up
        before=$(cpu_ticks "$SERVER_PID")
        line=$(load --size "$size" --seconds "$DURATION")
        after=$(cpu_ticks "$SERVER_PID")
        stop_server
        us[$name]=$(per $((after - before)) "$(field requests "$line")")
        printf '%-10s %-11s %12s %16s\n' "$size" "$name" "$(field rate "$line")" "${us[$name]}"
        record "TLS echo $((size / 1024)) KiB, CPU" us/request "$(impl "$name")" "${us[$name]}" "$(note "$name" "<=1.10x")"
        record "TLS echo $((size / 1024)) KiB, throughput" requests/s "$(impl "$name")" "$(field rate "$line")" "$(note "$name" "")"
    done
    echo "  ratio aioproto/raw-rustls CPU per request at $size B: $(ratio "${us[aioproto]}" "${us[raw-rustls]}") (target <= 1.15)"
done

echo
echo "full TLS 1.3 handshakes (no resumption), $CONNS concurrent clients, ${DURATION}s"
printf '%-11s %14s %22s\n' server "handshakes/s" "server CPU us/handshake"
declare -A hs
for entry in "${SERVERS[@]}"; do
    name=${entry%%:*}
    # shellcheck disable=SC2086
    start_pinned "$name-hs" ${entry#*:}
    before=$(cpu_ticks "$SERVER_PID")
    line=$(load --handshakes --seconds "$DURATION")
    after=$(cpu_ticks "$SERVER_PID")
    stop_server
    hs[$name]=$(per $((after - before)) "$(field handshakes "$line")")
    printf '%-11s %14s %22s\n' "$name" "$(field rate "$line")" "${hs[$name]}"
    record "TLS full handshake, CPU" us/handshake "$(impl "$name")" "${hs[$name]}" "$(note "$name" "")"
done
echo "  ratio aioproto/raw-rustls CPU per handshake: $(ratio "${hs[aioproto]}" "${hs[raw-rustls]}")"

if command -v valgrind >/dev/null; then
    echo
    echo "user-space instructions per TLS request (cachegrind, differential of a 1 s and a 4 s load, so start-up and the $CONNS handshakes cancel out)"
    for size in 1024 102400; do
        for entry in "${SERVERS[@]}"; do
            name=${entry%%:*}
            refs=() requests=()
            for seconds in 1 4; do
                # shellcheck disable=SC2086
                start_pinned "$name-vg" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null ${entry#*:}
                line=$(load --size "$size" --seconds "$seconds")
                stop_server
                refs+=("$(sed -n 's/.*I *refs: *//p' "$BENCH_TMP/$name-vg.err" | tr -d ',' | head -n1)")
                requests+=("$(field requests "$line")")
            done
            per_request=$(awk -v a="${refs[0]}" -v b="${refs[1]}" -v m="${requests[0]}" -v n="${requests[1]}" \
                'BEGIN { if (n > m) printf "%.0f", (b - a) / (n - m); else print "n/a" }')
            printf '  %-7s %-11s %8s instructions/request\n' "$size" "$name" "$per_request"
            record "TLS echo $((size / 1024)) KiB, instructions" instructions/request "$(impl "$name")" "$per_request" "$(note "$name" "<=1.10x")"
        done
    done
fi

# Memory per idle TLS connection: RSS growth of the server with IDLE connections
# open (each did its handshake and echoed one byte), divided by IDLE.
IDLE=${TLS_IDLE:-500}
echo
echo "memory per idle TLS connection ($IDLE connections, server RSS delta / $IDLE; target <= 20 KiB)"
for entry in "${SERVERS[@]}"; do
    name=${entry%%:*}
    # shellcheck disable=SC2086
    start_pinned "$name-idle" ${entry#*:}
    before=$(rss_kb "$SERVER_PID")
    taskset -c "$LOAD_CORE" "$BIN/tls_load" "$ADDR" --ca "$CA" --conns "$IDLE" --idle --seconds 30 >"$BENCH_TMP/idle.out" &
    LOAD_PID=$!
    for _ in $(seq 1 600); do
        grep -q '^idle=' "$BENCH_TMP/idle.out" && break
        sleep 0.05
    done
    sleep 0.5
    after=$(rss_kb "$SERVER_PID")
    kill "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
    stop_server
    per_conn=$(awk -v a="$before" -v b="$after" -v n="$IDLE" 'BEGIN { printf "%.1f", (b - a) / n }')
    printf '  %-11s %8s KiB per idle connection\n' "$name" "$per_conn"
    record "TLS idle connection, RSS" KiB/connection "$(impl "$name")" "$per_conn" "$(note "$name" "<=20")"
done
