//! asyncio's Transport/Protocol callback model, ported to Rust on tokio.
//!
//! A **protocol** is a plain struct whose methods aioproto calls when something
//! happens on a connection; a **transport** is the handle the protocol uses to
//! write, close and steer that connection. Servers and clients are made from a
//! protocol factory, exactly as with asyncio's `create_server` and
//! `create_connection`.
//!
//! # Design overview
//!
//! ```text
//!  your Protocol  <-- sync callbacks --  driver task (one per connection)  <-->  tokio socket
//!       |                                  ^  owns the socket and the protocol
//!       +-- Transport (Clone handle) ------+  write()/close()/pause_reading() queue work
//! ```
//!
//! * One tokio task per connection owns the socket and the protocol. It reads, calls
//!   the protocol, then flushes whatever the protocol wrote with one vectored write:
//!   many `write()` calls in one callback cost one system call.
//! * [`Transport`] is a cheap `Clone + Send + Sync` handle. Its methods are
//!   synchronous, like asyncio's; they queue work and wake the driver. A write from
//!   another task (a chat broadcast) wakes that connection's driver.
//! * Callbacks are synchronous `fn(&mut self, …)` with no-op defaults. The
//!   protocol lives in an `Arc<Mutex<P>>` that the driver locks for the length of
//!   one callback; [`create_connection`] hands you a clone, as asyncio returns
//!   `(transport, protocol)`.
//! * A panic in a callback ends that connection only: `connection_lost` receives
//!   [`Error::CallbackPanicked`], and the server and every other connection go on.
//! * An idle connection holds no read buffer: reads go into buffers from a small
//!   per-thread pool, handed back whenever the socket has nothing more to read.
//!
//! # asyncio mapping
//!
//! | asyncio | aioproto |
//! |---|---|
//! | `asyncio.Protocol` | [`BaseProtocol`] + [`Protocol`] |
//! | `asyncio.BufferedProtocol` | [`BaseProtocol`] + [`BufferedProtocol`] |
//! | transport methods (`write`, `close`, `abort`, `pause_reading`, …) | [`Transport`], same names |
//! | `get_extra_info(...)` | [`Transport::extra`], [`Transport::peername`], … |
//! | `loop.sendfile(transport, file, offset, count, fallback=…)` | [`Transport::sendfile`] / [`Transport::sendfile_zero_copy`] |
//! | `loop.create_server` / `Server` | [`create_server`] / [`Server`] |
//! | `loop.create_connection` | [`create_connection`] |
//! | `loop.connect_accepted_socket` | [`connect_accepted_socket`] |
//! | Twisted `registerProducer` / `portforward` (relay two transports) | [`pipe`], [`splice`], [`connect_and_splice`] → [`Relay`] |
//! | exceptions | one [`Error`] enum; `connection_lost(None)` is a clean close |
//!
//! The [`guide`] has a chapter per topic with the asyncio code next to the aioproto code.
//!
//! # Getting started
//!
//! An echo server and a client that talks to it:
//!
//! ```
//! use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
//! use bytes::Bytes;
//!
//! #[derive(Default)]
//! struct Echo(Option<Transport>);
//!
//! impl BaseProtocol for Echo {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         self.0 = Some(transport.clone());
//!     }
//! }
//! impl Protocol for Echo {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.0.as_ref().unwrap().write(data);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new()).await?;
//! let addr = server.local_addrs()[0];
//!
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! let mut client = tokio::net::TcpStream::connect(addr).await?;
//! client.write_all(b"ping").await?;
//! let mut reply = [0u8; 4];
//! client.read_exact(&mut reply).await?;
//! assert_eq!(&reply, b"ping");
//!
//! server.close();
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! No feature is on by default; the TCP core is always there. Items that need a
//! feature say so (and are absent without it): build the docs with
//! `--all-features` to see the whole API and every guide chapter.
//!
//! * `tls`: TLS transports with rustls on the *ring* provider.
//! * `unix`: Unix domain sockets (stream and datagram) and pipes.
//! * `process`: child processes with pipe transports (implies `unix`).
//! * `full`: all of the above.
//! * `redis`: the Redis backplane of [`pubsub::Room`] (rooms across processes and
//!   machines); not part of `full`, since it brings in a Redis client.
//!
//! [`Bytes`], [`BytesMut`], the tokio-util codec traits ([`Decoder`], [`Encoder`]) and
//! [`async_trait`](macro@async_trait) are re-exported, so `aioproto` and `tokio` are the only dependencies
//! a protocol needs.
//!
//! # Stability
//!
//! Pre-1.0: the API follows asyncio's names and may still change in minor releases.
//! Items under `#[doc(hidden)]` are not part of the API.
//!
//! # Cancel safety
//!
//! Transport methods are synchronous and cannot be cancelled half-way. Every
//! `async fn` documents its cancel safety; in short, dropping a connecting or
//! binding future closes whatever socket it opened and no callback runs, and
//! dropping [`Server::serve_forever`] closes the server, as cancelling asyncio's
//! `serve_forever()` does.
//!
//! # Implementation notes and caveats
//!
//! * Callbacks of one connection run on its driver task, one at a time, in the
//!   order `connection_made`, `data_received`*, `eof_received`, `connection_lost`.
//!   On a current-thread runtime (asyncio's model) no two callbacks of any
//!   connection ever run at once.
//! * `pause_writing` is called right after the callback (or the batch of writes
//!   from other tasks) that took the buffer over the high-water mark, not inside
//!   `write()` as in asyncio: a callback cannot be re-entered while it runs.
//! * Unlike asyncio, a server's connection stops reading while its write buffer
//!   is over the high-water mark, so memory stays bounded against peers that
//!   never read ([`ServerOptions::pause_reading_on_backpressure`]; see
//!   [guide chapter 6](crate::guide::ch06_flow_control)).
//! * Every API works inside any tokio runtime, `#[tokio::main]` included. Do not
//!   block inside a callback: it stalls every connection on that thread.
//! * With [`ServerOptions::workers`]`(n)` a server runs on n threads of its own,
//!   each a current-thread runtime (thread per core, asyncio's model on every
//!   core): a connection's factory call and callbacks all run on its worker, in
//!   order; different connections run in parallel, so what protocols share must
//!   be `Sync` (a [`pubsub::Room`] is).

#![doc(test(attr(deny(warnings), allow(dead_code))))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The docs are written for the whole crate (docs.rs builds it with every
// feature): a link from an item that is always there to one behind a feature
// (`ConnectOptions::tls`, `UnixDatagramAddr`) has nothing to point at in a
// build without that feature. Such builds let those links go; the
// all-features build (`.ci/run`, docs.rs) still fails on any broken link.
#![cfg_attr(
    not(all(feature = "tls", feature = "unix", feature = "process")),
    allow(rustdoc::broken_intra_doc_links)
)]

mod adapters;
mod error;
pub mod guide;
#[doc(hidden)]
pub mod internal;
mod net;
pub mod pubsub;
mod runtime;
mod streams;
pub mod testing;
mod transport;
mod util;

// Public interface
pub use adapters::async_protocol::{AsyncAdapter, AsyncProtocol};
pub use adapters::codec::framing::{
    LengthPrefixedCodec, LengthPrefixedError, NetstringCodec, NetstringError,
};
pub use adapters::codec::{CodecProtocol, FrameHandler, FrameSink};
pub use adapters::relay::{
    Relay, RelayEnd, RelayOutcome, RelayStats, connect_and_splice, pipe, splice,
};
pub use async_trait::async_trait;
pub use bytes::{Bytes, BytesMut};
pub use error::{Error, Result};
pub use net::addr::AddressFamily;
pub use net::connect::{
    ConnectOptions, connect_accepted_socket, connect_stream, create_connection,
    create_connection_from_std,
};
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub use net::pipe::{IntoPipeFd, connect_read_pipe, connect_write_pipe};
pub use net::proxy::{
    ProxyAddresses, ProxyCommand, ProxyEncodeError, ProxyHeader, ProxyHeaderError, ProxyParse,
    ProxyProtocol, ProxyTlv, ProxyTransport, ProxyVersion,
};
pub use net::resolve::{AddrInfo, AddrInfoHints, NameInfoFlags};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use net::server::DEFAULT_MAX_TLS_HANDSHAKES;
pub use net::server::{
    Hosts, Server, ServerOptions, ServerStats, create_server, create_server_from_std,
};
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub use net::subprocess::{
    Stdio, SubprocessOptions, SubprocessProtocol, SubprocessTransport, subprocess_exec,
    subprocess_shell,
};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use net::tls::{
    ClientTls, ClientTlsBuilder, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT, ServerTls,
    ServerTlsBuilder, TlsConfig, start_tls, start_tls_with_data,
};
pub use net::udp::{
    DatagramAddr, DatagramOptions, DatagramProtocol, DatagramTransport, ToEndpointAddr,
    create_datagram_endpoint, create_datagram_endpoint_from_std,
};
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub use net::udp::{
    UnixDatagramAddr, UnixDatagramTransport, create_unix_datagram_endpoint,
    create_unix_datagram_endpoint_from_std,
};
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub use net::unix::{
    create_unix_connection, create_unix_connection_with, create_unix_server,
    create_unix_server_from_std,
};
pub use runtime::barrier::{Barrier, BrokenBarrierError};
pub use runtime::concurrent_future::ConcurrentFuture;
pub use runtime::event_loop::{EventLoop, EventLoopBuilder, Handle, get_running_loop};
pub use runtime::exception::{ExceptionContext, ExceptionHandler, default_exception_handler};
pub use runtime::future::{DoneCallback, Future, Wait};
pub use runtime::gather::{Awaitable, Gather, gather, gather_return_exceptions, shield};
pub use runtime::ordered_queue::{LifoQueue, PriorityQueue};
pub use runtime::queue::Queue;
pub use runtime::runner::{Runner, run};
pub use runtime::sync::{Condition, Event, Lock, LockGuard, Semaphore};
pub use runtime::task::{Task, cancellable};
pub use runtime::task_factory::{NewTask, TaskFactory, eager_task_factory};
pub use runtime::task_group::TaskGroup;
pub use runtime::task_output::IntoTaskResult;
pub use runtime::task_ref::{TaskRef, current_task};
pub use runtime::task_spawn::{all_tasks, create_eager_task, create_task, create_task_named};
pub use runtime::timeout::{Timeout, sleep, sleep_until, timeout, timeout_at};
pub use runtime::wait::{
    AsCompleted, AsCompletedTasks, ReturnWhen, Waitable, as_completed, as_completed_tasks, wait,
    wait_for,
};
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub use streams::process::{
    Process, ProcessReader, ProcessStdin, create_subprocess_exec, create_subprocess_shell,
};
pub use streams::{
    DEFAULT_LIMIT, StreamReader, StreamReaderProtocol, StreamWriter, open_connection,
    open_connection_with, start_server, start_server_with,
};
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub use streams::{
    open_unix_connection, open_unix_connection_with, start_unix_server, start_unix_server_with,
};
pub use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec, LinesCodec};
pub use transport::dispatch::{BufferedMarker, IntoHandler, ProtocolFactory, StreamMarker};
pub use transport::protocol::{BaseProtocol, BufferedProtocol, Protocol};
pub use transport::proxy_info::ProxyInfo;
pub use transport::timeouts::TimeoutKind;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use transport::tls_info::TlsInfo;
pub use transport::{ExtraInfo, Transport};

/// The README's examples compile as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

/// What a user sees for a factory whose protocol implements only
/// `BaseProtocol`: "`OnlyBase` is not a protocol aioproto can drive", with the
/// note "implement `Protocol` or `BufferedProtocol` for `OnlyBase`".
///
/// ```compile_fail,E0277
/// use aioproto::{BaseProtocol, ServerOptions, create_server};
///
/// #[derive(Default)]
/// struct OnlyBase;
/// impl BaseProtocol for OnlyBase {}
///
/// # async fn f() -> aioproto::Result<()> {
/// let server = create_server(OnlyBase::default, "127.0.0.1", 0, &ServerOptions::new()).await?;
/// # Ok(()) }
/// ```
///
/// A protocol value where a factory is expected: "`Echo` is not a protocol
/// factory".
///
/// ```compile_fail,E0277
/// use aioproto::{BaseProtocol, Protocol, ServerOptions, create_server};
///
/// #[derive(Default)]
/// struct Echo;
/// impl BaseProtocol for Echo {}
/// impl Protocol for Echo {}
///
/// # async fn f() -> aioproto::Result<()> {
/// let server = create_server(Echo::default(), "127.0.0.1", 0, &ServerOptions::new()).await?;
/// # Ok(()) }
/// ```
///
/// A task body with an output that is neither `aioproto::Result<T>` nor a
/// plain value: "a task body must return `aioproto::Result<T>` or a plain
/// value".
///
/// ```compile_fail,E0277
/// # async fn f() {
/// let task = aioproto::create_task(async { Err::<(), std::io::Error>(std::io::ErrorKind::Other.into()) });
/// # }
/// ```
#[cfg(doctest)]
struct DiagnosticDoctests;
