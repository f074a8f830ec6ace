#!/usr/bin/env bash
# UDP echo: udp_echo_server (aioproto) vs raw_udp_echo (plain tokio UdpSocket),
# same run, same load. Server pinned to one core, load client to another.
# Reports round trips/s, server CPU µs per datagram (from /proc/<pid>/stat),
# syscalls per datagram (strace -c) and user instructions per datagram
# (cachegrind), each with the aioproto/raw ratio. Needs $BIN (release binaries).
# Tunables: UDP_CLIENTS (10), UDP_SECONDS (5), UDP_SIZE (64 bytes).
set -euo pipefail
: "${BIN:?run through tools/bench.sh}"
source "$(dirname "$0")/lib.sh"
CLIENTS=${UDP_CLIENTS:-10}
SECONDS_RUN=${UDP_SECONDS:-5}
SIZE=${UDP_SIZE:-64}
load() { taskset -c "$LOAD_CORE" "$BIN/udp_load" "$ADDR" --clients "$CLIENTS" --size "$SIZE" "$@"; }

echo "UDP echo ping-pong: $CLIENTS clients, $SIZE-byte datagrams, ${SECONDS_RUN}s per server"
printf '%-16s %12s %14s\n' server "round trips/s" "CPU µs/dgram"
declare -A RATE CPU SYS INS DG
for server in raw udp_echo_server; do
    if [ "$server" = raw ]; then cmd=("$BIN/raw_udp_echo"); else cmd=("$BIN/udp_echo_server" --port 0); fi
    start_pinned "$server" "${cmd[@]}"
    load --seconds 1 >/dev/null # warm-up
    before=$(cpu_ticks "$SERVER_PID")
    line=$(load --seconds "$SECONDS_RUN")
    after=$(cpu_ticks "$SERVER_PID")
    stop_server
    n=$(field datagrams "$line")
    RATE[$server]=$(field rate "$line")
    CPU[$server]=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$n" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
    printf '%-16s %12s %14s\n' "$server" "${RATE[$server]}" "${CPU[$server]}"
done
record "UDP echo ${SIZE} B, CPU" us/datagram baseline "${CPU[raw]}" "raw tokio UdpSocket"
record "UDP echo ${SIZE} B, CPU" us/datagram aioproto "${CPU[udp_echo_server]}" "<=1.15x"
record "UDP echo ${SIZE} B, throughput" "round trips/s" baseline "${RATE[raw]}" "raw tokio UdpSocket"
record "UDP echo ${SIZE} B, throughput" "round trips/s" aioproto "${RATE[udp_echo_server]}"
echo "ratio aioproto/raw: CPU per datagram $(ratio "${CPU[udp_echo_server]}" "${CPU[raw]}")x (target <= 1.15), throughput $(ratio "${RATE[udp_echo_server]}" "${RATE[raw]}")x"

if command -v strace >/dev/null; then
    for server in raw udp_echo_server; do
        if [ "$server" = raw ]; then cmd=("$BIN/raw_udp_echo"); else cmd=("$BIN/udp_echo_server" --port 0); fi
        start_pinned "$server-strace" strace -f -c -o "$BENCH_TMP/$server.strace" "${cmd[@]}"
        line=$(load --seconds 2)
        stop_server
        calls=$(awk '$NF == "total" {print $(NF-2)}' "$BENCH_TMP/$server.strace")
        SYS[$server]=$(awk -v c="$calls" -v n="$(field datagrams "$line")" 'BEGIN { printf "%.2f", c / n }')
    done
    record "UDP echo ${SIZE} B, syscalls" syscalls/datagram baseline "${SYS[raw]}" "raw tokio UdpSocket"
    record "UDP echo ${SIZE} B, syscalls" syscalls/datagram aioproto "${SYS[udp_echo_server]}" "<=1.02x"
    echo "syscalls per datagram: raw ${SYS[raw]}, aioproto ${SYS[udp_echo_server]} (ratio $(ratio "${SYS[udp_echo_server]}" "${SYS[raw]}")x)"
fi

if command -v valgrind >/dev/null; then
    for server in raw udp_echo_server; do
        if [ "$server" = raw ]; then cmd=("$BIN/raw_udp_echo"); else cmd=("$BIN/udp_echo_server" --port 0); fi
        start_pinned "$server-cg" valgrind --tool=cachegrind --cache-sim=no \
            --cachegrind-out-file=/dev/null "${cmd[@]}"
        line=$(load --seconds 3)
        stop_server
        refs=$(sed -n 's/.*I *refs: *//p' "$BENCH_TMP/$server-cg.err" | tr -d ',' | head -n1)
        INS[$server]=$(awk -v r="$refs" -v n="$(field datagrams "$line")" 'BEGIN { printf "%.0f", r / n }')
        DG[$server]=$(field datagrams "$line")
    done
    record "UDP echo ${SIZE} B, instructions (start-up included)" instructions/datagram baseline "${INS[raw]}" "raw tokio UdpSocket"
    record "UDP echo ${SIZE} B, instructions (start-up included)" instructions/datagram aioproto "${INS[udp_echo_server]}"
    echo "user instructions per datagram (cachegrind, start-up included; ${DG[raw]} and ${DG[udp_echo_server]} datagrams): raw ${INS[raw]}, aioproto ${INS[udp_echo_server]} (ratio $(ratio "${INS[udp_echo_server]}" "${INS[raw]}")x)"
fi
