# Sourced by tools/demo.sh.
step "UDP echo: udp_echo_server + udp_echo_client (one datagram per message)"
ADDR=$(start_server "$TMP/udp_echo.out" "$BIN/udp_echo_server" --port 0)
echo "udp_echo_server: listening on $ADDR"
"$BIN/udp_echo_client" "${ADDR%:*}" "${ADDR##*:}" hello "from a datagram endpoint"
stop_server
step "UDP to a closed port: the ICMP refusal reaches the client through error_received"
"$BIN/udp_echo_client" 127.0.0.1 1 ping || echo "(expected: the client reported the refusal and exited 1)"
