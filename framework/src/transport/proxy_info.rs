//! [`ProxyInfo`]: what a PROXY protocol header changed about a connection,
//! part of its [`ExtraInfo`](crate::ExtraInfo).
//!
//! A plain record, so the transport layer can carry it without knowing the
//! header's format; `net/proxy` reads the header and fills it in.

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;

/// The socket's own addresses, and the PROXY header that replaced them, of a
/// connection accepted by a server with
/// [`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol).
///
/// [`ExtraInfo::peername`](crate::ExtraInfo::peername) and its siblings
/// report what the header says (the client behind the proxy); this record
/// keeps what the socket says (the proxy itself). Reach it with
/// [`ExtraInfo::proxy`](crate::ExtraInfo::proxy) or
/// [`Transport::proxy`](crate::Transport::proxy); the decoded header (TLVs,
/// version, command) is [`Transport::proxy_header`](crate::Transport::proxy_header).
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, Transport};
///
/// struct Audit;
/// impl BaseProtocol for Audit {
///     fn connection_made(&mut self, t: &Transport) {
///         if let Some(proxy) = t.proxy() {
///             println!("{:?} relayed by {:?}", t.peername(), proxy.socket_peername);
///         }
///     }
/// }
/// impl Protocol for Audit {}
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProxyInfo {
    /// The remote address of the TCP socket: the proxy's.
    pub socket_peername: Option<SocketAddr>,
    /// The local address of the TCP socket.
    pub socket_sockname: Option<SocketAddr>,
    /// The remote path of the Unix socket (usually unnamed).
    pub socket_peer_path: Option<PathBuf>,
    /// The local path of the Unix socket.
    pub socket_sock_path: Option<PathBuf>,
    /// The header exactly as received: the v1 line with its CRLF, or the
    /// whole v2 header.
    pub header: Bytes,
}
