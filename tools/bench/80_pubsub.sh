#!/usr/bin/env bash
# Room fan-out (aioproto::pubsub): PUBSUB_MEMBERS members in one local room,
# and the same members split over 3 room instances on one Redis (a
# redis-server on a free port, when installed); deliveries/s and send→delivery
# latency p50/p99. See tools/src/bin/pubsub_bench.rs.
set -euo pipefail
BIN=${BIN:-target/release}
source "$(dirname "$0")/lib.sh"
"$BIN/pubsub_bench" --members "${PUBSUB_MEMBERS:-100}" --messages "${PUBSUB_MESSAGES:-20000}" --rate "${PUBSUB_RATE:-2000}" \
    | tee "$BENCH_TMP/pubsub.txt"
# "local, ... = N deliveries/s" and "redis, ..., burst: ... = N deliveries/s, ..."
rate() { sed -n "s/^$1.*= \([0-9.]*\) deliveries\/s.*/\1/p" "$BENCH_TMP/pubsub.txt" | head -n1; }
record "pubsub room fan-out, local" deliveries/s aioproto "$(rate local)"
if grep -q '^redis, .*burst' "$BENCH_TMP/pubsub.txt"; then
    record "pubsub room fan-out, redis burst" deliveries/s aioproto "$(rate 'redis, .*burst')"
fi
