//! # 11. Testing protocols without sockets
//!
//! asyncio's own test suite drives protocols with mock transports. aioproto
//! ships one: [`testing::TestConnection`](crate::testing::TestConnection) runs
//! any protocol on an in-memory connection, driven by the **same driver** as a
//! TCP socket, so what you test is what runs in production: callback order,
//! flow control, half-close, close and abort.
//!
//! The test plays the peer:
//!
//! | to | call |
//! |---|---|
//! | send bytes / EOF | [`feed`](crate::testing::TestConnection::feed), [`feed_eof`](crate::testing::TestConnection::feed_eof) |
//! | see what the protocol wrote | [`written`](crate::testing::TestConnection::written), [`take_written`](crate::testing::TestConnection::take_written), [`eof_written`](crate::testing::TestConnection::eof_written) |
//! | stop / start reading (fills the write buffer → `pause_writing`) | [`block_writes`](crate::testing::TestConnection::block_writes), [`allow_writes`](crate::testing::TestConnection::allow_writes), [`unblock_writes`](crate::testing::TestConnection::unblock_writes) |
//! | break the connection | [`lose_connection`](crate::testing::TestConnection::lose_connection) |
//! | let the driver catch up | [`settle`](crate::testing::TestConnection::settle), [`wait_closed`](crate::testing::TestConnection::wait_closed) |
//!
//! and [`Recorder`](crate::testing::Recorder) logs every callback so a test
//! can assert the exact sequence, with
//! [`EventLog::check_order`](crate::testing::EventLog::check_order) checking
//! the lifecycle rules.
//!
//! ## A line counter under test
//!
//! ```
//! use aioproto::testing::{Event, Recorder, TestConnection};
//! use aioproto::{BaseProtocol, Protocol, Transport};
//! use bytes::Bytes;
//!
//! /// Answers each complete line with its length.
//! #[derive(Default)]
//! struct LineLengths {
//!     transport: Option<Transport>,
//!     partial: Vec<u8>,
//! }
//!
//! impl BaseProtocol for LineLengths {
//!     fn connection_made(&mut self, t: &Transport) {
//!         self.transport = Some(t.clone());
//!     }
//! }
//!
//! impl Protocol for LineLengths {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.partial.extend_from_slice(&data);
//!         while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
//!             let line: Vec<u8> = self.partial.drain(..=pos).collect();
//!             self.transport.as_ref().unwrap().write(format!("{}\n", line.len() - 1));
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (protocol, log) = Recorder::new(LineLengths::default());
//! let (conn, _protocol) = TestConnection::start(protocol);
//!
//! // A line split across two reads, then two lines in one.
//! conn.feed("hel");
//! conn.feed("lo\nab\nc\n");
//! conn.settle().await;
//! assert_eq!(conn.take_written(), "5\n2\n1\n");
//!
//! // The peer goes away mid-way.
//! conn.lose_connection(std::io::ErrorKind::ConnectionReset);
//! conn.wait_closed().await;
//!
//! let events = log.events();
//! assert_eq!(events[0], Event::ConnectionMade);
//! assert!(matches!(events.last(), Some(Event::ConnectionLost(Some(_)))));
//! log.check_order().unwrap();
//! # }
//! ```
//!
//! ## Flow control under test
//!
//! A protocol that produces a lot must stop on `pause_writing`. Make the peer
//! stop reading, and check that it did:
//!
//! ```
//! use aioproto::testing::{Event, Recorder, TestConnection};
//! use aioproto::{BaseProtocol, Protocol, Transport};
//!
//! struct Firehose;
//! impl BaseProtocol for Firehose {
//!     fn connection_made(&mut self, t: &Transport) {
//!         t.write(vec![b'x'; 200_000]); // over the 64 KiB high-water mark
//!     }
//! }
//! impl Protocol for Firehose {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (protocol, log) = Recorder::new(Firehose);
//! let (conn, _) = TestConnection::start(protocol);
//! conn.block_writes();
//! conn.settle().await;
//! assert_eq!(log.events().last(), Some(&Event::PauseWriting));
//! conn.unblock_writes();
//! conn.settle().await;
//! assert_eq!(log.events().last(), Some(&Event::ResumeWriting));
//! assert_eq!(conn.written().len(), 200_000);
//! # }
//! ```
//!
//! Note the order: the write in `connection_made` is queued before
//! `block_writes()`, but the driver flushes only once the test yields (in
//! `settle`), so the peer is already blocked by then.
//!
//! ## Streams under test
//!
//! [`StreamReaderProtocol`](crate::StreamReaderProtocol) is an ordinary
//! protocol, so stream code runs on a `TestConnection` too; see its example.
//! A [`StreamReader`](crate::StreamReader) can also be fed by hand with
//! `feed_data` / `feed_eof`, as asyncio's tests do.
