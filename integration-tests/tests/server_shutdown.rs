//! `Server::shutdown(grace)`: well-behaved clients get everything and the
//! shutdown ends as soon as they are closed; a client that never reads, a TLS
//! peer that never answers close_notify, and a stalled TLS handshake are cut
//! at the deadline (or at once, for the handshake) and counted. Also
//! `close_clients` / `abort_clients` reaching handshakes in progress.

mod support;

use std::time::{Duration, Instant};

use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
use support::pki::*;
use support::*;
use tokio::io::AsyncReadExt;

/// What a server that writes on connect sends each client.
const GREETING: usize = 1024 * 1024;

/// Writes `GREETING` bytes (a counter pattern) on connect and nothing else.
struct Greeter;

impl BaseProtocol for Greeter {
    fn connection_made(&mut self, transport: &Transport) {
        transport.write(greeting());
    }
}
impl Protocol for Greeter {}

fn greeting() -> Vec<u8> {
    (0..GREETING).map(|i| (i % 251) as u8).collect()
}

/// A client that never reads while the server writes 50 MiB to it holds the
/// shutdown for the grace period, then is aborted and counted.
#[tokio::test]
async fn shutdown_aborts_a_client_that_never_reads_after_grace() {
    init_tracing();
    let (server, addr, mut logs) =
        recording_server(|log| Events::new(log).on_made(|t| t.write(vec![7u8; 50 << 20]))).await;
    let _client = small_buffer_socket(addr);
    let log = next_log(&mut logs).await;
    log.wait_for("cm").await;

    let grace = ms(500);
    let started = Instant::now();
    with_timeout_of(grace + Duration::from_secs(2), server.shutdown(grace)).await;
    let took = started.elapsed();

    assert!(took >= grace, "returned before the grace period: {took:?}");
    assert!(
        log.lost().expect("connection_lost ran").is_none(),
        "abort is clean"
    );
    assert!(!server.is_serving());
    let stats = server.stats();
    assert_eq!(stats.aborted_by_shutdown, 1, "{stats}");
    assert_eq!(stats.closed_cleanly, 0, "{stats}");
    assert_eq!(stats.open, 0, "{stats}");
}

/// Clients that read get every byte written to them, then EOF, and the
/// shutdown resolves as soon as they are closed, far before its grace.
#[tokio::test]
async fn shutdown_with_well_behaved_clients_flushes_and_ends_early() {
    init_tracing();
    let server = create_server(|| Greeter, "127.0.0.1", 0, &ServerOptions::new())
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    let mut readers = Vec::new();
    for _ in 0..4 {
        let mut client = raw_connect(addr).await;
        // Wait for the first byte, so every client is served before the shutdown.
        let mut first = [0u8; 1];
        with_timeout(client.read_exact(&mut first)).await.unwrap();
        readers.push(tokio::spawn(async move {
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.map(|_| {
                let mut all = first.to_vec();
                all.extend(rest);
                all
            })
        }));
    }

    // Far longer than the test's own bound: only an early return passes.
    let grace = Duration::from_secs(60);
    let started = Instant::now();
    with_timeout(server.shutdown(grace)).await;
    let took = started.elapsed();

    for reader in readers {
        let got = with_timeout(reader)
            .await
            .unwrap()
            .expect("EOF, not a reset");
        assert_eq!(got.len(), GREETING);
        assert!(got == greeting(), "every byte, in order");
    }
    assert!(took < TIMEOUT, "{took:?}");
    let stats = server.stats();
    assert_eq!(stats.closed_cleanly, 4, "{stats}");
    assert_eq!(stats.aborted_by_shutdown, 0, "{stats}");
    assert_eq!(stats.open, 0, "{stats}");
}

/// With no connection at all, shutdown just closes the server.
#[tokio::test]
async fn shutdown_of_an_idle_server_returns_at_once() {
    init_tracing();
    let (server, addr) = echo_server().await;
    with_timeout(server.shutdown(Duration::from_secs(60))).await;
    assert!(!server.is_serving());
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "refused"
    );
}

/// A TLS handshake stalled mid-way (long handshake timeout) is ended by the
/// shutdown at once, without a callback, and counted.
#[tokio::test]
async fn shutdown_ends_a_stalled_tls_handshake() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let mut stalled = stalled_handshake(&pki, addr).await;
    assert_eq!(server.stats().tls_handshaking, 1);

    with_timeout(server.shutdown(Duration::from_secs(60))).await;

    let (_, _) = read_until_closed(&mut stalled).await;
    assert!(logs.try_recv().is_err(), "no protocol for the handshake");
    let stats = server.stats();
    assert_eq!(stats.accepted, 1, "{stats}");
    assert_eq!(stats.aborted_by_shutdown, 1, "{stats}");
    assert_eq!(stats.tls_handshakes_failed, 0, "{stats}");
    assert_eq!(stats.open, 0, "{stats}");
}

/// A TLS peer that completed its handshake but never reads nor answers
/// close_notify (shutdown timeout 30 s) is aborted at the grace deadline.
#[tokio::test]
async fn shutdown_aborts_a_tls_close_notify_wait() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let _client = pki.raw_connect(addr).await;
    let log = next_log(&mut logs).await;
    log.wait_for("cm").await;

    let grace = ms(300);
    let started = Instant::now();
    with_timeout_of(grace + Duration::from_secs(2), server.shutdown(grace)).await;
    let took = started.elapsed();

    assert!(took >= grace, "{took:?}");
    assert!(log.wait_lost().await.is_none(), "abort is clean");
    let stats = server.stats();
    assert_eq!(stats.aborted_by_shutdown, 1, "{stats}");
    assert_eq!(stats.timed_out, 0, "{stats}");
}

/// `close_clients()` reaches a TLS handshake in progress: it ends at once,
/// without a callback, and `wait_closed` does not wait for its timeout.
#[tokio::test]
async fn close_clients_ends_tls_handshakes_in_progress() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let mut stalled = stalled_handshake(&pki, addr).await;
    server.close();
    server.close_clients();
    with_timeout(server.wait_closed()).await;
    let (_, _) = read_until_closed(&mut stalled).await;
    assert!(logs.try_recv().is_err());
    let stats = server.stats();
    assert_eq!(stats.closed_cleanly, 1, "{stats}");
    assert_eq!(stats.aborted_by_shutdown, 0, "{stats}");
}

/// `abort_clients()` reaches TLS handshakes in progress too.
#[tokio::test]
async fn abort_clients_ends_tls_handshakes_in_progress() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let mut first = stalled_handshake(&pki, addr).await;
    let mut second = stalled_handshake(&pki, addr).await;
    assert_eq!(server.stats().tls_handshaking, 2);
    server.abort_clients();
    let (_, _) = read_until_closed(&mut first).await;
    let (_, _) = read_until_closed(&mut second).await;
    // The server still serves: a full handshake goes through.
    let _client = pki.raw_connect(addr).await;
    let log = next_log(&mut logs).await;
    log.wait_for("cm").await;
    server.close();
    server.abort_clients();
    with_timeout(server.wait_closed()).await;
    assert_eq!(server.stats().closed_cleanly, 3);
}

/// A shutdown while TLS clients keep arriving (handshakes starting, finishing
/// and being ended concurrently, on two worker threads) still resolves within
/// grace plus the bound, and leaves every accepted connection counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_tls_clients_keep_arriving() {
    init_tracing();
    let pki = std::sync::Arc::new(Pki::new());
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let mut clients = Vec::new();
    for _ in 0..40 {
        let pki = pki.clone();
        clients.push(tokio::spawn(async move {
            let Ok(tcp) = tokio::net::TcpStream::connect(addr).await else {
                return;
            };
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let connector = tokio_rustls::TlsConnector::from(pki.raw_client_config());
            if let Ok(mut tls) = connector.connect(name, tcp).await {
                let mut rest = Vec::new();
                let _ = tls.read_to_end(&mut rest).await;
            }
        }));
    }
    next_log(&mut logs).await.wait_for("cm").await;

    let grace = ms(500);
    with_timeout_of(grace + Duration::from_secs(2), server.shutdown(grace)).await;

    let stats = server.stats();
    assert_eq!(stats.open, 0, "{stats}");
    let ended = stats.closed_cleanly
        + stats.closed_with_error
        + stats.tls_handshakes_failed
        + stats.aborted_hard_limit
        + stats.timed_out
        + stats.aborted_by_shutdown;
    assert_eq!(stats.accepted, ended, "{stats}");
    for client in clients {
        with_timeout(client).await.unwrap();
    }
}
