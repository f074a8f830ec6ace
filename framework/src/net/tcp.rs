//! TCP sockets as driver ios: the socket options both servers and clients set,
//! applied once, and what the transport reports back.

use tokio::net::TcpStream;

use crate::transport::io::AsyncIo;
use crate::transport::{Capabilities, ExtraInfo, SocketOptions};

/// Wraps an accepted or connected TCP stream (unboxed: an accepted one runs
/// inline in its driver).
///
/// `TCP_NODELAY` and `SO_KEEPALIVE` are set on the socket here, once, before
/// any transport exists, so the options the transport reports are read back
/// from the socket and true from the first callback on. A failure to set one
/// is logged and the connection goes on, as asyncio does.
pub(crate) fn tcp_io(
    stream: TcpStream,
    wanted: SocketOptions,
) -> (AsyncIo<TcpStream>, ExtraInfo, SocketOptions) {
    let sock = socket2::SockRef::from(&stream);
    if let Err(e) = sock.set_tcp_nodelay(wanted.nodelay) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    if wanted.keepalive
        && let Err(e) = sock.set_keepalive(true)
    {
        tracing::debug!(error = %e, "cannot set SO_KEEPALIVE");
    }
    let options = SocketOptions {
        nodelay: sock.tcp_nodelay().unwrap_or(false),
        keepalive: sock.keepalive().unwrap_or(false),
    };
    let mut extra = ExtraInfo::new(Capabilities::SOCKET);
    extra.peername = stream.peer_addr().ok();
    extra.sockname = stream.local_addr().ok();
    (AsyncIo(stream), extra, options)
}
