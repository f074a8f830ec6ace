# Sourced by tools/demo.sh: a short scripted chat on chat_server.
step "Chat: chat_server (TCP + TLS, one room); alice stays, bob talks and quits, dave joins over TLS, a second alice is refused"
ADDR=$(start_server "$TMP/chat.out" "$BIN/chat_server" --port 0 --tls-port 0 \
    --cert certs/server.pem --key certs/server.key)
CHAT_HOST=${ADDR%:*}
CHAT_PORT=${ADDR##*:}
# The second "listening on" line is the TLS port.
for _ in $(seq 1 100); do
    TLS_ADDR=$(sed -n 's/^listening on //p' "$TMP/chat.out" | sed -n 2p)
    [ -n "$TLS_ADDR" ] && break
    sleep 0.05
done
echo "chat_server: listening on $ADDR (TCP) and $TLS_ADDR (TLS)"

# Waits (up to 10 s) until FILE has a line matching PATTERN.
wait_line() {
    for _ in $(seq 1 200); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "timed out waiting for '$2' in $1" >&2
    return 1
}

# alice keeps her connection open: her stdin is a fifo the script writes to.
mkfifo "$TMP/alice.in"
"$BIN/chat_client" "$CHAT_HOST" "$CHAT_PORT" <"$TMP/alice.in" >"$TMP/alice.log" 2>&1 &
ALICE_PID=$!
exec 7>"$TMP/alice.in"
printf 'alice\n/who\n' >&7
wait_line "$TMP/alice.log" '^\* online: alice$'

# bob joins, talks, asks who is online and quits; his client exits when the server closes.
printf 'bob\nhi alice, bob here\n/who\n/quit\n' |
    "$BIN/chat_client" "$CHAT_HOST" "$CHAT_PORT" >"$TMP/bob.log" 2>&1
wait_line "$TMP/alice.log" '^\* bob left$'

# dave speaks TLS; he is in the same room, and asks who is there.
printf 'dave\nhello over TLS\n/who\n' |
    "$BIN/chat_client" --tls --ca certs/ca.pem "$CHAT_HOST" "${TLS_ADDR##*:}" >"$TMP/dave.log" 2>&1
wait_line "$TMP/alice.log" '^\* dave left$'

# Someone else tries the nickname alice.
printf 'alice\n' | "$BIN/chat_client" "$CHAT_HOST" "$CHAT_PORT" >"$TMP/dup.log" 2>&1 || true

printf 'bye\n/quit\n' >&7
exec 7>&-
wait "$ALICE_PID" || true

# Prints what one client saw; an empty log means a step went wrong.
show() {
    echo "-- $1 saw:"
    if [ ! -s "$2" ]; then
        echo "   (nothing: that client got no line, which this demo does not expect)" >&2
        return 1
    fi
    sed 's/^/   /' "$2"
}
show alice "$TMP/alice.log"
show bob "$TMP/bob.log"
show "dave (TLS)" "$TMP/dave.log"
show "the second alice" "$TMP/dup.log"
stop_server
