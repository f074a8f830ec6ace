#!/usr/bin/env bash
# Bounded memory against peers that never read (issue 12): the README's echo
# protocol in a child process, 200 non-reading clients pushing 2 GiB (target:
# peak RSS under 64 MiB), and one non-reading TLS client (target: under 32 MiB).
# Every byte must still come back once the clients read. The figures come from
# the integration tests that assert the targets, run here in release mode.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$BENCH_ROOT"
echo "non-reading peers against the README echo protocol (peak RSS of the server process)"
for test in "tcp_bounded_memory:non_reading_clients_keep_a_plain_echo_server_under_64_mib:plain TCP, 200 clients:64" \
            "tls_bounded_memory::TLS, 1 client:32"; do
    IFS=: read -r file filter label limit <<<"$test"
    cargo test --release --quiet -p integration-tests --all-features --test "$file" -- \
        --nocapture --test-threads 1 ${filter:+"$filter"} 2>/dev/null \
        | grep -E "echoed" | sed 's/^/  /' | tee "$BENCH_TMP/$file.out"
    # "... RSS when held X MiB, peak Y MiB": one row per test of the file.
    while read -r peak; do
        record "non-reading peers, $label, peak RSS" MiB aioproto "$peak" "<=$limit"
    done < <(sed -n 's/.*peak \([0-9.]*\) MiB.*/\1/p' "$BENCH_TMP/$file.out" | head -n1)
done
echo "  targets: plain under 64 MiB, TLS under 32 MiB (asserted by the tests)"
