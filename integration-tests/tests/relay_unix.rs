//! Relaying between a Unix socket connection and a TCP one.

mod support;

use aioproto::{ServerOptions, create_unix_server, splice};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A Unix client's bytes reach the TCP peer and back, and its half-close
/// reaches the peer as EOF; the peer's answer and FIN come back.
#[tokio::test]
async fn unix_to_tcp_both_ways_with_half_close() {
    init_tracing();
    let dir = TempDir::new("relay");
    let path = dir.path("relay.sock");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = create_unix_server(move || HandOver(tx.clone()), &path, &ServerOptions::new())
        .await
        .unwrap();
    let mut unix_client = with_timeout(tokio::net::UnixStream::connect(&path))
        .await
        .unwrap();
    let unix_side = with_timeout(rx.recv()).await.unwrap();
    let (tcp_side, mut tcp_peer) = held_pair().await;
    let relay = splice(&unix_side, &tcp_side).unwrap();

    let up = vec![3u8; 512 * 1024];
    with_timeout(unix_client.write_all(&up)).await.unwrap();
    unix_client.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut tcp_peer).await, up);
    raw_write(&mut tcp_peer, b"over unix").await;
    tcp_peer.shutdown().await.unwrap();
    let mut back = Vec::new();
    with_timeout(unix_client.read_to_end(&mut back))
        .await
        .unwrap();
    assert_eq!(back, b"over unix");
    let outcome = with_timeout(relay.finished()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    server.close();
}
