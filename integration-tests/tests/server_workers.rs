//! `ServerOptions::workers(n)`: n threads, each its own event loop, behind one
//! `Server`. Both layouts: one `SO_REUSEPORT` socket per worker (the default
//! on Linux) and one acceptor handing connections round-robin (forced with
//! `internal::force_handoff`, the path of platforms without `SO_REUSEPORT`).
//!
//! The protocol tells each client which thread made it, ran its
//! `connection_made` and runs its `data_received`, so the tests see where
//! connections went without looking inside the server.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aioproto::{BaseProtocol, Protocol, Server, ServerOptions, Transport, create_server};
use bytes::Bytes;
use support::pki::Pki;
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 64;

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned()
}

/// `who\n` → `FACTORY MADE DATA\n` (the threads); `panic\n` panics; other
/// bytes are echoed.
struct WhoAmI {
    made_by: String,
    made_on: String,
    transport: Option<Transport>,
}

impl WhoAmI {
    fn new() -> WhoAmI {
        WhoAmI {
            made_by: thread_name(),
            made_on: String::new(),
            transport: None,
        }
    }
}

impl BaseProtocol for WhoAmI {
    fn connection_made(&mut self, transport: &Transport) {
        self.made_on = thread_name();
        self.transport = Some(transport.clone());
    }
}

impl Protocol for WhoAmI {
    fn data_received(&mut self, data: Bytes) {
        let Some(t) = &self.transport else { return };
        match &data[..] {
            b"who\n" => t.write(format!(
                "{} {} {}\n",
                self.made_by,
                self.made_on,
                thread_name()
            )),
            b"panic\n" => panic!("this connection's callback panics"),
            _ => t.write(data),
        }
    }
}

fn options(workers: usize, handoff: bool) -> ServerOptions {
    let mut options = ServerOptions::new();
    options.workers(workers).backlog(1024);
    if handoff {
        aioproto::internal::force_handoff(&mut options);
    }
    options
}

async fn server(options: &ServerOptions) -> (Server, SocketAddr) {
    let server = create_server(WhoAmI::new, "127.0.0.1", 0, options)
        .await
        .expect("server binds");
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 1, "one address, every worker on it: {addrs:?}");
    (server, addrs[0])
}

/// Asks a connection which threads serve it; checks they are one worker.
async fn who<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut BufReader<S>) -> String {
    with_timeout(stream.get_mut().write_all(b"who\n"))
        .await
        .expect("write");
    with_timeout(stream.get_mut().flush()).await.expect("flush");
    let mut line = String::new();
    with_timeout(stream.read_line(&mut line))
        .await
        .expect("read");
    let threads: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(threads.len(), 3, "{line:?}");
    assert!(
        threads[0].starts_with("aioproto-worker-"),
        "factory ran on {line:?}"
    );
    assert!(
        threads.iter().all(|t| *t == threads[0]),
        "factory, connection_made and data_received on one worker: {line:?}"
    );
    threads[0].to_owned()
}

/// Opens `n` connections and returns them with the worker serving each.
async fn connect_many(addr: SocketAddr, n: usize) -> Vec<(BufReader<TcpStream>, String)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = BufReader::new(raw_connect(addr).await);
        let worker = who(&mut stream).await;
        out.push((stream, worker));
    }
    out
}

fn per_worker(conns: &[(BufReader<TcpStream>, String)]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (_, worker) in conns {
        *counts.entry(worker.clone()).or_default() += 1;
    }
    counts
}

async fn spread_over_workers(handoff: bool) {
    init_tracing();
    let (server, addr) = server(&options(2, handoff)).await;
    assert_ne!(addr.port(), 0);
    let conns = connect_many(addr, CONNECTIONS).await;
    let counts = per_worker(&conns);
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        ["aioproto-worker-0", "aioproto-worker-1"],
        "both workers served connections: {counts:?}"
    );
    if handoff {
        // Round-robin: one each in turn.
        assert!(counts.values().all(|&n| n == CONNECTIONS / 2), "{counts:?}");
    }
    // The per-worker counters agree with what the clients saw.
    let per_worker_stats = server.worker_stats();
    assert_eq!(per_worker_stats.len(), 2);
    for (i, stats) in per_worker_stats.iter().enumerate() {
        let seen = counts[&format!("aioproto-worker-{i}")] as u64;
        assert_eq!(
            (stats.accepted, stats.open),
            (seen, seen),
            "worker {i}: {stats}"
        );
    }
    let total = server.stats();
    assert_eq!(total.accepted, CONNECTIONS as u64, "{total}");
    assert_eq!(total.open, CONNECTIONS as u64, "{total}");
    assert_eq!(total.peak_open, CONNECTIONS as u64, "{total}");
    assert_eq!(server.connection_count(), CONNECTIONS);

    with_timeout(server.shutdown(Duration::from_secs(5))).await;
    for (mut stream, _) in conns {
        assert_eq!(read_to_eof(stream.get_mut()).await, b"");
    }
    let total = server.stats();
    assert_eq!(
        (total.open, total.closed_cleanly),
        (0, CONNECTIONS as u64),
        "{total}"
    );
}

#[tokio::test]
async fn reuse_port_workers_share_one_port_and_both_serve() {
    spread_over_workers(false).await;
}

#[tokio::test]
async fn handoff_workers_share_one_socket_and_take_turns() {
    spread_over_workers(true).await;
}

/// A socket handed in (`create_server_from_std`) cannot be bound again, so
/// it is served by the hand-off acceptor.
#[tokio::test]
async fn a_socket_handed_in_is_spread_over_the_workers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = aioproto::create_server_from_std(WhoAmI::new, listener, &options(3, false))
        .expect("server starts");
    assert_eq!(server.local_addrs(), [addr]);
    let conns = connect_many(addr, 9).await;
    assert!(
        per_worker(&conns).values().all(|&n| n == 3),
        "{:?}",
        per_worker(&conns)
    );
    server.close();
    server.close_clients();
    with_timeout(server.wait_closed()).await;
}

#[tokio::test]
async fn close_stops_every_worker_accepting_and_close_clients_reaches_all() {
    for handoff in [false, true] {
        let (server, addr) = server(&options(2, handoff)).await;
        let conns = connect_many(addr, 16).await;
        assert_eq!(per_worker(&conns).len(), 2, "{:?}", per_worker(&conns));
        assert!(server.is_serving());

        server.close();
        assert!(!server.is_serving());
        assert!(server.local_addrs().is_empty());
        // Every worker's socket is closed: nothing listens on the port.
        let refused = TcpStream::connect(addr).await;
        assert!(refused.is_err(), "a connection after close: {refused:?}");
        // Existing connections go on, on both workers.
        let mut conns = conns;
        for (stream, worker) in &mut conns {
            assert_eq!(&who(stream).await, worker);
        }

        server.close_clients();
        for (mut stream, _) in conns {
            assert_eq!(read_to_eof(stream.get_mut()).await, b"");
        }
        with_timeout(server.wait_closed()).await;
        assert_eq!(server.stats().open, 0);
    }
}

#[tokio::test]
async fn abort_clients_and_shutdown_cut_non_readers_on_every_worker() {
    init_tracing();
    // Each connection gets 64 MiB on connect (one static MiB, 64 times: far
    // more than the kernel's buffers hold, without allocating it) and its
    // client never reads.
    static MIB: [u8; 1 << 20] = [0; 1 << 20];
    struct Flood(Arc<AtomicUsize>);
    impl BaseProtocol for Flood {
        fn connection_made(&mut self, t: &Transport) {
            for _ in 0..64 {
                t.write(Bytes::from_static(&MIB));
            }
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    impl Protocol for Flood {}
    for handoff in [false, true] {
        let flooded = Arc::new(AtomicUsize::new(0));
        let counter = flooded.clone();
        let server = create_server(
            move || Flood(counter.clone()),
            "127.0.0.1",
            0,
            &options(2, handoff),
        )
        .await
        .unwrap();
        let addr = server.local_addrs()[0];
        let mut clients = Vec::new();
        for _ in 0..8 {
            clients.push(small_buffer_socket(addr));
        }
        // A connection is counted open before its driver runs `connection_made`;
        // one shut down before that has nothing buffered and closes cleanly.
        eventually("every client flooded", || {
            flooded.load(Ordering::SeqCst) == 8
        })
        .await;
        if handoff {
            // Round-robin: four each (SO_REUSEPORT spreads by hash instead).
            assert!(
                server.worker_stats().iter().all(|s| s.open == 4),
                "{:?}",
                server.worker_stats()
            );
        }
        let grace = ms(300);
        let started = std::time::Instant::now();
        with_timeout_of(grace + Duration::from_secs(3), server.shutdown(grace)).await;
        assert!(started.elapsed() >= grace);
        let stats = server.stats();
        assert_eq!(stats.aborted_by_shutdown, 8, "{stats}");
        assert_eq!(stats.open, 0, "{stats}");
        drop(clients);
    }
}

/// Polls `cond` every 10 ms until it holds (at most 10 s): for states that
/// no event announces (the server's counters).
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(ms(10)).await;
    }
}

#[tokio::test]
async fn a_panic_ends_only_its_connection_and_no_worker() {
    init_tracing();
    let (server, addr) = server(&options(2, false)).await;
    let mut conns = connect_many(addr, 32).await;
    let (mut victim, victim_worker) = conns.pop().unwrap();
    with_timeout(victim.get_mut().write_all(b"panic\n"))
        .await
        .unwrap();
    let (rest, _) = read_until_closed(victim.get_mut()).await;
    assert_eq!(rest, b"");
    // Every other connection, on the victim's worker too, still works.
    for (stream, worker) in &mut conns {
        assert_eq!(&who(stream).await, worker);
    }
    assert!(conns.iter().any(|(_, w)| *w == victim_worker));
    // And both workers still accept.
    let more = connect_many(addr, 32).await;
    assert_eq!(per_worker(&more).len(), 2, "{:?}", per_worker(&more));
    let stats = server.stats();
    assert_eq!(stats.closed_with_error, 1, "{stats}");
    server.close();
    server.abort_clients();
    with_timeout(server.wait_closed()).await;
}

#[tokio::test]
async fn a_panicking_factory_fails_one_connection_and_the_worker_goes_on() {
    init_tracing();
    for handoff in [false, true] {
        let made = Arc::new(AtomicUsize::new(0));
        let count = made.clone();
        let factory = move || {
            if count.fetch_add(1, Ordering::Relaxed) == 3 {
                panic!("the factory panics for the fourth connection");
            }
            WhoAmI::new()
        };
        let server = create_server(factory, "127.0.0.1", 0, &options(2, handoff))
            .await
            .unwrap();
        let addr = server.local_addrs()[0];
        let mut served = Vec::new();
        for i in 0..24 {
            let mut stream = BufReader::new(raw_connect(addr).await);
            if i == 3 {
                // Dropped without a callback: EOF (or a reset) and nothing else.
                let (rest, _) = read_until_closed(stream.get_mut()).await;
                assert_eq!(rest, b"");
                continue;
            }
            let worker = who(&mut stream).await;
            served.push((stream, worker));
        }
        let workers: BTreeSet<&String> = served.iter().map(|(_, w)| w).collect();
        assert_eq!(workers.len(), 2, "{workers:?}");
        let stats = server.stats();
        assert_eq!((stats.accepted, stats.open), (24, 23), "{stats}");
        assert_eq!(stats.closed_with_error, 1, "{stats}");
        server.close();
        server.abort_clients();
        with_timeout(server.wait_closed()).await;
    }
}

/// `max_connections` is the whole server's: with two workers and a limit of
/// 2, a third client waits in the backlog until one of the first two leaves.
#[tokio::test]
async fn max_connections_counts_every_worker() {
    for handoff in [false, true] {
        let mut options = options(2, handoff);
        options.max_connections(2);
        let (server, addr) = server(&options).await;
        let mut first = connect_many(addr, 2).await;
        let mut third = BufReader::new(raw_connect(addr).await);
        raw_write(third.get_mut(), b"who\n").await;
        drop(first.remove(0));
        let mut line = String::new();
        with_timeout(third.read_line(&mut line)).await.unwrap();
        assert!(line.starts_with("aioproto-worker-"), "{line:?}");
        let stats = server.stats();
        assert_eq!(stats.accepted, 3, "{stats}");
        assert_eq!(stats.peak_open, 2, "the limit held across workers: {stats}");
        server.close();
        server.close_clients();
        with_timeout(server.wait_closed()).await;
    }
}

#[tokio::test]
async fn tls_handshakes_run_on_the_workers() {
    let pki = Pki::new();
    for handoff in [false, true] {
        let mut options = options(2, handoff);
        options.tls(pki.server_tls("server"));
        let (server, addr) = server(&options).await;
        let connector = tokio_rustls::TlsConnector::from(pki.client_tls().config());
        let mut workers = BTreeSet::new();
        let mut clients = Vec::new();
        for _ in 0..16 {
            let tcp = raw_connect(addr).await;
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let tls = with_timeout(connector.connect(name, tcp)).await.unwrap();
            let mut stream = BufReader::new(tls);
            workers.insert(who(&mut stream).await);
            clients.push(stream);
        }
        assert_eq!(workers.len(), 2, "{workers:?}");
        assert_eq!(server.stats().open, 16);
        // The clients do not read, so nobody answers close_notify: cut at the deadline.
        with_timeout(server.shutdown(ms(200))).await;
        assert_eq!(server.stats().open, 0);
    }
}

/// A Unix socket has no `SO_REUSEPORT`: its server's workers take turns
/// through the hand-off acceptor; closing removes the socket file.
#[tokio::test]
async fn a_unix_server_hands_connections_to_its_workers() {
    let path = std::env::temp_dir().join(format!("aioproto-workers-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = aioproto::create_unix_server(WhoAmI::new, &path, &options(2, false))
        .await
        .expect("unix server");
    assert_eq!(server.local_paths(), std::slice::from_ref(&path));
    let mut workers = BTreeMap::new();
    let mut conns = Vec::new();
    for _ in 0..8 {
        let stream = with_timeout(tokio::net::UnixStream::connect(&path))
            .await
            .expect("connect");
        let mut stream = BufReader::new(stream);
        *workers.entry(who(&mut stream).await).or_insert(0) += 1;
        conns.push(stream);
    }
    assert_eq!(
        workers.values().copied().collect::<Vec<usize>>(),
        [4, 4],
        "{workers:?}"
    );
    with_timeout(server.shutdown(Duration::from_secs(5))).await;
    assert!(!path.exists(), "the socket file is removed on close");
    assert_eq!(server.stats().closed_cleanly, 8);
}

/// The TLS handshake cap is the whole server's too: two stalled handshakes
/// on a two-worker server capped at 2 keep a third client waiting, wherever
/// the kernel sent it, until one of them gives up.
#[tokio::test]
async fn the_tls_handshake_cap_counts_every_worker() {
    let pki = Pki::new();
    for handoff in [false, true] {
        let mut options = options(2, handoff);
        options.tls(pki.server_tls("server")).max_tls_handshakes(2);
        let (server, addr) = server(&options).await;
        let first = support::pki::stalled_handshake(&pki, addr).await;
        let _second = support::pki::stalled_handshake(&pki, addr).await;
        assert_eq!(server.stats().tls_handshaking, 2);
        let connector = tokio_rustls::TlsConnector::from(pki.client_tls().config());
        let third = tokio::spawn(async move {
            let tcp = raw_connect(addr).await;
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let tls = connector.connect(name, tcp).await.expect("handshake");
            let mut stream = BufReader::new(tls);
            who(&mut stream).await;
            stream
        });
        drop(first);
        let _third = with_timeout(third).await.unwrap();
        let stats = server.stats();
        assert_eq!(stats.peak_open, 2, "the cap held across workers: {stats}");
        assert_eq!(stats.tls_handshakes_failed, 1, "{stats}");
        server.close();
        server.abort_clients();
        with_timeout(server.wait_closed()).await;
    }
}
