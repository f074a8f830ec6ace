//! asyncio's Transport/Protocol callback model, ported to Rust on tokio.
#![doc(test(attr(deny(warnings), allow(dead_code))))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod connect;
mod error;
pub mod guide;
#[cfg(feature = "process")]
mod process;
mod protocol;
mod protocol_impl;
mod server;
mod streams;
mod streams_impl;
pub mod testing;
mod transport;
#[cfg(feature = "unix")]
mod unix;

// Public interface
pub use connect::{ConnectOptions, connect_accepted_socket, create_connection};
pub use error::{Error, Result};
#[cfg(feature = "process")]
pub use process::{
    Process, ProcessReader, ProcessStdin, create_subprocess_exec, create_subprocess_shell,
};
pub use protocol::{BaseProtocol, BufferedProtocol, Protocol};
pub use protocol_impl::{BufferedMarker, IntoHandler, ProtocolFactory, StreamMarker};
pub use server::{Hosts, Server, ServerOptions, create_server, create_server_from_std};
pub use streams::{
    DEFAULT_LIMIT, StreamReader, StreamReaderProtocol, StreamWriter, open_connection,
    open_connection_with, start_server, start_server_with,
};
pub use transport::datagram::{
    DatagramOptions, DatagramProtocol, DatagramTransport, create_datagram_endpoint,
    create_datagram_endpoint_from_std,
};
#[cfg(feature = "unix")]
pub use transport::pipe::{IntoPipeFd, connect_read_pipe, connect_write_pipe};
#[cfg(feature = "process")]
pub use transport::subprocess::{
    Stdio, SubprocessOptions, SubprocessProtocol, SubprocessTransport, subprocess_exec,
    subprocess_shell,
};
pub use transport::{ExtraInfo, Transport};
#[cfg(feature = "unix")]
pub use unix::{create_unix_connection, create_unix_server, create_unix_server_from_std};
