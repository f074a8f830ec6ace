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
//! The aioproto version below writes 64 KiB chunks to a peer that does not read.
//! The buffer fills, `pause_writing` arrives, the producer stops; once the peer
//! reads, `resume_writing` arrives and the producer finishes.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//!
//! use aioproto::{BaseProtocol, ConnectOptions, Protocol, Transport, create_connection};
//! use tokio::sync::mpsc;
//!
//! const CHUNK: usize = 64 * 1024;
//!
//! struct Producer {
//!     transport: Option<Transport>,
//!     left: usize,
//!     events: mpsc::UnboundedSender<&'static str>,
//! }
//!
//! impl Producer {
//!     /// Writes until paused or finished.
//!     fn produce(&mut self, paused: &Arc<Mutex<bool>>) {
//!         let transport = self.transport.as_ref().unwrap();
//!         // Stop once the buffer is over the mark; pause_writing follows.
//!         while self.left > 0 && transport.get_write_buffer_size() <= CHUNK && !*paused.lock().unwrap() {
//!             transport.write(vec![b'x'; CHUNK]);
//!             self.left -= 1;
//!         }
//!         if self.left == 0 {
//!             transport.close();
//!         }
//!     }
//! }
//!
//! # struct P(Producer, Arc<Mutex<bool>>);
//! # impl BaseProtocol for P {
//! #     fn connection_made(&mut self, t: &Transport) {
//! #         self.0.transport = Some(t.clone());
//! #         self.0.produce(&self.1);
//! #     }
//! #     fn pause_writing(&mut self) {
//! #         *self.1.lock().unwrap() = true;
//! #         let _ = self.0.events.send("pause_writing");
//! #     }
//! #     fn resume_writing(&mut self) {
//! #         *self.1.lock().unwrap() = false;
//! #         let _ = self.0.events.send("resume_writing");
//! #         self.0.produce(&self.1);
//! #     }
//! # }
//! # impl Protocol for P {}
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let port = listener.local_addr()?.port();
//! let (tx, mut events) = mpsc::unbounded_channel();
//! let factory = move || {
//!     P(Producer { transport: None, left: 200, events: tx }, Arc::new(Mutex::new(false)))
//! };
//! let (_transport, _producer) = create_connection(factory, "127.0.0.1", port, &ConnectOptions::new()).await?;
//! let (mut peer, _) = listener.accept().await?;
//!
//! // The peer reads nothing yet: the producer gets paused.
//! assert_eq!(events.recv().await, Some("pause_writing"));
//!
//! // Now the peer reads everything; the producer resumes and finishes.
//! let mut sink = Vec::new();
//! tokio::io::AsyncReadExt::read_to_end(&mut peer, &mut sink).await?;
//! assert_eq!(sink.len(), 200 * CHUNK);
//! assert_eq!(events.recv().await, Some("resume_writing"));
//! # Ok(()) }
//! ```
//!
//! Differences from asyncio worth knowing:
//!
//! * `pause_writing()` is called right after the callback whose writes took the
//!   buffer over the mark (asyncio calls it inside `write()`); the callback cannot
//!   be re-entered while it runs. Check `get_write_buffer_size()` in loops that
//!   write a lot in one callback, as above.
//! * [`Transport::set_write_buffer_hard_limit`](crate::Transport::set_write_buffer_hard_limit)
//!   adds a cap asyncio lacks: a peer that never reads is aborted once the
//!   buffer passes it, instead of growing the buffer without end.
