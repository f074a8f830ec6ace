# Shared helpers for tools/bench/NN_*.sh (sourced). Needs $BIN (release binaries).
# Servers run pinned to core 0, load generators to core 1 (docs/DESIGN.md method).

SERVER_CORE=${SERVER_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
TICKS=$(getconf CLK_TCK)
BENCH_TMP=$(mktemp -d)
trap 'kill ${SERVER_PID:-} 2>/dev/null || true; rm -rf "$BENCH_TMP"' EXIT

# start_pinned NAME CMD... : starts a server on the server core; sets SERVER_PID and ADDR.
start_pinned() {
    local name=$1; shift
    # Made first: the child's redirection may not have run when the loop
    # below first reads it (and a failed read ends a pipefail script).
    : >"$BENCH_TMP/$name.out"
    taskset -c "$SERVER_CORE" "$@" >"$BENCH_TMP/$name.out" 2>"$BENCH_TMP/$name.err" &
    SERVER_PID=$!
    ADDR=$(wait_listening "$BENCH_TMP/$name.out") && return 0
    echo "$name did not start: $(cat "$BENCH_TMP/$name.err")" >&2
    return 1
}

# wait_listening FILE: prints the address of the first `listening on` line
# written to FILE, waiting up to 30 s; fails if none came.
wait_listening() {
    local addr=""
    for _ in $(seq 1 600); do
        addr=$(sed -n 's/^listening on //p' "$1" | head -n1)
        [ -n "$addr" ] && { echo "$addr"; return 0; }
        sleep 0.05
    done
    return 1
}

# stop_server: SIGTERM and wait (servers exit 0 on SIGTERM). Under strace the
# server is strace's child: signal it, and strace exits with it.
stop_server() {
    if pgrep -P "$SERVER_PID" >/dev/null; then
        pkill -TERM -P "$SERVER_PID" 2>/dev/null || true
    else
        kill -TERM "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
}

# cpu_ticks PID: user+system CPU of a process, in clock ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# rss_kb PID
rss_kb() {
    awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# field KEY LINE: the value of key=value in a loadgen output line.
field() {
    tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"
}

# ratio A B: A/B with two decimals.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}
