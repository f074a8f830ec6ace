//! Listening servers: [`create_server`], [`Server`] and [`ServerOptions`].
//!
//! One accept loop per server (every listening socket of it) admits
//! connections while there is room under the limits, counts them, and starts
//! each through the one start path; a server with handshake steps (a PROXY
//! protocol header, TLS) first runs them on a task of its own, which the
//! server can end (`close_clients`, `shutdown`).
//!
//! * `accept.rs`: the accept loop, admission, the handshake tasks and the
//!   registry of live connections;
//! * `handshake.rs`: the handshake steps (PROXY header, then TLS);
//! * `shutdown.rs`: `close_clients`, `abort_clients` and `shutdown(grace)`;
//! * `options.rs`, `stats.rs`, `handshake_log.rs`: the options, the counters,
//!   and the rate-limited log of failed handshakes;
//! * `workers.rs`: [`ServerOptions::workers`], several event loops behind one
//!   [`Server`].
//!
//! A [`Server`] is a group of *shards* (`ServerInner`): one without workers,
//! one per worker thread with them. Each shard has its own listening sockets,
//! accept loop, registry of connections and counters; the handle's methods
//! act on every shard and sum what they read.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::runtime::Handle as RuntimeHandle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::net::addr::bind_error;
use crate::transport::Transport;
use crate::transport::dispatch::{Handler, ProtocolFactory};
use crate::util::lock;

mod accept;
mod handshake;
mod handshake_log;
pub(crate) mod options;
mod shutdown;
pub(crate) mod stats;
#[cfg(test)]
mod tests;
mod workers;

use accept::{Connection, Handshake, Listener, LoopMode, accept_loop};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use options::DEFAULT_MAX_TLS_HANDSHAKES;
pub use options::ServerOptions;
use shutdown::Phase;
use stats::Counters;
pub use stats::ServerStats;
use workers::Pool;

/// Where a server listens: no host (every interface, IPv4 and IPv6), one
/// host name or address, or several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosts {
    /// Every interface: `0.0.0.0` and `::`, one socket each.
    All,
    /// Host names or addresses, each resolved; duplicates bind once.
    Names(Vec<String>),
}

impl From<&str> for Hosts {
    fn from(host: &str) -> Self {
        if host.is_empty() {
            Hosts::All
        } else {
            Hosts::Names(vec![host.to_owned()])
        }
    }
}

impl From<String> for Hosts {
    fn from(host: String) -> Self {
        Hosts::from(host.as_str())
    }
}

impl From<Option<&str>> for Hosts {
    fn from(host: Option<&str>) -> Self {
        host.map_or(Hosts::All, Hosts::from)
    }
}

impl From<IpAddr> for Hosts {
    fn from(ip: IpAddr) -> Self {
        Hosts::Names(vec![ip.to_string()])
    }
}

impl From<Ipv4Addr> for Hosts {
    fn from(ip: Ipv4Addr) -> Self {
        Hosts::from(IpAddr::V4(ip))
    }
}

impl<const N: usize> From<[&str; N]> for Hosts {
    fn from(hosts: [&str; N]) -> Self {
        Hosts::Names(hosts.iter().map(|h| (*h).to_owned()).collect())
    }
}

impl From<Vec<&str>> for Hosts {
    fn from(hosts: Vec<&str>) -> Self {
        Hosts::Names(hosts.into_iter().map(str::to_owned).collect())
    }
}

/// A running (or bound) server. Cheap to clone; every clone controls the same server.
///
/// Dropping the handles does not stop the server: call [`close`](Self::close).
///
/// With [`ServerOptions::workers`] one `Server` stands for every worker: each
/// method acts on all of them, and [`stats`](Self::stats) sums their counters.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
///
/// struct Hello;
/// impl BaseProtocol for Hello {
///     fn connection_made(&mut self, t: &Transport) {
///         t.write("hello\n");
///         t.close();
///     }
/// }
/// impl Protocol for Hello {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let server = create_server(|| Hello, "127.0.0.1", 0, &ServerOptions::new()).await?;
/// println!("listening on {}", server.local_addrs()[0]);
/// server.close();
/// server.wait_closed().await;
/// # Ok(()) }
/// ```
///
/// # Shutting down
///
/// [`shutdown(grace)`](Self::shutdown) stops accepting, asks every client to
/// close (flushing what was written to it), aborts whatever is still open once
/// `grace` has passed, and resolves when every connection is gone. A client
/// that never reads can delay the exit by at most `grace`:
///
/// ```no_run
/// use std::time::Duration;
///
/// use aioproto::{BaseProtocol, Protocol, ServerOptions, create_server};
/// use tokio::signal::unix::{SignalKind, signal};
///
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// # #[tokio::main]
/// # async fn main() -> aioproto::Result<()> {
/// let server = create_server(|| Quiet, "127.0.0.1", 8888, &ServerOptions::new()).await?;
/// let mut sigterm = signal(SignalKind::terminate())?;
/// tokio::select! {
///     _ = sigterm.recv() => {}
///     _ = tokio::signal::ctrl_c() => {}
/// }
/// server.shutdown(Duration::from_secs(10)).await;
/// tracing::info!("server stopped: {}", server.stats());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Server {
    group: Arc<Group>,
}

/// Every shard of one server, and the worker threads that run them.
struct Group {
    /// One shard without workers; one per worker with them.
    shards: Box<[Arc<ServerInner>]>,
    /// The worker threads (`workers(n)` with n > 1).
    threads: Option<workers::Threads>,
    /// Shared by every shard with workers; `None` without.
    pool: Option<Arc<Pool>>,
    /// `server{addr}`: the shutdown logs in it; the shards' spans are in it.
    span: tracing::Span,
}

/// One event loop's part of a server: its sockets, accept loop, registry and
/// counters. A server without workers is one shard.
struct ServerInner {
    state: Mutex<ServerState>,
    /// Woken whenever the server closes or a connection (or handshake) ends:
    /// `wait_closed` and an accept loop waiting for room wait on it.
    changed: Notify,
    make_handler: Box<dyn Fn() -> Handler + Send + Sync>,
    options: ServerOptions,
    /// Shared, so a connection's driver can be handed it (byte counters).
    counters: Arc<Counters>,
    /// `server{addr}` (or `worker{id}` under it): the accept loop, the
    /// shutdown and the connections log in it.
    span: tracing::Span,
    /// The worker's runtime, where this shard's tasks are spawned; `None`:
    /// the runtime that called `start_serving`.
    runtime: Option<RuntimeHandle>,
    /// The admission gauges every worker shares; `None` without workers.
    pool: Option<Arc<Pool>>,
    /// Whether this shard's accept loop hands its connections to the
    /// workers (the hand-off acceptor) instead of serving them.
    hands_off: bool,
    handshake_failures: handshake_log::HandshakeFailures,
}

#[derive(Default)]
struct ServerState {
    /// Bound sockets not yet listening (`start_serving(false)`).
    bound: Vec<Socket>,
    /// The channel a hand-off worker receives its connections on, until
    /// `start_serving` starts its accept loop.
    handoff: Option<Listener>,
    /// Listening sockets (and hand-off channels); dropping one here closes it at once.
    listeners: Vec<Arc<Listener>>,
    /// Unix socket files to remove on close.
    #[cfg(feature = "unix")]
    cleanup: Vec<crate::net::unix::SocketFile>,
    accept_tasks: Vec<JoinHandle<()>>,
    /// Live connections by id.
    connections: HashMap<u64, Connection>,
    /// Accepted connections still in their handshake steps (PROXY header,
    /// TLS handshake): not yet a transport, but open (for `max_connections`) and waited for by
    /// `wait_closed`, as asyncio does.
    handshakes: HashMap<u64, Handshake>,
    /// The next connection id: ids count up in accept order, from the
    /// worker's index in steps of the worker count (0, 1, 2… without
    /// workers), so ids are unique across workers.
    next_connection_id: u64,
    id_step: u64,
    closed: bool,
    serve_forever_running: bool,
    /// Set by `shutdown`: what happens to connections that start from now on.
    shutdown: Option<Phase>,
}

impl ServerState {
    /// Connections open: started, or still in their handshake steps.
    fn open(&self) -> usize {
        self.connections.len() + self.handshakes.len()
    }
}

/// Creates a TCP server for `host` and `port`, like asyncio's `create_server`.
///
/// `factory` makes one protocol (a [`Protocol`](crate::Protocol) or a
/// [`BufferedProtocol`](crate::BufferedProtocol)) per connection. `host` is
/// anything that converts to [`Hosts`]: `"127.0.0.1"`, `"localhost"` (every
/// address it resolves to), `""` or `None` (every interface, IPv4 and IPv6), or a
/// list. Port 0 picks a free port (one per socket; with
/// [`workers`](ServerOptions::workers), one per address, shared by every worker).
///
/// Returns once the sockets are bound and, unless `start_serving(false)`,
/// listening.
///
/// # Errors
///
/// I/O errors from resolving or binding, e.g. `AddrInUse`
/// ([`Error::raw_os_error`] is `EADDRINUSE`); with workers, an I/O error if
/// a worker's runtime or thread cannot be started.
///
/// # Cancel safety
///
/// Cancelling before it returns closes every socket it bound.
pub async fn create_server<F, M>(
    factory: F,
    host: impl Into<Hosts>,
    port: u16,
    options: &ServerOptions,
) -> Result<Server>
where
    F: ProtocolFactory<M>,
{
    let addrs = resolve_hosts(host.into(), port).await?;
    if options.workers > 1 && workers::HAS_REUSE_PORT && !options.force_handoff {
        let per_worker = workers::bind_reuse_port(&addrs, options)?;
        return workers::start(factory, workers::Layout::ReusePort(per_worker), options);
    }
    let mut sockets = Vec::with_capacity(addrs.len());
    for addr in addrs {
        sockets.push(bind_socket(addr, options, options.reuse_port)?);
    }
    Server::from_sockets(factory, sockets, options)
}

/// Creates a server on an already-bound (and possibly listening) socket,
/// like `create_server(sock=…)`.
///
/// The socket is bound already, so the bind-time options (`reuse_address`,
/// `reuse_port`) do not apply to it, as in asyncio; every other option does
/// (`backlog` when the socket is not listening yet).
///
/// With [`workers`](ServerOptions::workers), the one socket is served by one
/// acceptor that hands each connection to the next worker in turn (its
/// owner may not have set `SO_REUSEPORT`, so no more sockets can share it).
///
/// # Errors
///
/// An I/O error if the socket cannot be made non-blocking or cannot listen,
/// or (with workers) if a worker cannot be started.
pub fn create_server_from_std<F, M>(
    factory: F,
    listener: std::net::TcpListener,
    options: &ServerOptions,
) -> Result<Server>
where
    F: ProtocolFactory<M>,
{
    Server::from_sockets(factory, vec![Socket::from(listener)], options)
}

async fn resolve_hosts(hosts: Hosts, port: u16) -> Result<Vec<SocketAddr>> {
    let mut addrs = Vec::new();
    match hosts {
        Hosts::All => {
            addrs.push(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port));
            if ipv6_available() {
                addrs.push(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port));
            }
        }
        Hosts::Names(names) => {
            for name in names {
                for addr in crate::net::resolve::lookup_host(name.as_str(), port).await? {
                    if !addrs.contains(&addr) {
                        addrs.push(addr);
                    }
                }
            }
        }
    }
    if addrs.is_empty() {
        return Err(Error::invalid_argument("the host resolved to no address"));
    }
    Ok(addrs)
}

/// A bound socket's address or path, for the log.
fn socket_name(socket: &Socket) -> String {
    match socket.local_addr() {
        Ok(addr) => match (addr.as_socket(), addr.as_pathname()) {
            (Some(ip), _) => ip.to_string(),
            (None, Some(path)) => path.display().to_string(),
            (None, None) => "unnamed".to_owned(),
        },
        Err(_) => "unknown".to_owned(),
    }
}

fn ipv6_available() -> bool {
    Socket::new(Domain::IPV6, Type::STREAM, None).is_ok()
}

fn bind_socket(addr: SocketAddr, options: &ServerOptions, reuse_port: bool) -> Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(SockProtocol::TCP),
    )?;
    if addr.is_ipv6() {
        // One socket per family, as asyncio does, so `::` does not take the IPv4 port too.
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(options.reuse_address)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into()).map_err(|e| bind_error(e, addr))?;
    Ok(socket)
}

/// How a shard is made; see [`ServerInner::new`].
struct ShardParts {
    make_handler: Box<dyn Fn() -> Handler + Send + Sync>,
    sockets: Vec<Socket>,
    handoff: Option<Listener>,
    span: tracing::Span,
    runtime: Option<RuntimeHandle>,
    pool: Option<Arc<Pool>>,
    hands_off: bool,
    /// This shard's worker index and the worker count (0 and 1 without workers).
    index: usize,
    count: usize,
    handshake_failures: handshake_log::HandshakeFailures,
}

impl ServerInner {
    fn new(parts: ShardParts, options: &ServerOptions) -> ServerInner {
        ServerInner {
            state: Mutex::new(ServerState {
                bound: parts.sockets,
                handoff: parts.handoff,
                next_connection_id: parts.index as u64,
                id_step: parts.count as u64,
                ..ServerState::default()
            }),
            changed: Notify::new(),
            make_handler: parts.make_handler,
            options: options.clone(),
            counters: Arc::default(),
            span: parts.span,
            runtime: parts.runtime,
            pool: parts.pool,
            hands_off: parts.hands_off,
            handshake_failures: parts.handshake_failures,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ServerState> {
        lock(&self.state)
    }

    /// Wakes whoever waits for this shard to change and, with workers, every
    /// worker's accept loop waiting for room.
    fn notify_changed(&self) {
        self.changed.notify_waiters();
        if let Some(pool) = &self.pool {
            pool.room.notify_waiters();
        }
    }

    /// Spawns `task` on this shard's runtime.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
        match &self.runtime {
            Some(runtime) => runtime.spawn(task),
            None => tokio::spawn(task),
        }
    }

    fn start_serving(self: &Arc<Self>) -> Result<()> {
        use tracing::Instrument;

        // Sockets register with the reactor of the runtime they are made in.
        let _entered = self.runtime.as_ref().map(RuntimeHandle::enter);
        let mut state = self.lock();
        if state.closed {
            return Err(Error::Closed("server"));
        }
        let bound = std::mem::take(&mut state.bound);
        let mut listening = Vec::with_capacity(bound.len());
        let mut failed = None;
        for socket in bound {
            let listener = socket
                .listen(self.options.backlog.min(i32::MAX as u32) as i32)
                .and_then(|()| socket.set_nonblocking(true))
                .and_then(|()| Listener::from_socket(socket));
            match listener {
                Ok(listener) => listening.push(Arc::new(listener)),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if !listening.is_empty() {
            let weak = listening.iter().map(Arc::downgrade).collect();
            let mode = if self.hands_off {
                LoopMode::HandOff
            } else {
                LoopMode::Serve
            };
            let accepting = accept_loop(weak, self.clone(), mode).instrument(self.span.clone());
            state.accept_tasks.push(self.spawn(accepting));
            state.listeners.extend(listening);
        }
        if let Some(handoff) = state.handoff.take() {
            let handoff = Arc::new(handoff);
            let weak = vec![Arc::downgrade(&handoff)];
            let receiving =
                accept_loop(weak, self.clone(), LoopMode::Receive).instrument(self.span.clone());
            state.accept_tasks.push(self.spawn(receiving));
            state.listeners.push(handoff);
        }
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    fn is_serving(&self) -> bool {
        let state = self.lock();
        !state.closed && !state.listeners.is_empty()
    }

    fn close(&self) {
        let tasks = {
            let mut state = self.lock();
            state.closed = true;
            state.listeners.clear();
            state.bound.clear();
            state.handoff = None;
            #[cfg(feature = "unix")]
            for file in state.cleanup.drain(..) {
                file.remove();
            }
            std::mem::take(&mut state.accept_tasks)
        };
        for task in tasks {
            task.abort();
        }
        self.notify_changed();
    }

    fn local_addrs(&self) -> Vec<SocketAddr> {
        let state = self.lock();
        let listening = state.listeners.iter().filter_map(|l| l.local_addr());
        let bound = state
            .bound
            .iter()
            .filter_map(|s| s.local_addr().ok()?.as_socket());
        listening.chain(bound).collect()
    }

    /// The counters, with `open` and `tls_handshaking` from the registry.
    fn stats(&self) -> ServerStats {
        let (open, handshaking) = {
            let state = self.lock();
            (state.open(), state.handshakes.len())
        };
        self.counters.snapshot(open, handshaking)
    }

    /// Whether the shard is closed and every connection of it is gone.
    fn is_done(&self) -> bool {
        let state = self.lock();
        state.closed && state.open() == 0
    }

    /// Waits until [`is_done`](Self::is_done).
    async fn wait_closed(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_done() {
                return;
            }
            changed.await;
        }
    }
}

impl Server {
    pub(crate) fn from_sockets<F, M>(
        factory: F,
        sockets: Vec<Socket>,
        options: &ServerOptions,
    ) -> Result<Server>
    where
        F: ProtocolFactory<M>,
    {
        if options.workers > 1 {
            return workers::start(factory, workers::Layout::HandOff(sockets), options);
        }
        let names: Vec<String> = sockets.iter().map(socket_name).collect();
        let span = tracing::debug_span!("server", addr = %names.join(" "));
        let parts = ShardParts {
            make_handler: workers::handler_maker(Arc::new(factory)),
            sockets,
            handoff: None,
            span: span.clone(),
            runtime: None,
            pool: None,
            hands_off: false,
            index: 0,
            count: 1,
            handshake_failures: handshake_log::HandshakeFailures::new(),
        };
        let shard = Arc::new(ServerInner::new(parts, options));
        let server = Server {
            group: Arc::new(Group {
                shards: Box::new([shard]),
                threads: None,
                pool: None,
                span,
            }),
        };
        if options.start_serving {
            server.start_serving()?;
        }
        Ok(server)
    }

    fn shards(&self) -> &[Arc<ServerInner>] {
        &self.group.shards
    }

    /// The first shard: the only one without workers. Holds what belongs to
    /// the server as a whole (`serve_forever`'s flag, Unix socket files).
    fn first(&self) -> &Arc<ServerInner> {
        &self.group.shards[0]
    }

    /// Starts listening and accepting, if not already. Idempotent.
    ///
    /// One accept loop serves every socket of the server (of each worker,
    /// with [`ServerOptions::workers`]), in a `tracing` span `server` naming
    /// the addresses.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close); an I/O error if `listen()` fails.
    pub fn start_serving(&self) -> Result<()> {
        for shard in self.shards() {
            shard.start_serving()?;
        }
        Ok(())
    }

    /// True while the server accepts connections.
    pub fn is_serving(&self) -> bool {
        self.shards().iter().all(|shard| shard.is_serving())
    }

    /// Stops accepting: the listening sockets are closed before this returns,
    /// so new connections are refused (clients still in the kernel's backlog
    /// are reset). Existing connections go on; see [`shutdown`](Self::shutdown)
    /// to end them too. Idempotent.
    pub fn close(&self) {
        for shard in self.shards() {
            shard.close();
        }
    }

    /// Transports of the live connections (not those still in their handshake:
    /// reading a PROXY header, or in TLS).
    pub fn connections(&self) -> Vec<Transport> {
        self.shards()
            .iter()
            .flat_map(|shard| {
                shard
                    .lock()
                    .connections
                    .values()
                    .map(|c| c.transport.clone())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// How many connections are live (not counting handshakes in progress,
    /// PROXY header reads included; [`stats`](Self::stats) counts both).
    pub fn connection_count(&self) -> usize {
        self.shards()
            .iter()
            .map(|shard| shard.lock().connections.len())
            .sum()
    }

    /// A snapshot of the server's counters: connections accepted, open and
    /// ended (and how), failed TLS handshakes, rejected PROXY headers, accept errors.
    ///
    /// Cheap: relaxed atomic loads and one short lock (per worker, with
    /// [`ServerOptions::workers`]: the workers' counters are summed, and
    /// `peak_open` is the most connections open at once over all of them).
    /// See [`ServerStats`] for what each counter counts.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{BaseProtocol, Protocol, ServerOptions, create_server};
    ///
    /// struct Quiet;
    /// impl BaseProtocol for Quiet {}
    /// impl Protocol for Quiet {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let server = create_server(|| Quiet, "127.0.0.1", 0, &ServerOptions::new()).await?;
    /// let _client = tokio::net::TcpStream::connect(server.local_addrs()[0]).await?;
    /// # while server.stats().open == 0 { tokio::task::yield_now().await; }
    /// // ... once the server has accepted it:
    /// let stats = server.stats();
    /// assert_eq!((stats.accepted, stats.open), (1, 1));
    /// server.close();
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> ServerStats {
        let mut total = ServerStats::default();
        for shard in self.shards() {
            total.merge(&shard.stats());
        }
        if let Some(pool) = &self.group.pool {
            total.peak_open = pool.peak_open();
        }
        total
    }

    /// The counters of each worker, in worker order (one entry without
    /// [`ServerOptions::workers`]). [`stats`](Self::stats) is their sum.
    ///
    /// # Examples
    ///
    /// ```
    /// # use aioproto::{BaseProtocol, Protocol, ServerOptions, create_server};
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let mut options = ServerOptions::new();
    /// options.workers(2);
    /// let server = create_server(|| Quiet, "127.0.0.1", 0, &options).await?;
    /// assert_eq!(server.worker_stats().len(), 2);
    /// server.close();
    /// server.wait_closed().await;
    /// # Ok(()) }
    /// ```
    pub fn worker_stats(&self) -> Vec<ServerStats> {
        self.shards().iter().map(|shard| shard.stats()).collect()
    }

    /// The addresses the server's sockets are bound to (asyncio's `sockets`),
    /// each once (every worker listens on the same ones). Empty once closed.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in self.shards().iter().flat_map(|shard| shard.local_addrs()) {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        addrs
    }

    /// The socket file paths a Unix server listens on (asyncio's `sockets`
    /// for `create_unix_server`). Empty once closed, and for TCP servers.
    #[cfg(feature = "unix")]
    #[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
    pub fn local_paths(&self) -> Vec<std::path::PathBuf> {
        let state = self.first().lock();
        let listening = state.listeners.iter().filter_map(|l| l.local_path());
        let bound = state
            .bound
            .iter()
            .filter_map(|s| s.local_addr().ok()?.as_pathname().map(Into::into));
        listening.chain(bound).collect()
    }

    /// Removes the socket file at `file` when the server closes.
    #[cfg(feature = "unix")]
    pub(crate) fn cleanup_on_close(&self, file: crate::net::unix::SocketFile) {
        let mut state = self.first().lock();
        if state.closed {
            file.remove();
        } else {
            state.cleanup.push(file);
        }
    }

    /// Waits until the server is closed and every connection has ended,
    /// including accepted connections whose handshake (a PROXY header read, a
    /// TLS handshake) is still running.
    /// With [`ServerOptions::workers`], also until every worker thread has
    /// stopped.
    ///
    /// Called before [`close`](Self::close) it waits for the close too.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it has no effect on the server.
    pub async fn wait_closed(&self) {
        // Once a shard is done it stays done, so one pass is enough.
        for shard in self.shards() {
            shard.wait_closed().await;
        }
        if let Some(threads) = &self.group.threads {
            threads.wait_stopped().await;
        }
    }

    /// Starts serving if needed, then waits until the server is closed.
    ///
    /// Dropping (cancelling) the returned future closes the server, as
    /// cancelling asyncio's `serve_forever()` does.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the server is already closed; [`Error::InvalidState`]
    /// if another `serve_forever()` is running.
    ///
    /// # Cancel safety
    ///
    /// Cancelling it closes the server (on purpose).
    pub async fn serve_forever(&self) -> Result<()> {
        let first = self.first();
        {
            let mut state = first.lock();
            if state.closed {
                return Err(Error::Closed("server"));
            }
            if state.serve_forever_running {
                return Err(Error::invalid_state(
                    "server is already being awaited on serve_forever()",
                ));
            }
            state.serve_forever_running = true;
        }
        struct CloseOnDrop<'a>(&'a Server);
        impl Drop for CloseOnDrop<'_> {
            fn drop(&mut self) {
                self.0.first().lock().serve_forever_running = false;
                self.0.close();
            }
        }
        let _guard = CloseOnDrop(self);
        self.start_serving()?;
        loop {
            let changed = first.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if first.lock().closed {
                return Ok(());
            }
            changed.await;
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Server");
        d.field("addrs", &self.local_addrs());
        #[cfg(feature = "unix")]
        d.field("paths", &self.local_paths());
        d.field("workers", &self.shards().len())
            .field("serving", &self.is_serving())
            .field("stats", &self.stats())
            .finish()
    }
}
