//! # 4. Your first protocol: an echo server
//!
//! In asyncio a server is a protocol class plus `loop.create_server`:
//!
//! ```python
//! class Echo(asyncio.Protocol):
//!     def connection_made(self, transport):
//!         self.transport = transport
//!
//!     def data_received(self, data):
//!         self.transport.write(data)
//!
//! server = await loop.create_server(Echo, "127.0.0.1", 8888)
//! ```
//!
//! In aioproto the protocol is a struct implementing [`BaseProtocol`](crate::BaseProtocol)
//! (lifecycle) and [`Protocol`](crate::Protocol) (data); every method has a no-op
//! default, so you write only what you need. The factory is any closure returning
//! a fresh protocol; `Echo::default` works.
//!
//! ```
//! use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
//! use bytes::Bytes;
//!
//! #[derive(Default)]
//! struct Echo {
//!     transport: Option<Transport>,
//! }
//!
//! impl BaseProtocol for Echo {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         self.transport = Some(transport.clone());
//!     }
//! }
//!
//! impl Protocol for Echo {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.transport.as_ref().unwrap().write(data);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new()).await?;
//! let addr = server.local_addrs()[0];
//!
//! // Talk to it with plain tokio.
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! let mut client = tokio::net::TcpStream::connect(addr).await?;
//! client.write_all(b"hello").await?;
//! let mut echo = [0u8; 5];
//! client.read_exact(&mut echo).await?;
//! assert_eq!(&echo, b"hello");
//!
//! server.close();
//! # Ok(()) }
//! ```
//!
//! ## What runs where
//!
//! Each connection has one driver task that owns the socket and the protocol.
//! It calls `connection_made`, then `data_received` for each chunk read, then
//! `eof_received` when the peer half-closes, and `connection_lost` exactly once
//! at the end. `transport.write()` only queues: the driver sends everything a
//! callback wrote in one vectored write after the callback returns.
//!
//! A panic in a callback ends that connection only: its `connection_lost` gets
//! [`Error::CallbackPanicked`](crate::Error::CallbackPanicked), and the server
//! and every other connection go on.
//!
//! ## Shutting down
//!
//! [`Server::close`](crate::Server::close) only stops accepting: connections
//! already open go on, so [`wait_closed`](crate::Server::wait_closed) right
//! after it waits for every client to leave on its own (forever, with a client
//! that stays). asyncio 3.12 has the same split. The full sequence asks the
//! clients to close, gives them a grace period to flush, then aborts the rest:
//!
//! | step | aioproto | asyncio |
//! |---|---|---|
//! | stop accepting | `server.close()` | `server.close()` |
//! | close every connection, flushing first | `server.close_clients()` | `server.close_clients()` |
//! | after a grace period, drop what is left | `server.abort_clients()` | `server.abort_clients()` |
//! | wait until every connection is gone | `server.wait_closed().await` | `await server.wait_closed()` |
//!
//! ```
//! use std::time::Duration;
//!
//! use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
//! use bytes::Bytes;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! #[derive(Default)]
//! struct Echo {
//!     transport: Option<Transport>,
//! }
//!
//! impl BaseProtocol for Echo {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         self.transport = Some(transport.clone());
//!     }
//! }
//!
//! impl Protocol for Echo {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.transport.as_ref().unwrap().write(data);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new()).await?;
//! // A client that stays connected (its echo shows the server has it).
//! let mut client = tokio::net::TcpStream::connect(server.local_addrs()[0]).await?;
//! client.write_all(b"hi").await?;
//! client.read_exact(&mut [0u8; 2]).await?;
//!
//! server.close(); // 1. no new connections
//! server.close_clients(); // 2. flush and close each live one
//! let grace = Duration::from_secs(10);
//! if tokio::time::timeout(grace, server.wait_closed()).await.is_err() {
//!     server.abort_clients(); // 3. a client that never reads cannot hold us up
//!     server.wait_closed().await; // 4. every connection_lost has run
//! }
//!
//! // The client sees the server's FIN.
//! let mut rest = Vec::new();
//! assert_eq!(client.read_to_end(&mut rest).await?, 0);
//! # Ok(()) }
//! ```
//!
//! The example servers do exactly this on SIGINT and SIGTERM (with a 10 s
//! grace), which is how they exit with status 0 even with clients connected.
