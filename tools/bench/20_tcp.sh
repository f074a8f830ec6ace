#!/usr/bin/env bash
# TCP echo: aioproto echo_server vs a raw tokio echo server, same run, same method.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${DURATION:-3}
CONNS=10
ulimit -n 65536 2>/dev/null || true

SERVERS=("aioproto:$BIN/echo_server --port 0" "raw-tokio:$BIN/raw_tokio_echo --port 0")
if UVLOOP_PY=$(uvloop_python); then
    SERVERS+=("uvloop:$UVLOOP_PY $BENCH_ROOT/tools/bench/uvloop_echo.py --port 0")
fi
# impl NAME: the report's IMPL for a server name; note NAME TARGET: its NOTE.
impl() { case $1 in aioproto | uvloop) echo "$1" ;; *) echo baseline ;; esac; }
note() { case $1 in aioproto) echo "$2" ;; raw-tokio) echo "raw tokio echo" ;; esac; }

echo "ping-pong echo, $CONNS connections, ${DURATION}s per run, server pinned to core $SERVER_CORE"
printf '%-10s %-10s %12s %16s\n' size server "requests/s" "server CPU us/req"
for size in 1024 10240 102400; do
    declare -A us
    for entry in "${SERVERS[@]}"; do
        name=${entry%%:*}
        start_pinned "$name" ${entry#*:}
        before=$(cpu_ticks "$SERVER_PID")
        line=$(taskset -c "$LOAD_CORE" "$BIN/loadgen" echo "$ADDR" --conns $CONNS --size $size --duration "$DURATION")
        after=$(cpu_ticks "$SERVER_PID")
        stop_server
        requests=$(field requests "$line")
        us[$name]=$(awk -v t=$((after - before)) -v hz="$TICKS" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        printf '%-10s %-10s %12s %16s\n' "$size" "$name" "$(field rps "$line")" "${us[$name]}"
        record "TCP echo $((size / 1024)) KiB, CPU" us/request "$(impl "$name")" "${us[$name]}" "$(note "$name" "")"
        record "TCP echo $((size / 1024)) KiB, throughput" requests/s "$(impl "$name")" "$(field rps "$line")" "$(note "$name" "")"
    done
    echo "  ratio aioproto/raw-tokio CPU per request at $size B: $(ratio "${us[aioproto]}" "${us[raw-tokio]}")"
done

# Instructions per request: cachegrind counts user-space instructions. Two
# loads of different sizes cancel start-up costs. What is left still moves
# with timing: how many requests one turn of the event loop finds ready
# depends on how fast the load generator runs beside the slowed server (a
# host that steals CPU time changes it), and a turn costs a few hundred
# instructions. So each figure is the lowest of INSN_RUNS differentials
# (default 3), the same for every server: noise only adds turns.
INSN_RUNS=${INSN_RUNS:-3}
# insn_differential NAME SIZE CMD...: one differential, instructions per SIZE-byte request.
insn_differential() {
    local name=$1 size=$2 refs=() requests
    shift 2
    for requests in 2000 12000; do
        start_pinned "$name-vg" valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@"
        taskset -c "$LOAD_CORE" "$BIN/loadgen" echo "$ADDR" --conns $CONNS --size "$size" --requests $requests >/dev/null
        stop_server
        refs+=("$(sed -n 's/.*I *refs: *//p' "$BENCH_TMP/$name-vg.err" | tr -d ',' | head -n1)")
    done
    awk -v a="${refs[0]}" -v b="${refs[1]}" 'BEGIN { printf "%.0f", (b - a) / 10000 }'
}
# insn_per_request NAME SIZE CMD...: the lowest of INSN_RUNS differentials;
# all of them go to stderr, so the spread is in the log.
insn_per_request() {
    local runs=()
    for _ in $(seq "$INSN_RUNS"); do
        runs+=("$(insn_differential "$@")")
    done
    echo "    ($1, $2 B: ${runs[*]})" >&2
    printf '%s\n' "${runs[@]}" | sort -n | head -n1
}

if command -v valgrind >/dev/null; then
    echo
    echo "user-space instructions per request (valgrind cachegrind, differential 2,000 vs 12,000 requests, lowest of $INSN_RUNS)"
    for size in 1024 10240 102400; do
        for entry in "${SERVERS[@]}"; do
            name=${entry%%:*}
            # Instructions of an interpreter are not comparable with compiled code.
            [ "$name" = uvloop ] && continue
            per_request=$(insn_per_request "$name" "$size" ${entry#*:})
            printf '  %-10s %-10s %8s instructions/request\n' "$size" "$name" "$per_request"
            record "TCP echo $((size / 1024)) KiB, instructions" instructions/request "$(impl "$name")" "$per_request" "$(note "$name" "<=1.25x")"
        done
    done

    # Multi-thread runtimes against the current-thread one (1 KiB): the target
    # is aioproto's own ratio; raw tokio's shows what tokio's scheduler costs.
    echo
    echo "1 KiB instructions/request by runtime (the multi-thread one is what #[tokio::main] builds)"
    single=$(insn_per_request aioproto-current 1024 "$BIN/echo_server" --port 0 --runtime current)
    raw_single=$(insn_per_request raw-current 1024 "$BIN/raw_tokio_echo" --port 0 --runtime current)
    raw_multi=$(insn_per_request raw-multi 1024 "$BIN/raw_tokio_echo" --port 0 --runtime multi)
    printf '  %-30s %8s\n' "aioproto current-thread" "$single" "raw tokio current-thread" "$raw_single" \
        "raw tokio multi-thread" "$raw_multi ($(ratio "$raw_multi" "$raw_single")x its current-thread)"
    for runtime in multi loop-multi; do
        multi=$(insn_per_request "aioproto-$runtime" 1024 "$BIN/echo_server" --port 0 --runtime "$runtime")
        printf '  %-30s %8s\n' "aioproto --runtime $runtime" "$multi ($(ratio "$multi" "$single")x the current-thread figure)"
        record "TCP echo 1 KiB, instructions on --runtime $runtime" instructions/request aioproto "$multi" "<=1.10x"
        record "TCP echo 1 KiB, instructions on --runtime $runtime" instructions/request baseline "$single" "aioproto on the current-thread runtime"
    done
else
    echo "(valgrind not installed: instruction counts skipped)"
fi

# Syscalls per request: strace counts every system call of the server.
if command -v strace >/dev/null; then
    echo
    # Differential too: a Python server makes thousands of start-up syscalls.
    echo "syscalls per 1 KiB request (strace -f -c, differential 2,000 vs 22,000 requests)"
    for entry in "${SERVERS[@]}"; do
        name=${entry%%:*}
        calls=()
        for requests in 2000 22000; do
            start_pinned "$name-st" strace -f -c -o "$BENCH_TMP/$name.strace" ${entry#*:}
            taskset -c "$LOAD_CORE" "$BIN/loadgen" echo "$ADDR" --conns $CONNS --size 1024 --requests $requests >/dev/null
            stop_server
            calls+=("$(awk '$NF == "total" {print $4}' "$BENCH_TMP/$name.strace")")
        done
        per_request=$(awk -v a="${calls[0]}" -v b="${calls[1]}" 'BEGIN { printf "%.2f", (b - a) / 20000 }')
        printf '  %-10s %8s syscalls/request\n' "$name" "$per_request"
        record "TCP echo 1 KiB, syscalls" syscalls/request "$(impl "$name")" "$per_request" "$(note "$name" "<=1.02x")"
    done
else
    echo "(strace not installed: syscall counts skipped)"
fi

# Memory per idle connection and accept rate.
echo
IDLE=${IDLE:-10000}
printf '%-10s %22s %20s\n' server "RSS per idle conn (B)" "accepted conns/s"
for entry in "${SERVERS[@]}"; do
    name=${entry%%:*}
    start_pinned "$name" ${entry#*:}
    before=$(rss_kb "$SERVER_PID")
    coproc IDLER { taskset -c "$LOAD_CORE" "$BIN/loadgen" idle "$ADDR" --conns "$IDLE"; }
    read -r ready <&"${IDLER[0]}"
    sleep 0.5 # let the server's driver tasks run their first poll
    after=$(rss_kb "$SERVER_PID")
    exec {IDLER[1]}>&-
    wait "$IDLER_PID" 2>/dev/null || true
    per_conn=$(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
    line=$(taskset -c "$LOAD_CORE" "$BIN/loadgen" connect "$ADDR" --duration 2)
    stop_server
    printf '%-10s %22s %20s\n' "$name" "$per_conn" "$(field cps "$line")"
    record "TCP idle connection, RSS" bytes/connection "$(impl "$name")" "$per_conn" "$(note "$name" "<=1024")"
    record "TCP accept rate" connections/s "$(impl "$name")" "$(field cps "$line")" "$(note "$name" "")"
done
