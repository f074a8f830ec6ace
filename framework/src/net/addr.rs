//! The one address-context error: an I/O error that says which address (or
//! socket path) it concerned, keeping the original's kind and errno.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::error::Error;

/// Which address family to connect over, like asyncio's `family=AF_INET` /
/// `AF_INET6` (see [`ConnectOptions::family`](crate::ConnectOptions::family)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressFamily {
    /// IPv4 addresses only.
    Ipv4,
    /// IPv6 addresses only.
    Ipv6,
}

impl AddressFamily {
    /// Whether `addr` is of this family.
    pub(crate) fn includes(self, addr: &SocketAddr) -> bool {
        match self {
            AddressFamily::Ipv4 => addr.is_ipv4(),
            AddressFamily::Ipv6 => addr.is_ipv6(),
        }
    }
}

/// A bind on `addr` failed (asyncio's wording).
pub(crate) fn bind_error(err: io::Error, addr: SocketAddr) -> Error {
    with_context(
        err,
        format_args!("error while attempting to bind on address {addr}"),
    )
}

/// A connect to `addr` failed.
pub(crate) fn connect_error(err: io::Error, addr: SocketAddr) -> Error {
    with_context(
        err,
        format_args!("error while attempting to connect to {addr}"),
    )
}

/// A bind on the Unix socket path `path` failed; an address in use gets
/// asyncio's wording.
#[cfg(feature = "unix")]
pub(crate) fn bind_path_error(err: io::Error, path: &std::path::Path) -> Error {
    if err.kind() == io::ErrorKind::AddrInUse {
        with_context(err, format_args!("Address {path:?} is already in use"))
    } else {
        with_context(
            err,
            format_args!("error while attempting to bind on path {path:?}"),
        )
    }
}

/// Adds `context` before the error's own text; [`Error::raw_os_error`] and
/// [`Error::io_kind`] still see the original through `source()`.
pub(crate) fn with_context(err: io::Error, context: fmt::Arguments<'_>) -> Error {
    let kind = err.kind();
    let text = format!("{context}: {err}");
    Error::from(io::Error::new(kind, AddressError { source: err, text }))
}

/// An OS error with the address it concerned; `source()` is the original.
#[derive(Debug)]
struct AddressError {
    source: io::Error,
    text: String,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for AddressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests;
