#!/usr/bin/env bash
# Room fan-out (aioproto::pubsub): PUBSUB_MEMBERS members in one local room,
# and the same members split over 3 room instances on one Redis (a
# redis-server on a free port, when installed); deliveries/s and send→delivery
# latency p50/p99. See tools/src/bin/pubsub_bench.rs.
set -euo pipefail
BIN=${BIN:-target/release}
"$BIN/pubsub_bench" --members "${PUBSUB_MEMBERS:-100}" --messages "${PUBSUB_MESSAGES:-20000}" --rate "${PUBSUB_RATE:-2000}"
