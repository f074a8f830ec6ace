//! Relaying between a TLS connection and a TCP one: bytes both ways exact,
//! and TLS 1.3 half-close (close_notify) passing as a FIN and back.

mod support;

use aioproto::{ServerOptions, create_server, splice};
use support::pki::Pki;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw TLS client's 1 MiB reach the TCP peer and the peer's 1 MiB come
/// back. The TCP peer's FIN reaches the client as close_notify (TLS 1.3
/// half-close), and the client can still send; its own close_notify then
/// reaches the TCP peer as EOF.
#[tokio::test]
async fn tls_to_tcp_both_ways_with_half_close() {
    init_tracing();
    let pki = Pki::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let server = create_server(move || HandOver(tx.clone()), "127.0.0.1", 0, &options)
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    let mut tls_client = with_timeout(pki.raw_connect(addr)).await;
    let tls_side = with_timeout(rx.recv()).await.unwrap();
    let (tcp_side, mut tcp_peer) = held_pair().await;
    let relay = splice(&tls_side, &tcp_side).unwrap();

    let up: Vec<u8> = (0..1024 * 1024).map(|i| (i % 241) as u8).collect();
    let down: Vec<u8> = up.iter().rev().copied().collect();
    let (to_send, expected_down) = (up.clone(), down.clone());
    let client = tokio::spawn(async move {
        tls_client.write_all(&to_send).await.unwrap();
        let mut got = Vec::new();
        tls_client.read_to_end(&mut got).await.unwrap(); // to close_notify
        assert!(got == expected_down, "the TLS client got other bytes");
        tls_client.write_all(b"after close_notify").await.unwrap();
        tls_client.shutdown().await.unwrap();
    });
    let got = read_exact(&mut tcp_peer, up.len()).await;
    assert!(got == up, "the TCP peer got other bytes");
    raw_write(&mut tcp_peer, &down).await;
    tcp_peer.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut tcp_peer).await, b"after close_notify");
    with_timeout(client).await.unwrap();
    let outcome = with_timeout(relay.finished()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.stats.a_to_b, (up.len() + 18) as u64);
    assert_eq!(outcome.stats.b_to_a, down.len() as u64);
    server.close();
}
