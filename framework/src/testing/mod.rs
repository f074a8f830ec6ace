//! Testing protocols without sockets: an in-memory connection driven by the
//! real stream driver.
//!
//! [`TestConnection::start`] runs any [`Protocol`] or
//! [`BufferedProtocol`](crate::BufferedProtocol) on an in-memory byte stream.
//! The test plays the peer: it [`feed`](TestConnection::feed)s bytes and EOF,
//! reads what the protocol [`written`](TestConnection::written), makes the peer
//! stop reading so the write buffer fills and `pause_writing` fires
//! ([`block_writes`](TestConnection::block_writes)), and breaks the connection
//! ([`lose_connection`](TestConnection::lose_connection)). Because the same
//! driver runs it as a TCP socket, callback order, flow control and close
//! semantics are exactly those of a real connection.
//!
//! [`Recorder`] wraps a protocol and logs every callback, and
//! [`EventLog::check_order`] verifies the lifecycle rules (`connection_made`
//! first, `connection_lost` once and last, no data after EOF, pause and resume
//! alternating).
//!
//! Everything here needs a tokio runtime (`#[tokio::test]` is fine). Use
//! [`settle`](TestConnection::settle) after feeding to let the driver catch up.
//!
//! # Examples
//!
//! ```
//! use aioproto::testing::{Event, Recorder, TestConnection};
//! use aioproto::{BaseProtocol, Protocol, Transport};
//! use bytes::Bytes;
//!
//! #[derive(Default)]
//! struct Upper(Option<Transport>);
//! impl BaseProtocol for Upper {
//!     fn connection_made(&mut self, t: &Transport) {
//!         self.0 = Some(t.clone());
//!     }
//! }
//! impl Protocol for Upper {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.0.as_ref().unwrap().write(data.to_ascii_uppercase());
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let (protocol, log) = Recorder::new(Upper::default());
//! let (conn, _) = TestConnection::start(protocol);
//! conn.feed("hello");
//! conn.feed_eof();
//! conn.wait_closed().await;
//! assert_eq!(conn.written(), "HELLO");
//! assert_eq!(log.events()[1], Event::DataReceived(Bytes::from("hello")));
//! log.check_order().unwrap();
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

use crate::error::Error;
use crate::transport::dispatch::IntoHandler;
use crate::transport::io::StreamIo;
use crate::transport::protocol::{BaseProtocol, Protocol};
use crate::transport::start::{ConnectionConfig, MadeOn, start_connection};
use crate::transport::{Capabilities, ExtraInfo, Transport};
use crate::util::lock;

/// How long [`TestConnection::settle`] waits at most.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Peer {
    incoming: VecDeque<Bytes>,
    eof_in: bool,
    eof_delivered: bool,
    failure: Option<io::ErrorKind>,
    written: BytesMut,
    /// Bytes the peer will still accept; `None` = no limit.
    room: Option<usize>,
    eof_out: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
    driver_done: bool,
}

impl Peer {
    fn failure(&self) -> Option<io::Error> {
        self.failure
            .map(|kind| io::Error::new(kind, "simulated connection loss"))
    }
}

struct PeerShared {
    peer: Mutex<Peer>,
    done: Notify,
}

/// The stream end the driver owns.
struct MemoryIo(Arc<PeerShared>);

impl MemoryIo {
    fn read_with(
        &mut self,
        cx: &mut Context<'_>,
        mut put: impl FnMut(&[u8]) -> usize,
    ) -> Poll<io::Result<usize>> {
        let mut peer = lock(&self.0.peer);
        if let Some(err) = peer.failure() {
            return Poll::Ready(Err(err));
        }
        if let Some(mut chunk) = peer.incoming.pop_front() {
            let n = put(&chunk);
            if n < chunk.len() {
                peer.incoming.push_front(chunk.split_off(n));
            }
            return Poll::Ready(Ok(n));
        }
        if peer.eof_in {
            peer.eof_delivered = true;
            return Poll::Ready(Ok(0));
        }
        peer.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl StreamIo for MemoryIo {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        self.read_with(cx, |data| {
            buf.extend_from_slice(data);
            data.len()
        })
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.read_with(cx, |data| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            n
        })
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut peer = lock(&self.0.peer);
        if let Some(err) = peer.failure() {
            return Poll::Ready(Err(err));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let n = peer.room.map_or(total, |room| room.min(total));
        if n == 0 && total > 0 {
            peer.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut left = n;
        for buf in bufs {
            let take = left.min(buf.len());
            peer.written.extend_from_slice(&buf[..take]);
            left -= take;
            if left == 0 {
                break;
            }
        }
        if let Some(room) = &mut peer.room {
            *room -= n;
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_eof(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut peer = lock(&self.0.peer);
        if let Some(err) = peer.failure() {
            return Poll::Ready(Err(err));
        }
        peer.eof_out = true;
        Poll::Ready(Ok(()))
    }
}

/// A protocol running on an in-memory connection; the test is the peer.
///
/// Cheap to clone; clones control the same connection. See the
/// [module docs](self).
#[derive(Clone)]
pub struct TestConnection {
    transport: Transport,
    shared: Arc<PeerShared>,
}

impl TestConnection {
    /// Starts `protocol` on a fresh in-memory connection. Its `connection_made`
    /// has run when this returns (if it panicked, `connection_lost` has run too).
    ///
    /// The transport behaves like a TCP socket: it can half-close, and
    /// `eof_received` returning true keeps it open. It has no addresses.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (the driver is spawned on it).
    pub fn start<P, M>(protocol: P) -> (TestConnection, Arc<Mutex<P>>)
    where
        P: IntoHandler<M>,
    {
        let (shared_protocol, handler) = protocol.into_handler();
        let shared = Arc::new(PeerShared {
            peer: Mutex::new(Peer::default()),
            done: Notify::new(),
        });
        let transport = Transport::new(ExtraInfo::new(Capabilities::SOCKET), None);
        let io: Box<dyn StreamIo> = Box::new(MemoryIo(shared.clone()));
        let conn = TestConnection { transport, shared };
        let done = conn.clone();
        let config = ConnectionConfig::new(MadeOn::Caller)
            .with_on_finish(Some(Box::new(move |_| done.mark_done())));
        // A failed connection_made has ended the connection (and marked it
        // done); the test sees that through the connection, not an error.
        let _ = start_connection(io, handler, conn.transport.clone(), config);
        (conn, shared_protocol)
    }

    fn mark_done(&self) {
        lock(&self.shared.peer).driver_done = true;
        self.shared.done.notify_waiters();
    }

    fn peer(&self) -> MutexGuard<'_, Peer> {
        lock(&self.shared.peer)
    }

    /// The protocol's transport (the same handle the protocol got).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The peer sends `data`; it reaches `data_received` as one chunk.
    pub fn feed(&self, data: impl Into<Bytes>) {
        let data = data.into();
        if data.is_empty() {
            return;
        }
        let mut peer = self.peer();
        peer.incoming.push_back(data);
        if let Some(w) = peer.read_waker.take() {
            w.wake();
        }
    }

    /// The peer half-closes (after the data fed so far).
    pub fn feed_eof(&self) {
        let mut peer = self.peer();
        peer.eof_in = true;
        if let Some(w) = peer.read_waker.take() {
            w.wake();
        }
    }

    /// Breaks the connection: the next read or write fails with `kind`, so
    /// the protocol gets `connection_lost(Some(Io(kind)))`.
    pub fn lose_connection(&self, kind: io::ErrorKind) {
        let mut peer = self.peer();
        peer.failure = Some(kind);
        if let Some(w) = peer.read_waker.take() {
            w.wake();
        }
        if let Some(w) = peer.write_waker.take() {
            w.wake();
        }
    }

    /// The peer stops reading: writes stay in the transport's buffer, so
    /// writing past the high-water mark calls `pause_writing`.
    pub fn block_writes(&self) {
        self.peer().room = Some(0);
    }

    /// The peer accepts `n` more bytes, then blocks again.
    pub fn allow_writes(&self, n: usize) {
        let mut peer = self.peer();
        let room = peer.room.get_or_insert(0);
        *room = room.saturating_add(n);
        if let Some(w) = peer.write_waker.take() {
            w.wake();
        }
    }

    /// The peer reads everything again (the default); a paused protocol gets
    /// `resume_writing` once the buffer drains.
    pub fn unblock_writes(&self) {
        let mut peer = self.peer();
        peer.room = None;
        if let Some(w) = peer.write_waker.take() {
            w.wake();
        }
    }

    /// Everything the protocol wrote so far.
    pub fn written(&self) -> Bytes {
        Bytes::copy_from_slice(&self.peer().written)
    }

    /// Everything written since the last call, removing it.
    pub fn take_written(&self) -> Bytes {
        self.peer().written.split().freeze()
    }

    /// Whether the protocol's side sent EOF (`write_eof`).
    pub fn eof_written(&self) -> bool {
        self.peer().eof_out
    }

    /// Whether the connection has ended (`connection_lost` has run).
    pub fn is_closed(&self) -> bool {
        self.peer().driver_done
    }

    /// Waits until the connection has ended and `connection_lost` has run.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn wait_closed(&self) {
        loop {
            let done = self.shared.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.is_closed() {
                return;
            }
            done.await;
        }
    }

    /// Waits until the driver has done everything it can: fed data delivered
    /// (unless reading is paused), writes flushed as far as the peer accepts,
    /// or the connection ended. Other tasks (stream readers, async protocols)
    /// get to run meanwhile.
    ///
    /// # Panics
    ///
    /// If the connection is still busy after 5 seconds (a protocol that keeps
    /// writing to a peer that keeps reading, say): a test fixture fails loudly
    /// rather than letting the test go on against a connection that never
    /// settled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn settle(&self) {
        let start = Instant::now();
        let mut quiet_rounds = 0;
        while start.elapsed() < SETTLE_LIMIT {
            tokio::task::yield_now().await;
            if self.is_idle() {
                // Idle for a few rounds in a row: other tasks woken by the
                // driver had their turn too.
                quiet_rounds += 1;
                if quiet_rounds >= 4 {
                    return;
                }
            } else {
                quiet_rounds = 0;
            }
        }
        panic!(
            "TestConnection::settle: the connection was still busy after {SETTLE_LIMIT:?}: {self:?}"
        );
    }

    fn is_idle(&self) -> bool {
        let (reading_paused, parked) = {
            let state = self.transport.lock();
            let core = state.core();
            (!core.is_reading(), core.is_parked())
        };
        let peer = self.peer();
        if peer.driver_done {
            return true;
        }
        let input_done = peer.incoming.is_empty() && (!peer.eof_in || peer.eof_delivered);
        parked && (input_done || reading_paused)
    }
}

impl fmt::Debug for TestConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = self.peer();
        f.debug_struct("TestConnection")
            .field("transport", &self.transport)
            .field("pending_input", &peer.incoming.len())
            .field("written", &peer.written.len())
            .field("closed", &peer.driver_done)
            .finish()
    }
}

/// One protocol callback, as logged by [`Recorder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `connection_made`.
    ConnectionMade,
    /// `data_received` with its data.
    DataReceived(Bytes),
    /// `eof_received`.
    EofReceived,
    /// `pause_writing`.
    PauseWriting,
    /// `resume_writing`.
    ResumeWriting,
    /// `connection_lost`, with the error's text if there was one.
    ConnectionLost(Option<String>),
}

/// The shared log a [`Recorder`] writes to.
#[derive(Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<Event>>>);

impl EventLog {
    fn push(&self, event: Event) {
        lock(&self.0).push(event);
    }

    /// Every callback so far, in order.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.0).clone()
    }

    /// All data received so far, joined.
    pub fn data(&self) -> Bytes {
        let mut out = BytesMut::new();
        for event in lock(&self.0).iter() {
            if let Event::DataReceived(d) = event {
                out.extend_from_slice(d);
            }
        }
        out.freeze()
    }

    /// Checks the lifecycle rules over the log so far: `connection_made`
    /// first and once; no data after EOF; at most one EOF; pause and resume
    /// alternate, starting with pause; `connection_lost` at most once and last.
    ///
    /// # Errors
    ///
    /// A description of the first rule broken.
    pub fn check_order(&self) -> Result<(), String> {
        let events = self.events();
        let mut made = false;
        let mut eof = false;
        let mut paused = false;
        let mut lost = false;
        for (i, event) in events.iter().enumerate() {
            if lost {
                return Err(format!("{event:?} at {i} after connection_lost"));
            }
            match event {
                Event::ConnectionMade if made => {
                    return Err(format!("second connection_made at {i}"));
                }
                Event::ConnectionMade => made = true,
                _ if !made => return Err(format!("{event:?} at {i} before connection_made")),
                Event::DataReceived(_) if eof => {
                    return Err(format!("data_received at {i} after eof_received"));
                }
                Event::DataReceived(_) => {}
                Event::EofReceived if eof => return Err(format!("second eof_received at {i}")),
                Event::EofReceived => eof = true,
                Event::PauseWriting if paused => return Err(format!("pause_writing twice at {i}")),
                Event::PauseWriting => paused = true,
                Event::ResumeWriting if !paused => {
                    return Err(format!("resume_writing without pause_writing at {i}"));
                }
                Event::ResumeWriting => paused = false,
                Event::ConnectionLost(_) => lost = true,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for EventLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(lock(&self.0).iter()).finish()
    }
}

/// Wraps a [`Protocol`], logging every callback to an [`EventLog`] before
/// passing it on.
#[derive(Debug)]
pub struct Recorder<P> {
    inner: P,
    log: EventLog,
}

impl<P> Recorder<P> {
    /// Wraps `inner`; returns the wrapper and its log.
    pub fn new(inner: P) -> (Self, EventLog) {
        let log = EventLog::default();
        (
            Recorder {
                inner,
                log: log.clone(),
            },
            log,
        )
    }

    /// The wrapped protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The wrapped protocol, mutably.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }
}

impl<P: Protocol> BaseProtocol for Recorder<P> {
    fn connection_made(&mut self, transport: &Transport) {
        self.log.push(Event::ConnectionMade);
        self.inner.connection_made(transport);
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.log
            .push(Event::ConnectionLost(exc.as_ref().map(ToString::to_string)));
        self.inner.connection_lost(exc);
    }
    fn pause_writing(&mut self) {
        self.log.push(Event::PauseWriting);
        self.inner.pause_writing();
    }
    fn resume_writing(&mut self) {
        self.log.push(Event::ResumeWriting);
        self.inner.resume_writing();
    }
}

impl<P: Protocol> Protocol for Recorder<P> {
    fn data_received(&mut self, data: Bytes) {
        self.log.push(Event::DataReceived(data.clone()));
        self.inner.data_received(data);
    }
    fn eof_received(&mut self) -> bool {
        self.log.push(Event::EofReceived);
        self.inner.eof_received()
    }
}

/// A protocol that does nothing: wrap it in a [`Recorder`] to just log.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl BaseProtocol for Silent {}
impl Protocol for Silent {}

#[cfg(test)]
mod tests;
