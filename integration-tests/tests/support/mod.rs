//! Shared fixtures for the integration tests: an event-recording protocol, an
//! echo protocol, and helpers that bound every wait.
//!
//! Each test file includes this with `mod support;`; not every file uses every
//! helper, hence the `dead_code` allowance.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aioproto::testing::{EventLog, Recorder};
use aioproto::{
    BaseProtocol, BufferedProtocol, ConnectOptions, Error, Protocol, Server, ServerOptions,
    Transport, create_connection, create_server,
};
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// How long any single wait in a test may take before the test fails.
pub mod datagram;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A directory of its own per test (by name, process and thread), for
/// socket files; removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "aioproto-it-{}-{name}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Awaits `fut`, failing the test if it takes longer than [`TIMEOUT`].
pub async fn with_timeout<F: Future>(fut: F) -> F::Output {
    with_timeout_of(TIMEOUT, fut).await
}

/// Awaits `fut`, failing the test if it takes longer than `limit`.
pub async fn with_timeout_of<F: Future>(limit: Duration, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {limit:?}"),
    }
}

/// Installs a tracing subscriber once (output captured by the test harness),
/// honouring `RUST_LOG`.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// What one endpoint saw, in order: `cm`, `dr`, `eof`, `cl(None)`,
/// `cl(Some(..))`, `pw` (pause_writing), `rw` (resume_writing), `gb`/`bu`
/// for a buffered protocol. Received bytes are kept apart in `data`.
///
/// A log from a recording server also holds the [`EventLog`] of an
/// `aioproto::testing::Recorder` around the connection's protocol, and every
/// wait for `connection_lost` checks the lifecycle rules over it
/// ([`EventLog::check_order`]): every test that uses the fixture checks the
/// callback order too.
#[derive(Default)]
pub struct Log {
    inner: Mutex<LogInner>,
    changed: Notify,
    recorded: std::sync::OnceLock<EventLog>,
}

#[derive(Default)]
struct LogInner {
    events: Vec<String>,
    data: Vec<u8>,
    lost: Option<Option<Error>>,
    lost_count: usize,
}

impl Log {
    pub fn new() -> Arc<Log> {
        Arc::new(Log::default())
    }

    /// Records an event and wakes waiters.
    pub fn push(&self, event: impl Into<String>) {
        self.inner.lock().unwrap().events.push(event.into());
        self.changed.notify_waiters();
    }

    fn push_data(&self, data: &[u8]) {
        {
            let mut inner = self.inner.lock().unwrap();
            inner.data.extend_from_slice(data);
            inner.events.push("dr".into());
        }
        self.changed.notify_waiters();
    }

    fn push_lost(&self, exc: Option<Error>) {
        {
            let mut inner = self.inner.lock().unwrap();
            let name = match &exc {
                None => "cl(None)".to_owned(),
                Some(e) => format!("cl({e})"),
            };
            inner.events.push(name);
            inner.lost = Some(exc);
            inner.lost_count += 1;
        }
        self.changed.notify_waiters();
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<String> {
        self.inner.lock().unwrap().events.clone()
    }

    /// Events with runs of `dr` collapsed into one `dr`, and `cl(...)` kept as is.
    pub fn trace(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.events() {
            if e == "dr" && out.last().is_some_and(|l| l == "dr") {
                continue;
            }
            out.push(e);
        }
        out
    }

    /// Every byte delivered so far.
    pub fn data(&self) -> Vec<u8> {
        self.inner.lock().unwrap().data.clone()
    }

    /// How many times an event was recorded.
    pub fn count(&self, event: &str) -> usize {
        self.events().iter().filter(|e| *e == event).count()
    }

    /// The argument of `connection_lost`, once it ran.
    pub fn lost(&self) -> Option<Option<Error>> {
        self.inner.lock().unwrap().lost.clone()
    }

    /// How many times `connection_lost` ran.
    pub fn lost_count(&self) -> usize {
        self.inner.lock().unwrap().lost_count
    }

    /// Waits (bounded) until `pred` holds for the log.
    pub async fn wait_until(&self, what: &str, pred: impl Fn(&Log) -> bool) {
        let waiting = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if pred(self) {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(TIMEOUT, waiting).await.is_err() {
            panic!("timed out waiting for {what}; events: {:?}", self.trace());
        }
    }

    /// Waits until `event` was recorded at least once.
    pub async fn wait_for(&self, event: &str) {
        self.wait_until(event, |log| log.count(event) > 0).await;
    }

    /// Waits until `connection_lost` ran and returns its argument; with a
    /// recorder attached, the callbacks must also have kept the lifecycle rules.
    pub async fn wait_lost(&self) -> Option<Error> {
        self.wait_until("connection_lost", |log| log.lost_count() > 0)
            .await;
        self.check_order();
        self.lost().expect("connection_lost ran")
    }

    /// Records the callbacks of `protocol` into this log's [`EventLog`] as well.
    pub fn recorded<P: Protocol>(&self, protocol: P) -> Recorder<P> {
        let (recorder, events) = Recorder::new(protocol);
        assert!(self.recorded.set(events).is_ok(), "one recorder per log");
        recorder
    }

    /// Panics if the recorded callbacks broke a lifecycle rule (no-op without a recorder).
    pub fn check_order(&self) {
        if let Some(events) = self.recorded.get()
            && let Err(broken) = events.check_order()
        {
            panic!("callback order broken: {broken}; events: {events:?}");
        }
    }

    /// Waits until at least `n` bytes arrived.
    pub async fn wait_data(&self, n: usize) {
        self.wait_until(&format!("{n} bytes"), |log| {
            log.inner.lock().unwrap().data.len() >= n
        })
        .await;
    }
}

/// A hook run with the transport.
pub type TransportHook = Box<dyn FnMut(&Transport) + Send>;
/// A hook run with the transport and the data just received.
pub type DataHook = Box<dyn FnMut(&Transport, &Bytes) + Send>;

/// A [`Protocol`] that records every callback in a [`Log`] and can run hooks.
pub struct Events {
    pub log: Arc<Log>,
    pub transport: Option<Transport>,
    /// What `eof_received` returns.
    pub keep_open: bool,
    pub on_made: Option<TransportHook>,
    pub on_data: Option<DataHook>,
    pub on_eof: Option<TransportHook>,
    pub on_pause: Option<TransportHook>,
    pub on_resume: Option<TransportHook>,
}

impl Events {
    pub fn new(log: &Arc<Log>) -> Events {
        Events {
            log: log.clone(),
            transport: None,
            keep_open: false,
            on_made: None,
            on_data: None,
            on_eof: None,
            on_pause: None,
            on_resume: None,
        }
    }

    pub fn keep_open(mut self, keep: bool) -> Self {
        self.keep_open = keep;
        self
    }

    pub fn on_made(mut self, f: impl FnMut(&Transport) + Send + 'static) -> Self {
        self.on_made = Some(Box::new(f));
        self
    }

    pub fn on_data(mut self, f: impl FnMut(&Transport, &Bytes) + Send + 'static) -> Self {
        self.on_data = Some(Box::new(f));
        self
    }

    pub fn on_eof(mut self, f: impl FnMut(&Transport) + Send + 'static) -> Self {
        self.on_eof = Some(Box::new(f));
        self
    }

    pub fn on_pause(mut self, f: impl FnMut(&Transport) + Send + 'static) -> Self {
        self.on_pause = Some(Box::new(f));
        self
    }

    pub fn on_resume(mut self, f: impl FnMut(&Transport) + Send + 'static) -> Self {
        self.on_resume = Some(Box::new(f));
        self
    }

    fn transport(&self) -> &Transport {
        self.transport
            .as_ref()
            .expect("callback before connection_made")
    }
}

impl BaseProtocol for Events {
    fn connection_made(&mut self, transport: &Transport) {
        self.log.push("cm");
        self.transport = Some(transport.clone());
        if let Some(f) = &mut self.on_made {
            f(transport);
        }
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        self.log.push_lost(exc);
    }

    fn pause_writing(&mut self) {
        self.log.push("pw");
        let t = self.transport().clone();
        if let Some(f) = &mut self.on_pause {
            f(&t);
        }
    }

    fn resume_writing(&mut self) {
        self.log.push("rw");
        let t = self.transport().clone();
        if let Some(f) = &mut self.on_resume {
            f(&t);
        }
    }
}

impl Protocol for Events {
    fn data_received(&mut self, data: Bytes) {
        self.log.push_data(&data);
        let t = self.transport().clone();
        if let Some(f) = &mut self.on_data {
            f(&t, &data);
        }
    }

    fn eof_received(&mut self) -> bool {
        self.log.push("eof");
        let t = self.transport().clone();
        if let Some(f) = &mut self.on_eof {
            f(&t);
        }
        self.keep_open
    }
}

/// A [`BufferedProtocol`] that records into a [`Log`] and hands out fresh
/// buffers of a fixed size.
pub struct BufferedEvents {
    pub log: Arc<Log>,
    pub transport: Option<Transport>,
    pub buf: Vec<u8>,
    pub size: usize,
    pub keep_open: bool,
}

impl BufferedEvents {
    pub fn new(log: &Arc<Log>, size: usize) -> BufferedEvents {
        BufferedEvents {
            log: log.clone(),
            transport: None,
            buf: Vec::new(),
            size,
            keep_open: false,
        }
    }
}

impl BaseProtocol for BufferedEvents {
    fn connection_made(&mut self, transport: &Transport) {
        self.log.push("cm");
        self.transport = Some(transport.clone());
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        self.log.push_lost(exc);
    }
}

impl BufferedProtocol for BufferedEvents {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        // A fresh buffer each time, as in CPython's test.
        self.buf = vec![0; self.size];
        &mut self.buf
    }

    fn buffer_updated(&mut self, nbytes: usize) {
        assert!(nbytes <= self.size);
        let chunk = self.buf[..nbytes].to_vec();
        self.log.push_data(&chunk);
    }

    fn eof_received(&mut self) -> bool {
        self.log.push("eof");
        self.keep_open
    }
}

/// Writes back every byte it receives.
#[derive(Debug, Default)]
pub struct Echo {
    pub transport: Option<Transport>,
}

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: Bytes) {
        if let Some(t) = &self.transport {
            t.write(data);
        }
    }
}

/// Starts an echo server on 127.0.0.1 with an ephemeral port.
pub async fn echo_server() -> (Server, SocketAddr) {
    let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new())
        .await
        .expect("echo server binds");
    let addr = server.local_addrs()[0];
    (server, addr)
}

/// A server on 127.0.0.1:0 whose connections each record into a fresh [`Log`];
/// the logs are handed out in accept order through the returned receiver.
pub async fn recording_server(
    make: impl Fn(&Arc<Log>) -> Events + Send + Sync + 'static,
) -> (
    Server,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Arc<Log>>,
) {
    recording_server_with(&ServerOptions::new(), make).await
}

/// [`recording_server`] with these options.
pub async fn recording_server_with(
    options: &ServerOptions,
    make: impl Fn(&Arc<Log>) -> Events + Send + Sync + 'static,
) -> (
    Server,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Arc<Log>>,
) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let factory = move || {
        let log = Log::new();
        let _ = tx.send(log.clone());
        log.recorded(make(&log))
    };
    let server = create_server(factory, "127.0.0.1", 0, options)
        .await
        .expect("server binds");
    let addr = server.local_addrs()[0];
    (server, addr, rx)
}

/// Connects to `127.0.0.1:port` with an [`Events`] protocol recording into `log`.
pub async fn connect_recording(log: &Arc<Log>, port: u16) -> (Transport, Arc<Mutex<Events>>) {
    create_connection(
        || Events::new(log),
        "127.0.0.1",
        port,
        &ConnectOptions::new(),
    )
    .await
    .unwrap()
}

/// Receives the next connection's log from [`recording_server`].
pub async fn next_log(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Arc<Log>>) -> Arc<Log> {
    with_timeout(rx.recv()).await.expect("server still running")
}

/// Reads from a raw socket until EOF (bounded), returning everything read.
pub async fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    with_timeout(stream.read_to_end(&mut out))
        .await
        .expect("read until EOF");
    out
}

/// Reads until the peer closes, by EOF or by reset (bounded); returns the
/// bytes read and whether it ended with an error (an RST: a socket closed
/// with unread data in its receive buffer resets instead of FIN).
pub async fn read_until_closed(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let reset = with_timeout(stream.read_to_end(&mut out)).await.is_err();
    (out, reset)
}

/// Reads exactly `n` bytes from a raw socket (bounded).
pub async fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    with_timeout(stream.read_exact(&mut out))
        .await
        .expect("read_exact");
    out
}

/// Connects a raw tokio client (bounded).
pub async fn raw_connect(addr: SocketAddr) -> TcpStream {
    with_timeout(TcpStream::connect(addr))
        .await
        .expect("raw connect")
}

/// Writes all of `data` on a raw socket (bounded).
pub async fn raw_write(stream: &mut TcpStream, data: &[u8]) {
    with_timeout(stream.write_all(data))
        .await
        .expect("raw write");
}

/// A socket with small kernel buffers, so a few hundred KiB fill the path.
pub fn small_buffer_socket(addr: SocketAddr) -> std::net::TcpStream {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.into()
}

/// Closes a socket with `SO_LINGER = 0`, which sends RST instead of FIN.
pub fn reset(stream: TcpStream) {
    let std = stream.into_std().unwrap();
    let sock = socket2::Socket::from(std);
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    drop(sock);
}

/// The bound on any single event-loop test body.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `fut` on a fresh single-threaded [`aioproto::EventLoop`], bounded by
/// [`TEST_TIMEOUT`], and closes the loop.
pub fn run_loop<F: std::future::IntoFuture>(fut: F) -> F::Output {
    let lp = aioproto::EventLoop::new().expect("event loop");
    let fut = fut.into_future();
    let out = lp
        .run_until_complete(async move { tokio::time::timeout(TEST_TIMEOUT, fut).await })
        .expect("loop runs")
        .expect("test body timed out");
    lp.close().expect("close");
    out
}

/// Milliseconds as a `Duration`.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// TLS fixtures: an in-memory test PKI and raw tokio-rustls peers.
pub mod pki;

/// Bounded-memory fixtures: a server in a child process, checked byte streams.
pub mod memory;

/// Stops reading as soon as the connection is made, so nothing is read
/// before a relay (or the test) takes the transport over.
pub struct Hold;

impl BaseProtocol for Hold {
    fn connection_made(&mut self, transport: &Transport) {
        transport.pause_reading();
    }
}
impl Protocol for Hold {}

/// A connection of ours to a raw listener on 127.0.0.1:0, held unread by
/// [`Hold`], and the raw socket at its other end.
pub async fn held_pair() -> (Transport, TcpStream) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let options = ConnectOptions::new();
    let (connected, accepted) = with_timeout(async {
        tokio::join!(
            create_connection(|| Hold, "127.0.0.1", port, &options),
            listener.accept()
        )
    })
    .await;
    (connected.unwrap().0, accepted.unwrap().0)
}

/// A server protocol that holds each connection unread (as [`Hold`]) and
/// hands its transport to the test.
pub struct HandOver(pub tokio::sync::mpsc::UnboundedSender<Transport>);

impl BaseProtocol for HandOver {
    fn connection_made(&mut self, transport: &Transport) {
        transport.pause_reading();
        let _ = self.0.send(transport.clone());
    }
}
impl Protocol for HandOver {}
