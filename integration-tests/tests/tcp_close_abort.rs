//! `close()` and `abort()` over TCP, and writes after close (spec cases
//! T06–T08, contract items 1 and 2).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aioproto::{ConnectOptions, Transport, create_connection};
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tracing_subscriber::layer::SubscriberExt;

/// A client transport whose peer is a raw socket that reads only when told.
async fn client_with_idle_peer(log: &Arc<Log>) -> (Transport, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (client, _) = create_connection(
        || Events::new(log),
        "127.0.0.1",
        port,
        &ConnectOptions::new(),
    )
    .await
    .unwrap();
    let (peer, _) = with_timeout(listener.accept()).await.unwrap();
    (client, peer)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 253) as u8).collect()
}

/// T06: `close()` with buffered data: `is_closing()` at once, `is_reading()`
/// false, no `cl` while the peer does not read; the peer then gets every
/// byte and EOF, and only then does `cl(None)` run.
#[tokio::test]
async fn t06_close_flushes_the_buffer_before_connection_lost() {
    init_tracing();
    let log = Log::new();
    let (client, mut peer) = client_with_idle_peer(&log).await;
    const TOTAL: usize = 8 * 1024 * 1024;
    let data = payload(TOTAL);
    client.write(data.clone());
    log.wait_for("pw").await; // the driver flushed what the kernel takes
    assert!(client.get_write_buffer_size() > 0);
    client.close();
    assert!(client.is_closing());
    assert!(!client.is_reading());
    // Negative check: the peer is not reading, so nothing may end the connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        log.lost_count(),
        0,
        "no connection_lost while data is pending"
    );

    let got = read_to_eof(&mut peer).await;
    assert_eq!(got.len(), TOTAL);
    assert!(got == data);
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.lost_count(), 1);
}

/// T06 quirk (documented divergence): CPython still appends and sends writes
/// made after `close()` while the buffer is non-empty; aioproto drops every
/// write after `close()`, so the peer gets exactly what was written before.
#[tokio::test]
async fn t06_write_after_close_with_pending_buffer_is_dropped() {
    init_tracing();
    let log = Log::new();
    let (client, mut peer) = client_with_idle_peer(&log).await;
    const TOTAL: usize = 16 * 1024 * 1024;
    client.write(payload(TOTAL));
    log.wait_for("pw").await;
    client.close();
    let pending = client.get_write_buffer_size();
    client.write("after close");
    assert_eq!(client.get_write_buffer_size(), pending);
    let got = read_to_eof(&mut peer).await;
    assert_eq!(got.len(), TOTAL);
    assert!(log.wait_lost().await.is_none());
}

/// T07: `abort()` drops the buffer; `connection_lost(None)` runs after the
/// call, exactly once even after more `close()`/`abort()` calls; the peer gets
/// only a prefix; no `dr`/`eof` after the abort.
#[tokio::test]
async fn t07_abort_drops_the_buffer_and_is_idempotent() {
    init_tracing();
    let log = Log::new();
    let (client, mut peer) = client_with_idle_peer(&log).await;
    const TOTAL: usize = 8 * 1024 * 1024;
    client.write(payload(TOTAL));
    log.wait_for("pw").await;
    client.abort();
    assert_eq!(
        log.lost_count(),
        0,
        "abort() never calls connection_lost inline"
    );
    assert!(client.is_closing());
    client.close();
    client.abort();
    assert!(log.wait_lost().await.is_none());

    let mut got = Vec::new();
    // EOF or RST, both end the stream; only a prefix arrived.
    let _ = with_timeout(peer.read_to_end(&mut got)).await;
    assert!(
        got.len() < TOTAL,
        "abort dropped the buffer ({} bytes)",
        got.len()
    );
    assert!(
        got[..] == payload(got.len())[..],
        "what arrived is a prefix"
    );
    tokio::task::yield_now().await;
    assert_eq!(log.trace(), ["cm", "pw", "cl(None)"]);
    assert_eq!(log.lost_count(), 1);
    assert_eq!(client.get_write_buffer_size(), 0);
}

/// T07: `close(); close()` gives a single `cl(None)`, and the peer sees a
/// clean EOF after the flushed data.
#[tokio::test]
async fn t07_double_close_is_a_single_connection_lost() {
    init_tracing();
    let log = Log::new();
    let (client, mut peer) = client_with_idle_peer(&log).await;
    client.write("x");
    client.close();
    client.close();
    assert_eq!(read_to_eof(&mut peer).await, b"x");
    assert!(log.wait_lost().await.is_none());
    tokio::task::yield_now().await;
    assert_eq!(log.trace(), ["cm", "cl(None)"]);
}

/// Counts WARN events emitted on this thread.
struct CountWarnings(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::WARN {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// T08: after `close()` with an empty buffer, writes are dropped and never
/// panic; the warning is logged from the 5th dropped write on, not for 1–4.
/// The same holds once the connection has ended. An empty write is a no-op.
#[tokio::test]
async fn t08_writes_after_close_are_dropped_and_warned_from_the_fifth() {
    init_tracing();
    let log = Log::new();
    let (client, mut peer) = client_with_idle_peer(&log).await;
    client.write(bytes::Bytes::new());
    client.write("");
    assert_eq!(client.get_write_buffer_size(), 0, "empty writes are no-ops");

    client.close();
    let warnings = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(CountWarnings(warnings.clone()));
    tracing::subscriber::with_default(subscriber, || {
        for i in 1..=4 {
            client.write(format!("dropped {i}"));
        }
        assert_eq!(warnings.load(Ordering::SeqCst), 0, "writes 1-4 are silent");
        client.write("dropped 5");
        assert_eq!(warnings.load(Ordering::SeqCst), 1, "the 5th is logged");
        client.writelines(["dropped", "6"]);
        client.write_slice(b"dropped 7");
        assert_eq!(warnings.load(Ordering::SeqCst), 3, "every later one too");
    });
    assert_eq!(client.get_write_buffer_size(), 0);
    assert_eq!(read_to_eof(&mut peer).await, b"");
    assert!(log.wait_lost().await.is_none());
    // After the end, writes are still dropped quietly and nothing panics.
    client.write("after the end");
    assert_eq!(client.get_write_buffer_size(), 0);
}

/// T08: after a fatal error (peer reset), writes are dropped the same way.
#[tokio::test]
async fn t08_writes_after_a_fatal_error_are_dropped() {
    init_tracing();
    let log = Log::new();
    let (client, peer) = client_with_idle_peer(&log).await;
    reset(peer);
    let lost = log.wait_lost().await;
    assert!(lost.as_ref().is_some_and(|e| e.is_closed()), "{lost:?}");
    for _ in 0..10 {
        client.write("dropped");
    }
    assert_eq!(client.get_write_buffer_size(), 0);
    assert!(client.is_closing());
}

/// Contract 2: a peer that resets while `close()` is still flushing turns
/// the clean close into `connection_lost(Some(err))`, exactly once.
#[tokio::test]
async fn reset_while_closing_with_pending_data_is_an_error() {
    init_tracing();
    let log = Log::new();
    let (client, peer) = client_with_idle_peer(&log).await;
    client.write(payload(8 * 1024 * 1024));
    log.wait_for("pw").await;
    client.close();
    reset(peer);
    let lost = log.wait_lost().await;
    assert!(lost.as_ref().is_some_and(|e| e.is_closed()), "{lost:?}");
    assert_eq!(log.lost_count(), 1);
}

/// `set_protocol` then `abort()` in the same callback: the switch happens
/// first, so the new protocol is the one told of the end (as asyncio, whose
/// `set_protocol` takes effect at once); the old one hears nothing more.
#[tokio::test]
async fn set_protocol_then_abort_tells_the_new_protocol() {
    init_tracing();
    let next = Log::new();
    let switched = next.clone();
    let (server, addr, mut rx) = recording_server(move |log| {
        let switched = switched.clone();
        Events::new(log).on_data(move |t, _| {
            t.set_protocol(Events::new(&switched));
            t.abort();
        })
    })
    .await;
    let mut client = raw_connect(addr).await;
    let log = next_log(&mut rx).await;
    raw_write(&mut client, b"go").await;
    assert!(
        next.wait_lost().await.is_none(),
        "abort: connection_lost(None)"
    );
    assert_eq!(next.lost_count(), 1);
    assert_eq!(log.lost_count(), 0, "the replaced protocol heard nothing");
    server.close();
}
