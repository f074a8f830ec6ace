//! Unix datagram sockets (asyncio's `create_datagram_endpoint(family=AF_UNIX,
//! local_addr=path, remote_addr=path)`): [`create_unix_datagram_endpoint`]
//! and [`UnixDatagramAddr`], over the same transport and driver as UDP.
//!
//! Socket files are handled like those of Unix stream servers
//! (`net/unix.rs`): a stale socket file at the local path is replaced; any
//! other file there is an error and is left alone; the endpoint removes the
//! file it bound when it ends, unless another file replaced it meanwhile or
//! [`DatagramOptions::cleanup_socket`] is off.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::BytesMut;
use socket2::{Domain, SockAddr, SockRef, Socket, Type};
use tokio::io::{Interest, Ready};
use tokio::net::UnixDatagram;

use super::driver::{self, OnEnd};
use super::socket::{DatagramAddr, DatagramSocket};
use super::{DatagramOptions, DatagramProtocol, DatagramTransport};
use crate::error::{Error, Result};
use crate::net::addr::{bind_path_error, with_context};
use crate::net::unix::{SocketFile, remove_stale_socket};
use crate::transport::ExtraInfo;

/// The address of a Unix datagram socket: what
/// [`DatagramProtocol::datagram_received`] gets as the sender and what
/// [`DatagramTransport::sendto`] takes on a Unix endpoint.
///
/// `From` a path (`&Path`, `PathBuf`, `&str`, `String`) makes a
/// [`Path`](Self::Path).
///
/// # Examples
///
/// ```
/// use aioproto::UnixDatagramAddr;
///
/// let addr = UnixDatagramAddr::from("/run/app.sock");
/// assert_eq!(addr.as_path(), Some(std::path::Path::new("/run/app.sock")));
/// assert_eq!(addr.to_string(), "/run/app.sock");
/// assert!(UnixDatagramAddr::Unnamed.as_path().is_none());
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnixDatagramAddr {
    /// A socket bound to this file.
    Path(PathBuf),
    /// A socket bound to no name (it sent without binding). It cannot be
    /// answered: `sendto` refuses it.
    Unnamed,
    /// A socket bound to a name in Linux's abstract namespace (the bytes
    /// after the leading NUL). Sending to one works on Linux only.
    Abstract(Vec<u8>),
}

impl UnixDatagramAddr {
    /// The socket file's path, for [`Path`](Self::Path).
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            UnixDatagramAddr::Path(path) => Some(path),
            _ => None,
        }
    }

    /// Whether the socket has no name.
    pub fn is_unnamed(&self) -> bool {
        matches!(self, UnixDatagramAddr::Unnamed)
    }

    fn of(addr: &tokio::net::unix::SocketAddr) -> UnixDatagramAddr {
        if let Some(path) = addr.as_pathname() {
            return UnixDatagramAddr::Path(path.to_owned());
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(name) = addr.as_abstract_name() {
            return UnixDatagramAddr::Abstract(name.to_vec());
        }
        UnixDatagramAddr::Unnamed
    }

    fn named(addr: io::Result<tokio::net::unix::SocketAddr>) -> Option<UnixDatagramAddr> {
        addr.ok()
            .map(|a| UnixDatagramAddr::of(&a))
            .filter(|a| !a.is_unnamed())
    }
}

impl From<&Path> for UnixDatagramAddr {
    fn from(path: &Path) -> Self {
        UnixDatagramAddr::Path(path.to_owned())
    }
}

impl From<PathBuf> for UnixDatagramAddr {
    fn from(path: PathBuf) -> Self {
        UnixDatagramAddr::Path(path)
    }
}

impl From<&PathBuf> for UnixDatagramAddr {
    fn from(path: &PathBuf) -> Self {
        UnixDatagramAddr::Path(path.clone())
    }
}

impl From<&str> for UnixDatagramAddr {
    fn from(path: &str) -> Self {
        UnixDatagramAddr::Path(path.into())
    }
}

impl From<String> for UnixDatagramAddr {
    fn from(path: String) -> Self {
        UnixDatagramAddr::Path(path.into())
    }
}

impl fmt::Display for UnixDatagramAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixDatagramAddr::Path(path) => write!(f, "{}", path.display()),
            UnixDatagramAddr::Unnamed => f.write_str("(unnamed)"),
            UnixDatagramAddr::Abstract(name) => write!(f, "@{}", name.escape_ascii()),
        }
    }
}

/// A Unix datagram endpoint's transport: [`DatagramTransport`] with
/// [`UnixDatagramAddr`] addresses, so `sendto` takes a path and `sockname`
/// gives one.
///
/// # Examples
///
/// ```
/// use aioproto::{UnixDatagramAddr, UnixDatagramTransport};
///
/// fn notify(transport: &UnixDatagramTransport) -> aioproto::Result<()> {
///     transport.sendto("reload", Some(UnixDatagramAddr::from("/run/app/control.sock")))
/// }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub type UnixDatagramTransport = DatagramTransport<UnixDatagramAddr>;

impl DatagramAddr for UnixDatagramAddr {
    type Socket = UnixDatagram;

    fn describe(extra: &mut ExtraInfo, local: Option<&Self>, peer: Option<&Self>) {
        extra.sock_path = local.and_then(|a| a.as_path()).map(Path::to_owned);
        extra.peer_path = peer.and_then(|a| a.as_path()).map(Path::to_owned);
    }

    fn check_target(&self) -> Result<()> {
        if self.is_unnamed() {
            return Err(Error::invalid_argument(
                "invalid address: an unnamed Unix socket cannot be sent to",
            ));
        }
        Ok(())
    }
}

impl DatagramSocket<UnixDatagramAddr> for UnixDatagram {
    fn try_send(&self, data: &[u8]) -> io::Result<usize> {
        UnixDatagram::try_send(self, data)
    }
    fn try_send_to(&self, data: &[u8], target: &UnixDatagramAddr) -> io::Result<usize> {
        match target {
            UnixDatagramAddr::Path(path) => UnixDatagram::try_send_to(self, data, path),
            UnixDatagramAddr::Abstract(name) => {
                // tokio sends to paths only; socket2 takes a name that
                // starts with NUL as an abstract one.
                let with_nul: Vec<u8> = [&[0u8][..], name].concat();
                let addr = SockAddr::unix(std::ffi::OsStr::from_bytes(&with_nul))?;
                self.try_io(Interest::WRITABLE, || {
                    SockRef::from(self).send_to(data, &addr)
                })
            }
            UnixDatagramAddr::Unnamed => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an unnamed Unix socket cannot be sent to",
            )),
        }
    }
    fn try_recv_buf_from(&self, buf: &mut BytesMut) -> io::Result<(usize, UnixDatagramAddr)> {
        let (n, from) = UnixDatagram::try_recv_buf_from(self, buf)?;
        Ok((n, UnixDatagramAddr::of(&from)))
    }
    fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UnixDatagram::poll_recv_ready(self, cx)
    }
    fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        UnixDatagram::poll_send_ready(self, cx)
    }
    fn ready(&self, interest: Interest) -> impl Future<Output = io::Result<Ready>> + Send {
        UnixDatagram::ready(self, interest)
    }
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        UnixDatagram::try_io(self, interest, f)
    }
    fn local(&self) -> Option<UnixDatagramAddr> {
        UnixDatagramAddr::named(self.local_addr())
    }
    fn peer(&self) -> Option<UnixDatagramAddr> {
        UnixDatagramAddr::named(self.peer_addr())
    }
}

/// Creates a Unix datagram endpoint, like asyncio's
/// `create_datagram_endpoint(family=socket.AF_UNIX, local_addr=path,
/// remote_addr=path)`.
///
/// * `local_path`: bind the socket to this file, so peers can answer. A
///   stale socket file there (its endpoint is gone) is replaced; any other
///   file is an error and is left alone. The endpoint removes the file when
///   it ends, right after its socket closes and before `connection_lost`
///   runs (so a protocol that restarts there can bind the path again),
///   unless another file replaced it meanwhile or
///   [`DatagramOptions::cleanup_socket`] is off. Without it the socket is unnamed: receivers see
///   [`UnixDatagramAddr::Unnamed`] and cannot answer.
/// * `remote_path`: the default destination of `sendto` and the only one it
///   accepts; the socket is `connect()`ed to it, so only that socket's
///   datagrams arrive.
///
/// With neither, the endpoint is an unnamed socket that can `sendto` any
/// path. The protocol implements
/// [`DatagramProtocol<UnixDatagramAddr>`](DatagramProtocol); its callbacks
/// get a [`UnixDatagramTransport`]. Everything else (flow control,
/// `error_received`, pausing, closing) is as for UDP.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for the UDP options (`reuse_port`,
/// `allow_broadcast`, `family`); an I/O error of kind `AddrInUse`
/// ("Address … is already in use") when a file that is not a socket is at
/// `local_path`; an I/O error naming the path when binding fails or when
/// `remote_path` cannot be connected to (kind `NotFound` for a path with no
/// file, `ConnectionRefused` for a socket file nobody holds); the bound file
/// is removed again then. [`Error::CallbackPanicked`] if `connection_made`
/// panicked (then `connection_lost` has run).
///
/// # Cancel safety
///
/// Cancel-safe: it does not wait on anything, so it cannot be cancelled halfway.
///
/// # Examples
///
/// An echo endpoint and a client bound to its own path, so it can be
/// answered:
///
/// ```
/// use std::time::Duration;
///
/// use aioproto::{
///     DatagramOptions, DatagramProtocol, UnixDatagramAddr, UnixDatagramTransport,
///     create_unix_datagram_endpoint,
/// };
/// use bytes::Bytes;
/// use tokio::sync::mpsc;
///
/// #[derive(Default)]
/// struct Echo(Option<UnixDatagramTransport>);
/// impl DatagramProtocol<UnixDatagramAddr> for Echo {
///     fn connection_made(&mut self, t: &UnixDatagramTransport) {
///         self.0 = Some(t.clone());
///     }
///     fn datagram_received(&mut self, data: Bytes, from: UnixDatagramAddr) {
///         let _ = self.0.as_ref().unwrap().sendto(data, Some(from));
///     }
/// }
///
/// struct Client(mpsc::UnboundedSender<Bytes>);
/// impl DatagramProtocol<UnixDatagramAddr> for Client {
///     fn datagram_received(&mut self, data: Bytes, _from: UnixDatagramAddr) {
///         let _ = self.0.send(data);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let dir = std::env::temp_dir();
/// let server_path = dir.join(format!("aioproto-doc-dgram-{}.sock", std::process::id()));
/// let client_path = dir.join(format!("aioproto-doc-dgram-{}-c.sock", std::process::id()));
/// let options = DatagramOptions::new();
/// let (server, _) =
///     create_unix_datagram_endpoint(Echo::default, Some(&server_path), None, &options).await?;
/// let (tx, mut rx) = mpsc::unbounded_channel();
/// let (client, _) = create_unix_datagram_endpoint(
///     move || Client(tx), Some(&client_path), Some(&server_path), &options).await?;
/// client.sendto("ping", None)?;
/// let echo = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap();
/// assert_eq!(echo.unwrap(), "ping");
/// client.close();
/// server.close(); // its socket file goes when it has ended
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn create_unix_datagram_endpoint<F, P>(
    factory: F,
    local_path: Option<&Path>,
    remote_path: Option<&Path>,
    options: &DatagramOptions,
) -> Result<(UnixDatagramTransport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: DatagramProtocol<UnixDatagramAddr>,
{
    options.refuse_socket_options(
        "UDP options can not be used on a Unix datagram endpoint",
        false,
    )?;
    let socket = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
    socket.set_nonblocking(true)?;
    let mut file = None;
    if let Some(path) = local_path {
        remove_stale_socket(path)?;
        socket
            .bind(&SockAddr::unix(path)?)
            .map_err(|e| bind_path_error(e, path))?;
        if options.cleanup_socket != Some(false) {
            file = SocketFile::of(path);
        }
    }
    if let Some(path) = remote_path {
        let connected = SockAddr::unix(path).and_then(|addr| socket.connect(&addr));
        if let Err(e) = connected {
            if let Some(file) = file {
                file.remove();
            }
            return Err(with_context(
                e,
                format_args!("error while attempting to connect to path {path:?}"),
            ));
        }
    }
    let socket = UnixDatagram::from_std(std::os::unix::net::UnixDatagram::from(OwnedFd::from(
        socket,
    )))?;
    let remote = remote_path.map(UnixDatagramAddr::from);
    let on_end = file.map(|file| -> OnEnd { Box::new(move || file.remove()) });
    driver::start(socket, remote, remote_path.is_some(), factory, on_end)
}

/// Makes a Unix datagram endpoint of a socket made elsewhere, like asyncio's
/// `create_datagram_endpoint(sock=s)` with an `AF_UNIX` socket: bound or
/// not, connected or not (a connected socket's peer becomes the endpoint's
/// remote address, the only one `sendto` accepts; for one half of a
/// `socketpair()` that is [`UnixDatagramAddr::Unnamed`], reached with
/// `sendto(data, None)`). It is switched to
/// non-blocking mode. Its socket file, if it has one, stays the caller's:
/// the endpoint does not remove it.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `options` sets anything (socket options are
/// the caller's business here, as in asyncio), or if the descriptor is not
/// a Unix datagram socket; I/O errors from registering it with tokio;
/// [`Error::CallbackPanicked`] if `connection_made` panicked.
///
/// # Examples
///
/// A connected pair, as `socket.socketpair(AF_UNIX, SOCK_DGRAM)` gives:
///
/// ```
/// use std::os::unix::net::UnixDatagram;
/// use std::time::Duration;
///
/// use aioproto::{
///     DatagramOptions, DatagramProtocol, UnixDatagramAddr,
///     create_unix_datagram_endpoint_from_std,
/// };
///
/// struct Quiet;
/// impl DatagramProtocol<UnixDatagramAddr> for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let (ours, theirs) = UnixDatagram::pair()?;
/// let (transport, _) =
///     create_unix_datagram_endpoint_from_std(|| Quiet, ours, &DatagramOptions::new())?;
/// transport.sendto("hello", None)?;
/// theirs.set_nonblocking(true)?;
/// let theirs = tokio::net::UnixDatagram::from_std(theirs)?;
/// let mut buf = [0u8; 16];
/// let n = tokio::time::timeout(Duration::from_secs(5), theirs.recv(&mut buf))
///     .await
///     .expect("the peer got nothing")?;
/// assert_eq!(&buf[..n], b"hello");
/// transport.close();
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub fn create_unix_datagram_endpoint_from_std<F, P>(
    factory: F,
    socket: std::os::unix::net::UnixDatagram,
    options: &DatagramOptions,
) -> Result<(UnixDatagramTransport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: DatagramProtocol<UnixDatagramAddr>,
{
    super::check_given_socket(
        options,
        SockRef::from(&socket),
        "Unix datagram",
        &[Domain::UNIX],
    )?;
    socket.set_nonblocking(true)?;
    let socket = UnixDatagram::from_std(socket)?;
    // A connected socket's peer, named or not: one half of a
    // `socketpair()` is connected to an unnamed socket, and sends to it
    // with `sendto(data, None)` all the same.
    let remote = socket
        .peer_addr()
        .ok()
        .map(|addr| UnixDatagramAddr::of(&addr));
    let connected = remote.is_some();
    driver::start(socket, remote, connected, factory, None)
}
