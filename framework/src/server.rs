//! Listening servers: [`create_server`], [`Server`] and [`ServerOptions`].

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use socket2::{Domain, Protocol as SockProtocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::protocol_impl::{Handler, IntoHandler, ProtocolFactory};
use crate::transport::Transport;
use crate::transport::stream::{DriverConfig, StreamDriver, tcp_io};

/// How long the accept loop waits after running out of file descriptors or memory.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(250);

/// Options for [`create_server`], set with a builder.
///
/// # Examples
///
/// ```
/// let mut options = aioproto::ServerOptions::new();
/// options.backlog(1024).reuse_port(true).start_serving(false);
/// ```
#[derive(Clone)]
pub struct ServerOptions {
    pub(crate) backlog: u32,
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    pub(crate) keepalive: bool,
    pub(crate) nodelay: bool,
    pub(crate) start_serving: bool,
    #[cfg(feature = "unix")]
    pub(crate) cleanup_socket: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::tls::ServerTls>,
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
            #[cfg(feature = "unix")]
            cleanup_socket: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ServerOptions {
    /// The defaults: backlog 100, `SO_REUSEADDR` on, `SO_REUSEPORT` off,
    /// keep-alive off, `TCP_NODELAY` on, serving at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `listen()` backlog (default 100).
    pub fn backlog(&mut self, backlog: u32) -> &mut Self {
        self.backlog = backlog;
        self
    }

    /// `SO_REUSEADDR` on the listening sockets (default on, as asyncio on Unix).
    pub fn reuse_address(&mut self, on: bool) -> &mut Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`, so several servers can share a port (default off).
    pub fn reuse_port(&mut self, on: bool) -> &mut Self {
        self.reuse_port = on;
        self
    }

    /// `SO_KEEPALIVE` on accepted connections (default off).
    pub fn keepalive(&mut self, on: bool) -> &mut Self {
        self.keepalive = on;
        self
    }

    /// `TCP_NODELAY` on accepted connections (default on).
    pub fn nodelay(&mut self, on: bool) -> &mut Self {
        self.nodelay = on;
        self
    }

    /// Serves TLS on every accepted connection (default: plain TCP).
    ///
    /// `connection_made` runs after the handshake; a failed handshake is
    /// logged and calls no callback. See [`ServerTls`](crate::ServerTls).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(&mut self, tls: crate::tls::ServerTls) -> &mut Self {
        self.tls = Some(tls);
        self
    }

    /// Whether to start accepting at once (default true). With false, the
    /// sockets are bound but not listening until [`Server::start_serving`].
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
            .field("start_serving", &self.start_serving);
        #[cfg(feature = "unix")]
        d.field("cleanup_socket", &self.cleanup_socket);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some());
        d.finish()
    }
}

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
#[derive(Clone)]
pub struct Server {
    inner: Arc<ServerInner>,
}

pub(crate) struct ServerInner {
    state: Mutex<ServerState>,
    /// Woken whenever the server closes or a connection ends.
    changed: Notify,
    make_handler: Box<dyn Fn() -> Handler + Send + Sync>,
    options: ServerOptions,
}

#[derive(Default)]
struct ServerState {
    /// Bound sockets not yet listening (`start_serving(false)`).
    bound: Vec<Socket>,
    /// Listening sockets; dropping one here closes it at once.
    listeners: Vec<Arc<Listener>>,
    /// Unix socket files to remove on close.
    #[cfg(feature = "unix")]
    cleanup: Vec<crate::unix::SocketFile>,
    accept_tasks: Vec<JoinHandle<()>>,
    connections: HashMap<u64, Transport>,
    next_connection_id: u64,
    /// Accepted connections still being set up (TLS handshakes): not yet a
    /// transport, but `wait_closed` waits for them as asyncio does.
    in_setup: usize,
    closed: bool,
    serve_forever_running: bool,
}

/// Creates a TCP server for `host` and `port`, like asyncio's `create_server`.
///
/// `factory` makes one protocol (a [`Protocol`](crate::Protocol) or a
/// [`BufferedProtocol`](crate::BufferedProtocol)) per connection. `host` is
/// anything that converts to [`Hosts`]: `"127.0.0.1"`, `"localhost"` (every
/// address it resolves to), `""` or `None` (every interface, IPv4 and IPv6), or a
/// list. Port 0 picks a free port (one per socket).
///
/// Returns once the sockets are bound and, unless `start_serving(false)`,
/// listening.
///
/// # Errors
///
/// I/O errors from resolving or binding, e.g. `AddrInUse`
/// ([`Error::raw_os_error`] is `EADDRINUSE`).
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
    let mut sockets = Vec::with_capacity(addrs.len());
    for addr in addrs {
        sockets.push(bind_socket(addr, options)?);
    }
    Server::from_sockets(factory, sockets, options)
}

/// A listening socket of either kind.
enum Listener {
    Tcp(TcpListener),
    #[cfg(feature = "unix")]
    Unix(tokio::net::UnixListener),
}

/// A connection a [`Listener`] accepted.
enum Accepted {
    Tcp(TcpStream),
    #[cfg(feature = "unix")]
    Unix(tokio::net::UnixStream),
}

impl Listener {
    /// Turns a bound (and listening) socket into the matching tokio listener.
    fn from_socket(socket: Socket) -> io::Result<Listener> {
        #[cfg(feature = "unix")]
        if socket.local_addr()?.is_unix() {
            let std_listener = std::os::unix::net::UnixListener::from(socket);
            return Ok(Listener::Unix(tokio::net::UnixListener::from_std(
                std_listener,
            )?));
        }
        Ok(Listener::Tcp(TcpListener::from_std(socket.into())?))
    }

    fn poll_accept(
        &self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<Accepted>> {
        match self {
            Listener::Tcp(l) => l.poll_accept(cx).map_ok(|(s, _)| Accepted::Tcp(s)),
            #[cfg(feature = "unix")]
            Listener::Unix(l) => l.poll_accept(cx).map_ok(|(s, _)| Accepted::Unix(s)),
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            #[cfg(feature = "unix")]
            Listener::Unix(_) => None,
        }
    }

    #[cfg(feature = "unix")]
    fn local_path(&self) -> Option<std::path::PathBuf> {
        match self {
            Listener::Tcp(_) => None,
            Listener::Unix(l) => l.local_addr().ok()?.as_pathname().map(Into::into),
        }
    }
}

/// Creates a server on an already-bound (and possibly listening) socket,
/// like `create_server(sock=…)`.
///
/// # Errors
///
/// An I/O error if the socket cannot be made non-blocking or cannot listen.
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
                for addr in tokio::net::lookup_host((name.as_str(), port)).await? {
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

fn ipv6_available() -> bool {
    Socket::new(Domain::IPV6, Type::STREAM, None).is_ok()
}

fn bind_socket(addr: SocketAddr, options: &ServerOptions) -> Result<Socket> {
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
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| with_address(e, addr))?;
    Ok(socket)
}

/// Adds the address to an error's text, keeping its kind and errno visible.
pub(crate) fn with_address(err: io::Error, addr: SocketAddr) -> Error {
    let text = format!("error while attempting to bind on address {addr}: {err}");
    match err.raw_os_error() {
        Some(code) => {
            let os = io::Error::from_raw_os_error(code);
            Error::from(io::Error::new(os.kind(), AddressError { os, text }))
        }
        None => Error::from(io::Error::new(err.kind(), text)),
    }
}

/// An OS error with the address it concerned; `source()` is the original.
#[derive(Debug)]
struct AddressError {
    os: io::Error,
    text: String,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for AddressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.os)
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
        let make_handler = Box::new(move || factory.make().into_handler().1);
        let server = Server {
            inner: Arc::new(ServerInner {
                state: Mutex::new(ServerState {
                    bound: sockets,
                    ..ServerState::default()
                }),
                changed: Notify::new(),
                make_handler,
                options: options.clone(),
            }),
        };
        if options.start_serving {
            server.start_serving()?;
        }
        Ok(server)
    }

    fn lock(&self) -> MutexGuard<'_, ServerState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts listening and accepting, if not already. Idempotent.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`close`](Self::close); an I/O error if `listen()` fails.
    pub fn start_serving(&self) -> Result<()> {
        let mut state = self.lock();
        if state.closed {
            return Err(Error::Closed("server"));
        }
        let bound = std::mem::take(&mut state.bound);
        for socket in bound {
            socket.listen(self.inner.options.backlog.min(i32::MAX as u32) as i32)?;
            socket.set_nonblocking(true)?;
            let listener = Arc::new(Listener::from_socket(socket)?);
            let weak = Arc::downgrade(&listener);
            state.listeners.push(listener);
            let task = tokio::spawn(accept_loop(weak, self.inner.clone()));
            state.accept_tasks.push(task);
        }
        Ok(())
    }

    /// True while the server accepts connections.
    pub fn is_serving(&self) -> bool {
        let state = self.lock();
        !state.closed && !state.listeners.is_empty()
    }

    /// Stops accepting: the listening sockets are closed before this returns,
    /// so new connections are refused. Existing connections go on. Idempotent.
    pub fn close(&self) {
        let tasks = {
            let mut state = self.lock();
            state.closed = true;
            state.listeners.clear();
            state.bound.clear();
            #[cfg(feature = "unix")]
            for file in state.cleanup.drain(..) {
                file.remove();
            }
            std::mem::take(&mut state.accept_tasks)
        };
        for task in tasks {
            task.abort();
        }
        self.inner.changed.notify_waiters();
    }

    /// Closes every live connection gracefully (flush, then close).
    pub fn close_clients(&self) {
        for transport in self.connections() {
            transport.close();
        }
    }

    /// Aborts every live connection, dropping unsent data.
    pub fn abort_clients(&self) {
        for transport in self.connections() {
            transport.abort();
        }
    }

    /// Transports of the live connections.
    pub fn connections(&self) -> Vec<Transport> {
        self.lock().connections.values().cloned().collect()
    }

    /// How many connections are live.
    pub fn connection_count(&self) -> usize {
        self.lock().connections.len()
    }

    /// The addresses the server's sockets are bound to (asyncio's `sockets`).
    /// Empty once closed.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        let state = self.lock();
        let listening = state.listeners.iter().filter_map(|l| l.local_addr());
        let bound = state
            .bound
            .iter()
            .filter_map(|s| s.local_addr().ok()?.as_socket());
        listening.chain(bound).collect()
    }

    /// The socket file paths a Unix server listens on (asyncio's `sockets`
    /// for `create_unix_server`). Empty once closed, and for TCP servers.
    #[cfg(feature = "unix")]
    #[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
    pub fn local_paths(&self) -> Vec<std::path::PathBuf> {
        let state = self.lock();
        let listening = state.listeners.iter().filter_map(|l| l.local_path());
        let bound = state
            .bound
            .iter()
            .filter_map(|s| s.local_addr().ok()?.as_pathname().map(Into::into));
        listening.chain(bound).collect()
    }

    /// Removes the socket file at `file` when the server closes.
    #[cfg(feature = "unix")]
    pub(crate) fn cleanup_on_close(&self, file: crate::unix::SocketFile) {
        let mut state = self.lock();
        if state.closed {
            file.remove();
        } else {
            state.cleanup.push(file);
        }
    }

    /// Waits until the server is closed and every connection has ended,
    /// including accepted TLS connections whose handshake is still running.
    ///
    /// Called before [`close`](Self::close) it waits for the close too.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it has no effect on the server.
    pub async fn wait_closed(&self) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let state = self.lock();
                if state.closed && state.connections.is_empty() && state.in_setup == 0 {
                    return;
                }
            }
            changed.await;
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
        {
            let mut state = self.lock();
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
                self.0.lock().serve_forever_running = false;
                self.0.close();
            }
        }
        let _guard = CloseOnDrop(self);
        self.start_serving()?;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.lock().closed {
                return Ok(());
            }
            changed.await;
        }
    }
}

/// Counts one accepted connection that is still being set up (a TLS handshake)
/// until dropped; register the connection before dropping it.
#[cfg(feature = "tls")]
pub(crate) struct SetupGuard(Arc<ServerInner>);

#[cfg(feature = "tls")]
impl Drop for SetupGuard {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .in_setup -= 1;
        self.0.changed.notify_waiters();
    }
}

impl ServerInner {
    /// Counts a connection under set-up until the guard drops.
    #[cfg(feature = "tls")]
    pub(crate) fn setup_guard(self: &Arc<Self>) -> SetupGuard {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .in_setup += 1;
        SetupGuard(self.clone())
    }

    /// Registers a new connection; returns the hook that unregisters it.
    fn register(self: &Arc<Self>, transport: &Transport) -> Box<dyn FnOnce() + Send> {
        let id = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let id = state.next_connection_id;
            state.next_connection_id += 1;
            state.connections.insert(id, transport.clone());
            id
        };
        let weak = Arc::downgrade(self);
        Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner
                    .state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .connections
                    .remove(&id);
                inner.changed.notify_waiters();
            }
        })
    }

    /// Sets up one accepted TCP connection and starts its driver.
    fn on_accept(self: &Arc<Self>, stream: TcpStream) {
        let (io, extra, mut socket_options) = tcp_io(stream, self.options.nodelay);
        if self.options.keepalive {
            socket_options.keepalive = true;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.options.tls {
            crate::tls_impl::accept(self, tls, io, extra, Some(socket_options));
            return;
        }
        let transport = Transport::new(extra, Some(socket_options));
        if self.options.keepalive {
            transport.set_keepalive(true);
        }
        self.start_connection(io, transport, None);
    }

    /// Sets up one accepted Unix connection and starts its driver.
    #[cfg(feature = "unix")]
    fn on_accept_unix(self: &Arc<Self>, stream: tokio::net::UnixStream) {
        let (io, extra) = crate::unix::unix_io(stream);
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.options.tls {
            crate::tls_impl::accept(self, tls, io, extra, None);
            return;
        }
        self.start_connection(io, Transport::new(extra, None), None);
    }

    /// Starts the driver of a connection whose transport is ready.
    pub(crate) fn start_connection(
        self: &Arc<Self>,
        io: Box<dyn crate::transport::stream::StreamIo>,
        transport: Transport,
        shutdown_timeout: Option<Duration>,
    ) {
        let on_finish = self.register(&transport);
        let config = DriverConfig {
            on_finish: Some(on_finish),
            shutdown_timeout,
            ..DriverConfig::default()
        };
        StreamDriver::new(io, (self.make_handler)(), transport, config).spawn();
    }
}

/// Accepts until the listener is closed. Holds the listener only weakly, so
/// [`Server::close`] closes the socket at once.
///
/// Holds the server itself strongly: dropping every [`Server`] handle does not
/// stop it (as documented, and as in asyncio); only `close()` does.
async fn accept_loop(listener: Weak<Listener>, server: Arc<ServerInner>) {
    loop {
        let accepted = std::future::poll_fn(|cx| match listener.upgrade() {
            Some(listener) => listener.poll_accept(cx).map(Some),
            None => std::task::Poll::Ready(None),
        })
        .await;
        match accepted {
            None => return,
            Some(Ok(Accepted::Tcp(stream))) => server.on_accept(stream),
            #[cfg(feature = "unix")]
            Some(Ok(Accepted::Unix(stream))) => server.on_accept_unix(stream),
            Some(Err(e)) if is_resource_exhaustion(&e) => {
                // Out of descriptors or memory: wait for connections to end rather than spin.
                tracing::error!(error = %e, "accept failed; retrying in {ACCEPT_RETRY_DELAY:?}");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            }
            Some(Err(e)) => tracing::debug!(error = %e, "accept failed; continuing"),
        }
    }
}

fn is_resource_exhaustion(err: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        err.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
    )
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Server");
        d.field("addrs", &self.local_addrs());
        #[cfg(feature = "unix")]
        d.field("paths", &self.local_paths());
        d.field("serving", &self.is_serving())
            .field("connections", &self.connection_count())
            .finish()
    }
}
