//! Admission limits: `max_connections` holds the next client in the kernel's
//! backlog until a connection ends (nobody is reset), TLS handshakes in
//! progress count as open, and `max_tls_handshakes` keeps stalled handshakes
//! from taking more sockets than the cap.

mod support;

use std::time::Instant;

use aioproto::ServerOptions;
use support::pki::*;
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Echoes what it reads, recording into its log.
fn echo_events(log: &std::sync::Arc<Log>) -> Events {
    Events::new(log).on_data(|t, data| t.write(data.clone()))
}

/// With `max_connections(2)`, a third client connects (into the backlog) but
/// gets no `connection_made` until one of the first two leaves; then it is
/// served, and what it sent while waiting was not lost.
#[tokio::test]
async fn max_connections_holds_the_next_client_in_the_backlog() {
    init_tracing();
    let mut options = ServerOptions::new();
    options.max_connections(2);
    let (server, addr, mut logs) = recording_server_with(&options, echo_events).await;

    let first = raw_connect(addr).await;
    next_log(&mut logs).await.wait_for("cm").await;
    let mut second = raw_connect(addr).await;
    next_log(&mut logs).await.wait_for("cm").await;

    // The kernel completes the third client's TCP handshake: it is in the backlog.
    let mut third = raw_connect(addr).await;
    raw_write(&mut third, b"ping").await;
    // A round trip on the second connection gives the server turns to run.
    raw_write(&mut second, b"x").await;
    assert_eq!(read_exact(&mut second, 1).await, b"x");
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert!(logs.try_recv().is_err(), "the third client must wait");
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.open), (2, 2), "{stats}");

    drop(first);
    let log = next_log(&mut logs).await;
    log.wait_for("cm").await;
    assert_eq!(
        read_exact(&mut third, 4).await,
        b"ping",
        "served, not reset"
    );

    let stats = server.stats();
    assert_eq!(stats.accepted, 3, "{stats}");
    assert_eq!(stats.peak_open, 2, "{stats}");
    assert_eq!(stats.closed_cleanly, 1, "{stats}");
    server.close();
}

/// A TLS handshake in progress counts as an open connection: with
/// `max_connections(1)`, a client that stalls its handshake holds the next
/// client back until its handshake times out.
#[tokio::test]
async fn tls_handshakes_count_as_open_connections() {
    init_tracing();
    let pki = Pki::new();
    let timeout = ms(400);
    let mut tls = pki.server_tls("server");
    tls.handshake_timeout(timeout).unwrap();
    let mut options = ServerOptions::new();
    options.tls(tls).max_connections(1);
    let (server, addr, mut logs) = recording_server_with(&options, Events::new).await;

    let started = Instant::now();
    let _stalled = stalled_handshake(&pki, addr).await;
    let _client = with_timeout(pki.raw_connect(addr)).await;
    let waited = started.elapsed();
    next_log(&mut logs).await.wait_for("cm").await;

    assert!(waited >= timeout, "served after {waited:?}");
    let stats = server.stats();
    assert_eq!(stats.tls_handshakes_failed, 1, "{stats}");
    assert_eq!(stats.peak_open, 1, "{stats}");
    server.close();
}

/// With `max_tls_handshakes(2)`, three clients connect and send nothing: the
/// third handshake starts only when a stalled one times out, so at most two
/// sockets are ever held, and the third client is dropped after two timeouts.
#[tokio::test]
async fn handshake_cap_holds_stalled_clients_back() {
    init_tracing();
    let pki = Pki::new();
    let timeout = ms(400);
    let mut tls = pki.server_tls("server");
    tls.handshake_timeout(timeout).unwrap();
    let mut options = ServerOptions::new();
    options.tls(tls).max_tls_handshakes(2);
    let (server, addr, mut logs) = recording_server_with(&options, Events::new).await;

    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(raw_connect(addr).await);
    }
    let closed_after = move |mut stream: TcpStream| async move {
        let mut buf = [0u8; 64];
        // EOF (or a reset) once the server gives up on the handshake.
        let _ = with_timeout(stream.read(&mut buf)).await;
        started.elapsed()
    };
    let waits: Vec<_> = silent
        .into_iter()
        .map(|s| tokio::spawn(closed_after(s)))
        .collect();
    let mut closed = Vec::new();
    for wait in waits {
        closed.push(with_timeout(wait).await.unwrap());
    }
    closed.sort();

    // Timers never fire early; the slack covers rounding to the timer's millisecond.
    let slack = ms(20);
    assert!(closed[0] + slack >= timeout, "{closed:?}");
    assert!(
        closed[2] + slack >= timeout * 2,
        "the third handshake started before one timed out: {closed:?}"
    );
    let stats = server.stats();
    assert_eq!(stats.accepted, 3, "{stats}");
    assert_eq!(stats.tls_handshakes_failed, 3, "{stats}");
    assert_eq!(stats.peak_open, 2, "at most two sockets held: {stats}");
    assert_eq!(stats.tls_handshaking, 0, "{stats}");
    assert!(
        logs.try_recv().is_err(),
        "no protocol for a failed handshake"
    );

    // The server goes on serving.
    let _client = with_timeout(pki.raw_connect(addr)).await;
    next_log(&mut logs).await.wait_for("cm").await;
    server.close();
}

/// The handshake cap does not limit plain servers, nor finished handshakes:
/// with a cap of 1, many TLS clients in a row are all served.
#[tokio::test]
async fn handshake_cap_counts_only_handshakes_in_progress() {
    init_tracing();
    let pki = Pki::new();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server")).max_tls_handshakes(1);
    let (server, addr, mut logs) = recording_server_with(&options, Events::new).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(with_timeout(pki.raw_connect(addr)).await);
        next_log(&mut logs).await.wait_for("cm").await;
    }
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.open), (5, 5), "{stats}");
    drop(clients);
    server.close();
    server.abort_clients();
    with_timeout(server.wait_closed()).await;
}
