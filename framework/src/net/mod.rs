//! Concrete transports and their entry points: TCP servers and connections,
//! Unix sockets, TLS, UDP endpoints, pipes and child processes; and the
//! loop's raw socket coroutines (`sock_*`) and name resolution.
//!
//! Each turns an OS handle into an io the `transport` layer drives; none of
//! them runs a protocol callback itself.

pub(crate) mod addr;
pub(crate) mod connect;
pub(crate) mod loop_sockets;
#[cfg(feature = "unix")]
pub(crate) mod pipe;
pub(crate) mod proxy;
pub(crate) mod resolve;
pub(crate) mod server;
#[cfg(feature = "process")]
pub(crate) mod subprocess;
pub(crate) mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod udp;
#[cfg(feature = "unix")]
pub(crate) mod unix;
