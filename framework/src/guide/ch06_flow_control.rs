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
