#!/usr/bin/env bash
# File transfer: file_server (aioproto Transport::sendfile) vs
# raw_sendfile_server (plain tokio: sendfile(2) on writable readiness; with
# TLS, tokio-rustls copying 256 KiB reads), same run, same load (loadgen
# fetch: GET the same file COUNT times, CONNS at once, each read to the
# server's close). Reports MiB/s and server CPU ms per GiB, and the ratios;
# target >= 0.9x the baseline's MiB/s. Then proves a 1 GiB file over plain
# TCP goes out through sendfile(2): strace -f -c counts the server's
# sendfile/write/writev calls. Needs $BIN and certs/ (make bench runs make certs).
# Tunables: FILE_MIB (256), FILE_COUNT (8), FILE_CONNS (2).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
MIB=${FILE_MIB:-256}
COUNT=${FILE_COUNT:-8}
CONNS=${FILE_CONNS:-2}
use_certs

ROOT="$BENCH_TMP/root"
mkdir -p "$ROOT"
# Real bytes (not a sparse file), read once so both servers find them in the page cache.
head -c "$((MIB * 1024 * 1024))" /dev/urandom >"$ROOT/data.bin"
cat "$ROOT/data.bin" >/dev/null
BYTES=$((MIB * 1024 * 1024))

fetch() { taskset -c "$LOAD_CORE" "$BIN/loadgen" fetch "$ADDR" --path data.bin --expect "$BYTES" "$@"; }

echo "file transfer, ${MIB} MiB file x $COUNT fetches, $CONNS at once, server pinned to core $SERVER_CORE"
printf '%-6s %-11s %10s %20s\n' mode server "MiB/s" "server CPU ms/GiB"
for mode in plain tls; do
    if [ "$mode" = tls ]; then
        tls_server=(--tls --cert "$CERT" --key "$KEY")
        tls_client=(--tls --ca "$CA")
    else
        tls_server=()
        tls_client=()
    fi
    declare -A rate cpu
    for name in aioproto raw-tokio; do
        if [ "$name" = aioproto ]; then
            start_pinned "$name" "$BIN/file_server" --root "$ROOT" --port 0 "${tls_server[@]}"
        else
            start_pinned "$name" "$BIN/raw_sendfile_server" --root "$ROOT" --port 0 "${tls_server[@]}"
        fi
        fetch --count 1 "${tls_client[@]}" >/dev/null # warm-up
        before=$(cpu_ticks "$SERVER_PID")
        line=$(fetch --count "$COUNT" --conns "$CONNS" "${tls_client[@]}")
        after=$(cpu_ticks "$SERVER_PID")
        stop_server
        rate[$name]=$(field mibps "$line")
        cpu[$name]=$(awk -v t=$((after - before)) -v hz="$TICKS" -v b="$(field bytes "$line")" \
            'BEGIN { printf "%.1f", t / hz * 1000 / (b / 1073741824) }')
        printf '%-6s %-11s %10s %20s\n' "$mode" "$name" "${rate[$name]}" "${cpu[$name]}"
    done
    echo "  ratio aioproto/raw-tokio ($mode): MiB/s $(ratio "${rate[aioproto]}" "${rate[raw-tokio]}"), CPU per GiB $(ratio "${cpu[aioproto]}" "${cpu[raw-tokio]}")"
    if [ "$mode" = tls ]; then baseline="tokio-rustls, 256 KiB reads"; else baseline="plain sendfile(2) from tokio"; fi
    record "file transfer ($mode), throughput" MiB/s aioproto "${rate[aioproto]}" ">=0.9x"
    record "file transfer ($mode), throughput" MiB/s baseline "${rate[raw-tokio]}" "$baseline"
    record "file transfer ($mode), server CPU" ms/GiB aioproto "${cpu[aioproto]}"
    record "file transfer ($mode), server CPU" ms/GiB baseline "${cpu[raw-tokio]}" "$baseline"
done
rm -f "$ROOT/data.bin"

# Zero-copy proof: a 1 GiB file (sparse, made by fallocate or truncate)
# fetched once over plain TCP from file_server under strace.
if command -v strace >/dev/null; then
    echo
    echo "syscalls of file_server sending a 1 GiB file over plain TCP (strace -f -c -e trace=sendfile,write,writev)"
    fallocate -l 1G "$ROOT/big.bin" 2>/dev/null || truncate -s 1G "$ROOT/big.bin"
    start_pinned file-strace strace -f -c -e trace=sendfile,write,writev -o "$BENCH_TMP/file.strace" \
        "$BIN/file_server" --root "$ROOT" --port 0
    taskset -c "$LOAD_CORE" "$BIN/loadgen" fetch "$ADDR" --path big.bin --count 1 --expect 1073741824 >/dev/null
    stop_server
    for call in sendfile write writev; do
        calls=$(awk -v c="$call" '$NF == c {print $4; exit}' "$BENCH_TMP/file.strace")
        printf '  %-9s %8s calls\n' "$call" "${calls:-0}"
    done
    echo "  (write: the listening line, the exit's stats line and tokio's eventfd wake-ups; no file byte goes through write or writev)"
    rm -f "$ROOT/big.bin"
else
    echo "(strace not installed: the sendfile(2) count is skipped)"
fi
