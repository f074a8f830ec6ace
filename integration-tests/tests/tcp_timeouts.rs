//! Connection time limits over real sockets: idle, read-idle and write-stall
//! on `ServerOptions` and `ConnectOptions`. Each fires after its duration
//! with `Error::Timeout` naming it (counted in `ServerStats::timed_out`), is
//! reset by I/O, and a protocol can keep the connection from
//! `timeout_reached`.
//!
//! The limits are time-based, so the tests measure instants rather than
//! assume them: a limit must not fire earlier than its duration after the
//! last byte moved, and keeping a connection busy for several durations
//! must keep it open. The margins (I/O every 100 ms against limits of 600 ms
//! or more) leave room for a loaded machine.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aioproto::{
    BaseProtocol, ConnectOptions, Error, Protocol, Server, ServerOptions, TimeoutKind, Transport,
    create_connection, create_server,
};
use bytes::Bytes;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// What one connection's protocol saw, with when.
#[derive(Default)]
struct Seen {
    inner: Mutex<SeenInner>,
    changed: Notify,
}

#[derive(Default)]
struct SeenInner {
    made: Option<Instant>,
    last_data: Option<Instant>,
    timeouts: Vec<(TimeoutKind, Instant)>,
    lost: Option<(Option<Error>, Instant)>,
}

impl Seen {
    fn update(&self, f: impl FnOnce(&mut SeenInner)) {
        f(&mut self.inner.lock().unwrap());
        self.changed.notify_waiters();
    }

    async fn wait(&self, pred: impl Fn(&SeenInner) -> bool) {
        with_timeout(async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if pred(&self.inner.lock().unwrap()) {
                    return;
                }
                changed.await;
            }
        })
        .await;
    }

    /// Waits for `connection_lost`; returns its argument and when it ran.
    async fn lost(&self) -> (Option<Error>, Instant) {
        self.wait(|s| s.lost.is_some()).await;
        self.inner.lock().unwrap().lost.clone().unwrap()
    }

    fn made(&self) -> Instant {
        self.inner.lock().unwrap().made.unwrap()
    }

    fn last_data(&self) -> Option<Instant> {
        self.inner.lock().unwrap().last_data
    }

    fn timeouts(&self) -> Vec<TimeoutKind> {
        let inner = self.inner.lock().unwrap();
        inner.timeouts.iter().map(|(k, _)| *k).collect()
    }

    fn is_lost(&self) -> bool {
        self.inner.lock().unwrap().lost.is_some()
    }
}

/// A protocol for the limits: records what happens; keeps the connection
/// through the first `keep` limits (writing `ping` each time if `ping`);
/// writes `greeting` on connection and, with `tick`, a byte every 50 ms from
/// a task until the connection ends.
#[derive(Default, Clone)]
struct Timed {
    seen: Arc<Seen>,
    keep: usize,
    ping: bool,
    greeting: Option<Bytes>,
    tick: bool,
}

struct TimedProtocol {
    spec: Timed,
    transport: Option<Transport>,
}

impl BaseProtocol for TimedProtocol {
    fn connection_made(&mut self, t: &Transport) {
        self.transport = Some(t.clone());
        self.spec.seen.update(|s| s.made = Some(Instant::now()));
        if let Some(greeting) = &self.spec.greeting {
            t.write(greeting.clone());
        }
        if self.spec.tick {
            let t = t.clone();
            tokio::spawn(async move {
                while !t.is_closing() {
                    t.write("t");
                    tokio::time::sleep(ms(50)).await;
                }
            });
        }
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        self.spec
            .seen
            .update(|s| s.lost = Some((exc, Instant::now())));
    }

    fn timeout_reached(&mut self, kind: TimeoutKind) -> bool {
        let handled = self.spec.seen.inner.lock().unwrap().timeouts.len() < self.spec.keep;
        self.spec
            .seen
            .update(|s| s.timeouts.push((kind, Instant::now())));
        if handled && self.spec.ping {
            self.transport.as_ref().unwrap().write("ping\n");
        }
        handled
    }
}

impl Protocol for TimedProtocol {
    fn data_received(&mut self, _data: Bytes) {
        self.spec
            .seen
            .update(|s| s.last_data = Some(Instant::now()));
    }
}

/// A server on 127.0.0.1:0 with `options` whose one connection runs `spec`.
async fn server_with(options: &ServerOptions, spec: Timed) -> (Server, TcpStream) {
    let server = create_server(
        move || TimedProtocol {
            spec: spec.clone(),
            transport: None,
        },
        "127.0.0.1",
        0,
        options,
    )
    .await
    .unwrap();
    let client = raw_connect(server.local_addrs()[0]).await;
    (server, client)
}

/// Waits (bounded) until the server has counted `n` timed-out connections.
async fn timed_out(server: &Server, n: u64) {
    with_timeout(async {
        while server.stats().timed_out < n {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
}

/// The error a limit ends a connection with.
fn assert_timeout(exc: &Option<Error>, text: &str) {
    match exc {
        Some(e) if e.is_timeout() && e.to_string().contains(text) => {}
        other => panic!("expected a timeout naming {text:?}, got {other:?}"),
    }
}

/// Reads (bounded) until EOF or an error: the server ended the connection.
async fn read_until_closed(client: &mut TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    with_timeout(async {
        loop {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// Idle: a client that says nothing is aborted after the limit, with
/// `Error::Timeout("idle timeout: ...")`, after `timeout_reached(Idle)`
/// declined; the server counts it in `timed_out` and the client sees the end.
#[tokio::test]
async fn idle_timeout_aborts_a_silent_connection() {
    init_tracing();
    let limit = ms(300);
    let mut options = ServerOptions::new();
    options.idle_timeout(limit);
    let spec = Timed::default();
    let (server, mut client) = server_with(&options, spec.clone()).await;
    let (exc, at) = spec.seen.lost().await;
    assert_timeout(&exc, "idle timeout");
    assert!(at - spec.seen.made() >= limit, "not before the limit");
    assert_eq!(spec.seen.timeouts(), [TimeoutKind::Idle]);
    read_until_closed(&mut client).await;
    timed_out(&server, 1).await;
    assert_eq!(server.stats().closed_with_error, 0);
    server.close();
}

/// Sends a byte every 100 ms for `how_long`: a peer that is slow but alive.
/// (The sleeps pace the traffic; nothing waits on them for an event.)
async fn trickle(client: &mut TcpStream, how_long: Duration) {
    let busy = Instant::now();
    while busy.elapsed() < how_long {
        client.write_all(b"x").await.unwrap();
        tokio::time::sleep(ms(100)).await;
    }
}

/// Idle is reset by reads: a client that sends a byte every 100 ms keeps
/// the connection open for well over the limit; once it stops, the limit
/// runs out, never earlier than the limit after the last byte.
#[tokio::test]
async fn idle_timeout_is_reset_by_reads() {
    init_tracing();
    let limit = ms(600);
    let mut options = ServerOptions::new();
    options.idle_timeout(limit);
    let spec = Timed::default();
    let (server, mut client) = server_with(&options, spec.clone()).await;
    trickle(&mut client, limit * 3).await;
    assert!(!spec.seen.is_lost(), "kept open by the reads");
    let (exc, at) = spec.seen.lost().await;
    assert_timeout(&exc, "idle timeout");
    let last = spec.seen.last_data().unwrap();
    assert!(last - spec.seen.made() >= limit * 2, "bytes kept coming");
    assert!(at - last >= limit, "the limit counts from the last byte");
    timed_out(&server, 1).await;
    server.close();
}

/// Idle is reset by writes too: a server that writes every 50 ms to a client
/// that reads but never sends is not idle. Read-idle, by contrast, ignores
/// the writes and fires after its limit.
#[tokio::test]
async fn writes_reset_idle_but_not_read_idle() {
    init_tracing();
    let limit = ms(600);
    let mut idle = ServerOptions::new();
    idle.idle_timeout(limit);
    let idle_spec = Timed {
        tick: true,
        ..Timed::default()
    };
    let (idle_server, mut idle_client) = server_with(&idle, idle_spec.clone()).await;
    let mut read_idle = ServerOptions::new();
    read_idle.read_idle_timeout(limit);
    let read_spec = Timed {
        tick: true,
        ..Timed::default()
    };
    let (read_server, mut read_client) = server_with(&read_idle, read_spec.clone()).await;
    // The read-idle connection ends after its limit although bytes flow out...
    let reading = tokio::spawn(async move { read_until_closed(&mut read_client).await });
    let (exc, at) = read_spec.seen.lost().await;
    assert_timeout(&exc, "read idle timeout");
    assert!(at - read_spec.seen.made() >= limit);
    assert_eq!(read_spec.seen.timeouts(), [TimeoutKind::ReadIdle]);
    with_timeout(reading).await.unwrap();
    timed_out(&read_server, 1).await;
    // ...while the idle one is still open, well past its limit, as long as
    // its client reads.
    let mut buf = [0u8; 1024];
    let busy = Instant::now();
    while busy.elapsed() < limit * 3 {
        assert!(with_timeout(idle_client.read(&mut buf)).await.unwrap() > 0);
    }
    assert!(
        !idle_spec.seen.is_lost(),
        "writes keep an idle limit at bay"
    );
    assert_eq!(idle_server.stats().timed_out, 0);
    idle_server.close();
    read_server.close();
}

/// Read-idle is reset by reads: a client that sends a byte every 100 ms
/// keeps the connection open for well over the limit; once it stops, the
/// limit runs out, never earlier than the limit after the last byte.
#[tokio::test]
async fn read_idle_timeout_is_reset_by_reads() {
    init_tracing();
    let limit = ms(600);
    let mut options = ServerOptions::new();
    options.read_idle_timeout(limit);
    let spec = Timed::default();
    let (server, mut client) = server_with(&options, spec.clone()).await;
    trickle(&mut client, limit * 3).await;
    assert!(!spec.seen.is_lost(), "kept open by the reads");
    let (exc, at) = spec.seen.lost().await;
    assert_timeout(&exc, "read idle timeout");
    assert!(at - spec.seen.last_data().unwrap() >= limit);
    server.close();
}

/// Write-stall: a server that queues 32 MiB (far more than loopback socket
/// buffers absorb, so data stays in the transport) for a client that reads a little
/// and then stops is aborted once nothing has left the buffer for the limit.
#[tokio::test]
async fn write_stall_aborts_a_peer_that_stopped_reading() {
    init_tracing();
    let limit = ms(300);
    let mut options = ServerOptions::new();
    options.write_stall_timeout(limit);
    let spec = Timed {
        greeting: Some(Bytes::from(vec![b'g'; 32 << 20])),
        ..Timed::default()
    };
    let (server, mut client) = server_with(&options, spec.clone()).await;
    let mut first = vec![0u8; 1 << 20];
    with_timeout(client.read_exact(&mut first)).await.unwrap();
    let stopped = Instant::now();
    let (exc, at) = spec.seen.lost().await;
    assert_timeout(&exc, "write stall timeout");
    assert!(at - stopped >= limit, "not before the limit");
    assert_eq!(spec.seen.timeouts(), [TimeoutKind::WriteStall]);
    timed_out(&server, 1).await;
    assert_eq!(server.stats().aborted_hard_limit, 0);
    server.close();
}

/// Write-stall is reset by progress: a client that reads 1 MiB every
/// 100 ms keeps the buffer moving for well over the limit. And the clock
/// runs only while something waits: the quiet connection beside it, with
/// the same limit and nothing to write, stays open.
#[tokio::test]
async fn write_stall_is_reset_by_progress_and_needs_pending_data() {
    init_tracing();
    let limit = ms(600);
    let mut options = ServerOptions::new();
    options.write_stall_timeout(limit);
    let spec = Timed {
        greeting: Some(Bytes::from(vec![b'g'; 64 << 20])),
        ..Timed::default()
    };
    let (server, mut client) = server_with(&options, spec.clone()).await;
    let quiet = Timed::default();
    let (quiet_server, _quiet_client) = server_with(&options, quiet.clone()).await;
    let mut chunk = vec![0u8; 1 << 20];
    let busy = Instant::now();
    while busy.elapsed() < limit * 3 {
        with_timeout(client.read_exact(&mut chunk)).await.unwrap();
        tokio::time::sleep(ms(100)).await;
    }
    assert!(!spec.seen.is_lost(), "kept open by the progress");
    assert!(!quiet.seen.is_lost(), "nothing pending: no stall");
    let (exc, _) = spec.seen.lost().await;
    assert_timeout(&exc, "write stall timeout");
    assert!(!quiet.seen.is_lost());
    assert_eq!(quiet_server.stats().timed_out, 0);
    server.close();
    quiet_server.close();
}

/// A protocol that handles the limit keeps the connection: here it answers
/// each idle period with a ping, and the limit counts again from then. The
/// client reads three pings, then closes; the server's connection ends
/// cleanly and nothing is counted as timed out.
#[tokio::test]
async fn an_overriding_protocol_keeps_the_connection() {
    init_tracing();
    let limit = ms(200);
    let mut options = ServerOptions::new();
    options.idle_timeout(limit);
    let spec = Timed {
        keep: usize::MAX,
        ping: true,
        ..Timed::default()
    };
    let (server, mut client) = server_with(&options, spec.clone()).await;
    let mut pings = Vec::new();
    while pings.len() < 3 * 5 {
        let mut buf = [0u8; 64];
        let n = with_timeout(client.read(&mut buf)).await.unwrap();
        assert!(n > 0, "still open");
        pings.extend_from_slice(&buf[..n]);
    }
    assert_eq!(pings, b"ping\nping\nping\n");
    assert!(
        spec.seen.timeouts().iter().all(|k| *k == TimeoutKind::Idle),
        "{:?}",
        spec.seen.timeouts()
    );
    drop(client);
    let (exc, _) = spec.seen.lost().await;
    assert!(
        exc.is_none() || !exc.as_ref().unwrap().is_timeout(),
        "{exc:?}"
    );
    assert_eq!(server.stats().timed_out, 0);
    server.close();
}

/// The limits are on `ConnectOptions` too: a client whose server never says
/// anything is aborted by its read-idle limit (its greeting went out, so
/// only read-idle applies), and `connection_lost` gets the timeout.
#[tokio::test]
async fn client_side_limits() {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let limit = ms(300);
    let mut options = ConnectOptions::new();
    options.read_idle_timeout(limit);
    let spec = Timed {
        greeting: Some(Bytes::from_static(b"hello\n")),
        ..Timed::default()
    };
    let (transport, _) = create_connection(
        {
            let spec = spec.clone();
            move || TimedProtocol {
                spec,
                transport: None,
            }
        },
        "127.0.0.1",
        port,
        &options,
    )
    .await
    .unwrap();
    let (mut peer, _) = with_timeout(listener.accept()).await.unwrap();
    let mut hello = [0u8; 6];
    with_timeout(peer.read_exact(&mut hello)).await.unwrap();
    let (exc, at) = spec.seen.lost().await;
    assert_timeout(&exc, "read idle timeout");
    assert!(at - spec.seen.made() >= limit);
    assert!(transport.is_closing());
    let mut rest = Vec::new();
    with_timeout(peer.read_to_end(&mut rest)).await.unwrap();
}

/// Zero is not a limit.
#[test]
#[should_panic(expected = "must be positive")]
fn a_zero_limit_is_refused() {
    ServerOptions::new().idle_timeout(Duration::ZERO);
}
