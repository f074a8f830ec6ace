//! `get_extra_info`: what is known about a transport's connection.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::transport::Capabilities;
use crate::transport::proxy_info::ProxyInfo;

/// Facts about a connection, fixed when it is established: asyncio's
/// `get_extra_info()` keys as typed fields.
///
/// Reach it with [`Transport::extra`](crate::Transport::extra); the common keys
/// also have their own accessors on `Transport`.
#[derive(Clone)]
#[non_exhaustive]
pub struct ExtraInfo {
    /// `peername`: the remote address of an IP connection.
    pub peername: Option<SocketAddr>,
    /// `sockname`: the local address of an IP connection.
    pub sockname: Option<SocketAddr>,
    /// `peername` of a Unix socket connection (often unnamed on the client side).
    pub peer_path: Option<PathBuf>,
    /// `sockname` of a Unix socket connection.
    pub sock_path: Option<PathBuf>,
    /// `pipe`: the raw descriptor of a pipe transport (owned by its driver; for
    /// logging and identification only).
    pub pipe_fd: Option<std::os::fd::RawFd>,
    #[cfg(feature = "tls")]
    /// TLS details (`peercert`, `cipher`, `alpn_protocol`, `server_name`, …); `None` on plain connections.
    pub tls: Option<Arc<crate::transport::tls_info::TlsInfo>>,
    /// The socket's own addresses and the header, when a PROXY protocol
    /// header replaced `peername` and `sockname` (or the paths) with the
    /// ones it carries; `None` on connections without one.
    pub proxy: Option<Arc<ProxyInfo>>,
    pub(crate) caps: Capabilities,
}

impl ExtraInfo {
    pub(crate) fn new(caps: Capabilities) -> Self {
        ExtraInfo {
            peername: None,
            sockname: None,
            peer_path: None,
            sock_path: None,
            pipe_fd: None,
            #[cfg(feature = "tls")]
            tls: None,
            proxy: None,
            caps,
        }
    }
}

impl fmt::Debug for ExtraInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ExtraInfo");
        d.field("peername", &self.peername)
            .field("sockname", &self.sockname);
        if self.peer_path.is_some() || self.sock_path.is_some() {
            d.field("peer_path", &self.peer_path)
                .field("sock_path", &self.sock_path);
        }
        if self.pipe_fd.is_some() {
            d.field("pipe_fd", &self.pipe_fd);
        }
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls);
        if self.proxy.is_some() {
            d.field("proxy", &self.proxy);
        }
        d.finish_non_exhaustive()
    }
}
