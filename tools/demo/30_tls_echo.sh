# Sourced by tools/demo.sh: echo over TLS, mutual TLS, and STARTTLS (certs from `make certs`).
step "TLS echo: echo_server --tls + echo_client --tls (certs/ from make certs)"
ADDR=$(start_server "$TMP/tls.out" "$BIN/echo_server" --port 0 --tls --cert certs/server.pem --key certs/server.key)
echo "echo_server --tls: listening on $ADDR"
"$BIN/echo_client" --tls --ca certs/ca.pem localhost "${ADDR##*:}" hello "over TLS"
echo "a client trusting another CA refuses the server (exit 1):"
"$BIN/echo_client" --tls --ca certs/other-ca.pem localhost "${ADDR##*:}" hello 2>&1 || true
stop_server

step "Mutual TLS: echo_server --client-ca, client certificate required"
ADDR=$(start_server "$TMP/mtls.out" "$BIN/echo_server" --port 0 --tls --cert certs/server.pem --key certs/server.key --client-ca certs/ca.pem)
"$BIN/echo_client" --tls --ca certs/ca.pem --cert certs/client.pem --key certs/client.key localhost "${ADDR##*:}" "with a client certificate"
echo "without a client certificate the server refuses the client (exit 1):"
"$BIN/echo_client" --tls --ca certs/ca.pem localhost "${ADDR##*:}" hello 2>&1 || true
stop_server

step "STARTTLS: plaintext until STARTTLS/READY, then the same connection upgrades"
ADDR=$(start_server "$TMP/starttls.out" "$BIN/echo_server" --port 0 --starttls --cert certs/server.pem --key certs/server.key)
"$BIN/echo_client" --starttls --ca certs/ca.pem "${ADDR%:*}" "${ADDR##*:}" hello "after the upgrade"
stop_server
