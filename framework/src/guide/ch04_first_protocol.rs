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
