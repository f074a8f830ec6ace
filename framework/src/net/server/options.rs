//! [`ServerOptions`]: how a server binds, accepts and admits connections,
//! and what every connection it serves enforces (the backpressure hold, the
//! time limits).

use std::fmt;
use std::time::Duration;

use crate::net::proxy::ProxyProtocol;
use crate::transport::start::Settings;
use crate::transport::timeouts::check_limit;

/// How long an accepted connection may take to send its whole PROXY
/// protocol header ([`ServerOptions::proxy_header_timeout`]).
const DEFAULT_PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Default cap on TLS handshakes in progress at once
/// ([`ServerOptions::max_tls_handshakes`]).
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub const DEFAULT_MAX_TLS_HANDSHAKES: usize = 256;

/// Options for [`create_server`](crate::create_server), set with a builder.
///
/// # Per-connection settings
///
/// Besides how the server listens and admits clients, the options say what
/// each connection enforces, on the connection's driver task:
///
/// * [`pause_reading_on_backpressure`](Self::pause_reading_on_backpressure)
///   (on by default): a connection stops reading while its write buffer is
///   over the high-water mark, so memory stays bounded against peers that
///   send and never read;
/// * [`idle_timeout`](Self::idle_timeout),
///   [`read_idle_timeout`](Self::read_idle_timeout),
///   [`write_stall_timeout`](Self::write_stall_timeout) (none by default).
///
/// The TLS handshake timeout belongs to the TLS settings,
/// `ServerTls::handshake_timeout` (feature `tls`, default 60 s), given here
/// with `tls`: it bounds the handshake before the connection exists, while
/// the limits above bound the connection after it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let mut options = aioproto::ServerOptions::new();
/// options
///     .backlog(1024)
///     .reuse_port(true)
///     .max_connections(10_000)
///     .idle_timeout(Duration::from_secs(300))
///     .start_serving(false);
/// ```
#[derive(Clone)]
pub struct ServerOptions {
    pub(crate) backlog: u32,
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    pub(crate) keepalive: bool,
    pub(crate) nodelay: bool,
    pub(crate) start_serving: bool,
    pub(crate) max_connections: Option<usize>,
    pub(crate) workers: usize,
    /// Test switch (`internal::force_handoff`): serve workers through one
    /// acceptor even where `SO_REUSEPORT` exists.
    pub(crate) force_handoff: bool,
    #[cfg(feature = "unix")]
    pub(crate) cleanup_socket: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::net::tls::ServerTls>,
    #[cfg(feature = "tls")]
    pub(crate) max_tls_handshakes: usize,
    /// Read a PROXY protocol header before anything else.
    pub(crate) proxy_protocol: Option<ProxyProtocol>,
    pub(crate) proxy_header_timeout: Duration,
    /// What each connection enforces (no counters here: the server adds its own).
    pub(crate) connection: Settings,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            backlog: 100,
            reuse_address: true,
            reuse_port: false,
            keepalive: false,
            nodelay: true,
            start_serving: true,
            max_connections: None,
            workers: 1,
            force_handoff: false,
            #[cfg(feature = "unix")]
            cleanup_socket: true,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            max_tls_handshakes: DEFAULT_MAX_TLS_HANDSHAKES,
            proxy_protocol: None,
            proxy_header_timeout: DEFAULT_PROXY_HEADER_TIMEOUT,
            connection: Settings::server_default(),
        }
    }
}

impl ServerOptions {
    /// The defaults: backlog 100, `SO_REUSEADDR` on, `SO_REUSEPORT` off,
    /// keep-alive off, `TCP_NODELAY` on, serving at once, no connection
    /// limit, at most 256 TLS handshakes in progress, no PROXY protocol
    /// header (10 s to send one once asked for), reading paused on
    /// backpressure, no idle, read-idle or write-stall timeout, and one worker
    /// (the runtime that creates the server).
    pub fn new() -> Self {
        Self::default()
    }

    /// The `listen()` backlog (default 100).
    ///
    /// This is also how many clients the kernel holds, connected but not yet
    /// accepted, while [`max_connections`](Self::max_connections) or the TLS
    /// handshake cap (`max_tls_handshakes`) pauses accepting.
    pub fn backlog(&mut self, backlog: u32) -> &mut Self {
        self.backlog = backlog;
        self
    }

    /// `SO_REUSEADDR` on the listening sockets (default on, as asyncio on
    /// Unix). TCP only: Unix socket servers have no such option.
    pub fn reuse_address(&mut self, on: bool) -> &mut Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`, so several servers can share a port (default off).
    /// TCP only: Unix socket servers have no such option.
    pub fn reuse_port(&mut self, on: bool) -> &mut Self {
        self.reuse_port = on;
        self
    }

    /// `SO_KEEPALIVE` on accepted connections (default off). TCP only.
    pub fn keepalive(&mut self, on: bool) -> &mut Self {
        self.keepalive = on;
        self
    }

    /// `TCP_NODELAY` on accepted connections (default on). TCP only.
    pub fn nodelay(&mut self, on: bool) -> &mut Self {
        self.nodelay = on;
        self
    }

    /// Serves TLS on every accepted connection (default: plain TCP).
    ///
    /// `connection_made` runs after the handshake; a failed handshake calls
    /// no callback: it is logged at debug level, counted in
    /// [`ServerStats::tls_handshakes_failed`](crate::ServerStats::tls_handshakes_failed),
    /// and summarised in at most one warning every 10 seconds. See
    /// [`ServerTls`](crate::ServerTls).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(&mut self, tls: crate::net::tls::ServerTls) -> &mut Self {
        self.tls = Some(tls);
        self
    }

    /// Stops accepting while `max` connections are open (default: no limit).
    ///
    /// A connection is open from the moment it is accepted (its TLS handshake
    /// included) until its `connection_lost` has run. At the limit the server
    /// simply does not call `accept()`: the next clients wait in the kernel's
    /// listen backlog (see [`backlog`](Self::backlog)), connected but not yet
    /// served, and nobody is reset. As soon as one connection ends, accepting
    /// resumes and the oldest waiting client gets its `connection_made`. A
    /// TCP client past a full backlog sees its connection attempt retried by
    /// its kernel (Linux drops the SYN), not refused.
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut options = aioproto::ServerOptions::new();
    /// options.max_connections(1000).backlog(512);
    /// ```
    pub fn max_connections(&mut self, max: usize) -> &mut Self {
        assert!(max > 0, "max_connections must be at least 1");
        self.max_connections = Some(max);
        self
    }

    /// Stops accepting while `max` TLS handshakes are in progress (default
    /// [`DEFAULT_MAX_TLS_HANDSHAKES`], 256).
    /// TLS servers only; a plain server ignores it.
    ///
    /// This is a separate and usually much lower cap than
    /// [`max_connections`](Self::max_connections): a handshake costs CPU and
    /// holds a socket for up to the handshake timeout
    /// ([`ServerTls::handshake_timeout`](crate::ServerTls::handshake_timeout),
    /// default 60 s) even when the client never sends a byte. With the cap,
    /// clients that stall their handshake cannot take every file descriptor:
    /// once `max` of them are in progress, accepting pauses as with
    /// `max_connections` (the next clients wait in the listen backlog) until
    /// one finishes or times out. The default is high enough that ordinary
    /// bursts of new clients never wait.
    ///
    /// With [`proxy_protocol`](Self::proxy_protocol), a connection takes its
    /// place under this cap from accept, while it reads its PROXY header, to
    /// the end of its TLS handshake: that whole time it holds a socket
    /// before any protocol exists.
    ///
    /// # Panics
    ///
    /// If `max` is zero.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use std::time::Duration;
    ///
    /// # fn main() -> aioproto::Result<()> {
    /// let mut tls = aioproto::ServerTls::from_pem("certs/server.pem", "certs/server.key")?;
    /// tls.handshake_timeout(Duration::from_secs(10))?;
    /// let mut options = aioproto::ServerOptions::new();
    /// options.tls(tls).max_tls_handshakes(64);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn max_tls_handshakes(&mut self, max: usize) -> &mut Self {
        assert!(max > 0, "max_tls_handshakes must be at least 1");
        self.max_tls_handshakes = max;
        self
    }

    /// Requires a PROXY protocol header (HAProxy's, v1, v2 or either, as
    /// `config` says) at the start of every accepted connection (default: none).
    ///
    /// Each connection first reads the header, within
    /// [`proxy_header_timeout`](Self::proxy_header_timeout) (10 s by
    /// default), holding at most the longest header `config` accepts plus
    /// one 512-byte read. Only then is the protocol made and its
    /// `connection_made` called, with the addresses the header carries:
    /// [`Transport::peername`](crate::Transport::peername) is the client's,
    /// [`sockname`](crate::Transport::sockname) the address it connected to
    /// (for a Unix address in a v2 header, `ExtraInfo::peer_path` and
    /// `sock_path`), while [`Transport::original_peername`](crate::Transport::original_peername)
    /// and [`Transport::proxy`](crate::Transport::proxy) keep the socket's
    /// own. A LOCAL (health check) or UNKNOWN header keeps the socket's
    /// addresses. Bytes that arrived after the header in the same read are
    /// not lost: they are the first `data_received` (or, with
    /// [`tls`](Self::tls), the start of the TLS handshake, which follows the
    /// header in the clear).
    ///
    /// As the spec requires, nothing is guessed: a connection whose first
    /// bytes are not an accepted header, whose header is malformed or too
    /// long, that closes before its header is complete, or that does not
    /// complete it in time, is closed. No protocol is made for it and no
    /// callback runs; it is logged at debug level, summed up in at most one
    /// warning every 10 seconds, and counted in
    /// [`ServerStats::proxy_header_rejected`](crate::ServerStats::proxy_header_rejected).
    ///
    /// A connection reading its header is open: it counts for
    /// [`max_connections`](Self::max_connections) and in
    /// [`ServerStats::tls_handshaking`](crate::ServerStats::tls_handshaking)
    /// (the connections not yet past their handshake steps), and
    /// `close_clients`, `abort_clients` and `shutdown` end it at once. On a
    /// TLS server it also counts for `max_tls_handshakes`, from accept to the
    /// end of its TLS handshake.
    ///
    /// Only put this on a server that every client reaches through a proxy
    /// that sends the header: anyone who can connect directly can claim any
    /// address.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{BaseProtocol, Protocol, ProxyHeader, ProxyProtocol, ServerOptions, Transport, create_server};
    /// use tokio::io::AsyncWriteExt;
    ///
    /// struct Who(tokio::sync::mpsc::UnboundedSender<Option<std::net::SocketAddr>>);
    /// impl BaseProtocol for Who {
    ///     fn connection_made(&mut self, t: &Transport) {
    ///         let _ = self.0.send(t.peername());
    ///     }
    /// }
    /// impl Protocol for Who {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    /// let mut options = ServerOptions::new();
    /// options.proxy_protocol(ProxyProtocol::any());
    /// let server = create_server(move || Who(tx.clone()), "127.0.0.1", 0, &options).await?;
    ///
    /// let client = "203.0.113.7:40000".parse().unwrap();
    /// let header = ProxyHeader::tcp(client, server.local_addrs()[0]).encode_v2().unwrap();
    /// let mut proxy = tokio::net::TcpStream::connect(server.local_addrs()[0]).await?;
    /// proxy.write_all(&header).await?;
    /// assert_eq!(rx.recv().await, Some(Some(client)));
    /// server.shutdown(std::time::Duration::from_secs(1)).await;
    /// # Ok(()) }
    /// ```
    pub fn proxy_protocol(&mut self, config: ProxyProtocol) -> &mut Self {
        self.proxy_protocol = Some(config);
        self
    }

    /// How long an accepted connection has to send its whole PROXY protocol
    /// header (default 10 s); see [`proxy_protocol`](Self::proxy_protocol).
    /// A proxy sends it at once, so the limit is for clients that connect
    /// and say nothing. The TLS handshake that may follow has its own limit.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut options = aioproto::ServerOptions::new();
    /// options
    ///     .proxy_protocol(aioproto::ProxyProtocol::v2())
    ///     .proxy_header_timeout(Duration::from_secs(3));
    /// ```
    pub fn proxy_header_timeout(&mut self, timeout: Duration) -> &mut Self {
        assert!(
            !timeout.is_zero(),
            "proxy_header_timeout must be above zero"
        );
        self.proxy_header_timeout = timeout;
        self
    }

    /// Whether a connection stops reading while its write buffer is over the
    /// high-water mark (default on).
    ///
    /// With it on, once a connection's write buffer goes over its high-water
    /// mark (64 KiB by default, 512 KiB for TLS; see
    /// [`Transport::set_write_buffer_limits`](crate::Transport::set_write_buffer_limits)),
    /// the transport delivers no more data until the buffer has drained to
    /// the low mark. What the peer goes on sending waits in the kernel, and
    /// TCP flow control slows the peer down. So a protocol that only writes
    /// in answer to what it reads (echo, request/response) never holds more
    /// than about the high mark plus one read per connection, even against a
    /// peer that sends and never reads, and even if it ignores
    /// `pause_writing`. The protocol still gets `pause_writing` and
    /// `resume_writing`, at the same marks.
    ///
    /// The hold is separate from the protocol's own
    /// [`pause_reading`](crate::Transport::pause_reading): draining to the
    /// low mark does not undo a `pause_reading()`, a `resume_reading()` reads
    /// nothing while the buffer is still over the mark, and
    /// [`is_reading`](crate::Transport::is_reading) shows the protocol's own
    /// pause only.
    ///
    /// Writes that do not answer reads (a broadcast to other clients, a
    /// producer task) are not bounded by the hold, which only stops the
    /// reading. Cap them with
    /// [`Transport::set_write_buffer_hard_limit`](crate::Transport::set_write_buffer_hard_limit),
    /// or have the producer stop in `pause_writing` or wait in
    /// [`drain`](crate::Transport::drain).
    ///
    /// Clients ([`ConnectOptions`](crate::ConnectOptions)) have the hold off
    /// by default, so that two aioproto ends never both wait for the other
    /// to read.
    ///
    /// Turn it off (and bound memory some other way) when a connection must
    /// go on reading while its peer is slow to read:
    ///
    /// * the protocol must see what the peer sends to be able to make
    ///   progress, say acknowledgements or cancellations that stop a large
    ///   response it is streaming;
    /// * the peer sends a whole large message before it reads any of the
    ///   answer, and the protocol answers as it reads (echoing an upload):
    ///   with the hold on, the two wait on each other forever once the
    ///   answer is larger than the buffers between them; with it off the
    ///   server buffers the whole answer, as asyncio does.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut options = aioproto::ServerOptions::new();
    /// options.pause_reading_on_backpressure(false); // asyncio's behaviour
    /// ```
    pub fn pause_reading_on_backpressure(&mut self, on: bool) -> &mut Self {
        self.connection.pause_reading_on_backpressure = on;
        self
    }

    /// Aborts a connection on which no byte was read and none written for
    /// `timeout` (default: no limit; `None` removes it).
    ///
    /// The protocol is asked first, in
    /// [`BaseProtocol::timeout_reached`](crate::BaseProtocol::timeout_reached)
    /// with [`TimeoutKind::Idle`](crate::TimeoutKind::Idle); unless it returns
    /// `true` (and the limit counts again from then), the write buffer is
    /// dropped, `connection_lost` gets
    /// [`Error::Timeout`](crate::Error::Timeout), and the server counts it in
    /// [`ServerStats::timed_out`](crate::ServerStats::timed_out).
    ///
    /// A byte counts when it is read from the socket or handed to it (for
    /// TLS, plaintext in and out of the TLS session); bytes waiting in the
    /// write buffer do not, so a connection whose peer stopped reading is
    /// idle. The timer costs nothing per byte: the driver notes the time once
    /// per poll that moved data, and one timer per connection wakes at most
    /// about once per `timeout`.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut options = aioproto::ServerOptions::new();
    /// options.idle_timeout(Duration::from_secs(60));
    /// ```
    pub fn idle_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.connection.timeouts.idle = check_limit("idle_timeout", timeout.into());
        self
    }

    /// Aborts a connection on which no byte was read for `timeout` (default:
    /// no limit; `None` removes it), whatever it writes. Once the peer has
    /// sent EOF, nothing more can arrive, and the limit no longer applies.
    ///
    /// Handled as [`idle_timeout`](Self::idle_timeout), with
    /// [`TimeoutKind::ReadIdle`](crate::TimeoutKind::ReadIdle). This is the
    /// limit for a client that connects and then says nothing (or too
    /// little) while the server talks.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    pub fn read_idle_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.connection.timeouts.read_idle = check_limit("read_idle_timeout", timeout.into());
        self
    }

    /// Aborts a connection whose write buffer held data and wrote none of it
    /// for `timeout` (default: no limit; `None` removes it): a peer that
    /// stopped reading.
    ///
    /// The clock runs only while something waits to be written (in the
    /// write buffer, or in the TLS session); every write that makes progress
    /// restarts it, and a drained buffer stops it. Handled as
    /// [`idle_timeout`](Self::idle_timeout), with
    /// [`TimeoutKind::WriteStall`](crate::TimeoutKind::WriteStall). Unlike
    /// the hard limit, it drops a peer that reads too little however small
    /// the buffer is, and it bounds how long `close()` may wait to flush.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    pub fn write_stall_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.connection.timeouts.write_stall = check_limit("write_stall_timeout", timeout.into());
        self
    }

    /// Serves on `n` worker threads, each with its own single-threaded event
    /// loop (default 1: no threads of its own; the server runs on the tokio
    /// runtime that creates it, whatever its kind).
    ///
    /// With `n` > 1, [`create_server`](crate::create_server) starts `n`
    /// threads (`aioproto-worker-0`, …), each running a current-thread tokio
    /// runtime, and binds each address `n` times with `SO_REUSEPORT`, so each
    /// worker has its own listening socket and the kernel spreads new
    /// connections across them. Port 0 picks one free port per address that
    /// every worker shares. Servers made from a socket handed in
    /// ([`create_server_from_std`](crate::create_server_from_std), Unix
    /// socket servers) have one listening socket: one acceptor (on worker 0)
    /// hands each connection to the next worker in turn.
    ///
    /// That is thread-per-core, as asyncio is per process: a connection lives
    /// on one worker from accept to `connection_lost`, its protocol factory
    /// runs there, and its callbacks run there, one at a time, in order.
    /// Connections on different workers run in parallel, so the factory and
    /// whatever protocols share (a room, a store) must be `Sync` (the
    /// factory already is: [`ProtocolFactory`](crate::ProtocolFactory) is
    /// `Send + Sync`). A panic in a callback ends that connection only, and a
    /// panic in the factory fails only the connection it was called for; no
    /// worker ever stops because of one.
    ///
    /// The [`Server`](crate::Server) handle covers every worker:
    /// `close`, `close_clients`, `abort_clients`, `shutdown` and
    /// `wait_closed` act on all of them, `local_addrs` lists each address
    /// once, and [`stats`](crate::Server::stats) sums their counters
    /// ([`worker_stats`](crate::Server::worker_stats) has each).
    /// [`max_connections`](Self::max_connections) and `max_tls_handshakes`
    /// limit the whole server, exactly: the workers share the gauges, and a
    /// worker takes its place under them (an atomic compare-and-swap) after
    /// its `accept()` returns. At a limit, each worker may hold the one
    /// connection it had just accepted (connected, not yet served, no
    /// callback run) until a connection ends on any worker; the others wait
    /// in the kernel's backlog as without workers. The workers stop once the server is closed and their
    /// connections are gone; tasks a protocol spawned with `tokio::spawn` run
    /// on its worker's loop and are cancelled then.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
    /// use bytes::Bytes;
    ///
    /// struct Echo(Option<Transport>);
    /// impl BaseProtocol for Echo {
    ///     fn connection_made(&mut self, t: &Transport) {
    ///         self.0 = Some(t.clone());
    ///     }
    /// }
    /// impl Protocol for Echo {
    ///     fn data_received(&mut self, data: Bytes) {
    ///         self.0.as_ref().unwrap().write(data);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let mut options = ServerOptions::new();
    /// options.workers(2);
    /// let server = create_server(|| Echo(None), "127.0.0.1", 0, &options).await?;
    /// assert_eq!(server.local_addrs().len(), 1); // one port, two listening sockets
    /// server.shutdown(std::time::Duration::from_secs(1)).await;
    /// # Ok(()) }
    /// ```
    pub fn workers(&mut self, n: usize) -> &mut Self {
        assert!(n > 0, "workers must be at least 1");
        self.workers = n;
        self
    }

    /// Whether to start accepting at once (default true). With false, the
    /// sockets are bound but not listening until
    /// [`Server::start_serving`](crate::Server::start_serving).
    pub fn start_serving(&mut self, on: bool) -> &mut Self {
        self.start_serving = on;
        self
    }

    /// Unix servers only: remove the socket file when the server closes
    /// (default true), unless it was replaced by another file meanwhile.
    #[cfg(feature = "unix")]
    #[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
    pub fn cleanup_socket(&mut self, on: bool) -> &mut Self {
        self.cleanup_socket = on;
        self
    }
}

impl fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ServerOptions");
        d.field("backlog", &self.backlog)
            .field("reuse_address", &self.reuse_address)
            .field("reuse_port", &self.reuse_port)
            .field("keepalive", &self.keepalive)
            .field("nodelay", &self.nodelay)
            .field("start_serving", &self.start_serving)
            .field("max_connections", &self.max_connections)
            .field(
                "pause_reading_on_backpressure",
                &self.connection.pause_reading_on_backpressure,
            )
            .field("idle_timeout", &self.connection.timeouts.idle)
            .field("read_idle_timeout", &self.connection.timeouts.read_idle)
            .field("write_stall_timeout", &self.connection.timeouts.write_stall)
            .field("workers", &self.workers)
            .field("proxy_protocol", &self.proxy_protocol)
            .field("proxy_header_timeout", &self.proxy_header_timeout);
        #[cfg(feature = "unix")]
        d.field("cleanup_socket", &self.cleanup_socket);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some())
            .field("max_tls_handshakes", &self.max_tls_handshakes);
        d.finish()
    }
}
