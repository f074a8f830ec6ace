#!/usr/bin/env bash
# make cluster: a redis-server on a free port and three chat servers on
# 127.0.0.1:7777, 7787 and 7797 sharing the room "lobby" through it. Prints how
# to connect; Ctrl-C stops every process it started (by pid) and exits.
#
# Usage: tools/cluster.sh BIN_DIR   (BIN_DIR holds a release chat_server)
set -uo pipefail
BIN=${1:?usage: tools/cluster.sh BIN_DIR}
PORTS=(7777 7787 7797)
ROOM=lobby

if ! command -v redis-server >/dev/null 2>&1; then
    echo "make cluster needs redis-server, which is not installed." >&2
    echo "  Debian/Ubuntu: sudo apt-get install redis-server    macOS: brew install redis" >&2
    echo "  (make run starts one chat server with no Redis at all.)" >&2
    exit 1
fi
if [ ! -x "$BIN/chat_server" ]; then
    echo "make cluster: $BIN/chat_server is missing (cargo build --release --workspace --bins)" >&2
    exit 1
fi

TMP=$(mktemp -d)
PIDS=()
stop_all() {
    trap - INT TERM EXIT
    echo
    echo "==> stopping the cluster"
    # Chat servers first (SIGTERM: they shut down and leave the room), then Redis.
    for pid in "${PIDS[@]:1}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]:1}"; do wait "$pid" 2>/dev/null; done
    if [ -n "${PIDS[0]:-}" ]; then
        kill -TERM "${PIDS[0]}" 2>/dev/null
        wait "${PIDS[0]}" 2>/dev/null
    fi
    rm -rf "$TMP"
    echo "==> stopped: redis-server and ${#PORTS[@]} chat servers"
}
trap 'stop_all; exit 0' INT TERM
trap stop_all EXIT

# A free port for Redis: pick one at random, let redis-server try it, and try
# another if it could not bind.
REDIS_PORT=""
for _ in $(seq 1 20); do
    port=$(( 20000 + RANDOM % 40000 ))
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$TMP" >"$TMP/redis.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        grep -q "Ready to accept connections" "$TMP/redis.log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null && grep -q "Ready to accept connections" "$TMP/redis.log"; then
        REDIS_PORT=$port
        PIDS=("$pid")
        break
    fi
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done
if [ -z "$REDIS_PORT" ]; then
    echo "make cluster: redis-server did not start:" >&2
    cat "$TMP/redis.log" >&2
    exit 1
fi
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
echo "==> redis-server on 127.0.0.1:$REDIS_PORT (pid ${PIDS[0]}, no persistence)"

for port in "${PORTS[@]}"; do
    "$BIN/chat_server" --host 127.0.0.1 --port "$port" --redis "$REDIS_URL" --room "$ROOM" \
        --grace 2 >"$TMP/chat-$port.out" 2>"$TMP/chat-$port.err" &
    PIDS+=("$!")
    for _ in $(seq 1 200); do
        grep -q "^listening on" "$TMP/chat-$port.out" 2>/dev/null && break
        kill -0 "${PIDS[-1]}" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -q "^listening on" "$TMP/chat-$port.out"; then
        echo "make cluster: chat_server on port $port did not start:" >&2
        cat "$TMP/chat-$port.err" >&2
        exit 1
    fi
    echo "==> chat_server $(head -n1 "$TMP/chat-$port.out") (pid ${PIDS[-1]})"
done

cat <<TEXT

One chat room, "$ROOM", across three servers:

   clients        clients        clients
      |              |              |
  :7777          :7787          :7797      chat_server x3 (each its own local room)
      \\             |             /
       +------ redis-server ------+        one pub/sub channel + presence
               127.0.0.1:$REDIS_PORT

Connect to any of them; the first line you send is your nickname, then
/who, /quit or any text. Everyone on every server sees everyone:
  $BIN/chat_client 127.0.0.1 7777
  $BIN/chat_client 127.0.0.1 7787
  $BIN/chat_client 127.0.0.1 7797
  nc 127.0.0.1 7797      (if nc is installed)

Ctrl-C stops all four processes.
TEXT

# Wait for Ctrl-C, or for any process to end on its own.
wait -n "${PIDS[@]}"
echo "make cluster: a process of the cluster exited on its own; stopping the rest" >&2
exit 1
