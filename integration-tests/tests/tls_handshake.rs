//! Handshakes that go wrong, and TLS time limits: plaintext on a TLS port,
//! stalled handshakes on both sides, a peer that hangs up mid-handshake, many
//! failed handshakes in a row, and the shutdown timeout (spec T29-T31, T36;
//! contract 6).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aioproto::Error;
use rustls::pki_types::ServerName;
use support::pki::*;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads until EOF or an error; returns what arrived before it.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// A plaintext client on a TLS port is dropped after a failed handshake; no
/// protocol is made, and the server goes on serving TLS.
#[tokio::test]
async fn plaintext_client_on_tls_port() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    with_timeout(read_until_closed(&mut plain)).await;
    assert!(
        logs.try_recv().is_err(),
        "no protocol for a failed handshake"
    );
    assert!(server.is_serving());

    let mut client = pki.raw_connect(addr).await;
    client.write_all(b"after").await.unwrap();
    let log = next_log(&mut logs).await;
    log.wait_data(5).await;
    assert_eq!(log.events()[0], "cm");
    server.close();
}

/// A server keeps serving after 100 failed handshakes, and made no protocol for them.
#[tokio::test]
async fn server_keeps_serving_after_100_failed_handshakes() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let failures = (0..100).map(|i| async move {
        let mut plain = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            let _ = plain.write_all(b"\x16\x03\x01\x00\x05hello").await;
        } else {
            let _ = plain.write_all(b"not TLS at all\r\n").await;
        }
        read_until_closed(&mut plain).await;
    });
    // In batches of 10, so the test does not depend on the listen backlog.
    let failures: Vec<_> = failures.collect();
    let mut failures = failures.into_iter();
    loop {
        let batch: Vec<_> = failures.by_ref().take(10).collect();
        if batch.is_empty() {
            break;
        }
        with_timeout(futures_join_all(batch)).await;
    }
    assert!(logs.try_recv().is_err());
    assert_eq!(server.connection_count(), 0);

    let log = Log::new();
    let (transport, _) = with_timeout(connect_tls_recording(
        &log,
        "localhost",
        addr.port(),
        pki.client_tls(),
    ))
    .await
    .expect("handshake 101 succeeds");
    transport.write("alive");
    let server_log = next_log(&mut logs).await;
    server_log.wait_data(5).await;
    transport.close();
    log.wait_lost().await;
    server.close();
}

/// Joins futures without an extra dependency.
async fn futures_join_all<F: std::future::Future<Output = ()> + Send + 'static>(futs: Vec<F>) {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    for h in handles {
        h.await.unwrap();
    }
}

/// T29 (server side): a client that connects and says nothing is dropped after
/// the handshake timeout.
#[tokio::test]
async fn server_handshake_timeout_drops_silent_client() {
    init_tracing();
    let pki = Pki::new();
    let mut tls = pki.server_tls("server");
    tls.handshake_timeout(Duration::from_millis(300)).unwrap();
    let (server, addr, mut logs) = tls_recording_server(tls, Events::new).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let got = with_timeout(read_until_closed(&mut silent)).await;
    let elapsed = started.elapsed();
    assert!(got.is_empty());
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(logs.try_recv().is_err());
    server.close();
}

/// `wait_closed()` waits for a handshake that is still in progress when the
/// server closes (asyncio counts the connection from accept on).
#[tokio::test(flavor = "current_thread")]
async fn wait_closed_waits_for_handshakes_in_progress() {
    init_tracing();
    let pki = Pki::new();
    let mut tls = pki.server_tls("server");
    tls.handshake_timeout(Duration::from_millis(300)).unwrap();
    let (server, addr, _logs) = tls_recording_server(tls, Events::new).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // On a current-thread runtime each yield polls the I/O driver first, so the
    // accept loop takes the connection and starts its handshake.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let started = Instant::now();
    server.close();
    with_timeout(server.wait_closed()).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150),
        "returned after {waited:?}"
    );
    assert!(
        with_timeout(read_until_closed(&mut silent))
            .await
            .is_empty()
    );
}

/// A client that sends its ClientHello and then stalls mid-handshake is
/// dropped after the handshake timeout.
#[tokio::test]
async fn client_stalling_mid_handshake_times_out() {
    init_tracing();
    let pki = Pki::new();
    let mut tls = pki.server_tls("server");
    tls.handshake_timeout(Duration::from_millis(300)).unwrap();
    let (server, addr, mut logs) = tls_recording_server(tls, Events::new).await;
    let mut conn = rustls::ClientConnection::new(
        pki.raw_client_config(),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&hello).await.unwrap();
    // The server answers (ServerHello...), then gives up on us.
    let answer = with_timeout(read_until_closed(&mut stream)).await;
    let elapsed = started.elapsed();
    assert!(!answer.is_empty(), "the server answered the ClientHello");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(logs.try_recv().is_err());
    server.close();
}

/// T29 (client side): a server that accepts and never speaks TLS makes
/// `create_connection` fail with a timeout after the handshake timeout, and no
/// callback runs.
#[tokio::test]
async fn client_handshake_timeout() {
    init_tracing();
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        // Hold the connection open, reading what comes, until the client gives up.
        read_until_closed(&mut s).await
    });
    let mut tls = pki.client_tls();
    tls.handshake_timeout(Duration::from_millis(300)).unwrap();
    let log = Log::new();
    let started = Instant::now();
    let outcome = with_timeout(connect_tls_recording(&log, "localhost", addr.port(), tls)).await;
    let elapsed = started.elapsed();
    let err = outcome.map(|_| ()).expect_err("timed out");
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains("handshake"), "{err}");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(log.events().is_empty());
    // The server side sees the connection closed (T30).
    let hello = with_timeout(held).await.unwrap();
    assert!(!hello.is_empty(), "the ClientHello arrived");
}

/// T31: the server reads the ClientHello and hangs up. `create_connection`
/// fails with a connection error; the protocol gets no callback.
#[tokio::test]
async fn peer_closes_during_handshake() {
    init_tracing();
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        drop(s);
    });
    let log = Log::new();
    let outcome = with_timeout(connect_tls_recording(
        &log,
        "localhost",
        addr.port(),
        pki.client_tls(),
    ))
    .await;
    let err = outcome.map(|_| ()).expect_err("the peer hung up");
    assert!(err.is_closed(), "{err:?}");
    assert!(log.events().is_empty());
}

/// T36: the peer completes the handshake, then never reads or sends. A local
/// `close()` gives `connection_lost(Timeout("SSL shutdown timed out"))` after
/// the shutdown timeout.
#[tokio::test]
async fn shutdown_timeout() {
    init_tracing();
    let pki = Pki::new();
    let mut tls = pki.server_tls("server");
    tls.shutdown_timeout(Duration::from_millis(300)).unwrap();
    let (server, addr, mut logs) = tls_recording_server(tls, Events::new).await;
    let client = pki.raw_connect(addr).await;
    let log = next_log(&mut logs).await;
    let transport = with_timeout(async {
        loop {
            if let Some(t) = server.connections().pop() {
                return t;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let started = Instant::now();
    transport.write("bye");
    transport.close();
    let err = log.wait_lost().await.expect("a timeout, not a clean close");
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert_eq!(err.to_string(), "timed out: SSL shutdown timed out");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert_eq!(log.lost_count(), 1);
    drop(client);
    server.close();
}

/// `abort()` sends no close_notify: the raw peer sees the stream end without it.
#[tokio::test]
async fn abort_sends_no_close_notify() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) = tls_recording_server(pki.server_tls("server"), |log| {
        Events::new(log).on_data(|t, _| t.abort())
    })
    .await;
    let mut client = pki.raw_connect(addr).await;
    client.write_all(b"x").await.unwrap();
    let mut rest = Vec::new();
    let err = with_timeout(client.read_to_end(&mut rest))
        .await
        .expect_err("no close_notify before the end");
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof, "{err}");
    let log = next_log(&mut logs).await;
    assert!(
        log.wait_lost().await.is_none(),
        "abort() is a clean local close"
    );
    server.close();
}

/// Many TLS clients at once each get their echo (T26 in miniature).
#[tokio::test]
async fn concurrent_clients() {
    init_tracing();
    let pki = Arc::new(Pki::new());
    let (server, addr) = tls_echo_server(pki.server_tls("server")).await;
    let mut tasks = Vec::new();
    for i in 0..25u8 {
        let pki = pki.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = pki.raw_connect(addr).await;
            let msg = vec![i; 100 * 1024];
            c.write_all(&msg).await.unwrap();
            let mut back = vec![0u8; msg.len()];
            c.read_exact(&mut back).await.unwrap();
            assert_eq!(back, msg);
            c.shutdown().await.unwrap();
        }));
    }
    for t in tasks {
        with_timeout(t).await.unwrap();
    }
    server.close();
}
