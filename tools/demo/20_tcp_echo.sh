# Sourced by tools/demo.sh.
step "TCP echo: echo_server + echo_client"
ADDR=$(start_server "$TMP/echo.out" "$BIN/echo_server" --port 0)
echo "echo_server: listening on $ADDR"
"$BIN/echo_client" "${ADDR%:*}" "${ADDR##*:}" hello "from aioproto"
stop_server
