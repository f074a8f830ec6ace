//! Concrete transports and their entry points: TCP servers and connections,
//! Unix sockets, TLS, UDP endpoints, pipes and child processes.
//!
//! Each turns an OS handle into an io the `transport` layer drives; none of
//! them runs a protocol callback itself.

pub(crate) mod addr;
pub(crate) mod connect;
#[cfg(feature = "unix")]
pub(crate) mod pipe;
pub(crate) mod proxy;
pub(crate) mod server;
#[cfg(feature = "process")]
pub(crate) mod subprocess;
pub(crate) mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod udp;
#[cfg(feature = "unix")]
pub(crate) mod unix;
