//! Datagram endpoints: [`create_datagram_endpoint`], [`DatagramProtocol`],
//! [`DatagramTransport`] and [`DatagramOptions`], over UDP and (feature
//! `unix`, `unix.rs`) Unix datagram sockets.
//!
//! The datagram protocol trait lives here rather than in `protocol.rs` because it
//! belongs to this transport alone: its callbacks take a [`DatagramTransport`],
//! not a stream [`Transport`](crate::Transport).
//!
//! Both kinds share one transport and one driver, generic over the address
//! type ([`DatagramAddr`], in `socket.rs`): `SocketAddr` for UDP, the default,
//! so UDP code never names it; `UnixDatagramAddr` for Unix sockets. We chose a
//! type parameter with a default over a second trait (`UnixDatagramProtocol`)
//! or an address enum: a UDP protocol keeps receiving a plain `SocketAddr`
//! (no match on a variant that cannot occur), a Unix one a path, and a
//! protocol can be written once for both (`impl<A: DatagramAddr>`).
//!
//! Each endpoint has one driver task (see `driver.rs`) that owns the socket
//! and calls the protocol, exactly like a stream connection: callbacks run one at
//! a time on that task, and [`DatagramTransport`] methods only queue work and wake
//! it.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use socket2::{Domain, Protocol as SockProtocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;

use crate::error::{Error, Result};
use crate::net::addr::{AddressFamily, bind_error, connect_error};
use crate::net::udp::socket::DatagramSocket;
use crate::transport::handle::{Core, Handle, KindState};
use crate::transport::write_buffer::DEFAULT_HIGH_WATER;
use crate::transport::{Capabilities, ExtraInfo};

/// What a datagram transport can do (no half-close, no EOF).
const DATAGRAM: Capabilities = Capabilities {
    can_write_eof: false,
    eof_keeps_open: false,
    readable: true,
    writable: true,
    default_high_water: DEFAULT_HIGH_WATER,
};

/// The callbacks of a datagram endpoint, like asyncio's `DatagramProtocol`.
///
/// `A` is the address type: [`SocketAddr`] (the default) for UDP,
/// [`UnixDatagramAddr`] for a Unix datagram socket
/// (`impl DatagramProtocol<UnixDatagramAddr> for …`).
///
/// Every callback is synchronous, takes `&mut self`, has a no-op default and
/// runs on the endpoint's driver task, one at a time. Call order:
///
/// ```text
/// connection_made -> (datagram_received | error_received)* -> connection_lost
///                 \-> pause_writing / resume_writing, strictly alternating, anywhere in between
/// ```
///
/// `connection_lost` runs exactly once, last, and never inside the user's own
/// [`close`](DatagramTransport::close)/[`abort`](DatagramTransport::abort) call.
/// Errors of single sends and receives (an ICMP "port unreachable" on a
/// connected endpoint, a send to an unreachable network) go to
/// [`error_received`](Self::error_received) and do **not** end the endpoint.
///
/// # Examples
///
/// A UDP echo protocol:
///
/// ```
/// use std::net::SocketAddr;
///
/// use aioproto::{DatagramProtocol, DatagramTransport};
/// use bytes::Bytes;
///
/// #[derive(Default)]
/// struct Echo(Option<DatagramTransport>);
///
/// impl DatagramProtocol for Echo {
///     fn connection_made(&mut self, transport: &DatagramTransport) {
///         self.0 = Some(transport.clone());
///     }
///     fn datagram_received(&mut self, data: Bytes, addr: SocketAddr) {
///         if let Some(t) = &self.0 {
///             let _ = t.sendto(data, Some(addr));
///         }
///     }
/// }
/// ```
pub trait DatagramProtocol<A: DatagramAddr = SocketAddr>: Send + 'static {
    /// Called once when the endpoint is ready, before any other callback.
    ///
    /// Keep a clone of `transport` to send later.
    fn connection_made(&mut self, transport: &DatagramTransport<A>) {
        let _ = transport;
    }

    /// Called with each received datagram and its sender. `data` may be empty
    /// (a zero-length datagram is a real message). On a Unix socket the
    /// sender is [`UnixDatagramAddr::Unnamed`](crate::UnixDatagramAddr) when
    /// it is not bound to a path (it cannot be answered).
    ///
    /// `data` is a zero-copy view of the endpoint's receive buffer; keep it as
    /// long as needed. It shares one allocation with the datagrams received
    /// around it, so to keep a few small datagrams for a long time, copy them
    /// (`Bytes::copy_from_slice`) rather than pin the whole buffer.
    fn datagram_received(&mut self, data: Bytes, addr: A) {
        let _ = (data, addr);
    }

    /// A send or receive failed (for example `ConnectionRefused` after an ICMP
    /// port unreachable on a connected endpoint). The endpoint stays open.
    fn error_received(&mut self, exc: Error) {
        let _ = exc;
    }

    /// Called once when the endpoint is closed: `None` after
    /// [`close`](DatagramTransport::close)/[`abort`](DatagramTransport::abort),
    /// `Some(err)` when it failed (a callback panicked, the socket broke).
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = exc;
    }

    /// The send buffer went over the high-water mark (the kernel's buffer is
    /// full). Stop sending until [`resume_writing`](Self::resume_writing).
    fn pause_writing(&mut self) {}

    /// The send buffer drained to the low-water mark or below.
    fn resume_writing(&mut self) {}
}

/// Options for [`create_datagram_endpoint`], set with a builder.
///
/// # Examples
///
/// ```
/// let mut options = aioproto::DatagramOptions::new();
/// options.reuse_port(true).allow_broadcast(false);
/// ```
#[derive(Debug, Clone, Default)]
pub struct DatagramOptions {
    pub(crate) reuse_port: bool,
    pub(crate) allow_broadcast: bool,
    pub(crate) family: Option<AddressFamily>,
    pub(crate) cleanup_socket: Option<bool>,
}

impl DatagramOptions {
    /// The defaults: `SO_REUSEPORT` off, `SO_BROADCAST` off, any address
    /// family; a Unix endpoint removes its socket file when it ends.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses the options an endpoint cannot apply: an
    /// [`Error::InvalidArgument`] saying `why`, naming each of them that is
    /// set. `cleanup_socket` counts only if `with_cleanup`: a socket given
    /// ready-made has no file of ours to clean up.
    pub(crate) fn refuse_socket_options(&self, why: &str, with_cleanup: bool) -> Result<()> {
        let set: Vec<&str> = [
            ("reuse_port", self.reuse_port),
            ("allow_broadcast", self.allow_broadcast),
            ("family", self.family.is_some()),
            (
                "cleanup_socket",
                with_cleanup && self.cleanup_socket.is_some(),
            ),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if set.is_empty() {
            return Ok(());
        }
        Err(Error::invalid_argument(format!(
            "{why}: {}",
            set.join(", ")
        )))
    }

    /// Uses this address family only (default: any), like asyncio's
    /// `family=`: resolved addresses of the other family are not tried. UDP
    /// only.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut options = aioproto::DatagramOptions::new();
    /// options.family(aioproto::AddressFamily::Ipv4);
    /// ```
    pub fn family(&mut self, family: AddressFamily) -> &mut Self {
        self.family = Some(family);
        self
    }

    /// Whether a Unix datagram endpoint removes the socket file it bound
    /// when it ends (default on), as
    /// [`ServerOptions::cleanup_socket`](crate::ServerOptions) does for Unix
    /// stream servers: the file is removed unless another file replaced it
    /// meanwhile (different inode); a file already gone is fine. Unix
    /// datagram endpoints only; a UDP endpoint refuses the option.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut options = aioproto::DatagramOptions::new();
    /// options.cleanup_socket(false); // another process owns the path's lifetime
    /// ```
    pub fn cleanup_socket(&mut self, on: bool) -> &mut Self {
        self.cleanup_socket = Some(on);
        self
    }

    /// `SO_REUSEPORT`, so several endpoints can bind the same address and the
    /// kernel spreads datagrams among them (default off).
    pub fn reuse_port(&mut self, on: bool) -> &mut Self {
        self.reuse_port = on;
        self
    }

    /// `SO_BROADCAST`, allowing sends to broadcast addresses (default off).
    ///
    /// As in asyncio, with this on a `remote_addr` is **not** `connect()`ed: the
    /// endpoint has no [`peername`](DatagramTransport::peername), receives from
    /// anyone, and `sendto(data, None)` still goes to `remote_addr`.
    pub fn allow_broadcast(&mut self, on: bool) -> &mut Self {
        self.allow_broadcast = on;
        self
    }
}

/// A handle to one datagram endpoint, like asyncio's `DatagramTransport`:
/// UDP with the default `A = SocketAddr`, a Unix datagram socket with
/// `A = UnixDatagramAddr` ([`UnixDatagramTransport`]).
///
/// Cloning is cheap (an `Arc` increment) and every clone controls the same
/// endpoint; the handle is `Send + Sync`, so other tasks can send through it.
///
/// # What happens when handles drop
///
/// The endpoint is owned by its driver task, not by the handles: dropping every
/// `DatagramTransport` does not close it (a server endpoint usually keeps
/// running that way). It ends with [`close`](Self::close) or
/// [`abort`](Self::abort), called from anywhere. After the end the handle stays
/// valid; sends are dropped and [`is_closing`](Self::is_closing) is `true`.
///
/// # Examples
///
/// ```
/// use aioproto::{DatagramOptions, DatagramProtocol, create_datagram_endpoint};
///
/// struct Quiet;
/// impl DatagramProtocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let local = "127.0.0.1:0".parse().ok();
/// let (transport, _protocol) =
///     create_datagram_endpoint(|| Quiet, local, None, &DatagramOptions::new()).await?;
/// let me = transport.sockname().unwrap();
/// transport.sendto("note to self", Some(me))?;
/// transport.close();
/// # Ok(()) }
/// ```
pub struct DatagramTransport<A: DatagramAddr = SocketAddr> {
    handle: Handle<State<A>>,
    route: Arc<Route<A>>,
}

impl<A: DatagramAddr> Clone for DatagramTransport<A> {
    fn clone(&self) -> Self {
        DatagramTransport {
            handle: self.handle.clone(),
            route: self.route.clone(),
        }
    }
}

/// Where an endpoint sends, and its addresses, fixed at creation.
#[derive(Debug)]
pub(crate) struct Route<A> {
    /// asyncio's `_address`: where `sendto(data, None)` goes, and the only
    /// address `sendto` accepts. Set when a `remote_addr` was given.
    pub(crate) remote: Option<A>,
    /// The socket is `connect()`ed to `remote` (not with `allow_broadcast`).
    pub(crate) connected: bool,
    /// `sockname`.
    local: Option<A>,
    /// `peername`: the connected peer.
    peer: Option<A>,
}

/// An endpoint's state: the shared `Core` (life, reading pause, the queued
/// datagrams as a write buffer, the driver's wake-up; see
/// `transport/handle.rs`) plus what only datagrams have. Under one short lock
/// never held across user code.
pub(crate) struct State<A: DatagramAddr> {
    pub(super) core: Core,
    /// The destination of each queued datagram, in step with the buffer.
    pub(super) targets: VecDeque<A>,
    /// The socket, shared with the driver so that `sendto` can send at once
    /// when nothing is queued (as asyncio does). `None` once the endpoint ended,
    /// so the descriptor closes with the driver, whatever handles remain.
    pub(super) socket: Option<Arc<A::Socket>>,
    /// Errors of sends made by `sendto` directly, for the driver to hand to
    /// `error_received` (never from inside `sendto`, whose caller may be a
    /// callback holding the protocol).
    pub(super) send_errors: Vec<io::Error>,
}

impl<A: DatagramAddr> KindState for State<A> {
    fn core(&self) -> &Core {
        &self.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

impl<A: DatagramAddr> DatagramTransport<A> {
    pub(crate) fn new(socket: Arc<A::Socket>, remote: Option<A>, connected: bool) -> Self {
        let local = socket.local();
        let peer = if connected { socket.peer() } else { None };
        let mut extra = ExtraInfo::new(DATAGRAM);
        A::describe(&mut extra, local.as_ref(), peer.as_ref());
        let state = State {
            core: Core::new(DATAGRAM.default_high_water),
            targets: VecDeque::new(),
            socket: Some(socket),
            send_errors: Vec::new(),
        };
        DatagramTransport {
            handle: Handle::new(state, extra),
            route: Arc::new(Route {
                remote,
                connected,
                local,
                peer,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<A>> {
        self.handle.lock()
    }

    pub(crate) fn route(&self) -> &Route<A> {
        &self.route
    }

    /// Sends one datagram to `addr`, like asyncio's `sendto(data, addr)`.
    ///
    /// `addr` `None` sends to the endpoint's `remote_addr`. `data` is anything
    /// that converts to [`Bytes`] without copying (`Bytes`, `Vec<u8>`, `String`,
    /// `&'static str`, …); an empty `data` sends a zero-length datagram.
    ///
    /// The datagram is handed to the kernel at once when nothing is queued
    /// (as in asyncio); only while the kernel's buffer is full does it wait in
    /// the transport's buffer for the driver. One exception: until the
    /// runtime has polled a new endpoint's socket once, tokio does not yet
    /// know it writable, so a `sendto` made right after the endpoint was
    /// created (before the calling task yields) waits for the driver too,
    /// and goes out once the runtime runs it. Datagrams are never split or
    /// merged.
    ///
    /// Failures of the send itself (network unreachable, ICMP errors reported
    /// by the kernel) are not returned here: they go to the protocol's
    /// [`error_received`](DatagramProtocol::error_received) on the driver task.
    ///
    /// After [`close`](Self::close) or the end of the endpoint, datagrams are
    /// dropped silently; the fifth and later drops are logged as warnings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] when the endpoint has a `remote_addr` and
    /// `addr` is another address ("invalid address: must be None or …"),
    /// when `addr` is `None` and the endpoint has no `remote_addr`, or when
    /// `addr` is a Unix socket that has no name (`UnixDatagramAddr::Unnamed`).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(transport: &aioproto::DatagramTransport) -> aioproto::Result<()> {
    /// let peer = "127.0.0.1:9999".parse().unwrap();
    /// transport.sendto("hello", Some(peer))?;
    /// transport.sendto(bytes::Bytes::new(), Some(peer))?; // a zero-length datagram
    /// # Ok(()) }
    /// ```
    pub fn sendto(&self, data: impl Into<Bytes>, addr: Option<A>) -> Result<()> {
        self.send_datagram(Payload::Owned(data.into()), addr)
    }

    fn send_datagram(&self, data: Payload<'_>, addr: Option<A>) -> Result<()> {
        let target = match (&self.route.remote, addr) {
            (Some(remote), None) => remote.clone(),
            (Some(remote), Some(addr)) if addr == *remote => addr,
            (Some(remote), Some(_)) => {
                return Err(Error::invalid_argument(format!(
                    "invalid address: must be None or {remote}"
                )));
            }
            (None, Some(addr)) => {
                addr.check_target()?;
                addr
            }
            (None, None) => {
                return Err(Error::invalid_argument(
                    "no address: sendto() needs an address on an endpoint without remote_addr",
                ));
            }
        };
        let wake = {
            let mut state = self.lock();
            if state.core.is_closing() {
                state.core.drop_write("sendto");
                return Ok(());
            }
            if state.core.buffer().chunk_count() == 0 {
                // Nothing queued: send now, like asyncio. Only a full kernel
                // buffer makes the datagram wait for the driver.
                let socket = state
                    .socket
                    .as_ref()
                    .expect("an open endpoint has its socket");
                let sent = if self.route.connected {
                    socket.try_send(data.as_slice())
                } else {
                    socket.try_send_to(data.as_slice(), &target)
                };
                match sent {
                    Ok(_) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => {
                        state.send_errors.push(e);
                        let waker = state.core.mark_dirty(false);
                        drop(state);
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                        return Ok(());
                    }
                }
            }
            state.core.buffer_mut().push_datagram(data.into_bytes());
            state.targets.push_back(target);
            state.core.mark_dirty(false)
        };
        if let Some(waker) = wake {
            waker.wake();
        }
        Ok(())
    }

    /// Sends a borrowed datagram; see [`sendto`](Self::sendto).
    ///
    /// When nothing is queued the kernel copies `data` straight from the
    /// slice; only a datagram that has to wait is copied into the buffer.
    ///
    /// # Errors
    ///
    /// As for [`sendto`](Self::sendto).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(transport: &aioproto::DatagramTransport) -> aioproto::Result<()> {
    /// let frame = [0x01, 0x02, 0x03];
    /// transport.sendto_slice(&frame, Some("127.0.0.1:9999".parse().unwrap()))?;
    /// # Ok(()) }
    /// ```
    pub fn sendto_slice(&self, data: &[u8], addr: Option<A>) -> Result<()> {
        self.send_datagram(Payload::Borrowed(data), addr)
    }

    /// Closes gracefully: stops receiving, sends what is queued, then ends the
    /// endpoint with `connection_lost(None)` on the driver task. Idempotent.
    pub fn close(&self) {
        self.handle.close();
    }

    /// Closes now: drops queued datagrams and ends the endpoint with
    /// `connection_lost(None)` on the driver task. Idempotent.
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// True once [`close`](Self::close) or [`abort`](Self::abort) was called or
    /// the endpoint ended.
    pub fn is_closing(&self) -> bool {
        self.handle.is_closing()
    }

    /// Stops `datagram_received` until [`resume_reading`](Self::resume_reading).
    ///
    /// No further `datagram_received` call starts after this returns (when
    /// called from a callback of this endpoint). Idempotent. The kernel keeps
    /// queueing arrivals in the socket's receive buffer meanwhile and drops
    /// datagrams once it is full; that is UDP.
    pub fn pause_reading(&self) {
        self.handle.set_reading_paused(true);
    }

    /// Undoes [`pause_reading`](Self::pause_reading). Idempotent.
    pub fn resume_reading(&self) {
        self.handle.set_reading_paused(false);
    }

    /// True while the endpoint delivers datagrams: not paused, not closing.
    pub fn is_reading(&self) -> bool {
        self.handle.is_reading()
    }

    /// Bytes queued and not yet accepted by the kernel: each datagram's
    /// payload plus 8, as asyncio counts them (so empty datagrams count
    /// too, and reach the high-water mark). Exact.
    ///
    /// A datagram waits here only while the kernel's send buffer is full.
    pub fn get_write_buffer_size(&self) -> usize {
        self.handle.get_write_buffer_size()
    }

    /// Sets the send buffer's water marks, like asyncio. A missing `high` is
    /// `4 × low` (or 64 KiB), a missing `low` is `high / 4`. The protocol is
    /// paused or resumed right after this call if the buffer is now outside
    /// the new marks.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `high < low`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(transport: &aioproto::DatagramTransport) -> aioproto::Result<()> {
    /// transport.set_write_buffer_limits(Some(4096), None)?;
    /// assert_eq!(transport.get_write_buffer_limits(), (1024, 4096));
    /// # Ok(()) }
    /// ```
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        self.handle.set_write_buffer_limits(high, low)
    }

    /// The current `(low, high)` water marks.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.handle.get_write_buffer_limits()
    }

    /// Everything known about the endpoint (`get_extra_info`).
    pub fn extra(&self) -> &ExtraInfo {
        self.handle.extra()
    }

    /// The local address, like `get_extra_info('sockname')`: for a Unix
    /// endpoint its path, or `None` when it is not bound to one.
    pub fn sockname(&self) -> Option<A> {
        self.route.local.clone()
    }

    /// The connected peer, like `get_extra_info('peername')`: the
    /// `remote_addr`, or `None` for an unconnected endpoint (no `remote_addr`,
    /// or `allow_broadcast`).
    pub fn peername(&self) -> Option<A> {
        self.route.peer.clone()
    }

    /// Where `sendto(data, None)` goes: the `remote_addr`, connected or not.
    pub fn remote_addr(&self) -> Option<A> {
        self.route.remote.clone()
    }

    /// True if both handles control the same endpoint.
    pub fn same_as(&self, other: &DatagramTransport<A>) -> bool {
        self.handle.same_as(&other.handle)
    }
}

/// A datagram handed to `sendto` (owned) or `sendto_slice` (borrowed).
enum Payload<'a> {
    Owned(Bytes),
    Borrowed(&'a [u8]),
}

impl Payload<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Owned(bytes) => bytes,
            Payload::Borrowed(slice) => slice,
        }
    }

    /// The datagram as `Bytes`, copying a borrowed one.
    fn into_bytes(self) -> Bytes {
        match self {
            Payload::Owned(bytes) => bytes,
            Payload::Borrowed(slice) => Bytes::copy_from_slice(slice),
        }
    }
}

impl<A: DatagramAddr> fmt::Debug for DatagramTransport<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("DatagramTransport")
            .field("sockname", &self.route.local)
            .field("remote", &self.route.remote)
            .field("connected", &self.route.connected)
            .field("buffered", &state.core.buffer().len())
            .field("closing", &state.core.is_closing())
            .field("closed", &state.core.is_closed())
            .finish()
    }
}

/// Creates a UDP endpoint, like asyncio's `create_datagram_endpoint`.
///
/// * `local_addr`: bind here (port 0 picks a free port). Without it the socket
///   is bound by `connect()` or by the first send.
/// * `remote_addr`: the default destination of [`DatagramTransport::sendto`]
///   and the only one it accepts. The socket is `connect()`ed to it (so it only
///   receives from that peer and gets ICMP errors), unless
///   [`DatagramOptions::allow_broadcast`] is on.
///
/// Each is a `SocketAddr`, an `Option<SocketAddr>` (`None`: not given), or a
/// host name with a port (`"localhost:0"`, `("example.com", 53)`; see
/// [`ToEndpointAddr`]). Host names are resolved as asyncio does: both sides
/// through the system resolver (`getaddrinfo`), the addresses grouped by
/// family (only [`DatagramOptions::family`] if set), and then, family by
/// family in the order the resolver gave them, each (local, remote) pair of
/// one family is tried until a socket binds and connects. At least one
/// address is needed; it decides the family (IPv4 or IPv6). To use a socket
/// made elsewhere, see [`create_datagram_endpoint_from_std`]; for Unix
/// datagram sockets, [`create_unix_datagram_endpoint`].
///
/// Returns after the protocol's `connection_made` ran, with the transport and a
/// shared reference to the protocol. Must be called inside a tokio runtime.
///
/// # Errors
///
/// [`Error::InvalidArgument`] with neither address, with addresses of
/// different families, with a malformed `"HOST:PORT"`, with nothing of the
/// requested family, or with [`DatagramOptions::cleanup_socket`] (Unix only);
/// an I/O error naming the host when it cannot be resolved ("getaddrinfo
/// failed for HOST: …"); I/O errors from creating, binding (the text names the
/// address, `raw_os_error` is e.g. `EADDRINUSE`) or connecting the socket,
/// as they are when one pair was tried, [`Error::MultipleErrors`] when several
/// failed differently; [`Error::CallbackPanicked`] if `connection_made`
/// panicked (then `connection_lost` has run).
///
/// # Cancel safety
///
/// Cancelling it while a host name is resolved leaves no socket open; once
/// the names are resolved it does not wait on anything.
///
/// # Examples
///
/// A server replies to a client that was given its address as `remote_addr`:
///
/// ```
/// use std::net::SocketAddr;
/// use std::time::Duration;
///
/// use aioproto::{DatagramOptions, DatagramProtocol, DatagramTransport, create_datagram_endpoint};
/// use bytes::Bytes;
/// use tokio::sync::mpsc;
///
/// #[derive(Default)]
/// struct Server(Option<DatagramTransport>);
/// impl DatagramProtocol for Server {
///     fn connection_made(&mut self, t: &DatagramTransport) {
///         self.0 = Some(t.clone());
///     }
///     fn datagram_received(&mut self, data: Bytes, addr: SocketAddr) {
///         let reply = [b"resp:".as_slice(), &data].concat();
///         let _ = self.0.as_ref().unwrap().sendto(reply, Some(addr));
///     }
/// }
///
/// struct Client(mpsc::UnboundedSender<Bytes>);
/// impl DatagramProtocol for Client {
///     fn datagram_received(&mut self, data: Bytes, _addr: SocketAddr) {
///         let _ = self.0.send(data);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let options = DatagramOptions::new();
/// let local = "127.0.0.1:0".parse().ok();
/// let (server, _) = create_datagram_endpoint(Server::default, local, None, &options).await?;
///
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// let (client, _) =
///     create_datagram_endpoint(move || Client(tx), None, server.sockname(), &options).await?;
/// client.sendto("xxx", None)?;
/// let reply = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap();
/// assert_eq!(reply.unwrap(), "resp:xxx");
/// client.close();
/// server.close();
/// # Ok(()) }
/// ```
pub async fn create_datagram_endpoint<F, P, L, R>(
    factory: F,
    local_addr: L,
    remote_addr: R,
    options: &DatagramOptions,
) -> Result<(DatagramTransport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: DatagramProtocol,
    L: ToEndpointAddr,
    R: ToEndpointAddr,
{
    if options.cleanup_socket.is_some() {
        return Err(Error::invalid_argument(
            "cleanup_socket is for Unix datagram endpoints; a UDP endpoint has no socket file",
        ));
    }
    let local = local_addr.to_endpoint_addr()?;
    let remote = remote_addr.to_endpoint_addr()?;
    let mut errors = Vec::new();
    for (local, remote) in host::candidates(&local, &remote, options.family).await? {
        match open_udp(local, remote, options) {
            Ok((socket, connected)) => {
                return driver::start(socket, remote, connected, factory, None);
            }
            Err(e) => errors.push(e),
        }
    }
    Err(crate::net::connect::aggregate(errors))
}

/// Creates the socket for one (local, remote) pair of one family: options,
/// bind, connect. Returns it and whether it is connected.
fn open_udp(
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
    options: &DatagramOptions,
) -> Result<(UdpSocket, bool)> {
    let Some(family) = local.or(remote).map(Domain::for_address) else {
        return Err(Error::invalid_argument("no address to open an endpoint on"));
    };
    let socket = Socket::new(family, Type::DGRAM, Some(SockProtocol::UDP))?;
    socket.set_nonblocking(true)?;
    if options.reuse_port {
        socket.set_reuse_port(true)?;
    }
    if options.allow_broadcast {
        socket.set_broadcast(true)?;
    }
    if let Some(local) = local {
        socket
            .bind(&local.into())
            .map_err(|e| bind_error(e, local))?;
    }
    let connected = match remote {
        Some(remote) if !options.allow_broadcast => {
            socket
                .connect(&remote.into())
                .map_err(|e| connect_error(e, remote))?;
            true
        }
        _ => false,
    };
    Ok((UdpSocket::from_std(socket.into())?, connected))
}

/// Creates a UDP endpoint on a socket made elsewhere, like
/// `create_datagram_endpoint(sock=…)`.
///
/// The socket is used as it is: bound or not, connected or not. A connected
/// socket's peer becomes the endpoint's `remote_addr`. It is switched to
/// non-blocking mode.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `options` sets anything (socket options are
/// the caller's business here, as in asyncio), or if the descriptor is not a
/// datagram socket; I/O errors from registering it with tokio;
/// [`Error::CallbackPanicked`] if `connection_made` panicked.
///
/// # Examples
///
/// ```
/// use aioproto::{DatagramOptions, DatagramProtocol, create_datagram_endpoint_from_std};
///
/// struct Quiet;
/// impl DatagramProtocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
/// let addr = socket.local_addr()?;
/// let (transport, _) =
///     create_datagram_endpoint_from_std(|| Quiet, socket, &DatagramOptions::new())?;
/// assert_eq!(transport.sockname(), Some(addr));
/// transport.close();
/// # Ok(()) }
/// ```
pub fn create_datagram_endpoint_from_std<F, P>(
    factory: F,
    socket: std::net::UdpSocket,
    options: &DatagramOptions,
) -> Result<(DatagramTransport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: DatagramProtocol,
{
    check_given_socket(
        options,
        SockRef::from(&socket),
        "UDP",
        &[Domain::IPV4, Domain::IPV6],
    )?;
    socket.set_nonblocking(true)?;
    let remote = socket.peer_addr().ok();
    let socket = UdpSocket::from_std(socket)?;
    driver::start(socket, remote, remote.is_some(), factory, None)
}

/// What a `*_from_std` endpoint checks before it takes a socket made
/// elsewhere: `options` set nothing (socket options are the caller's
/// business, as in asyncio), and the socket is a datagram socket of one of
/// `domains`, `what` naming the kind expected in the error.
fn check_given_socket(
    options: &DatagramOptions,
    socket: SockRef<'_>,
    what: &str,
    domains: &[Domain],
) -> Result<()> {
    options.refuse_socket_options(
        "socket modifier options can not be used when a socket is given",
        true,
    )?;
    let (domain, kind) = (socket.domain()?, socket.r#type()?);
    if !domains.contains(&domain) || kind != Type::DGRAM {
        return Err(Error::invalid_argument(format!(
            "a {what} socket was expected, got a socket of domain {domain:?} and type {kind:?}"
        )));
    }
    Ok(())
}

mod driver;
mod host;
mod socket;
#[cfg(feature = "unix")]
mod unix;

pub use host::ToEndpointAddr;
pub use socket::DatagramAddr;
#[cfg(feature = "unix")]
pub use unix::{
    UnixDatagramAddr, UnixDatagramTransport, create_unix_datagram_endpoint,
    create_unix_datagram_endpoint_from_std,
};

#[cfg(test)]
mod tests;
