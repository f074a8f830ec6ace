//! # 8b. Unix domain sockets
//!
//! A Unix socket is a stream socket addressed by a file path. asyncio runs the
//! very same `Protocol` over it with `create_unix_server` and
//! `create_unix_connection`; aioproto does too, with
//! [`create_unix_server`](crate::create_unix_server) and
//! [`create_unix_connection`](crate::create_unix_connection) (feature `unix`).
//! The [`Server`](crate::Server) and [`Transport`](crate::Transport) are the
//! TCP ones: `close_clients`, `wait_closed`, `write_eof`, flow control and
//! `eof_received() -> true` all behave the same.
//!
//! ```python
//! server = await loop.create_unix_server(Echo, "/tmp/echo.sock")
//! transport, protocol = await loop.create_unix_connection(Client, "/tmp/echo.sock")
//! ```
//!
//! ```
//! use std::time::Duration;
//!
//! use aioproto::{
//!     BaseProtocol, Protocol, ServerOptions, Transport, create_unix_connection, create_unix_server,
//! };
//! use bytes::Bytes;
//! use tokio::sync::mpsc;
//!
//! /// The echo protocol from chapter 4, unchanged.
//! #[derive(Default)]
//! struct Echo(Option<Transport>);
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
//! struct Client(mpsc::UnboundedSender<Bytes>);
//! impl BaseProtocol for Client {}
//! impl Protocol for Client {
//!     fn data_received(&mut self, data: Bytes) {
//!         let _ = self.0.send(data);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let path = std::env::temp_dir().join(format!("aioproto-guide-{}.sock", std::process::id()));
//! let server = create_unix_server(Echo::default, &path, &ServerOptions::new()).await?;
//!
//! let (tx, mut rx) = mpsc::unbounded_channel();
//! let (transport, _client) = create_unix_connection(move || Client(tx), &path).await?;
//! // Unix transports report paths, not IP addresses.
//! assert_eq!(transport.extra().peer_path.as_deref(), Some(path.as_path()));
//! assert_eq!(transport.peername(), None);
//!
//! transport.write("hello");
//! let echo = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
//! assert_eq!(echo, "hello");
//!
//! transport.close();
//! server.close(); // removes the socket file
//! assert!(!path.exists());
//! server.wait_closed().await;
//! # Ok(()) }
//! ```
//!
//! ## The socket file
//!
//! Binding creates a file at the path; it stays after the process dies. As in
//! asyncio:
//!
//! * a **stale socket file** at the path (its server is gone) is replaced
//!   silently when a new server binds there;
//! * **any other file** at the path is never touched: `create_unix_server`
//!   fails with an `AddrInUse` I/O error, "Address "…" is already in use";
//! * [`Server::close`](crate::Server::close) **removes the file**, also for a
//!   listener passed to [`create_unix_server_from_std`](crate::create_unix_server_from_std),
//!   unless the file was replaced meanwhile (another inode) or
//!   [`ServerOptions::cleanup_socket(false)`](crate::ServerOptions::cleanup_socket)
//!   was set. A file someone already removed is fine.
//!
//! ## Options: TLS, a PROXY header, time limits
//!
//! [`create_unix_connection_with`](crate::create_unix_connection_with) takes
//! [`ConnectOptions`](crate::ConnectOptions), like `create_connection`: TLS
//! (whose [`ClientTls::server_name`](crate::ClientTls::server_name) must be
//! set, since a path has no host name to check the certificate against;
//! asyncio requires `server_hostname` there too), a PROXY header sent first,
//! the connect timeout and the per-connection settings. The options only TCP
//! has (`keepalive`, `local_addr`, `family`, …) are refused with
//! `InvalidArgument`, never ignored.
//!
//! Try it: `echo_server --unix /tmp/echo.sock` and
//! `echo_client --unix /tmp/echo.sock hello`.
//!
//! ## Datagrams over Unix sockets
//!
//! asyncio's `create_datagram_endpoint(family=socket.AF_UNIX,
//! local_addr=path, remote_addr=path)` is
//! [`create_unix_datagram_endpoint`](crate::create_unix_datagram_endpoint).
//! The protocol is the UDP one with another address type:
//! `impl DatagramProtocol<UnixDatagramAddr>`, whose `datagram_received` gets
//! the sender's [`UnixDatagramAddr`](crate::UnixDatagramAddr): its path, or
//! `Unnamed` for a socket that never bound one (it cannot be answered).
//! Socket files are handled as for servers: a stale one is replaced, another
//! file is refused, and the endpoint removes its file when it ends unless
//! [`DatagramOptions::cleanup_socket(false)`](crate::DatagramOptions::cleanup_socket).
//! Unlike UDP, a full receiver makes the sender wait instead of dropping: the
//! datagrams queue in the transport and `pause_writing` says when to stop.
//! A socket made elsewhere (asyncio's `sock=`: one bound by a supervisor,
//! one half of a `socketpair()`) goes through
//! [`create_unix_datagram_endpoint_from_std`](crate::create_unix_datagram_endpoint_from_std);
//! its socket file, if any, stays the caller's.
//!
//! ```
//! use aioproto::{DatagramOptions, DatagramProtocol, UnixDatagramAddr, create_unix_datagram_endpoint};
//! use bytes::Bytes;
//!
//! struct Log;
//! impl DatagramProtocol<UnixDatagramAddr> for Log {
//!     fn datagram_received(&mut self, data: Bytes, from: UnixDatagramAddr) {
//!         println!("{from}: {data:?}"); // "(unnamed)" for a client without a path
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let path = std::env::temp_dir().join(format!("aioproto-guide-dgram-{}.sock", std::process::id()));
//! let (log, _) = create_unix_datagram_endpoint(|| Log, Some(&path), None, &DatagramOptions::new()).await?;
//! assert_eq!(log.sockname(), Some(UnixDatagramAddr::from(&path)));
//! log.close(); // the socket file goes once the endpoint has ended
//! # Ok(()) }
//! ```
