//! # 10. Streams, async protocols and codecs
//!
//! Callbacks are the fastest way to write a server, but many handlers read
//! more naturally as a sequence: read a line, look something up, answer.
//! asyncio offers streams for that, and so does aioproto. Three tools, from
//! most to least "callback":
//!
//! | you want | asyncio | aioproto |
//! |---|---|---|
//! | whole frames, sync handler | (hand-written buffer) | [`CodecProtocol`](crate::CodecProtocol) + a tokio-util codec |
//! | callbacks that `await` | (not in asyncio) | [`AsyncProtocol`](crate::AsyncProtocol) via [`AsyncAdapter`](crate::AsyncAdapter) |
//! | a sequential reader/writer | `open_connection`, `start_server` | [`open_connection`](crate::open_connection), [`start_server`](crate::start_server) |
//!
//! ## Streams
//!
//! ```python
//! async def handle(reader, writer):
//!     while line := await reader.readline():
//!         writer.write(line.upper())
//!         await writer.drain()
//!     writer.close()
//!     await writer.wait_closed()
//!
//! server = await asyncio.start_server(handle, "127.0.0.1", 8888)
//! reader, writer = await asyncio.open_connection("127.0.0.1", 8888)
//! ```
//!
//! The same in aioproto. The handler returns a `Result`; an error (or a
//! panic) is logged as "Unhandled exception in client_connected_cb" and closes
//! that connection only. Dropping the writer closes the connection, so keep it
//! alive for as long as you serve.
//!
//! ```
//! use aioproto::{open_connection, start_server};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let server = start_server(
//!     |reader, writer| async move {
//!         while let Some(line) = reader.next_line().await? {
//!             writer.write(line.to_ascii_uppercase());
//!             writer.drain().await?;
//!         }
//!         writer.close();
//!         writer.wait_closed().await
//!     },
//!     "127.0.0.1",
//!     0,
//! )
//! .await?;
//! let port = server.local_addrs()[0].port();
//!
//! let (reader, writer) = open_connection("127.0.0.1", port).await?;
//! writer.write("hello\n");
//! assert_eq!(reader.readline().await?, "HELLO\n");
//! writer.write_eof()?; // half-close: the server sees EOF and ends
//! assert_eq!(reader.read_all().await?, "");
//! server.close();
//! # Ok(()) }
//! ```
//!
//! What carries over from asyncio, exactly:
//!
//! - `readline()` returns the partial last line at EOF, then empty.
//! - `readuntil(sep)` fails with [`Error::IncompleteRead`](crate::Error::IncompleteRead)
//!   at EOF and [`Error::LimitOverrun`](crate::Error::LimitOverrun) past the limit
//!   (64 KiB by default; [`open_connection_with`](crate::open_connection_with) sets it),
//!   leaving the data in the buffer. `readline` drops the overlong line instead.
//! - `readexactly(n)` fails with `IncompleteRead { expected: Some(n) }`.
//! - `drain()` waits only above the high-water mark; many tasks may wait at once.
//!   After `close()`, or once the connection is lost, it fails with `ConnectionReset`.
//! - Two reads waiting at once is an error (`Error::InvalidState`).
//!
//! And what is Rust-specific: reads return [`Bytes`](bytes::Bytes) that are
//! slices of the received chunks (no copy unless a result spans chunks; a short
//! chunk that arrives while the reader holds others is copied, so a partial line
//! sent a byte at a time holds its bytes, not a read buffer per byte), and
//! [`StreamReader`](crate::StreamReader) / [`StreamWriter`](crate::StreamWriter)
//! implement tokio's `AsyncRead` / `AsyncWrite`, so `tokio::io::copy`,
//! `FramedRead` and friends work on them.
//!
//! Over TLS and Unix sockets, streams work the same way. TLS is an option of
//! the connection, as in asyncio's `ssl=` argument:
//! [`open_connection_with`](crate::open_connection_with) with
//! `ConnectOptions::tls`, [`start_server_with`](crate::start_server_with) with
//! `ServerOptions::tls`; an established plain stream upgrades in place with
#![cfg_attr(
    feature = "tls",
    doc = "[`StreamWriter::start_tls`](crate::StreamWriter::start_tls)"
)]
#![cfg_attr(
    not(feature = "tls"),
    doc = "`StreamWriter::start_tls` (feature `tls`)"
)]
//! (asyncio 3.11's `writer.start_tls`). Unix sockets have
#![cfg_attr(
    feature = "unix",
    doc = "[`open_unix_connection`](crate::open_unix_connection) and \
           [`start_unix_server`](crate::start_unix_server)."
)]
#![cfg_attr(
    not(feature = "unix"),
    doc = "`open_unix_connection` and `start_unix_server` (feature `unix`)."
)]
//!
//! ```no_run
//! use aioproto::{ClientTls, ConnectOptions, open_connection_with};
//!
//! # async fn f() -> aioproto::Result<()> {
//! let mut options = ConnectOptions::new();
//! options.tls(ClientTls::from_ca_file("certs/ca.pem")?);
//! let (reader, writer) = open_connection_with("localhost", 7778, &options, 64 * 1024).await?;
//! writer.write("alice\n");
//! println!("{:?}", reader.readline().await?);
//! # Ok(()) }
//! ```
//!
//! ## Async protocols
//!
//! A sync callback must not wait. When each message needs an `await` (a
//! database call per line), implement [`AsyncProtocol`](crate::AsyncProtocol) and
//! wrap it in [`AsyncAdapter`](crate::AsyncAdapter). Reading pauses while a
//! callback runs, so callbacks never overlap, keep their order, and at most
//! one chunk waits in memory.
//!
//! ```
//! use aioproto::{AsyncAdapter, AsyncProtocol, ServerOptions, Transport, create_server,
//!     open_connection};
//! use bytes::Bytes;
//!
//! #[derive(Default)]
//! struct Lookup(Option<Transport>);
//!
//! #[async_trait::async_trait]
//! impl AsyncProtocol for Lookup {
//!     async fn connection_made(&mut self, t: &Transport) {
//!         self.0 = Some(t.clone());
//!     }
//!     async fn data_received(&mut self, data: Bytes) {
//!         // Stand-in for a database query.
//!         tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//!         self.0.as_ref().unwrap().write(data);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let server = create_server(|| AsyncAdapter::new(Lookup::default()), "127.0.0.1", 0,
//!     &ServerOptions::new()).await?;
//! let (reader, writer) = open_connection("127.0.0.1", server.local_addrs()[0].port()).await?;
//! writer.write("one\ntwo\n");
//! assert_eq!(reader.readline().await?, "one\n");
//! assert_eq!(reader.readline().await?, "two\n");
//! server.close();
//! # Ok(()) }
//! ```
//!
//! ## Codecs
//!
//! Most protocols are framed: lines, length-prefixed messages. Instead of
//! buffering by hand in `data_received`, give a tokio-util codec to
//! [`CodecProtocol`](crate::CodecProtocol) and handle whole frames. A decoder
//! error closes the connection and reaches `connection_lost`.
//!
//! ```
//! use aioproto::{CodecProtocol, FrameHandler, FrameSink, ServerOptions, create_server,
//!     open_connection};
//! use tokio_util::codec::LinesCodec;
//!
//! struct Shout;
//!
//! impl FrameHandler<LinesCodec> for Shout {
//!     fn frame_received(&mut self, line: String, sink: &mut FrameSink<'_, LinesCodec>)
//!         -> aioproto::Result<()>
//!     {
//!         sink.send(format!("{}!", line.to_uppercase()))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let server = create_server(|| CodecProtocol::new(LinesCodec::new_with_max_length(1024), Shout),
//!     "127.0.0.1", 0, &ServerOptions::new()).await?;
//! let (reader, writer) = open_connection("127.0.0.1", server.local_addrs()[0].port()).await?;
//! writer.write("hey\n");
//! assert_eq!(reader.readline().await?, "HEY!\n");
//! server.close();
//! # Ok(()) }
//! ```
//!
//! ## The chat server
//!
//! `examples/src/chat.rs` is the long example: a chat room on the plain
//! Protocol layer. Each connection's protocol holds a shared `Room` (nickname
//! → `Transport`) and broadcasts by writing one `Bytes` to every other
//! transport. A client that stops reading is cut off by
//! [`Transport::set_write_buffer_hard_limit`](crate::Transport::set_write_buffer_hard_limit)
//! once 1 MiB is pending, and nobody else waits for it. Run it with `make run`.
