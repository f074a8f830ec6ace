# Sourced by tools/demo.sh.
step "Unix socket echo: echo_server --unix + echo_client --unix (same Protocol as TCP)"
SOCK="$TMP/echo.sock"
ADDR=$(start_server "$TMP/unix_echo.out" "$BIN/echo_server" --unix "$SOCK")
echo "echo_server: listening on $ADDR"
"$BIN/echo_client" --unix "$SOCK" hello "over a Unix socket"
stop_server
if [ -e "$SOCK" ]; then echo "socket file left behind: $SOCK"; else echo "server closed and removed $SOCK"; fi
