//! Outgoing connections: [`create_connection`], [`ConnectOptions`] and
//! [`connect_accepted_socket`].

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::net::addr::{AddressFamily, bind_error, connect_error};
use crate::net::proxy::ProxyHeader;
use crate::net::proxy::stream::write_header;
use crate::net::tcp::tcp_io;
use crate::transport::Transport;
use crate::transport::dispatch::IntoHandler;
use crate::transport::io::{ForeignIo, StreamIo};
use crate::transport::start::{ConnectionConfig, MadeOn, Settings, start_protocol};
use crate::transport::timeouts::check_limit;
use crate::transport::{Capabilities, ExtraInfo, SocketOptions};

/// Options for [`create_connection`], set with a builder.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let mut options = aioproto::ConnectOptions::new();
/// options
///     .happy_eyeballs_delay(Duration::from_millis(250))
///     .connect_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone, Default)]
pub struct ConnectOptions {
    pub(crate) local_addr: Option<SocketAddr>,
    pub(crate) happy_eyeballs_delay: Option<Duration>,
    pub(crate) interleave: Option<usize>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) family: Option<AddressFamily>,
    pub(crate) all_errors: bool,
    pub(crate) keepalive: bool,
    pub(crate) no_nodelay: bool,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::net::tls::ClientTls>,
    #[cfg(feature = "tls")]
    pub(crate) server_tls: Option<crate::net::tls::ServerTls>,
    /// A PROXY protocol header, encoded, sent before anything else.
    pub(crate) proxy_header: Option<Bytes>,
    /// What the connection enforces once connected.
    pub(crate) connection: Settings,
}

impl ConnectOptions {
    /// The defaults: addresses tried one after another, no connect time
    /// limit, `TCP_NODELAY` on, keep-alive off, no backpressure hold on
    /// reading, and no idle, read-idle or write-stall timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds the local end to `addr` before connecting.
    pub fn local_addr(&mut self, addr: SocketAddr) -> &mut Self {
        self.local_addr = Some(addr);
        self
    }

    /// Happy Eyeballs (RFC 8305): start the next address after `delay` if the
    /// previous one has not connected yet; the first to connect wins. Also sets
    /// `interleave(1)` unless set. Default: none (one address at a time).
    pub fn happy_eyeballs_delay(&mut self, delay: Duration) -> &mut Self {
        self.happy_eyeballs_delay = Some(delay);
        self
    }

    /// Reorders the resolved addresses so families alternate, `n` of the first
    /// family before one of the next (asyncio's `interleave`). 0 keeps the order.
    pub fn interleave(&mut self, n: usize) -> &mut Self {
        self.interleave = Some(n);
        self
    }

    /// Upper bound on resolving and connecting together (default: none).
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Connects over this address family only (default: any), like asyncio's
    /// `family=`: resolved addresses of the other family are not tried.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut options = aioproto::ConnectOptions::new();
    /// options.family(aioproto::AddressFamily::Ipv6);
    /// ```
    pub fn family(&mut self, family: AddressFamily) -> &mut Self {
        self.family = Some(family);
        self
    }

    /// On failure, return every address's error as [`Error::MultipleErrors`]
    /// (in the order tried), even when there was one, like asyncio's
    /// `all_errors=True` (default off: one error as it is, identical ones
    /// collapsed).
    pub fn all_errors(&mut self, on: bool) -> &mut Self {
        self.all_errors = on;
        self
    }

    /// `SO_KEEPALIVE` on the connection (default off).
    pub fn keepalive(&mut self, on: bool) -> &mut Self {
        self.keepalive = on;
        self
    }

    /// `TCP_NODELAY` on the connection (default on).
    pub fn nodelay(&mut self, on: bool) -> &mut Self {
        self.no_nodelay = !on;
        self
    }

    /// Whether the connection stops reading while its write buffer is over
    /// the high-water mark (default **off** for connections, on for a
    /// server's), as
    /// [`ServerOptions::pause_reading_on_backpressure`](crate::ServerOptions::pause_reading_on_backpressure)
    /// describes.
    ///
    /// Off by default because a client usually writes first: a request, an
    /// upload queued at once. If both ends held reading while over their
    /// marks, a client that queues more than the buffers between them hold
    /// to a server that answers as it reads (an echo server) would wait for
    /// the server to read, while the server waits for the client to read:
    /// neither would move again. With the hold off on the client side, the
    /// client goes on reading and both drain.
    ///
    /// Turn it on for a connection that writes only in answer to what it
    /// reads from a peer it does not trust to read (the client side of a
    /// proxy, a peer that answers pings, a socket given to
    /// [`connect_accepted_socket`] that plays the server): its memory then
    /// stays bounded as a server's does.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut options = aioproto::ConnectOptions::new();
    /// options.pause_reading_on_backpressure(true);
    /// ```
    pub fn pause_reading_on_backpressure(&mut self, on: bool) -> &mut Self {
        self.connection.pause_reading_on_backpressure = on;
        self
    }

    /// Aborts the connection when no byte was read and none written for
    /// `timeout` (default: no limit; `None` removes it), unless the
    /// protocol's
    /// [`timeout_reached`](crate::BaseProtocol::timeout_reached) keeps it; as
    /// [`ServerOptions::idle_timeout`](crate::ServerOptions::idle_timeout).
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
    /// let mut options = aioproto::ConnectOptions::new();
    /// options.idle_timeout(Duration::from_secs(30));
    /// ```
    pub fn idle_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.connection.timeouts.idle = check_limit("idle_timeout", timeout.into());
        self
    }

    /// Aborts the connection when no byte was read for `timeout` (default:
    /// no limit; `None` removes it), unless the protocol keeps it; as
    /// [`ServerOptions::read_idle_timeout`](crate::ServerOptions::read_idle_timeout).
    /// For a client, this bounds a server that stops answering.
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    pub fn read_idle_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.connection.timeouts.read_idle = check_limit("read_idle_timeout", timeout.into());
        self
    }

    /// Aborts the connection when its write buffer held data and wrote none
    /// of it for `timeout` (default: no limit; `None` removes it), unless the
    /// protocol keeps it; as
    /// [`ServerOptions::write_stall_timeout`](crate::ServerOptions::write_stall_timeout).
    ///
    /// # Panics
    ///
    /// If `timeout` is zero.
    pub fn write_stall_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Self {
        self.connection.timeouts.write_stall = check_limit("write_stall_timeout", timeout.into());
        self
    }

    /// Speaks TLS over the connection (default: plain TCP). The handshake runs
    /// before the protocol is made; its failure is `create_connection`'s error.
    /// See [`ClientTls`](crate::ClientTls), which also holds the handshake
    /// timeout ([`ClientTls::handshake_timeout`](crate::ClientTls::handshake_timeout),
    /// default 60 s).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(&mut self, tls: crate::net::tls::ClientTls) -> &mut Self {
        self.tls = Some(tls);
        self
    }

    /// Serves TLS on the socket given to [`connect_accepted_socket`]: the
    /// server side of the handshake runs before the protocol is made (asyncio's
    /// `ssl=` there). [`create_connection`] refuses it.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn server_tls(&mut self, tls: crate::net::tls::ServerTls) -> &mut Self {
        self.server_tls = Some(tls);
        self
    }
}

/// How long sending a PROXY protocol header may take ([`ConnectOptions::proxy_header`]).
const PROXY_HEADER_SEND_TIMEOUT: Duration = Duration::from_secs(10);

impl ConnectOptions {
    /// Sends `header`, a PROXY protocol header, first thing on the
    /// connection (default: none), encoded in its own
    /// [`version`](ProxyHeader::version): before the TLS handshake with
    /// [`tls`](Self::tls), and before `connection_made`. A proxy passes the
    /// address of the client it accepted, so that a server with
    /// [`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol)
    /// sees that client's address.
    ///
    /// Applies to [`create_connection`] and [`create_connection_from_std`];
    /// [`connect_accepted_socket`] refuses it (that socket plays the server).
    /// Sending it may take at most 10 s; past that, or if it cannot be
    /// written, the connection fails and no callback runs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if the header cannot be encoded in its
    /// version (UDP, Unix addresses or TLVs in v1, more than 64 KiB in v2);
    /// the options are unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{ConnectOptions, ProxyHeader, ProxyVersion};
    ///
    /// let client = "198.51.100.4:51000".parse().unwrap();
    /// let server = "10.0.0.2:80".parse().unwrap();
    /// let mut options = ConnectOptions::new();
    /// options.proxy_header(ProxyHeader::tcp(client, server).with_version(ProxyVersion::V1))?;
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn proxy_header(&mut self, header: ProxyHeader) -> Result<&mut Self> {
        let encoded = header
            .encode()
            .map_err(|e| Error::invalid_argument(format!("proxy_header: {e}")))?;
        self.proxy_header = Some(encoded);
        Ok(self)
    }
}

impl ConnectOptions {
    /// Refuses the options `connect_accepted_socket` cannot honour, rather
    /// than ignoring them.
    fn check_for_connected_socket(&self, caller: &str, server_side: bool) -> Result<()> {
        let connecting = [
            ("local_addr", self.local_addr.is_some()),
            ("happy_eyeballs_delay", self.happy_eyeballs_delay.is_some()),
            ("interleave", self.interleave.is_some()),
            ("connect_timeout", self.connect_timeout.is_some()),
            ("family", self.family.is_some()),
            ("all_errors", self.all_errors),
            (
                "proxy_header (a client's; an accepted socket plays the server)",
                server_side && self.proxy_header.is_some(),
            ),
            #[cfg(feature = "tls")]
            (
                "tls (client side; an accepted socket serves TLS with server_tls)",
                server_side && self.tls.is_some(),
            ),
            #[cfg(feature = "tls")]
            (
                "server_tls (an outgoing socket speaks TLS as a client, with tls)",
                !server_side && self.server_tls.is_some(),
            ),
        ];
        let _ = server_side;
        match connecting.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(Error::invalid_argument(format!(
                "{caller}: {name} does not apply to an already-connected socket"
            ))),
            None => Ok(()),
        }
    }

    /// Refuses the options a Unix socket connection cannot honour (those of
    /// TCP, and server-side TLS), rather than ignoring them.
    #[cfg(feature = "unix")]
    pub(crate) fn check_for_unix(&self) -> Result<()> {
        let tcp_only = [
            ("local_addr", self.local_addr.is_some()),
            ("happy_eyeballs_delay", self.happy_eyeballs_delay.is_some()),
            ("interleave", self.interleave.is_some()),
            ("family", self.family.is_some()),
            ("all_errors", self.all_errors),
            ("keepalive", self.keepalive),
            ("nodelay(false)", self.no_nodelay),
            #[cfg(feature = "tls")]
            (
                "server_tls (a connecting socket speaks TLS as a client, with tls)",
                self.server_tls.is_some(),
            ),
        ];
        match tcp_only.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(Error::invalid_argument(format!(
                "create_unix_connection_with: {name} does not apply to a Unix socket"
            ))),
            None => Ok(()),
        }
    }

    /// Awaits `connecting`, within [`connect_timeout`](Self::connect_timeout)
    /// if one is set ([`Error::Timeout`] past it).
    pub(crate) async fn within_connect_timeout<T>(
        &self,
        connecting: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting)
                .await
                .map_err(|_| Error::Timeout("connect"))?,
            None => connecting.await,
        }
    }

    /// The socket options these options ask for.
    fn socket_options(&self) -> SocketOptions {
        SocketOptions {
            nodelay: !self.no_nodelay,
            keepalive: self.keepalive,
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ConnectOptions");
        d.field("local_addr", &self.local_addr)
            .field("happy_eyeballs_delay", &self.happy_eyeballs_delay)
            .field("interleave", &self.interleave)
            .field("connect_timeout", &self.connect_timeout)
            .field("family", &self.family)
            .field("all_errors", &self.all_errors)
            .field("keepalive", &self.keepalive)
            .field("nodelay", &!self.no_nodelay)
            .field(
                "pause_reading_on_backpressure",
                &self.connection.pause_reading_on_backpressure,
            )
            .field("idle_timeout", &self.connection.timeouts.idle)
            .field("read_idle_timeout", &self.connection.timeouts.read_idle)
            .field("write_stall_timeout", &self.connection.timeouts.write_stall);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some())
            .field("server_tls", &self.server_tls.is_some());
        d.field("proxy_header", &self.proxy_header);
        d.finish()
    }
}

/// Connects to `host:port` and runs a protocol on the connection, like
/// asyncio's `create_connection`.
///
/// `factory` makes the protocol (a [`Protocol`](crate::Protocol) or
/// [`BufferedProtocol`](crate::BufferedProtocol)). `host` is resolved; every
/// address is tried (see [`ConnectOptions::happy_eyeballs_delay`]).
///
/// Returns after the protocol's `connection_made` ran, with the transport and a
/// shared reference to the protocol, asyncio's `(transport, protocol)` pair.
/// The driver locks the protocol's mutex only while a callback runs.
///
/// # Errors
///
/// The connect error when one address was tried; [`Error::MultipleErrors`]
/// when several were tried and failed differently; [`Error::Timeout`] after
/// the connect timeout; [`Error::CallbackPanicked`] if `connection_made` panicked
/// (then `connection_lost` has run).
///
/// # Cancel safety
///
/// Cancelling it before it returns closes any socket it opened; no callback runs.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, ConnectOptions, Protocol, create_connection};
/// use bytes::Bytes;
///
/// #[derive(Default)]
/// struct Client {
///     received: Vec<u8>,
/// }
/// impl BaseProtocol for Client {}
/// impl Protocol for Client {
///     fn data_received(&mut self, data: Bytes) {
///         self.received.extend_from_slice(&data);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let port = listener.local_addr()?.port();
/// let (transport, client) =
///     create_connection(Client::default, "127.0.0.1", port, &ConnectOptions::new()).await?;
/// transport.write("ping");
/// # let (mut peer, _) = listener.accept().await?;
/// # tokio::io::AsyncWriteExt::write_all(&mut peer, b"pong").await?;
/// # tokio::time::sleep(std::time::Duration::from_millis(50)).await;
/// println!("{:?}", client.lock().unwrap().received);
/// transport.close();
/// # Ok(()) }
/// ```
pub async fn create_connection<F, P, M>(
    factory: F,
    host: &str,
    port: u16,
    options: &ConnectOptions,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    let connecting = async {
        if host.is_empty() {
            return Err(Error::invalid_argument("host must not be empty"));
        }
        #[cfg(feature = "tls")]
        if options.server_tls.is_some() {
            return Err(Error::invalid_argument(
                "server_tls is for connect_accepted_socket; create_connection speaks TLS as a client (tls)",
            ));
        }
        let mut addrs: Vec<SocketAddr> = crate::net::resolve::lookup_host(host, port).await?;
        if let Some(family) = options.family {
            addrs.retain(|addr| family.includes(addr));
            if addrs.is_empty() {
                return Err(Error::invalid_argument(format!(
                    "{host} resolved to no {family:?} address"
                )));
            }
        }
        connect_any(addrs, options).await
    };
    let stream = options.within_connect_timeout(connecting).await?;
    let (io, extra, socket_options) = tcp_io(stream, options.socket_options());
    start_outgoing(
        io,
        extra,
        Some(socket_options),
        Some(host),
        options,
        factory,
    )
    .await
}

/// Runs a protocol on an already-connected socket, such as one accepted
/// outside aioproto (asyncio's `connect_accepted_socket`).
///
/// Returns after `connection_made` ran. Of the [`ConnectOptions`], the socket
/// options apply (`nodelay`, `keepalive`), the per-connection settings
/// (`pause_reading_on_backpressure`, which a socket that plays the server
/// usually wants on, and the time limits), and `ConnectOptions::server_tls`
/// (feature `tls`) serves TLS on the socket: as in asyncio, an accepted socket is the server
/// side, so the handshake runs first and its failure is the error.
///
/// # Errors
///
/// An I/O error (`NotConnected`) if the socket is not connected, or if it
/// cannot be registered with tokio; [`Error::InvalidArgument`] for an option
/// that concerns connecting (`local_addr`, `happy_eyeballs_delay`,
/// `interleave`, `connect_timeout`), client-side TLS or a client's
/// `proxy_header`; the handshake's error;
/// [`Error::CallbackPanicked`] if `connection_made` panicked. No callback runs
/// for a rejected socket.
///
/// # Cancel safety
///
/// Cancelling it during a TLS handshake closes the socket; no callback runs.
pub async fn connect_accepted_socket<F, P, M>(
    factory: F,
    socket: std::net::TcpStream,
    options: &ConnectOptions,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    start_connected(factory, socket, options, Side::Server).await
}

/// Runs a protocol on an already-connected outgoing socket, like asyncio's
/// `create_connection(sock=…)`.
///
/// Returns after `connection_made` ran. The socket options (`nodelay`,
/// `keepalive`), the connection limits, [`ConnectOptions::proxy_header`]
/// (sent first) and [`ConnectOptions::tls`] apply: the
/// client handshake names the server by `ClientTls::server_name`, or else by
/// the peer's IP address.
///
/// # Errors
///
/// An I/O error (`NotConnected`) if the socket is not connected;
/// [`Error::InvalidArgument`] for an option that concerns connecting
/// (`local_addr`, `happy_eyeballs_delay`, `interleave`, `connect_timeout`,
/// `family`, `all_errors`) or server-side TLS; the handshake's error;
/// [`Error::CallbackPanicked`] if `connection_made` panicked.
///
/// # Cancel safety
///
/// Cancelling it during a TLS handshake closes the socket; no callback runs.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, ConnectOptions, Protocol, create_connection_from_std};
///
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let socket = std::net::TcpStream::connect(listener.local_addr()?)?;
/// let (transport, _) =
///     create_connection_from_std(|| Quiet, socket, &ConnectOptions::new()).await?;
/// assert_eq!(transport.peername(), Some(listener.local_addr()?));
/// transport.close();
/// # Ok(()) }
/// ```
pub async fn create_connection_from_std<F, P, M>(
    factory: F,
    socket: std::net::TcpStream,
    options: &ConnectOptions,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    start_connected(factory, socket, options, Side::Client).await
}

/// Which end of TLS an already-connected socket plays.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Accepted elsewhere: TLS with `server_tls` (`connect_accepted_socket`).
    Server,
    /// Connected elsewhere: TLS with `tls` (`create_connection_from_std`).
    Client,
}

/// The body of `connect_accepted_socket` and `create_connection_from_std`.
async fn start_connected<F, P, M>(
    factory: F,
    socket: std::net::TcpStream,
    options: &ConnectOptions,
    side: Side,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    let caller = match side {
        Side::Server => "connect_accepted_socket",
        Side::Client => "create_connection_from_std",
    };
    options.check_for_connected_socket(caller, side == Side::Server)?;
    // A socket that is not connected (never connected, or a listener) would
    // only fail on its first read, after connection_made: refuse it now.
    let peer = socket.peer_addr()?;
    socket.set_nonblocking(true)?;
    let (io, extra, socket_options) =
        tcp_io(TcpStream::from_std(socket)?, options.socket_options());
    match side {
        // No host name to check: the configured server name, or the peer's IP.
        Side::Client => {
            let peer_ip = peer.ip().to_string();
            start_outgoing(
                io,
                extra,
                Some(socket_options),
                Some(&peer_ip),
                options,
                factory,
            )
            .await
        }
        Side::Server => {
            #[cfg(feature = "tls")]
            if let Some(tls) = &options.server_tls {
                let (io, extra) = tls.accept(io.into_boxed(), Bytes::new(), extra).await?;
                let shutdown = Some(tls.shutdown_timeout);
                return start_with(io, extra, Some(socket_options), shutdown, options, factory);
            }
            start_with(io, extra, Some(socket_options), None, options, factory)
        }
    }
}

/// The rest of every outgoing connection once its stream is connected: the
/// PROXY header ([`ConnectOptions::proxy_header`]), then the TLS handshake
/// ([`ConnectOptions::tls`], feature `tls`), naming the server by
/// `ClientTls::server_name` or else `tls_host` (a Unix socket has none, so
/// TLS there needs the server name), then the protocol.
pub(crate) async fn start_outgoing<I, F, P, M>(
    mut io: I,
    extra: ExtraInfo,
    socket_options: Option<SocketOptions>,
    tls_host: Option<&str>,
    options: &ConnectOptions,
    factory: F,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    I: StreamIo,
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    if let Some(header) = &options.proxy_header {
        write_header(&mut io, header, PROXY_HEADER_SEND_TIMEOUT).await?;
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = &options.tls {
        let name = match tls_host {
            Some(host) => tls.name_for(host)?,
            None => tls.configured_name().ok_or_else(|| {
                Error::invalid_argument(
                    "tls over a Unix socket needs ClientTls::server_name: there is no host name to check the certificate against",
                )
            })?,
        };
        let (io, extra) = tls.connect(name, io.into_boxed(), extra).await?;
        let shutdown = Some(tls.shutdown_timeout);
        return start_with(io, extra, socket_options, shutdown, options, factory);
    }
    let _ = tls_host;
    start_with(io, extra, socket_options, None, options, factory)
}

/// Runs a protocol on any tokio byte stream: a `tokio::io::duplex` pipe, a
/// `TcpStream` set up elsewhere, a QUIC stream, a TLS stream of another
/// library. The one entry point for streams aioproto did not open itself.
///
/// Returns after `connection_made` ran, with the transport and the shared
/// protocol, like [`create_connection`]. The transport behaves like a TCP
/// socket's: `write_eof()` calls the stream's `poll_shutdown`, and
/// `eof_received` returning true keeps it open; `close()` flushes, then calls
/// `poll_shutdown` (unless `write_eof()` did) and drops the stream. It has no
/// addresses and no socket options (`peername()` is `None`).
///
/// Must be called inside a tokio runtime (the driver is spawned on it).
///
/// # Errors
///
/// [`Error::CallbackPanicked`] if `connection_made` panicked (then
/// `connection_lost` has run).
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Bytes, Protocol, Transport, connect_stream};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// struct Upper(Option<Transport>);
/// impl BaseProtocol for Upper {
///     fn connection_made(&mut self, t: &Transport) {
///         self.0 = Some(t.clone());
///     }
/// }
/// impl Protocol for Upper {
///     fn data_received(&mut self, data: Bytes) {
///         self.0.as_ref().unwrap().write(data.to_ascii_uppercase());
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
/// let (transport, _protocol) = connect_stream(|| Upper(None), ours)?;
/// theirs.write_all(b"over a pipe").await?;
/// let mut reply = [0u8; 11];
/// theirs.read_exact(&mut reply).await?;
/// assert_eq!(&reply, b"OVER A PIPE");
/// transport.close();
/// # Ok(()) }
/// ```
pub fn connect_stream<F, P, M, S>(factory: F, stream: S) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let io: Box<dyn StreamIo> = Box::new(ForeignIo::new(stream));
    let transport = Transport::new(ExtraInfo::new(Capabilities::SOCKET), None);
    start_protocol(
        io,
        transport,
        factory,
        ConnectionConfig::new(MadeOn::Caller),
    )
}

/// Starts a connected stream (TLS already handshaken, with its
/// `shutdown_timeout`) with the options' settings; `connection_made` runs
/// before this returns. `socket_options`: a TCP socket's, `None` for a
/// Unix socket.
fn start_with<I, F, P, M>(
    io: I,
    extra: ExtraInfo,
    socket_options: Option<SocketOptions>,
    shutdown_timeout: Option<Duration>,
    options: &ConnectOptions,
    factory: F,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    I: StreamIo,
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    let transport = Transport::new(extra, socket_options);
    let config = ConnectionConfig::new(MadeOn::Caller)
        .with_shutdown_timeout(shutdown_timeout)
        .with_settings(options.connection.clone());
    start_protocol(io, transport, factory, config)
}

/// Tries `addrs` in turn (or staggered, with Happy Eyeballs) until one connects.
async fn connect_any(addrs: Vec<SocketAddr>, options: &ConnectOptions) -> Result<TcpStream> {
    if addrs.is_empty() {
        return Err(Error::invalid_argument("the host resolved to no address"));
    }
    let interleave = options
        .interleave
        .or(options.happy_eyeballs_delay.map(|_| 1))
        .unwrap_or(0);
    let addrs = interleave_families(addrs, interleave);
    let local = options.local_addr;
    let mut errors = Vec::new();
    match options.happy_eyeballs_delay {
        None => {
            for addr in addrs {
                match connect_one(addr, local).await {
                    Ok(stream) => return Ok(stream),
                    Err(e) => errors.push(e),
                }
            }
        }
        Some(delay) => {
            let mut attempts = JoinSet::new();
            let mut pending = addrs.into_iter();
            if let Some(addr) = pending.next() {
                attempts.spawn(connect_one(addr, local));
            }
            while !attempts.is_empty() {
                tokio::select! {
                    Some(done) = attempts.join_next() => match done {
                        Ok(Ok(stream)) => return Ok(stream),
                        Ok(Err(e)) => {
                            errors.push(e);
                            // A failure starts the next address at once.
                            if let Some(addr) = pending.next() {
                                attempts.spawn(connect_one(addr, local));
                            }
                        }
                        Err(join) => errors.push(Error::invalid_state(join)),
                    },
                    () = tokio::time::sleep(delay), if pending.len() > 0 => {
                        if let Some(addr) = pending.next() {
                            attempts.spawn(connect_one(addr, local));
                        }
                    }
                }
            }
        }
    }
    if options.all_errors {
        return Err(Error::MultipleErrors(errors));
    }
    Err(aggregate(errors))
}

async fn connect_one(addr: SocketAddr, local: Option<SocketAddr>) -> Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(local) = local {
        socket.bind(local).map_err(|e| bind_error(e, local))?;
    }
    socket
        .connect(addr)
        .await
        .map_err(|e| connect_error(e, addr))
}

/// One error as it is; several with identical text collapse to the first;
/// otherwise [`Error::MultipleErrors`].
pub(crate) fn aggregate(mut errors: Vec<Error>) -> Error {
    let first = errors[0].to_string();
    if errors.len() == 1 || errors.iter().all(|e| e.to_string() == first) {
        errors.swap_remove(0)
    } else {
        Error::MultipleErrors(errors)
    }
}

/// Reorders addresses so that families alternate, `first_count` of the first
/// family, then one of each other, as RFC 8305 and asyncio do.
fn interleave_families(addrs: Vec<SocketAddr>, first_count: usize) -> Vec<SocketAddr> {
    if first_count == 0 {
        return addrs;
    }
    let first_is_v4 = addrs[0].is_ipv4();
    let (mut first, mut other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv4() == first_is_v4);
    first.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(first.len() + other.len());
    for _ in 0..first_count.saturating_sub(1) {
        out.extend(first.pop());
    }
    while !first.is_empty() || !other.is_empty() {
        out.extend(first.pop());
        out.extend(other.pop());
    }
    out
}

#[cfg(test)]
mod tests;
