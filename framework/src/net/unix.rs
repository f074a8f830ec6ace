//! Unix domain stream sockets: [`create_unix_server`], [`create_unix_server_from_std`]
//! and [`create_unix_connection`].
//!
//! They run the same [`Protocol`](crate::Protocol)s over the same
//! [`Transport`] and [`Server`] as TCP: only the addresses differ. A Unix
//! transport has no `peername`/`sockname`; its
//! [`ExtraInfo::peer_path`](crate::ExtraInfo) and `sock_path` hold the socket
//! file paths instead (an unnamed client end has `None`). `write_eof()`
//! half-closes and `eof_received() -> true` keeps the connection open, as on TCP.
//!
//! Socket files are handled like asyncio does:
//!
//! * a stale socket file at the path (left by a server that died) is replaced
//!   silently;
//! * any other file at the path is an error, "Address … is already in use"
//!   (`EADDRINUSE`), and the file is left alone;
//! * [`Server::close`] removes the socket file, unless it was replaced by
//!   another file meanwhile (different inode) or
//!   [`ServerOptions::cleanup_socket`] is off; a file already gone is fine.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::UnixStream;

use crate::error::Result;
use crate::net::addr::bind_path_error;
use crate::net::connect::{ConnectOptions, start_outgoing};
use crate::net::server::{Server, ServerOptions};
use crate::transport::dispatch::{IntoHandler, ProtocolFactory};
use crate::transport::io::{AsyncIo, StreamIo};
use crate::transport::{Capabilities, ExtraInfo, Transport};

/// Creates a Unix socket server at `path`, like asyncio's `create_unix_server`.
///
/// `factory` makes one protocol per connection, as for
/// [`create_server`](crate::create_server). Of the [`ServerOptions`], `backlog`,
/// `start_serving` and `cleanup_socket` apply; the TCP ones (`reuse_address`,
/// `reuse_port`, `nodelay`, `keepalive`) have no meaning for Unix sockets and
/// are not used.
///
/// An existing file at `path` is treated as asyncio does: a stale socket
/// file (its server is gone) is replaced silently; any other file makes this
/// fail and is left alone. [`Server::close`] removes the socket file again,
/// unless it was replaced by another file meanwhile (different inode) or
/// [`ServerOptions::cleanup_socket`] is off; a file already gone is fine.
///
/// Returns once the socket is bound and, unless `start_serving(false)`,
/// listening. [`Server::local_paths`] lists the path.
///
/// # Errors
///
/// An I/O error of kind `AddrInUse` ("Address … is already in use") when a
/// file that is not a socket is at `path`; other I/O errors from removing a
/// stale socket file, binding or listening.
///
/// Of the [`ServerOptions`], `backlog`, `start_serving`, `cleanup_socket` and
/// `tls` apply (TLS works over Unix sockets as over TCP); the TCP socket
/// options (`reuse_address`, `reuse_port`, `keepalive`, `nodelay`) do not
/// exist for Unix sockets and are not used.
///
/// # Cancel safety
///
/// Cancel-safe: it does not wait on anything, so it cannot be cancelled halfway.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_unix_server};
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
/// let path = std::env::temp_dir().join(format!("aioproto-doc-{}.sock", std::process::id()));
/// let server = create_unix_server(|| Hello, &path, &ServerOptions::new()).await?;
/// println!("listening on {}", server.local_paths()[0].display());
/// server.close(); // also removes the socket file
/// assert!(!path.exists());
/// server.wait_closed().await;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn create_unix_server<F, M>(
    factory: F,
    path: impl AsRef<Path>,
    options: &ServerOptions,
) -> Result<Server>
where
    F: ProtocolFactory<M>,
{
    let path = path.as_ref();
    remove_stale_socket(path)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    socket
        .bind(&SockAddr::unix(path)?)
        .map_err(|e| bind_path_error(e, path))?;
    let file = options
        .cleanup_socket
        .then(|| SocketFile::of(path))
        .flatten();
    let server = Server::from_sockets(factory, vec![socket], options)?;
    if let Some(file) = file {
        server.cleanup_on_close(file);
    }
    Ok(server)
}

/// Creates a Unix socket server on an already-bound (and possibly listening)
/// socket, like `create_unix_server(sock=…)`.
///
/// [`Server::close`] removes its socket file too (unless `cleanup_socket` is
/// off or the file was replaced), as asyncio does for a passed-in socket.
///
/// # Errors
///
/// An I/O error if the socket cannot listen or be registered with tokio.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, ServerOptions, create_unix_server_from_std};
///
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let path = std::env::temp_dir().join(format!("aioproto-doc2-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = std::os::unix::net::UnixListener::bind(&path)?;
/// let server = create_unix_server_from_std(|| Quiet, listener, &ServerOptions::new())?;
/// assert_eq!(server.local_paths(), [path.clone()]);
/// server.close();
/// assert!(!path.exists());
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub fn create_unix_server_from_std<F, M>(
    factory: F,
    listener: std::os::unix::net::UnixListener,
    options: &ServerOptions,
) -> Result<Server>
where
    F: ProtocolFactory<M>,
{
    let file = if options.cleanup_socket {
        listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().and_then(SocketFile::of))
    } else {
        None
    };
    let server = Server::from_sockets(factory, vec![Socket::from(listener)], options)?;
    if let Some(file) = file {
        server.cleanup_on_close(file);
    }
    Ok(server)
}

/// Connects to the Unix socket at `path` and runs a protocol on the
/// connection, like asyncio's `create_unix_connection`.
///
/// Returns after the protocol's `connection_made` ran, with the transport
/// and a shared reference to the protocol. The connection has the
/// per-connection defaults of [`ConnectOptions`]: no
/// backpressure hold on reading, no time limit.
///
/// # Errors
///
/// The connect error (`NotFound` when nothing is at `path`,
/// `ConnectionRefused` when no server listens there);
/// [`Error::CallbackPanicked`](crate::Error::CallbackPanicked) if `connection_made` panicked (then
/// `connection_lost` has run).
///
/// # Cancel safety
///
/// Cancelling it before it returns closes the socket; no callback runs.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, ServerOptions, create_unix_connection, create_unix_server};
///
/// #[derive(Default)]
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let path = std::env::temp_dir().join(format!("aioproto-doc3-{}.sock", std::process::id()));
/// let server = create_unix_server(Quiet::default, &path, &ServerOptions::new()).await?;
/// let (transport, _protocol) = create_unix_connection(Quiet::default, &path).await?;
/// assert_eq!(transport.extra().peer_path.as_deref(), Some(path.as_path()));
/// transport.close();
/// server.close();
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn create_unix_connection<F, P, M>(
    factory: F,
    path: impl AsRef<Path>,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    create_unix_connection_with(factory, path, &ConnectOptions::default()).await
}

/// [`create_unix_connection`] with options, like asyncio's
/// `create_unix_connection(..., ssl=, server_hostname=,
/// ssl_handshake_timeout=)`.
///
/// Of the [`ConnectOptions`], these apply: `connect_timeout`, the
/// per-connection settings (`pause_reading_on_backpressure`, the time
/// limits), `proxy_header` (sent first, as to a backend behind a Unix
/// socket), and `tls` (feature `tls`), whose [`ClientTls`](crate::ClientTls)
/// must name the server with `server_name`: a Unix socket has no host name
/// to check the certificate against (asyncio requires `server_hostname`
/// there too).
///
/// # Errors
///
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument) for an option
/// of TCP (`local_addr`, `happy_eyeballs_delay`, `interleave`, `family`,
/// `all_errors`, `keepalive`, `nodelay(false)`), for `server_tls`, and for
/// `tls` without a server name; [`Error::Timeout`](crate::Error::Timeout)
/// past `connect_timeout`; otherwise those of [`create_unix_connection`],
/// and the handshake's.
///
/// # Cancel safety
///
/// Cancelling it before it returns closes the socket; no callback runs.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use aioproto::{
///     BaseProtocol, ConnectOptions, Protocol, ServerOptions, create_unix_connection_with,
///     create_unix_server,
/// };
///
/// #[derive(Default)]
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let path = std::env::temp_dir().join(format!("aioproto-doc4-{}.sock", std::process::id()));
/// let server = create_unix_server(Quiet::default, &path, &ServerOptions::new()).await?;
/// let mut options = ConnectOptions::new();
/// options
///     .connect_timeout(Duration::from_secs(5))
///     .idle_timeout(Duration::from_secs(60));
/// let (transport, _protocol) = create_unix_connection_with(Quiet::default, &path, &options).await?;
/// transport.close();
///
/// // An option of TCP is refused, not ignored.
/// options.keepalive(true);
/// assert!(create_unix_connection_with(Quiet::default, &path, &options).await.is_err());
/// server.close();
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn create_unix_connection_with<F, P, M>(
    factory: F,
    path: impl AsRef<Path>,
    options: &ConnectOptions,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    options.check_for_unix()?;
    let stream = options
        .within_connect_timeout(async { Ok(UnixStream::connect(path).await?) })
        .await?;
    let (io, extra) = unix_io(stream);
    start_outgoing(io, extra, None, None, options, factory).await
}

/// Wraps a connected Unix stream and describes the connection.
pub(crate) fn unix_io(stream: UnixStream) -> (Box<dyn StreamIo>, ExtraInfo) {
    let mut extra = ExtraInfo::new(Capabilities::SOCKET);
    extra.peer_path = stream
        .peer_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(PathBuf::from));
    extra.sock_path = stream
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(PathBuf::from));
    (Box::new(AsyncIo(stream)), extra)
}

/// Removes a socket file left at `path` by a server that is gone; leaves
/// any other kind of file for `bind` to refuse.
pub(crate) fn remove_stale_socket(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match std::fs::remove_file(path) {
            Ok(()) => {
                tracing::debug!(path = %path.display(), "removed a stale socket file");
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        },
        _ => Ok(()),
    }
}

/// A socket file a server created, identified by device and inode so that
/// closing the server does not remove someone else's file.
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    pub(crate) fn of(path: &Path) -> Option<SocketFile> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some(SocketFile {
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Removes the file if it is still the one the server created.
    pub(crate) fn remove(self) {
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => {
                if let Err(e) = std::fs::remove_file(&self.path) {
                    tracing::debug!(path = %self.path.display(), error = %e, "cannot remove socket file");
                }
            }
            Ok(_) => {
                tracing::debug!(path = %self.path.display(), "socket file was replaced; left in place");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
