//! # 8. Datagrams: UDP endpoints
//!
//! UDP has no connections, so asyncio gives it its own protocol and transport:
//! `DatagramProtocol` with `datagram_received(data, addr)` and
//! `error_received(exc)`, and a `DatagramTransport` with `sendto(data, addr)`.
//! aioproto has the same pair: [`DatagramProtocol`](crate::DatagramProtocol)
//! and [`DatagramTransport`](crate::DatagramTransport), made by
//! [`create_datagram_endpoint`](crate::create_datagram_endpoint).
//!
//! ## An echo server
//!
//! ```python
//! class EchoServer(asyncio.DatagramProtocol):
//!     def connection_made(self, transport):
//!         self.transport = transport
//!
//!     def datagram_received(self, data, addr):
//!         self.transport.sendto(data, addr)
//!
//! transport, protocol = await loop.create_datagram_endpoint(
//!     EchoServer, local_addr=("127.0.0.1", 9999))
//! ```
//!
//! The aioproto version is the same shape. Addresses are `SocketAddr`s, or
//! host names with a port (`"localhost:9999"`, `("example.com", 53)`), which
//! are resolved as asyncio resolves them: family by family, the first
//! (local, remote) pair that binds and connects wins, and
//! [`DatagramOptions::family`](crate::DatagramOptions::family) narrows it to
//! one family. `sendto` takes an `Option`: `None` means "the endpoint's
//! `remote_addr`". Unix datagram sockets use the same protocol trait with
//! another address type; see chapter 8b (feature `unix`).
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! use aioproto::{DatagramOptions, DatagramProtocol, DatagramTransport, create_datagram_endpoint};
//! use bytes::Bytes;
//!
//! #[derive(Default)]
//! struct EchoServer {
//!     transport: Option<DatagramTransport>,
//! }
//!
//! impl DatagramProtocol for EchoServer {
//!     fn connection_made(&mut self, transport: &DatagramTransport) {
//!         self.transport = Some(transport.clone());
//!     }
//!
//!     fn datagram_received(&mut self, data: Bytes, addr: SocketAddr) {
//!         // Cannot fail here: this endpoint has no remote_addr and addr is given.
//!         let _ = self.transport.as_ref().unwrap().sendto(data, Some(addr));
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let local = "127.0.0.1:0".parse().ok(); // port 0: any free port
//! let (server, _protocol) =
//!     create_datagram_endpoint(EchoServer::default, local, None, &DatagramOptions::new()).await?;
//! let addr = server.sockname().unwrap();
//!
//! // Talk to it with plain tokio.
//! let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
//! client.send_to(b"ping", addr).await?;
//! let mut buf = [0u8; 16];
//! let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
//!     .await
//!     .expect("echo")?;
//! assert_eq!((&buf[..n], from), (&b"ping"[..], addr));
//!
//! server.close(); // connection_lost(None) follows on the driver task
//! # Ok(()) }
//! ```
//!
//! ## A client: `remote_addr`, and errors that are not fatal
//!
//! With `remote_addr` the socket is `connect()`ed: `sendto(data, None)` goes
//! there, datagrams from anyone else are filtered out by the kernel, and
//! `sendto` to any other address is refused with
//! [`Error::InvalidArgument`](crate::Error::InvalidArgument) ("invalid address:
//! must be None or …"), as asyncio raises `ValueError`.
//!
//! A connected socket also learns about ICMP errors. Send to a port where
//! nobody listens and the kernel answers "port unreachable": asyncio calls
//! `error_received(ConnectionRefusedError)`, and so does aioproto, with an
//! [`Error::Io`](crate::Error::Io) of kind `ConnectionRefused`. The endpoint
//! stays open; the next send may well succeed. Only a panic in a callback, or
//! `close()`/`abort()`, ends it.
//!
//! ```python
//! class Client(asyncio.DatagramProtocol):
//!     def error_received(self, exc):
//!         print("error:", exc)
//!
//! transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", 1))
//! transport.sendto(b"anyone?")
//! ```
//!
//! ```
//! use std::time::Duration;
//!
//! use aioproto::{DatagramOptions, DatagramProtocol, Error, create_datagram_endpoint};
//! use tokio::sync::mpsc;
//!
//! struct Client(mpsc::UnboundedSender<Error>);
//!
//! impl DatagramProtocol for Client {
//!     fn error_received(&mut self, exc: Error) {
//!         let _ = self.0.send(exc);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! // A port nobody listens on: bind one, note it, close it.
//! let dead = std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?;
//!
//! let (tx, mut errors) = mpsc::unbounded_channel();
//! let (transport, _) =
//!     create_datagram_endpoint(move || Client(tx), None, Some(dead), &DatagramOptions::new())
//!         .await?;
//! assert_eq!(transport.peername(), Some(dead));
//!
//! transport.sendto("anyone?", None)?;
//! let err = tokio::time::timeout(Duration::from_secs(5), errors.recv()).await.unwrap().unwrap();
//! assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
//! assert!(!transport.is_closing()); // still open
//!
//! // Other destinations are refused at once.
//! assert!(transport.sendto("x", Some("127.0.0.1:1".parse().unwrap())).is_err());
//! transport.close();
//! # Ok(()) }
//! ```
//!
//! ## Details that match asyncio
//!
//! * **Zero-length datagrams** are real messages: `sendto(Bytes::new(), addr)`
//!   sends one and the peer's `datagram_received` gets an empty `Bytes`.
//! * **`allow_broadcast`** ([`DatagramOptions::allow_broadcast`](crate::DatagramOptions::allow_broadcast))
//!   sets `SO_BROADCAST` and does *not* `connect()` a `remote_addr`:
//!   `peername()` is `None`, yet `sendto(data, None)` still goes to it.
//! * **`reuse_port`** sets `SO_REUSEPORT` so several endpoints share a port.
//! * **A socket made elsewhere** (`sock=` in asyncio) goes through
//!   [`create_datagram_endpoint_from_std`](crate::create_datagram_endpoint_from_std);
//!   options that would change it are refused, as is a stream socket.
//! * **After `close()`** `sendto` drops the datagram without an error; from the
//!   fifth drop on each is logged as a warning.
//! * **Flow control**: `sendto` hands the datagram to the kernel at once when
//!   nothing is queued. When the kernel's send buffer is full, datagrams wait in
//!   the transport, `get_write_buffer_size()` counts their bytes, and the
//!   protocol gets `pause_writing()` above the high-water mark (64 KiB by
//!   default, [`set_write_buffer_limits`](crate::DatagramTransport::set_write_buffer_limits))
//!   and `resume_writing()` once drained to the low mark.
//! * **Read flow control**: `pause_reading()`/`resume_reading()` work as on
//!   streams. While paused the kernel keeps arriving datagrams in the socket's
//!   receive buffer, and drops new ones once it is full: that is UDP.
//!
//! ## What runs where
//!
//! Each endpoint has one driver task that owns the socket and calls the
//! protocol, one callback at a time. `connection_made` runs before
//! `create_datagram_endpoint` returns; `connection_lost` runs exactly once,
//! last, never inside your own `close()`. Errors go to `error_received` on
//! the driver task, never from inside `sendto` (so a callback that calls
//! `sendto` is never re-entered). Dropping every `DatagramTransport` does not
//! close the endpoint: call `close()`.
//!
//! Try it: `udp_echo_server --port 9999` and `udp_echo_client 127.0.0.1 9999 hi`.
