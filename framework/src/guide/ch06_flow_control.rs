//! # 6. Flow control
//!
//! A transport never blocks on `write()`: data the kernel cannot take yet waits in
//! the transport's write buffer. Two water marks keep that buffer bounded, exactly
//! as in asyncio:
//!
//! * when the buffer goes over **high** (64 KiB by default), the protocol's
//!   `pause_writing()` is called: stop producing;
//! * when it drains to **low** (high / 4 by default) or below, `resume_writing()`
//!   is called: go on.
//!
//! The two calls strictly alternate. In the other direction, `pause_reading()`
//! stops `data_received` until `resume_reading()`, and the kernel's TCP window
//! then slows the sender down.
//!
//! ## Bounded by default: servers stop reading while they cannot write
//!
//! asyncio leaves the write buffer's size to each protocol, and a protocol
//! that ignores `pause_writing` (nearly every echo or request/response
//! example) buffers without bound when its peer sends and never reads: each
//! request read adds an answer that cannot leave. aioproto's servers close
//! that hole by default: **while a connection's write buffer is over the
//! high-water mark, the transport reads nothing more, and it goes on reading
//! once the buffer has drained to the low mark** (the same marks as
//! `pause_writing`/`resume_writing`, which are still called). What the peer
//! keeps sending waits in the kernel and TCP slows it down. A server whose
//! protocols only write in answer to what they read therefore holds about
//! the high-water mark plus one read per connection, whatever its peers do:
//! the README's echo server keeps 200 clients pushing 2 GiB without reading
//! under 64 MiB, and gives every byte back once they read.
//!
//! The hold and the protocol's own pause are separate:
//!
//! | protocol's `pause_reading()` | buffer over the mark | data delivered |
//! |---|---|---|
//! | no | no | yes |
//! | yes | no | no, until `resume_reading()` |
//! | no | yes | no, until the buffer drains to low |
//! | yes | yes | no, until both end |
//!
//! [`Transport::is_reading`](crate::Transport::is_reading) reports the
//! protocol's own pause only, as in asyncio.
//!
//! What the hold does not bound, and what to do instead:
//!
//! * writes that do not answer reads (a broadcast to other clients, a task
//!   producing a download): stop producing in `pause_writing`, or wait in
//!   [`Transport::drain`](crate::Transport::drain), and cap what a careless
//!   producer can queue with
//!   [`Transport::set_write_buffer_hard_limit`](crate::Transport::set_write_buffer_hard_limit),
//!   which aborts a connection whose buffer goes past it (the chat server
//!   uses 1 MiB);
//! * a peer that reads, but too slowly: the
//!   [`write_stall_timeout`](crate::ServerOptions::write_stall_timeout)
//!   drops it once nothing has left its buffer for a while.
//!
//! Turn the hold off with
//! [`ServerOptions::pause_reading_on_backpressure(false)`](crate::ServerOptions::pause_reading_on_backpressure)
//! when a connection must read on while its peer is slow to read: a protocol
//! that needs the peer's acknowledgements to make progress, or a peer that
//! sends a whole large message before reading any answer to a protocol that
//! answers as it reads (with the hold, both would wait for ever).
//!
//! Clients ([`ConnectOptions`](crate::ConnectOptions)) have the hold **off**
//! by default, because a client usually writes first: a client that queued a
//! 16 MiB upload to an echo server would hold its reading while the server
//! holds its own, and neither would move again. Turn it on for a client that
//! writes only in answer to a peer it does not trust to read.
//!
//! ## Time limits
//!
//! [`ServerOptions`](crate::ServerOptions) and
//! [`ConnectOptions`](crate::ConnectOptions) bound how long a connection may
//! sit still: [`idle_timeout`](crate::ServerOptions::idle_timeout) (no byte
//! either way), [`read_idle_timeout`](crate::ServerOptions::read_idle_timeout)
//! (no byte in), [`write_stall_timeout`](crate::ServerOptions::write_stall_timeout)
//! (buffered bytes not moving). When one runs out, the protocol's
//! [`timeout_reached`](crate::BaseProtocol::timeout_reached) decides: by
//! default the connection is aborted with
//! [`Error::Timeout`](crate::Error::Timeout); returning `true` keeps it (to
//! send a keep-alive, say), and the limit counts again. The TLS handshake
//! timeout is part of the TLS settings (`ServerTls::handshake_timeout` and
//! `ClientTls::handshake_timeout`, feature `tls`).
//!
//! ```
//! use std::time::Duration;
//!
//! let mut options = aioproto::ServerOptions::new();
//! options
//!     .idle_timeout(Duration::from_secs(300))
//!     .write_stall_timeout(Duration::from_secs(30));
//! ```
//!
//! ## A producer
//!
//! ```python
//! class Producer(asyncio.Protocol):
//!     def connection_made(self, transport):
//!         self.transport, self.paused = transport, False
//!         transport.set_write_buffer_limits(high=64 * 1024)
//!     def pause_writing(self):
//!         self.paused = True
//!     def resume_writing(self):
//!         self.paused = False
//! ```
//!
//! The aioproto version below answers a connection with 12.5 MiB, far more than
//! the kernel's socket buffer holds, to a peer that does not read yet. The write
//! buffer keeps the rest, `pause_writing` arrives, and once the peer reads,
//! `resume_writing` follows. A real producer (a file sender, a chat broadcast)
//! stops producing between the two.
//!
//! ```
//! use aioproto::{BaseProtocol, ConnectOptions, Protocol, Transport, create_connection};
//! use tokio::sync::mpsc;
//!
//! const CHUNK: usize = 64 * 1024;
//! const CHUNKS: usize = 200;
//!
//! struct Producer {
//!     events: mpsc::UnboundedSender<&'static str>,
//! }
//!
//! impl BaseProtocol for Producer {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         for _ in 0..CHUNKS {
//!             transport.write(vec![b'x'; CHUNK]);
//!         }
//!         transport.close(); // flushes everything first
//!     }
//!     fn pause_writing(&mut self) {
//!         let _ = self.events.send("pause_writing");
//!     }
//!     fn resume_writing(&mut self) {
//!         let _ = self.events.send("resume_writing");
//!     }
//! }
//! impl Protocol for Producer {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! let (tx, mut events) = mpsc::unbounded_channel();
//! let (transport, _producer) =
//!     create_connection(move || Producer { events: tx }, "127.0.0.1", port, &ConnectOptions::new()).await?;
//! let (mut peer, _) = listener.accept().await?;
//!
//! // The peer reads nothing yet: the buffer is over the mark, the producer is paused.
//! assert_eq!(events.recv().await, Some("pause_writing"));
//! assert!(transport.get_write_buffer_size() > 64 * 1024);
//!
//! // Now the peer reads everything; the producer is resumed and the data all arrives.
//! let mut sink = Vec::new();
//! tokio::io::AsyncReadExt::read_to_end(&mut peer, &mut sink).await?;
//! assert_eq!(sink.len(), CHUNKS * CHUNK);
//! assert_eq!(events.recv().await, Some("resume_writing"));
//! # Ok(()) }
//! ```
//!
//! Differences from asyncio worth knowing:
//!
//! * `pause_writing()` is called right after the callback whose writes took the
//!   buffer over the mark, once the driver has tried to flush (asyncio calls it
//!   inside `write()`); a callback cannot be re-entered while it runs. So a loop
//!   that writes "until paused" inside one callback must bound itself, for
//!   example with `get_write_buffer_size()`; producers that write from other
//!   tasks are paused as soon as their writes cross the mark.
//! * [`Transport::set_write_buffer_hard_limit`](crate::Transport::set_write_buffer_hard_limit)
//!   adds a cap asyncio lacks: a peer that never reads is aborted once the
//!   buffer passes it, instead of growing the buffer without end.
//! * A server's connections stop reading while their buffer is over the
//!   mark (see above); asyncio's never do.
