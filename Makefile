# aioproto: see README.md. Every target works on a fresh machine with only cargo.
CARGO ?= cargo
RELEASE_BIN := target/release

.PHONY: all run demo test bench lint certs build-release

all: test

## Build the example binaries in release mode.
build-release:
	$(CARGO) build --release --workspace --bins

## Local test PKI (CA, server, client, expired, unknown CA) into certs/; idempotent.
certs:
	$(CARGO) run --quiet -p aioproto-tools --bin make_certs -- certs

## Start the chat server: plain TCP on 127.0.0.1:7777 and TLS on 7778 (one room).
run: certs build-release
	@echo "chat_server: plain TCP on 127.0.0.1:7777, TLS on 127.0.0.1:7778, one room."
	@echo "The first line you send is your nickname; then /who, /quit or any text."
	@echo "  $(RELEASE_BIN)/chat_client 127.0.0.1 7777"
	@echo "  $(RELEASE_BIN)/chat_client --tls --ca certs/ca.pem 127.0.0.1 7778"
	@echo "  nc 127.0.0.1 7777"
	@echo "  openssl s_client -quiet -connect 127.0.0.1:7778 -CAfile certs/ca.pem"
	$(RELEASE_BIN)/chat_server --host 127.0.0.1 --port 7777 --tls-port 7778 \
		--cert certs/server.pem --key certs/server.key

## A scripted tour of what exists; runs and exits.
demo: certs build-release
	bash tools/demo.sh $(RELEASE_BIN)

## Unit, integration and doc tests.
test: certs
	$(CARGO) test --workspace --all-features

## Benchmarks against raw tokio in the same run (see DESIGN.md, "Performance").
bench: certs
	bash tools/bench.sh

## Formatting and clippy, warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
