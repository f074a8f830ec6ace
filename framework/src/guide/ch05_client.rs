//! # 5. A client
//!
//! asyncio's client side is `loop.create_connection`, which returns the transport
//! and the protocol once `connection_made` has run:
//!
//! ```python
//! class Client(asyncio.Protocol):
//!     def __init__(self, done):
//!         self.done = done
//!     def connection_made(self, transport):
//!         transport.write(b"hello")
//!     def data_received(self, data):
//!         print("got", data)
//!     def connection_lost(self, exc):
//!         self.done.set_result(True)
//!
//! done = loop.create_future()
//! transport, protocol = await loop.create_connection(lambda: Client(done), "127.0.0.1", 8888)
//! await done
//! ```
//!
//! [`create_connection`](crate::create_connection) does the same and returns
//! `(Transport, Arc<Mutex<P>>)`: the protocol stays reachable from outside while
//! the driver owns the connection. To wait for the end of a connection, give the
//! protocol a channel (a tokio `oneshot` plays the role of asyncio's future):
//!
//! ```
//! use aioproto::{BaseProtocol, ConnectOptions, Error, Protocol, Transport, create_connection};
//! use bytes::Bytes;
//! use tokio::sync::oneshot;
//!
//! struct Client {
//!     received: Vec<u8>,
//!     done: Option<oneshot::Sender<Option<Error>>>,
//! }
//!
//! impl BaseProtocol for Client {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         transport.write("hello");
//!         transport.write_eof().unwrap(); // half-close: "that is all I send"
//!     }
//!     fn connection_lost(&mut self, exc: Option<Error>) {
//!         let _ = self.done.take().unwrap().send(exc);
//!     }
//! }
//!
//! impl Protocol for Client {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.received.extend_from_slice(&data);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! // A peer that answers in upper case and closes, written with plain tokio.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! tokio::spawn(async move {
//!     use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!     let (mut peer, _) = listener.accept().await.unwrap();
//!     let mut text = String::new();
//!     peer.read_to_string(&mut text).await.unwrap();
//!     peer.write_all(text.to_uppercase().as_bytes()).await.unwrap();
//! });
//!
//! let (done_tx, done_rx) = oneshot::channel();
//! let factory = move || Client { received: Vec::new(), done: Some(done_tx) };
//! let (_transport, client) = create_connection(factory, "127.0.0.1", port, &ConnectOptions::new()).await?;
//!
//! let outcome = done_rx.await.expect("connection_lost always runs");
//! assert!(outcome.is_none(), "a clean close");
//! assert_eq!(client.lock().unwrap().received, b"HELLO");
//! # Ok(()) }
//! ```
//!
//! The client's `eof_received` was not overridden, so it returned `false` and the
//! transport closed itself when the peer finished, which led to
//! `connection_lost(None)`.
//!
//! ## Connecting to several addresses
//!
//! A host name may resolve to several addresses. By default they are tried one
//! after another; [`ConnectOptions::happy_eyeballs_delay`](crate::ConnectOptions::happy_eyeballs_delay)
//! starts the next attempt after a delay instead (RFC 8305), and the first to
//! connect wins. When every attempt fails with different errors you get
//! [`Error::MultipleErrors`](crate::Error::MultipleErrors), as asyncio's
//! `OSError('Multiple exceptions: …')`.
