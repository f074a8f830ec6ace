//! The socket options a transport handle can read and change.

use std::os::fd::BorrowedFd;

/// `TCP_NODELAY` and `SO_KEEPALIVE` as a transport reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SocketOptions {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: bool,
}

/// Applies options a handle changed; failures are logged, not fatal.
pub(crate) fn apply_socket_options(fd: &BorrowedFd<'_>, options: SocketOptions) {
    let sock = socket2::SockRef::from(fd);
    if let Err(e) = sock.set_tcp_nodelay(options.nodelay) {
        tracing::warn!(error = %e, "cannot set TCP_NODELAY");
    }
    if let Err(e) = sock.set_keepalive(options.keepalive) {
        tracing::warn!(error = %e, "cannot set SO_KEEPALIVE");
    }
}
