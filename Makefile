# aioproto: see README.md. Every target works on a fresh machine with only cargo.
#
# One release build (`cargo build --release --workspace --bins`) makes every
# binary `make run`, `make demo` and `make certs` use, the certificate tool
# included, so the dependency tree is compiled once per profile.
CARGO ?= cargo
RELEASE_BIN := target/release
DEBUG_BIN := target/debug

.PHONY: all run cluster demo test bench lint certs build-release

all: test

## Build every example and tool binary in release mode.
build-release:
	@echo "==> cargo build --release --workspace --bins (the first build compiles every dependency: a few minutes on 2 cores)"
	$(CARGO) build --release --workspace --bins

## Local test PKI (CA, server, client, expired, unknown CA) into certs/; idempotent.
certs: build-release
	@echo "==> make_certs: test PKI into certs/ (existing files are kept)"
	$(RELEASE_BIN)/make_certs certs

## Start the chat server: plain TCP on 127.0.0.1:7777 and TLS on 7778 (one room).
run:
	@start=$$(date +%s); \
	echo "==> [1/3] cargo build --release --workspace --bins (the first build compiles every dependency: a few minutes on 2 cores)"; \
	$(CARGO) build --release --workspace --bins || exit $$?; \
	echo "==> [2/3] make_certs: test PKI into certs/ (existing files are kept)"; \
	$(RELEASE_BIN)/make_certs certs || exit $$?; \
	echo "==> [3/3] starting chat_server, ready $$(( $$(date +%s) - start )) s after make run started"; \
	echo "chat_server: plain TCP on 127.0.0.1:7777, TLS on 127.0.0.1:7778, one room. Ctrl-C stops it."; \
	echo "The first line you send is your nickname; then /who, /quit or any text. Connect with:"; \
	echo "  $(RELEASE_BIN)/chat_client 127.0.0.1 7777"; \
	echo "  $(RELEASE_BIN)/chat_client --tls --ca certs/ca.pem 127.0.0.1 7778"; \
	echo "  nc 127.0.0.1 7777                                                   (if nc is installed)"; \
	echo "  openssl s_client -quiet -connect 127.0.0.1:7778 -CAfile certs/ca.pem  (if openssl is installed)"; \
	exec $(RELEASE_BIN)/chat_server --host 127.0.0.1 --port 7777 --tls-port 7778 \
		--cert certs/server.pem --key certs/server.key

## Three chat servers on 127.0.0.1:7777, 7787 and 7797 forming one room through a
## redis-server on a free port (needs redis-server installed). Ctrl-C stops them all.
cluster: build-release
	@bash tools/cluster.sh $(RELEASE_BIN)

## A scripted tour of what exists; runs and exits.
demo: certs
	bash tools/demo.sh $(RELEASE_BIN)

## Unit, integration and doc tests. The test build also makes target/debug/make_certs,
## which writes certs/ when missing, so no second build of the dependencies is needed.
test:
	@start=$$(date +%s); \
	echo "==> cargo test --no-run: building the tests (debug; the first build compiles every dependency)"; \
	$(CARGO) test --workspace --all-features --no-run || exit $$?; \
	echo "==> make_certs: test PKI into certs/ (existing files are kept)"; \
	$(DEBUG_BIN)/make_certs certs || exit $$?; \
	echo "==> cargo test: running the tests"; \
	$(CARGO) test --workspace --all-features || exit $$?; \
	echo "make test: passed in $$(( $$(date +%s) - start )) s (wall time)"

## Benchmarks against raw tokio in the same run (see docs/DESIGN.md, "Performance").
bench: certs
	bash tools/bench.sh

## Formatting and clippy, warnings are errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
