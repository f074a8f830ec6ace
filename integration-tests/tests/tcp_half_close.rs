//! Half-close over TCP: `write_eof`, and what `eof_received`'s return value
//! does (spec cases T03–T05, contract item 3).

mod support;

use std::time::Duration;

use aioproto::{ConnectOptions, create_connection};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// T03: the client writes `hello` and half-closes; it is not closing and can
/// still receive. The server's `eof_received` writes a reply, returns true
/// (keep open), and closes 50 ms later. The client gets the reply, then
/// `eof, cl(None)` (its `eof_received` returns false); the server gets
/// `cm, dr, eof, cl(None)`.
#[tokio::test]
async fn t03_eof_received_true_keeps_the_write_side_open() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(|log| {
        Events::new(log).keep_open(true).on_eof(|t| {
            t.write("reply-after-eof");
            let t = t.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                t.close();
            });
        })
    })
    .await;

    let client_log = Log::new();
    let (client, _) = connect_recording(&client_log, addr.port()).await;
    client.write("hello");
    client.write_eof().unwrap();
    assert!(!client.is_closing());
    assert!(client.can_write_eof());

    let server_log = next_log(&mut rx).await;
    assert!(server_log.wait_lost().await.is_none());
    assert_eq!(server_log.data(), b"hello");
    assert_eq!(server_log.trace(), ["cm", "dr", "eof", "cl(None)"]);

    assert!(client_log.wait_lost().await.is_none());
    assert_eq!(client_log.data(), b"reply-after-eof");
    assert_eq!(client_log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    server.close();
}

/// T03 negative check: a client whose `eof_received` returns true does not
/// get `connection_lost` when the peer closes, only when it calls `close()`.
#[tokio::test]
async fn t03_keep_open_client_is_lost_only_after_its_own_close() {
    init_tracing();
    let (server, addr, _rx) = recording_server(|log| {
        Events::new(log).on_made(|t| {
            t.write("bye");
            t.close();
        })
    })
    .await;
    let log = Log::new();
    let (client, _) = create_connection(
        || Events::new(&log).keep_open(true),
        "127.0.0.1",
        addr.port(),
        &ConnectOptions::new(),
    )
    .await
    .unwrap();
    log.wait_for("eof").await;
    // Negative check: nothing may arrive; a short grace period shows it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.lost_count(), 0);
    assert!(!client.is_closing());
    client.close();
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    server.close();
}

/// T04: `eof_received` returning false (the default) closes the connection
/// without a `close()` call; data written inside `eof_received` still
/// reaches the peer before the FIN.
#[tokio::test]
async fn t04_eof_received_false_auto_closes_after_flushing() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(|log| {
        Events::new(log).on_eof(|t| {
            t.write("written-in-eof-received");
        })
    })
    .await;
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, b"data").await;
    client.shutdown().await.unwrap();
    let log = next_log(&mut rx).await;
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    assert_eq!(read_to_eof(&mut client).await, b"written-in-eof-received");
    server.close();
}

/// T05: `write_eof` waits for the buffer to drain before sending FIN (the
/// peer gets every byte, then EOF); a second `write_eof` and one after
/// `close()` are no-ops. Documented divergence: asyncio raises RuntimeError for
/// `write()`/`writelines()` after `write_eof()`; aioproto drops the data and
/// logs an error, and the buffer size does not change.
#[tokio::test]
async fn t05_write_eof_flushes_first_and_later_writes_are_dropped() {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Log::new();
    let (client, _) = connect_recording(&log, port).await;
    let (mut peer, _) = with_timeout(listener.accept()).await.unwrap();

    // The peer does not read yet: 8 MiB cannot all fit in the kernel buffers.
    const TOTAL: usize = 8 * 1024 * 1024;
    let payload: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
    client.write(payload.clone());
    assert!(client.get_write_buffer_size() > 0);
    client.write_eof().unwrap();
    client.write_eof().unwrap(); // idempotent
    let before = client.get_write_buffer_size();
    client.write("dropped");
    client.writelines(["also", "dropped"]);
    assert_eq!(client.get_write_buffer_size(), before);
    assert!(!client.is_closing());

    // EOF may only follow the last byte: read everything up to it.
    let mut first = vec![0u8; 1024];
    with_timeout(peer.read_exact(&mut first)).await.unwrap();
    let mut rest = Vec::new();
    with_timeout(peer.read_to_end(&mut rest)).await.unwrap();
    first.extend_from_slice(&rest);
    assert_eq!(first.len(), TOTAL, "every byte arrives before EOF");
    assert!(first == payload);

    // The half-closed client still reads; the peer's reply and FIN end it.
    peer.write_all(b"ack").await.unwrap();
    drop(peer);
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.data(), b"ack");
    // 8 MiB over the 64 KiB mark paused the protocol; draining resumed it.
    assert_eq!(log.trace(), ["cm", "pw", "rw", "dr", "eof", "cl(None)"]);
}

/// T05: `write_eof()` after `close()` is a no-op (no error, no FIN before the
/// flush), and the closed transport ends cleanly.
#[tokio::test]
async fn t05_write_eof_after_close_is_a_no_op() {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Log::new();
    let (client, _) = connect_recording(&log, port).await;
    let (mut peer, _) = with_timeout(listener.accept()).await.unwrap();
    client.write("last words");
    client.close();
    client.write_eof().unwrap();
    assert_eq!(read_to_eof(&mut peer).await, b"last words");
    assert!(log.wait_lost().await.is_none());
}

/// Contract 3: the server side can half-close too, and the client's
/// `eof_received` returning true lets it answer after EOF.
#[tokio::test]
async fn server_write_eof_then_client_answers_after_eof() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(|log| {
        Events::new(log).on_made(|t| {
            t.write("question");
            t.write_eof().unwrap();
        })
    })
    .await;
    let client_log = Log::new();
    let (_client, _) = create_connection(
        || {
            Events::new(&client_log).keep_open(true).on_eof(|t| {
                t.write("answer");
                t.close();
            })
        },
        "127.0.0.1",
        addr.port(),
        &ConnectOptions::new(),
    )
    .await
    .unwrap();
    let server_log = next_log(&mut rx).await;
    assert!(client_log.wait_lost().await.is_none());
    assert_eq!(client_log.data(), b"question");
    assert!(server_log.wait_lost().await.is_none());
    assert_eq!(server_log.data(), b"answer");
    assert_eq!(server_log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    server.close();
}
