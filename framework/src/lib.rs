//! asyncio's Transport/Protocol callback model, ported to Rust on tokio.
#![doc(test(attr(deny(warnings), allow(dead_code))))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod async_protocol;
mod codec;
mod connect;
mod error;
mod event_loop;
mod event_loop_impl;
mod future;
mod gather;
pub mod guide;
#[cfg(feature = "process")]
mod process;
mod protocol;
mod protocol_impl;
mod queue;
mod server;
mod streams;
mod streams_impl;
mod sync;
mod task;
mod task_group;
pub mod testing;
mod timeout;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
mod tls_impl;
mod transport;
#[cfg(feature = "unix")]
mod unix;
mod wait;

// Public interface
pub use async_protocol::{AsyncAdapter, AsyncProtocol};
pub use codec::{CodecProtocol, FrameHandler, FrameSink};
pub use connect::{ConnectOptions, connect_accepted_socket, create_connection};
pub use error::{Error, Result};
pub use event_loop::{
    ConcurrentFuture, EventLoop, EventLoopBuilder, ExceptionContext, ExceptionHandler, Handle,
    default_exception_handler, get_running_loop,
};
pub use future::{DoneCallback, Future, Wait};
pub use gather::{Awaitable, Gather, gather, gather_return_exceptions, shield};
#[cfg(feature = "process")]
pub use process::{
    Process, ProcessReader, ProcessStdin, create_subprocess_exec, create_subprocess_shell,
};
pub use protocol::{BaseProtocol, BufferedProtocol, Protocol};
pub use protocol_impl::{BufferedMarker, IntoHandler, ProtocolFactory, StreamMarker};
pub use queue::Queue;
pub use server::{Hosts, Server, ServerOptions, create_server, create_server_from_std};
pub use streams::{
    DEFAULT_LIMIT, StreamReader, StreamReaderProtocol, StreamWriter, open_connection,
    open_connection_with, start_server, start_server_with,
};
#[cfg(feature = "unix")]
pub use streams::{
    open_unix_connection, open_unix_connection_with, start_unix_server, start_unix_server_with,
};
pub use sync::{Condition, Event, Lock, LockGuard, Semaphore};
pub use task::{
    Task, TaskRef, all_tasks, cancellable, create_task, create_task_named, current_task,
};
pub use task_group::TaskGroup;
pub use timeout::{Timeout, sleep, sleep_until, timeout, timeout_at};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::{
    ClientTls, ClientTlsBuilder, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT, ServerTls,
    ServerTlsBuilder, TlsConfig, TlsInfo, start_tls, start_tls_with_data,
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
pub use wait::{AsCompleted, ReturnWhen, Waitable, as_completed, wait, wait_for};
