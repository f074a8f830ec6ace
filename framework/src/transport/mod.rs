//! The [`Transport`] handle: what a protocol uses to write, close and steer its connection.
//!
//! A `Transport` is a cheap `Clone + Send + Sync` handle around an `Arc` of shared
//! state. Its methods are synchronous, like asyncio's: they queue work and wake the
//! connection's driver task, which does the I/O after the current callback returns.
//! Many `write()` calls made in one callback therefore leave in one vectored write.

pub(crate) mod dispatch;
pub(crate) mod driver;
pub(crate) mod extra;
pub(crate) mod io;
pub(crate) mod protocol;
mod socket_options;
pub(crate) mod start;
#[cfg(feature = "tls")]
pub(crate) mod tls_info;
pub(crate) mod write_buffer;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::transport::dispatch::Handler;
use crate::util::lock;
pub use extra::ExtraInfo;
pub(crate) use socket_options::SocketOptions;
use write_buffer::{FlowEvent, Limits, WriteBuffer};

/// Writes after close are dropped silently; from this many on, each is logged.
const WARN_DROPPED_WRITES_FROM: u32 = 5;

/// A handle to one connection's transport.
///
/// Cloning is cheap (an `Arc` increment) and every clone controls the same
/// connection, so a chat server can keep clones of other clients' transports
/// and write to them from any callback or task.
///
/// # What happens when handles drop
///
/// The connection is owned by its driver task, not by the handles: dropping every
/// `Transport` does not close it. It ends when the protocol or the peer closes it.
/// After the end, the handle stays valid; writes are dropped and
/// [`is_closing`](Self::is_closing) is `true`.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, Transport};
///
/// struct Greeter;
///
/// impl BaseProtocol for Greeter {
///     fn connection_made(&mut self, transport: &Transport) {
///         transport.write("hello\n");
///         transport.close(); // flushes "hello\n" first
///     }
/// }
/// impl Protocol for Greeter {}
/// ```
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    state: Mutex<State>,
    pub(crate) extra: ExtraInfo,
}

/// Everything a handle can change, guarded by one short-lived lock that is never
/// held while a user callback runs.
pub(crate) struct State {
    pub(crate) buffer: WriteBuffer,
    /// `close()` was called or the peer's EOF closes us: flush, then end.
    pub(crate) closing: bool,
    /// `abort()` was called: drop the buffer and end now.
    pub(crate) aborting: bool,
    /// `write_eof()` was called: flush, then half-close.
    pub(crate) eof_requested: bool,
    /// The driver has finished; `connection_lost` has run or is running.
    pub(crate) closed: bool,
    /// `pause_reading()` is in force.
    pub(crate) reading_paused: bool,
    /// A `start_tls`-style detach was requested.
    pub(crate) detach_requested: bool,
    /// A protocol waiting to replace the current one.
    pub(crate) next_handler: Option<Handler>,
    /// Socket options as last set; `None` without a socket.
    pub(crate) socket_options: Option<SocketOptions>,
    /// `socket_options` changed and the driver has not applied them yet.
    pub(crate) socket_options_changed: bool,
    /// Where a detached stream goes (`start_tls`).
    pub(crate) detach_tx: Option<tokio::sync::oneshot::Sender<driver::Detached>>,
    /// Tasks waiting in [`Transport::drain`]; woken once the buffer is writable
    /// again or the connection ends.
    pub(crate) drain_waiters: Vec<Waker>,
    /// The transport this connection was upgraded to (`start_tls`): writes,
    /// `close()` and `abort()` on this handle go there.
    pub(crate) upgraded_to: Option<Transport>,
    /// Optional cap on the buffer; going over it aborts the connection.
    pub(crate) hard_limit: Option<usize>,
    /// Something changed that the driver must look at.
    pub(crate) dirty: bool,
    /// Set while the driver is parked, taken by the first change that wakes it.
    pub(crate) waker: Option<Waker>,
    /// The driver is parked and `waker` wakes it. The waker itself stays stored
    /// across polls, so a busy driver does not clone it on every poll.
    pub(crate) parked: bool,
    dropped_writes: u32,
    /// Copied from the capabilities, so write checks need no second lookup.
    writable: bool,
}

/// What the transport can do, fixed at creation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capabilities {
    /// `write_eof()` half-closes (TCP, Unix, pipes); false for TLS.
    pub(crate) can_write_eof: bool,
    /// `eof_received()` returning true keeps the connection open.
    pub(crate) eof_keeps_open: bool,
    /// The transport reads at all (false for write pipes).
    pub(crate) readable: bool,
    /// The transport writes at all (false for read pipes).
    pub(crate) writable: bool,
    /// Default high-water mark of the write buffer.
    pub(crate) default_high_water: usize,
}

impl Capabilities {
    /// A bidirectional socket (TCP or Unix).
    pub(crate) const SOCKET: Capabilities = Capabilities {
        can_write_eof: true,
        eof_keeps_open: true,
        readable: true,
        writable: true,
        default_high_water: write_buffer::DEFAULT_HIGH_WATER,
    };

    /// A TLS stream: no half-close, and asyncio's TLS write-buffer default
    /// (high 512 KiB, low 128 KiB).
    #[cfg(feature = "tls")]
    pub(crate) const TLS: Capabilities = Capabilities {
        can_write_eof: false,
        eof_keeps_open: false,
        readable: true,
        writable: true,
        default_high_water: 512 * 1024,
    };
}

impl Transport {
    pub(crate) fn new(extra: ExtraInfo, socket_options: Option<SocketOptions>) -> Self {
        let default_limits = Limits::new(None, None, extra.caps.default_high_water);
        let state = State {
            buffer: WriteBuffer::new(default_limits.expect("default limits are valid")),
            closing: false,
            aborting: false,
            eof_requested: false,
            closed: false,
            reading_paused: false,
            detach_requested: false,
            next_handler: None,
            hard_limit: None,
            socket_options,
            socket_options_changed: false,
            detach_tx: None,
            upgraded_to: None,
            drain_waiters: Vec::new(),
            dirty: false,
            waker: None,
            parked: false,
            dropped_writes: 0,
            writable: extra.caps.writable,
        };
        Transport {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                extra,
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held across user code, so poisoning can only come from
        // a bug in this crate; the state is still consistent field by field.
        lock(&self.inner.state)
    }

    /// Applies `change` under the lock, marks the state dirty and wakes the driver.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        let (out, waker) = {
            let mut state = self.lock();
            let out = change(&mut state);
            state.dirty = true;
            (out, state.wake_parked_driver())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        out
    }

    /// Queues `data` for sending.
    ///
    /// Accepts anything that converts to [`Bytes`] without copying: `Bytes`,
    /// `Vec<u8>`, `String`, `&'static [u8]`, `&'static str`. Use
    /// [`write_slice`](Self::write_slice) for borrowed bytes.
    ///
    /// Never blocks and never fails. The data goes out after the current callback
    /// returns (or, from another task, as soon as the driver runs), batched with
    /// other writes into one vectored write. Writing past the high-water mark
    /// calls the protocol's `pause_writing()`.
    ///
    /// Writes after [`close`](Self::close) or after the connection ended are
    /// dropped; the fifth and later ones are logged as a warning. A write after
    /// [`write_eof`](Self::write_eof) is a misuse: it is dropped and logged as an
    /// error. An empty write does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(transport: &aioproto::Transport) {
    /// transport.write("HTTP/1.0 200 OK\r\n");
    /// transport.write(format!("content-length: {}\r\n\r\n", 2));
    /// transport.write(bytes::Bytes::from_static(b"ok"));
    /// # }
    /// ```
    pub fn write(&self, data: impl Into<Bytes>) {
        let data = data.into();
        if data.is_empty() {
            return;
        }
        let waker = {
            let mut state = self.lock();
            if let Some(next) = state.upgraded_to.clone() {
                drop(state);
                return next.write(data);
            }
            if !state.accepts_writes("write") {
                return;
            }
            let was_empty = state.buffer.is_empty();
            state.buffer.push(data);
            state.dirty = true;
            state.waker_for_write(was_empty)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Copies `data` and queues it; see [`write`](Self::write).
    pub fn write_slice(&self, data: &[u8]) {
        if !data.is_empty() {
            self.write(Bytes::copy_from_slice(data));
        }
    }

    /// Queues several chunks at once; they leave in one vectored write.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(transport: &aioproto::Transport) {
    /// transport.writelines(["SP", "A", "M"]);
    /// # }
    /// ```
    pub fn writelines<I>(&self, chunks: I)
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        let waker = {
            let mut state = self.lock();
            if let Some(next) = state.upgraded_to.clone() {
                drop(state);
                return next.writelines(chunks);
            }
            if !state.accepts_writes("writelines") {
                return;
            }
            let was_empty = state.buffer.is_empty();
            for chunk in chunks {
                state.buffer.push(chunk.into());
            }
            state.dirty = true;
            state.waker_for_write(was_empty)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Half-closes: flushes the buffer, then sends EOF (TCP FIN). Reading goes on.
    ///
    /// On a write pipe, which has no read side, this is [`close`](Self::close):
    /// flush, then close the pipe (as asyncio).
    ///
    /// A second call, or a call after [`close`](Self::close), does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when [`can_write_eof`](Self::can_write_eof) is false (TLS).
    pub fn write_eof(&self) -> Result<()> {
        if !self.can_write_eof() {
            return Err(Error::Unsupported(
                "write_eof() on a transport that cannot half-close",
            ));
        }
        // A write-only transport (a write pipe) has nothing left after EOF: as in
        // asyncio, write_eof() is close() there.
        let write_only = !self.inner.extra.caps.readable;
        self.update(|state| {
            if !state.closing && !state.closed {
                state.eof_requested = true;
                state.closing |= write_only;
            }
        });
        Ok(())
    }

    /// Whether [`write_eof`](Self::write_eof) is supported: true for TCP, Unix
    /// sockets and pipes, false for TLS.
    pub fn can_write_eof(&self) -> bool {
        self.inner.extra.caps.can_write_eof
    }

    /// Closes gracefully: stops reading, flushes the buffer, then ends the
    /// connection with `connection_lost(None)`. Idempotent.
    ///
    /// `connection_lost` never runs inside this call; it runs on the driver task
    /// once the buffer is empty.
    pub fn close(&self) {
        let next = self.update(|state| {
            state.closing = true;
            state.upgraded_to.clone()
        });
        if let Some(next) = next {
            next.close();
        }
    }

    /// Closes now: drops the write buffer and ends the connection with
    /// `connection_lost(None)` on the driver task. Idempotent.
    pub fn abort(&self) {
        let next = self.update(|state| {
            state.closing = true;
            state.aborting = true;
            state.upgraded_to.clone()
        });
        if let Some(next) = next {
            next.abort();
        }
    }

    /// True once [`close`](Self::close) or [`abort`](Self::abort) was called, the
    /// peer's EOF started a close, or the connection ended.
    pub fn is_closing(&self) -> bool {
        let state = self.lock();
        state.closing || state.closed
    }

    /// Stops `data_received` until [`resume_reading`](Self::resume_reading).
    ///
    /// After this returns, no further `data_received`/`buffer_updated` call starts.
    /// Idempotent. The kernel buffers what the peer sends meanwhile, so a
    /// sender that goes on is slowed down by TCP flow control.
    pub fn pause_reading(&self) {
        self.update(|state| state.reading_paused = true);
    }

    /// Undoes [`pause_reading`](Self::pause_reading). Idempotent; does nothing once closing.
    pub fn resume_reading(&self) {
        self.update(|state| state.reading_paused = false);
    }

    /// True while the transport delivers received data: not paused, not closing.
    pub fn is_reading(&self) -> bool {
        let state = self.lock();
        self.inner.extra.caps.readable && !state.reading_paused && !state.closing && !state.closed
    }

    /// Sets the write buffer's water marks, like asyncio.
    ///
    /// A missing `high` is `4 × low` (or the default, 64 KiB for sockets and
    /// pipes), a missing `low` is `high / 4`. The protocol is paused or resumed
    /// (on the driver task, right after this call) if the buffer is now outside
    /// the new marks.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `high < low`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f(transport: &aioproto::Transport) -> aioproto::Result<()> {
    /// transport.set_write_buffer_limits(Some(100), None)?;
    /// assert_eq!(transport.get_write_buffer_limits(), (25, 100));
    /// # Ok(()) }
    /// ```
    pub fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<()> {
        let limits = Limits::new(high, low, self.inner.extra.caps.default_high_water)?;
        self.update(|state| state.buffer.set_limits(limits));
        Ok(())
    }

    /// The current `(low, high)` water marks.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        let limits = self.lock().buffer.limits();
        (limits.low, limits.high)
    }

    /// Waits until it is fine to write more, like asyncio's `StreamWriter.drain()`
    /// at the transport level: returns at once unless the write buffer is over
    /// its high-water mark or the protocol is paused, then waits until the
    /// driver has flushed it below the mark (or resumed the protocol).
    ///
    /// Any number of tasks may wait at once; all wake together.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the connection has ended (data still queued then
    /// was dropped).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only observes the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(transport: aioproto::Transport) -> aioproto::Result<()> {
    /// for _ in 0..100 {
    ///     transport.write(vec![0u8; 64 * 1024]);
    ///     transport.drain().await?; // never more than about 128 KiB queued
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn drain(&self) -> Result<()> {
        std::future::poll_fn(|cx| self.poll_drain(cx)).await
    }

    /// The poll form of [`drain`](Self::drain), for hand-written futures.
    pub fn poll_drain(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<()>> {
        let next = {
            let mut state = self.lock();
            match state.upgraded_to.clone() {
                Some(next) => next,
                None if state.closed => {
                    return std::task::Poll::Ready(Err(Error::Closed("transport")));
                }
                None if state.is_writable() => return std::task::Poll::Ready(Ok(())),
                None => {
                    if !state.drain_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        state.drain_waiters.push(cx.waker().clone());
                    }
                    return std::task::Poll::Pending;
                }
            }
        };
        next.poll_drain(cx)
    }

    /// Bytes queued and not yet handed to the kernel. Exact.
    pub fn get_write_buffer_size(&self) -> usize {
        self.lock().buffer.len()
    }

    /// Sets a hard cap on the write buffer: a write that takes it over `limit`
    /// aborts the connection with [`Error::WriteBufferFull`]. `None` (the
    /// default) means no cap. This is how a server drops a peer that never reads.
    pub fn set_write_buffer_hard_limit(&self, limit: Option<usize>) {
        self.update(|state| state.hard_limit = limit);
    }

    /// Replaces the protocol that receives this connection's callbacks, like
    /// asyncio's `set_protocol`.
    ///
    /// The switch happens right after the current callback returns; later data
    /// goes to the new protocol. The new protocol's `connection_made` is **not**
    /// called (keep the transport yourself). Accepts a [`Protocol`](crate::Protocol)
    /// or a [`BufferedProtocol`](crate::BufferedProtocol), and returns a shared
    /// reference to it.
    pub fn set_protocol<P, M>(&self, protocol: P) -> Arc<Mutex<P>>
    where
        P: crate::transport::dispatch::IntoHandler<M>,
    {
        let (shared, handler) = protocol.into_handler();
        self.update(|state| state.next_handler = Some(handler));
        shared
    }

    /// Everything known about the connection: addresses, socket, TLS details.
    pub fn extra(&self) -> &ExtraInfo {
        &self.inner.extra
    }

    /// What the TLS handshake established (`peercert`, `cipher`,
    /// `alpn_protocol`, `server_name`); `None` on a plain connection.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(&self) -> Option<&tls_info::TlsInfo> {
        self.inner.extra.tls.as_deref()
    }

    /// The remote address, like `get_extra_info('peername')`.
    pub fn peername(&self) -> Option<SocketAddr> {
        self.inner.extra.peername
    }

    /// The local address, like `get_extra_info('sockname')`.
    pub fn sockname(&self) -> Option<SocketAddr> {
        self.inner.extra.sockname
    }

    /// Whether TCP_NODELAY is on (it is by default for every aioproto TCP
    /// connection). `None` for transports without a TCP socket.
    pub fn nodelay(&self) -> Option<bool> {
        self.lock().socket_options.map(|o| o.nodelay)
    }

    /// Turns TCP_NODELAY on or off. The driver applies it right after the
    /// current callback; failures are logged. Ignored without a TCP socket.
    pub fn set_nodelay(&self, on: bool) {
        self.update(|state| {
            if let Some(options) = &mut state.socket_options {
                options.nodelay = on;
                state.socket_options_changed = true;
            }
        });
    }

    /// Whether SO_KEEPALIVE is on. `None` for transports without a socket.
    pub fn keepalive(&self) -> Option<bool> {
        self.lock().socket_options.map(|o| o.keepalive)
    }

    /// Turns SO_KEEPALIVE on or off, applied like [`set_nodelay`](Self::set_nodelay).
    pub fn set_keepalive(&self, on: bool) {
        self.update(|state| {
            if let Some(options) = &mut state.socket_options {
                options.keepalive = on;
                state.socket_options_changed = true;
            }
        });
    }

    /// From now on, writes, `close()`, `abort()` and `drain()` on this handle go
    /// to `next` (the transport `start_tls` upgraded this connection to).
    pub(crate) fn forward_to(&self, next: &Transport) {
        self.update(|state| state.upgraded_to = Some(next.clone()));
    }

    /// True if both handles control the same connection.
    pub fn same_as(&self, other: &Transport) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl State {
    /// Checks a write against the transport's state, logging dropped writes.
    fn accepts_writes(&mut self, what: &str) -> bool {
        if !self.writable {
            tracing::error!("{what}() on a read-only transport; data dropped");
            return false;
        }
        if self.eof_requested && !self.closing && !self.closed {
            tracing::error!("cannot call {what}() after write_eof(); data dropped");
            return false;
        }
        if self.closing || self.closed {
            self.dropped_writes = self.dropped_writes.saturating_add(1);
            if self.dropped_writes >= WARN_DROPPED_WRITES_FROM {
                tracing::warn!(
                    "socket.send() raised exception: {what}() on a closed transport; data dropped"
                );
            }
            return false;
        }
        true
    }

    /// The driver's waker, if a write that just queued data needs the driver.
    ///
    /// An idle driver must flush a buffer that was empty. A driver that already
    /// has data queued flushes on its own once the socket drains, but a write
    /// that crossed the high-water mark or the hard limit needs it *now*:
    /// otherwise, with a peer that does not read, writes from other tasks would
    /// never cause `pause_writing` or the hard-limit abort. A driver running our
    /// caller's callback has no waker stored and looks at the buffer afterwards.
    fn waker_for_write(&mut self, was_empty: bool) -> Option<Waker> {
        let crossed_high =
            !self.buffer.is_paused() && self.buffer.len() > self.buffer.limits().high;
        if was_empty || crossed_high || self.over_hard_limit().is_some() {
            self.wake_parked_driver()
        } else {
            None
        }
    }

    /// Not over the high-water mark and the protocol not paused: a writer may go on.
    pub(crate) fn is_writable(&self) -> bool {
        !self.buffer.is_paused() && self.buffer.len() <= self.buffer.limits().high
    }

    /// The drain waiters to wake, if the buffer is writable again.
    pub(crate) fn drain_waiters_to_wake(&mut self) -> Vec<Waker> {
        if !self.drain_waiters.is_empty() && (self.is_writable() || self.closed) {
            std::mem::take(&mut self.drain_waiters)
        } else {
            Vec::new()
        }
    }

    /// The waker of a parked driver, which is no longer parked once woken. A
    /// running driver (one calling our caller's callback) needs no wake-up: it
    /// looks at the state again before it parks.
    pub(crate) fn wake_parked_driver(&mut self) -> Option<Waker> {
        if std::mem::take(&mut self.parked) {
            self.waker.clone()
        } else {
            None
        }
    }

    /// Whether the write buffer went over the hard limit.
    pub(crate) fn over_hard_limit(&self) -> Option<usize> {
        self.hard_limit.filter(|&limit| self.buffer.len() > limit)
    }

    /// Asks the buffer for a pause/resume event; none while closing.
    pub(crate) fn flow_event(&mut self) -> Option<FlowEvent> {
        if self.closed {
            None
        } else {
            self.buffer.flow_event()
        }
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("buffered", &self.buffer.len())
            .field("closing", &self.closing)
            .field("closed", &self.closed)
            .field("reading_paused", &self.reading_paused)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Transport")
            .field("peername", &self.inner.extra.peername)
            .field("sockname", &self.inner.extra.sockname)
            .field("buffered", &state.buffer.len())
            .field("closing", &state.closing)
            .field("closed", &state.closed)
            .finish()
    }
}
