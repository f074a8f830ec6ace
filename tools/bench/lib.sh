# Shared helpers for tools/bench/NN_*.sh (sourced). Needs $BIN (release binaries).
# Servers run pinned to core 0, load generators to core 1 (docs/DESIGN.md method).
#
# Recording figures for the report (target/bench/report.md and report.svg):
#
#   record FIGURE UNIT IMPL VALUE [NOTE]
#
# appends one tab-separated row to $BENCH_RESULTS (target/bench/results.tsv, which
# tools/bench.sh empties before the first section; `bench_report` reads it at the end).
#   FIGURE  what is measured, unique within the section: "TCP echo 1 KiB, CPU".
#           Rows of one FIGURE (aioproto, baseline, uvloop) form one line of the report.
#   UNIT    "instructions/request", "us/request", "requests/s", "bytes/connection", ...
#           A unit ending in "/s" is a rate (higher is better); any other is a cost.
#   IMPL    aioproto | baseline | uvloop
#   VALUE   a plain number (no thousands separators, no unit).
#   NOTE    optional. On a baseline row: what the baseline is ("raw tokio echo").
#           On an aioproto row: its target, either a ratio to the baseline ("<=1.25x",
#           ">=0.9x": note the x) or an absolute value in UNIT ("<=1024").
# Example:  record "TCP echo 1 KiB, instructions" instructions/request baseline 1331 "raw tokio echo"
#           record "TCP echo 1 KiB, instructions" instructions/request aioproto 2374 "<=1.25x"
# The section is the script's name (BENCH_SECTION, set by tools/bench.sh). A value
# that is not a number ("n/a" when a measurement failed) is skipped with a warning.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_ROOT/target/bench/results.tsv}
BENCH_SECTION=${BENCH_SECTION:-$(basename "$0" .sh)}

record() {
    local figure=$1 unit=$2 impl=$3 value=$4 note=${5:-}
    case $impl in
        aioproto | baseline | uvloop) ;;
        *) echo "record: IMPL must be aioproto, baseline or uvloop, not '$impl'" >&2; return 1 ;;
    esac
    if ! [[ $value =~ ^-?[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$ ]]; then
        echo "record: '$figure' $impl: '$value' is not a number, not recorded" >&2
        return 0
    fi
    mkdir -p "$(dirname "$BENCH_RESULTS")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$BENCH_SECTION" "$figure" "$unit" "$impl" "$value" "$note" \
        >>"$BENCH_RESULTS"
}

SERVER_CORE=${SERVER_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
TICKS=$(getconf CLK_TCK)
BENCH_TMP=$(mktemp -d)
trap 'kill ${SERVER_PID:-} 2>/dev/null || true; rm -rf "$BENCH_TMP"' EXIT

# start_pinned NAME CMD... : starts a server on the server core; sets SERVER_PID and ADDR.
start_pinned() {
    local name=$1; shift
    # Made first: the child's redirection may not have run when the loop
    # below first reads it (a failed read ends a pipefail script), and the
    # loop must never read the address of the previous run with the same NAME.
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

# use_certs: sets CERT, KEY and CA to the test PKI in certs/ (make bench makes it).
use_certs() {
    CERT=certs/server.pem
    KEY=certs/server.key
    CA=certs/ca.pem
    [ -f "$CERT" ] || { echo "certs/ missing: run make certs" >&2; exit 1; }
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

# uvloop_python: prints the python of a venv under target/bench/venv that has uvloop,
# creating it (python3 -m venv, pip install uvloop) on first use. Fails, saying why on
# stderr, when python3, venv or the package cannot be had, or when NO_UVLOOP is set:
# the caller then leaves the uvloop rows out. Only make bench calls this, never make test.
uvloop_python() {
    local venv=$BENCH_ROOT/target/bench/venv
    if [ -n "${NO_UVLOOP:-}" ]; then
        return 1
    fi
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import uvloop' 2>/dev/null; then
        echo "$venv/bin/python"
        return 0
    fi
    if ! command -v python3 >/dev/null; then
        echo "(python3 not installed: uvloop rows skipped)" >&2
        return 1
    fi
    echo "creating $venv with uvloop (pip install uvloop, once)" >&2
    if ! python3 -m venv "$venv" >&2 || ! "$venv/bin/pip" install --quiet uvloop >&2; then
        echo "(could not install uvloop into $venv: uvloop rows skipped)" >&2
        return 1
    fi
    echo "$venv/bin/python"
}
