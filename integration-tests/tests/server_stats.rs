//! `Server::stats()` counts what happened: accepted, open and peak
//! connections, clean and failed endings, hard-limit aborts, timeouts, failed
//! TLS handshakes, rejected PROXY headers. Failed handshakes and rejected
//! headers are logged at debug level each, with one warning per interval;
//! accepts and closes are debug events with an id.

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aioproto::{Error, ProxyProtocol, ServerOptions, ServerStats};
use support::pki::*;
use support::*;
use tokio::io::AsyncWriteExt;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;

/// Every connection is open or counted in exactly one ending.
fn assert_balanced(stats: &ServerStats) {
    let ended = stats.closed_cleanly
        + stats.closed_with_error
        + stats.tls_handshakes_failed
        + stats.proxy_header_rejected
        + stats.aborted_hard_limit
        + stats.timed_out
        + stats.aborted_by_shutdown;
    assert_eq!(stats.accepted, stats.open + ended, "{stats}");
}

/// A clean close, a reset, a hard-limit abort and one connection left open,
/// then a shutdown that closes that one cleanly.
#[tokio::test]
async fn counters_match_what_happened() {
    init_tracing();
    let (server, addr, mut logs) = recording_server(|log| {
        Events::new(log).on_data(|t, data| {
            if &data[..] == b"overflow" {
                t.set_write_buffer_hard_limit(Some(16));
                t.write(vec![0u8; 1024]);
            }
        })
    })
    .await;
    let mut clients = Vec::new();
    let mut server_logs = Vec::new();
    for _ in 0..4 {
        clients.push(raw_connect(addr).await);
        let log = next_log(&mut logs).await;
        log.wait_for("cm").await;
        server_logs.push(log);
    }
    let stats = server.stats();
    assert_eq!(
        (stats.accepted, stats.open, stats.peak_open),
        (4, 4, 4),
        "{stats}"
    );

    let mut clean = clients.remove(0);
    clean.shutdown().await.unwrap();
    assert!(server_logs[0].wait_lost().await.is_none());

    reset(clients.remove(0));
    assert!(
        server_logs[1].wait_lost().await.is_some(),
        "a reset is an error"
    );

    let mut overflowing = clients.remove(0);
    raw_write(&mut overflowing, b"overflow").await;
    let lost = server_logs[2].wait_lost().await;
    assert!(
        matches!(lost, Some(Error::WriteBufferFull { .. })),
        "{lost:?}"
    );

    let stats = server.stats();
    assert_eq!(stats.accepted, 4, "{stats}");
    assert_eq!(stats.open, 1, "{stats}");
    assert_eq!(stats.peak_open, 4, "{stats}");
    assert_eq!(stats.closed_cleanly, 1, "{stats}");
    assert_eq!(stats.closed_with_error, 1, "{stats}");
    assert_eq!(stats.aborted_hard_limit, 1, "{stats}");
    assert_eq!(stats.accept_errors, 0, "{stats}");
    assert_balanced(&stats);

    let mut last = clients.remove(0);
    with_timeout(server.shutdown(Duration::from_secs(60))).await;
    assert_eq!(read_to_eof(&mut last).await, b"");
    let stats = server.stats();
    assert_eq!((stats.open, stats.closed_cleanly), (0, 2), "{stats}");
    assert_eq!(stats.aborted_by_shutdown, 0, "{stats}");
    assert_balanced(&stats);
    let line = stats.to_string();
    assert!(line.starts_with("accepted=4 open=0 "), "{line}");
    assert!(!line.contains('\n'), "{line}");
}

/// What a [`Captured`] layer saw: level and fields of each aioproto event.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(Level, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if !event.metadata().target().starts_with("aioproto") {
            return;
        }
        let mut text = String::new();
        event.record(
            &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                let _ = write!(text, "{}={value:?} ", field.name());
            },
        );
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, text));
    }
}

impl Captured {
    /// Events at `level` whose fields contain `needle`.
    fn count(&self, level: Level, needle: &str) -> usize {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(l, text)| *l == level && text.contains(needle))
            .count()
    }
}

/// Twenty plaintext clients on a TLS port: twenty failed handshakes counted,
/// each a debug event, and one warning; a close_notify wait past the shutdown
/// timeout counts as timed out. Ten seconds later, one summary warning.
#[tokio::test]
async fn failed_handshakes_are_counted_and_warned_about_once_per_interval() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    // The test runs on one thread (current-thread runtime): every task logs here.
    let _default = tracing::subscriber::set_default(subscriber);

    let pki = Pki::new();
    let mut tls = pki.server_tls("server");
    tls.shutdown_timeout(ms(200)).unwrap();
    let (server, addr, mut logs) = tls_recording_server(tls, Events::new).await;

    let started = Instant::now();
    for _ in 0..20 {
        let mut plain = raw_connect(addr).await;
        raw_write(&mut plain, b"GET / HTTP/1.0\r\n\r\n").await;
        let _ = read_until_closed(&mut plain).await;
    }
    let elapsed = started.elapsed();

    let client = pki.raw_connect(addr).await;
    let log = next_log(&mut logs).await;
    log.wait_for("cm").await;
    server.connections()[0].close();
    let lost = log.wait_lost().await;
    assert!(lost.as_ref().is_some_and(Error::is_timeout), "{lost:?}");
    drop(client);

    let stats = server.stats();
    assert_eq!(stats.accepted, 21, "{stats}");
    assert_eq!(stats.tls_handshakes_failed, 20, "{stats}");
    assert_eq!(stats.timed_out, 1, "{stats}");
    assert_eq!(stats.open, 0, "{stats}");
    assert_balanced(&stats);

    let failed = "TLS handshake failed; connection dropped";
    assert_eq!(captured.count(Level::DEBUG, failed), 20);
    let warnings = captured.count(Level::WARN, "TLS handshake");
    // One per 10 s interval: one, unless the machine took more than 10 s.
    let allowed = 1 + (elapsed.as_secs() / 10) as usize;
    assert!(
        (1..=allowed).contains(&warnings),
        "{warnings} warnings in {elapsed:?}"
    );
    assert_eq!(captured.count(Level::DEBUG, "accepted"), 21);
    assert_eq!(
        captured.count(Level::DEBUG, "id=20 "),
        2,
        "accepted, closed"
    );
    assert_eq!(
        captured.count(Level::DEBUG, "ending=\"timeout\""),
        1,
        "the close event names the ending"
    );

    // At the end of the interval, the rest is summed up in one warning.
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(10)).await;
    for _ in 0..100 {
        if captured.count(Level::WARN, "TLS handshakes failed in the last") > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let summaries = captured.count(Level::WARN, "TLS handshakes failed in the last");
    assert!(summaries >= 1, "{:?}", captured.0.lock().unwrap());
    server.close();
}

/// Ten clients that send no PROXY header to a server that requires one: ten
/// rejections counted, each a debug event, one warning at once, and the rest
/// summed up in one warning when the interval ends. No TLS failure is counted.
#[tokio::test]
async fn rejected_proxy_headers_are_counted_and_warned_about_once_per_interval() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry().with(captured.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let mut options = ServerOptions::new();
    options.proxy_protocol(ProxyProtocol::any());
    let (server, addr, mut logs) = recording_server_with(&options, Events::new).await;
    let started = Instant::now();
    for _ in 0..10 {
        let mut plain = raw_connect(addr).await;
        raw_write(&mut plain, b"GET / HTTP/1.0\r\n\r\n").await;
        let _ = read_until_closed(&mut plain).await;
    }
    let elapsed = started.elapsed();
    with_timeout(async {
        while server.stats().proxy_header_rejected < 10 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(logs.try_recv().is_err(), "a protocol was made");
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.open), (10, 0), "{stats}");
    assert_eq!(stats.tls_handshakes_failed, 0, "{stats}");
    assert_balanced(&stats);

    let rejected = "PROXY protocol header rejected; connection dropped";
    assert_eq!(captured.count(Level::DEBUG, rejected), 10);
    let warnings = captured.count(Level::WARN, "PROXY protocol header");
    let allowed = 1 + (elapsed.as_secs() / 10) as usize;
    assert!(
        (1..=allowed).contains(&warnings),
        "{warnings} warnings in {elapsed:?}"
    );

    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(10)).await;
    for _ in 0..100 {
        if captured.count(Level::WARN, "PROXY protocol headers rejected in the last") > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let summaries = captured.count(Level::WARN, "PROXY protocol headers rejected in the last");
    assert!(summaries >= 1, "{:?}", captured.0.lock().unwrap());
    server.close();
}
