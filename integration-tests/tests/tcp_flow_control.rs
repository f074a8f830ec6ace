//! Write flow control over TCP: limits, pause/resume pairing, the hard limit
//! (spec cases T13, T14; contract item 4).
//!
//! Documented divergence: asyncio calls `pause_writing()` synchronously inside
//! the `write()` (or `set_write_buffer_limits()`) that crossed the mark;
//! aioproto calls it on the driver task right after the callback (or the
//! batch of writes from other tasks) that crossed it, once the driver has
//! tried to flush. These tests check that order.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aioproto::{ConnectOptions, Error, Transport, create_connection};
use support::*;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

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

/// Reads exactly `n` bytes from the peer.
async fn drain(peer: &mut TcpStream, n: usize) {
    let mut buf = vec![0u8; n];
    with_timeout(peer.read_exact(&mut buf)).await.unwrap();
}

/// T13: defaults and derived limits; `high < low` is an error naming both.
#[tokio::test]
async fn t13_limits_api() {
    init_tracing();
    let log = Log::new();
    let (t, _peer) = client_with_idle_peer(&log).await;
    assert_eq!(t.get_write_buffer_limits(), (16384, 65536));
    t.set_write_buffer_limits(Some(100), None).unwrap();
    assert_eq!(t.get_write_buffer_limits(), (25, 100));
    t.set_write_buffer_limits(None, Some(10)).unwrap();
    assert_eq!(t.get_write_buffer_limits(), (10, 40));
    let err = t.set_write_buffer_limits(Some(0), Some(1)).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(err.to_string().contains("must be >= low"), "{err}");
    assert_eq!(
        t.get_write_buffer_limits(),
        (10, 40),
        "a bad call changes nothing"
    );
    t.set_write_buffer_limits(None, None).unwrap();
    assert_eq!(t.get_write_buffer_limits(), (16384, 65536));
}

/// T13: `set_write_buffer_limits` re-evaluates the current buffer against the
/// new marks in both directions: raising low above the size resumes, marks
/// around the size do nothing, lowering high below it pauses.
#[tokio::test]
async fn t13_set_write_buffer_limits_re_evaluates() {
    init_tracing();
    let log = Log::new();
    let (t, _peer) = client_with_idle_peer(&log).await;
    t.write(vec![7u8; 8 * 1024 * 1024]);
    log.wait_for("pw").await;
    // The peer does not read, so the size is stable from here on.
    let size = t.get_write_buffer_size();
    assert!(size > 65536, "{size}");

    t.set_write_buffer_limits(Some(size * 4), Some(size))
        .unwrap();
    log.wait_until("resume after raising low", |l| l.count("rw") == 1)
        .await;
    t.set_write_buffer_limits(Some(size + 1), Some(size / 2))
        .unwrap();
    t.set_write_buffer_limits(Some(size), Some(size / 2))
        .unwrap(); // equal to high: no pause
    // Negative check: neither call may produce an event.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.events(), ["cm", "pw", "rw"]);
    t.set_write_buffer_limits(Some(size - 1), Some(size / 2))
        .unwrap();
    log.wait_until("pause after lowering high", |l| l.count("pw") == 2)
        .await;
    assert_eq!(log.events(), ["cm", "pw", "rw", "pw"]);
    assert_eq!(t.get_write_buffer_size(), size);
}

/// T14: a write the kernel takes in full never pauses, even if it is larger
/// than the high-water mark.
#[tokio::test]
async fn t14_write_accepted_in_full_never_pauses() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let log = Log::new();
    let (t, _) = connect_recording(&log, addr.port()).await;
    t.set_write_buffer_limits(Some(4), None).unwrap();
    t.write(vec![1u8; 1000]);
    log.wait_data(1000).await;
    assert_eq!(log.count("pw"), 0);
    assert_eq!(t.get_write_buffer_size(), 0);
    t.close();
    log.wait_lost().await;
    server.close();
}

/// T14 / contract 4: `get_write_buffer_size()` is exact: every byte written
/// and not yet handed to the kernel, chunk by chunk, and 0 after abort.
#[tokio::test(flavor = "current_thread")]
async fn t14_get_write_buffer_size_is_exact() {
    init_tracing();
    let log = Log::new();
    let (t, mut peer) = client_with_idle_peer(&log).await;
    // Nothing runs the driver between these calls on a current-thread runtime.
    t.write("abc");
    assert_eq!(t.get_write_buffer_size(), 3);
    t.writelines(["de", "", "fgh"]);
    assert_eq!(t.get_write_buffer_size(), 8);
    t.write_slice(&[0u8; 100]);
    assert_eq!(t.get_write_buffer_size(), 108);
    // Fill the kernel so the buffer keeps a remainder, then account for it.
    // Loopback socket buffers can absorb several MiB, so write well beyond that.
    const TOTAL: usize = 24 * 1024 * 1024;
    t.write(vec![9u8; TOTAL]);
    log.wait_for("pw").await;
    let left = t.get_write_buffer_size();
    assert!(left > 0 && left < TOTAL + 108);
    t.close();
    let got = read_to_eof(&mut peer).await;
    assert_eq!(got.len(), TOTAL + 108);
    assert_eq!(t.get_write_buffer_size(), 0);
}

/// T14: pause/resume pair up and strictly alternate over many cycles with a
/// peer that reads in bursts; a producer that respects `pause_writing` keeps
/// the buffer near the high-water mark; no byte is lost.
#[tokio::test]
async fn t14_pause_resume_strictly_alternate() {
    init_tracing();
    let log = Log::new();
    let paused = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (p1, p2) = (paused.clone(), paused.clone());
    let (t, _) = create_connection(
        || {
            Events::new(&log)
                .on_pause(move |_| p1.store(true, Ordering::SeqCst))
                .on_resume(move |_| p2.store(false, Ordering::SeqCst))
        },
        "127.0.0.1",
        port,
        &ConnectOptions::new(),
    )
    .await
    .unwrap();
    let (mut peer, _) = with_timeout(listener.accept()).await.unwrap();
    t.set_write_buffer_limits(Some(64 * 1024), Some(16 * 1024))
        .unwrap();

    const CHUNK: usize = 16 * 1024;
    const TOTAL: usize = 16 * 1024 * 1024;
    let writer = {
        let t = t.clone();
        let paused = paused.clone();
        let log = log.clone();
        tokio::spawn(async move {
            let mut sent = 0;
            let mut max_buffered = 0;
            while sent < TOTAL {
                if paused.load(Ordering::SeqCst) {
                    let resumes = log.count("rw");
                    log.wait_until("resume_writing", |l| l.count("rw") > resumes)
                        .await;
                    continue;
                }
                t.write(vec![(sent / CHUNK) as u8; CHUNK]);
                sent += CHUNK;
                max_buffered = max_buffered.max(t.get_write_buffer_size());
                tokio::task::yield_now().await;
            }
            t.close();
            max_buffered
        })
    };
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = with_timeout(peer.read(&mut buf)).await.unwrap();
        if n == 0 {
            break;
        }
        assert!(
            buf[..n]
                .iter()
                .enumerate()
                .all(|(i, b)| *b == ((got + i) / CHUNK) as u8)
        );
        got += n;
        if got % (2 * 1024 * 1024) < n {
            // Stop reading for a moment so the writer fills the buffers again.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert_eq!(got, TOTAL);
    let max_buffered = with_timeout(writer).await.unwrap();
    assert!(max_buffered <= 64 * 1024 + 2 * CHUNK, "{max_buffered}");
    log.wait_lost().await;
    let flow: Vec<String> = log
        .events()
        .into_iter()
        .filter(|e| e == "pw" || e == "rw")
        .collect();
    assert!(flow.len() >= 2, "{flow:?}");
    for (i, e) in flow.iter().enumerate() {
        assert_eq!(e, if i % 2 == 0 { "pw" } else { "rw" }, "{flow:?}");
    }
}

/// T14: `writelines()` pauses too (gh-127655 fixed behaviour).
#[tokio::test]
async fn t14_writelines_pauses_too() {
    init_tracing();
    let log = Log::new();
    let (t, mut peer) = client_with_idle_peer(&log).await;
    t.set_write_buffer_limits(Some(64 * 1024), None).unwrap();
    let chunks: Vec<Vec<u8>> = (0..256).map(|_| vec![5u8; 32 * 1024]).collect();
    t.writelines(chunks);
    log.wait_for("pw").await;
    assert_eq!(log.count("pw"), 1);
    drain(&mut peer, 256 * 32 * 1024).await;
    log.wait_for("rw").await;
    assert_eq!(log.events(), ["cm", "pw", "rw"]);
}

/// Contract 4 ("every write path goes through the same check"): writes made
/// from another task while the driver waits for the socket to drain must
/// still produce `pause_writing` promptly, not only once the peer reads.
#[tokio::test]
async fn writes_from_another_task_pause_while_the_socket_is_full() {
    init_tracing();
    let log = Log::new();
    let (t, _peer) = client_with_idle_peer(&log).await;
    // Fill the kernel buffers without crossing the (raised) high mark.
    t.set_write_buffer_limits(Some(64 * 1024 * 1024), None)
        .unwrap();
    t.write(vec![1u8; 8 * 1024 * 1024]);
    // Back to 64 KiB: the driver flushes what the kernel takes, parks on the
    // full socket, and must pause.
    t.set_write_buffer_limits(None, None).unwrap();
    log.wait_for("pw").await;
    let mut drained = t.get_write_buffer_size();
    // Now resume by raising low, then cross high again with small writes only.
    t.set_write_buffer_limits(Some(drained * 2), Some(drained))
        .unwrap();
    log.wait_for("rw").await;
    let writer = {
        let t = t.clone();
        let log = log.clone();
        tokio::spawn(async move {
            let mut written = 0;
            while log.count("pw") < 2 && written < 64 * 1024 * 1024 {
                t.write(vec![2u8; 16 * 1024]);
                written += 16 * 1024;
                tokio::task::yield_now().await;
            }
            written
        })
    };
    let written = with_timeout(writer).await.unwrap();
    assert_eq!(
        log.count("pw"),
        2,
        "pause_writing after {written} more bytes"
    );
    drained += written;
    assert!(t.get_write_buffer_size() <= drained);
}

/// Contract 4: with a hard limit set, a peer that never reads is aborted
/// with `WriteBufferFull` once the buffer goes over it, even when the writes
/// come from another task (a broadcast) while the socket is full.
#[tokio::test]
async fn hard_limit_aborts_a_peer_that_never_reads() {
    init_tracing();
    let log = Log::new();
    let (t, _peer) = client_with_idle_peer(&log).await;
    const LIMIT: usize = 1024 * 1024;
    t.set_write_buffer_hard_limit(Some(LIMIT));
    let attempted = Arc::new(AtomicUsize::new(0));
    let writer = {
        let t = t.clone();
        let log = log.clone();
        let attempted = attempted.clone();
        tokio::spawn(async move {
            // A broadcaster that ignores pause_writing.
            while log.lost_count() == 0 && attempted.load(Ordering::SeqCst) < 256 * 1024 * 1024 {
                t.write(vec![3u8; 16 * 1024]);
                attempted.fetch_add(16 * 1024, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        })
    };
    let lost = log.wait_lost().await;
    with_timeout(writer).await.unwrap();
    match lost {
        Some(Error::WriteBufferFull { limit }) => assert_eq!(limit, LIMIT),
        other => panic!("expected WriteBufferFull, got {other:?}"),
    }
    assert_eq!(t.get_write_buffer_size(), 0);
    assert!(t.is_closing());
}

/// T14 (drain): many tasks await `Transport::drain` while the peer does not
/// read; none returns early, all return once the peer reads, and a writer that
/// drains after each write never has more than one chunk over the mark queued.
#[tokio::test]
async fn drain_waits_for_the_buffer_and_wakes_every_waiter() {
    init_tracing();
    let log = Log::new();
    let (t, mut peer) = client_with_idle_peer(&log).await;
    const CHUNK: usize = 256 * 1024;
    // Fill far beyond any socket buffer so the transport keeps data queued.
    const CHUNKS: usize = 128;
    for _ in 0..CHUNKS {
        t.write(vec![b'x'; CHUNK]);
    }
    log.wait_for("pw").await;
    let finished = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let (t, finished) = (t.clone(), finished.clone());
            tokio::spawn(async move {
                t.drain().await.unwrap();
                finished.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    tokio::task::yield_now().await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "drain returned while paused"
    );
    assert!(t.get_write_buffer_size() > t.get_write_buffer_limits().1);

    let reader = tokio::spawn(async move {
        drain(&mut peer, CHUNKS * CHUNK).await;
        peer
    });
    for waiter in waiters {
        with_timeout(waiter).await.unwrap();
    }
    assert!(t.get_write_buffer_size() <= t.get_write_buffer_limits().1);
    let _peer = with_timeout(reader).await.unwrap();
}

/// Drain on a connection that ends fails instead of waiting for ever.
#[tokio::test]
async fn drain_fails_once_the_connection_is_gone() {
    init_tracing();
    let log = Log::new();
    let (t, _peer) = client_with_idle_peer(&log).await;
    for _ in 0..128 {
        t.write(vec![b'x'; 256 * 1024]);
    }
    log.wait_for("pw").await;
    let waiter = tokio::spawn({
        let t = t.clone();
        async move { t.drain().await }
    });
    tokio::task::yield_now().await;
    t.abort();
    let outcome = with_timeout(waiter).await.unwrap();
    assert!(matches!(outcome, Err(Error::Closed(_))), "{outcome:?}");
    assert!(matches!(t.drain().await, Err(Error::Closed(_))));
}
