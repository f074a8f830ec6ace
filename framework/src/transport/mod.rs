//! The [`Transport`] handle: what a protocol uses to write, close and steer its connection.
//!
//! A `Transport` is a cheap `Clone + Send + Sync` handle around an `Arc` of shared
//! state. Its methods are synchronous, like asyncio's: they queue work and wake the
//! connection's driver task, which does the I/O after the current callback returns.
//! Many `write()` calls made in one callback therefore leave in one vectored write.

pub(crate) mod dispatch;
pub(crate) mod driver;
pub(crate) mod extra;
pub(crate) mod handle;
pub(crate) mod io;
pub(crate) mod protocol;
pub(crate) mod proxy_info;
pub(crate) mod replies;
pub(crate) mod sendfile;
mod socket_options;
pub(crate) mod start;
pub(crate) mod state;
pub(crate) mod timeouts;
#[cfg(feature = "tls")]
pub(crate) mod tls_info;
pub(crate) mod write_buffer;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::error::{Error, Result};
pub use extra::ExtraInfo;
use handle::Handle;
pub(crate) use socket_options::SocketOptions;
pub(crate) use state::State;
use state::{Asked, AskedNext};

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
    handle: Handle<State>,
}

/// What the transport can do, fixed at creation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Capabilities {
    /// `write_eof()` half-closes (TCP, Unix, pipes, TLS 1.3); false for TLS 1.2.
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

    /// A TLS 1.3 stream: `write_eof()` sends close_notify and reading goes on
    /// (RFC 8446 §6.1 lets each side close its write side alone).
    #[cfg(feature = "tls")]
    pub(crate) const TLS13: Capabilities = Capabilities {
        can_write_eof: true,
        ..Capabilities::TLS
    };
}

impl Transport {
    pub(crate) fn new(extra: ExtraInfo, socket_options: Option<SocketOptions>) -> Self {
        let state = State::new(extra.caps, socket_options);
        Transport {
            handle: Handle::new(state, extra),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.handle.lock()
    }

    /// The lock for the driver's pass; see [`Handle::lock_for_pass`].
    #[inline]
    pub(crate) fn lock_for_pass(&self) -> MutexGuard<'_, State> {
        self.handle.lock_for_pass()
    }

    /// See [`Handle::untouched_since_pass`].
    #[inline]
    pub(crate) fn untouched_since_pass(&self) -> bool {
        self.handle.untouched_since_pass()
    }

    /// See [`Handle::mark_quiet`].
    #[inline]
    pub(crate) fn mark_quiet(&self, state: &MutexGuard<'_, State>) {
        self.handle.mark_quiet(state);
    }

    /// This transport's driver is polling on this thread now: a change made
    /// here needs no wake-up (see [`handle`]).
    #[inline]
    pub(crate) fn driver_running_here(&self) -> bool {
        self.handle.driver_running_here()
    }

    /// Marks this transport's driver as polling on this thread until the
    /// guard drops: changes made meanwhile on this thread wake nobody.
    #[inline]
    pub(crate) fn driving_here(&self) -> handle::DrivingHere {
        self.handle.driving_here()
    }

    /// Applies `change` under the lock, marks the state dirty and wakes the driver.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        self.handle.update(change)
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
    #[inline]
    pub fn write(&self, data: impl Into<Bytes>) {
        self.write_bytes(data.into());
    }

    /// [`write`](Self::write) once the data is `Bytes`: one copy of the
    /// code for every type a caller writes.
    fn write_bytes(&self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let by_own_driver = self.handle.driver_running_here();
        // A reply inside `data_received` with the state as a quiet pass left
        // it: to the slot, without the lock (see `replies`). The locked
        // write is out of line, so this path, which every echo reply takes,
        // carries none of its code: 71 instructions a reply, 94 with it
        // inline.
        if by_own_driver && self.handle.quiet_since_pass() {
            if let Err(data) = replies::keep_quietly(data) {
                self.write_locked(data, true);
            }
            return;
        }
        self.write_locked(data, by_own_driver);
    }

    /// The write under the lock: to the reply slot while the buffer is
    /// empty (see `replies`), otherwise queued.
    #[inline(never)]
    fn write_locked(&self, data: Bytes, by_own_driver: bool) {
        let waker = {
            // Not marked touched yet: a reply kept for the driver to send
            // changes nothing the driver must see (see `replies`).
            let mut state = self.handle.lock_unmarked();
            if let Some(next) = state.upgraded_to().cloned() {
                drop(state);
                return next.write(data);
            }
            if !state.accepts_writes("write") {
                return;
            }
            let data = if by_own_driver {
                match state.defer_write(data) {
                    Some(data) => data,
                    None => return,
                }
            } else {
                data
            };
            self.handle.mark_touched();
            state.queue(data, by_own_driver)
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
        let by_own_driver = self.handle.driver_running_here();
        let waker = {
            let mut state = self.lock();
            if let Some(next) = state.upgraded_to().cloned() {
                drop(state);
                return next.writelines(chunks);
            }
            if !state.accepts_writes("writelines") {
                return;
            }
            let buffer = state.core_mut().buffer_mut();
            let was_empty = buffer.is_empty();
            for chunk in chunks {
                buffer.push(chunk.into());
            }
            state.after_write(was_empty, by_own_driver)
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
    /// [`Error::Unsupported`] when [`can_write_eof`](Self::can_write_eof) is false (TLS 1.2).
    pub fn write_eof(&self) -> Result<()> {
        if !self.can_write_eof() {
            return Err(Error::Unsupported(
                "write_eof() on a transport that cannot half-close",
            ));
        }
        // A write-only transport (a write pipe) has nothing left after EOF: as in
        // asyncio, write_eof() is close() there.
        let write_only = !self.extra().caps.readable;
        self.update(|state| state.request_eof(write_only));
        Ok(())
    }

    /// Whether [`write_eof`](Self::write_eof) is supported: true for TCP, Unix
    /// sockets, pipes and TLS 1.3 (where it sends close_notify and reading
    /// goes on, RFC 8446 §6.1; asyncio cannot do this), false for TLS 1.2.
    pub fn can_write_eof(&self) -> bool {
        self.extra().caps.can_write_eof
    }

    /// Closes gracefully: stops reading, flushes the buffer, then ends the
    /// connection with `connection_lost(None)`. Idempotent.
    ///
    /// `connection_lost` never runs inside this call; it runs on the driver task
    /// once the buffer is empty.
    ///
    /// On a transport whose `start_tls` upgrade (feature `tls`) is under
    /// way, the close reaches the upgraded transport as soon as it starts.
    pub fn close(&self) {
        self.handle.close();
        let next = self.lock().ask_in_upgrade(Asked::Close);
        match next {
            AskedNext::Forward(next) => next.close(),
            AskedNext::WakeUpgrade(waker) => waker.wake(),
            AskedNext::Done => {}
        }
    }

    /// Closes now: drops the write buffer and ends the connection with
    /// `connection_lost(None)` on the driver task. Idempotent.
    ///
    /// On a transport whose `start_tls` upgrade (feature `tls`) is under
    /// way, the abort stops the handshake (`start_tls` fails with
    /// [`Error::Closed`] and the protocol gets `connection_lost(None)`), or,
    /// if the handshake is already done, aborts the upgraded transport as
    /// soon as it starts.
    pub fn abort(&self) {
        self.handle.abort();
        let next = self.lock().ask_in_upgrade(Asked::Abort);
        match next {
            AskedNext::Forward(next) => next.abort(),
            AskedNext::WakeUpgrade(waker) => waker.wake(),
            AskedNext::Done => {}
        }
    }

    /// True once [`close`](Self::close) or [`abort`](Self::abort) was called, the
    /// peer's EOF started a close, or the connection ended.
    pub fn is_closing(&self) -> bool {
        self.handle.is_closing()
    }

    /// Stops `data_received` until [`resume_reading`](Self::resume_reading).
    ///
    /// After this returns, no further `data_received`/`buffer_updated` call starts.
    /// Idempotent. The kernel buffers what the peer sends meanwhile, so a
    /// sender that goes on is slowed down by TCP flow control.
    ///
    /// This pause is the protocol's own and is kept apart from the transport's
    /// backpressure hold (see
    /// [`ServerOptions::pause_reading_on_backpressure`](crate::ServerOptions::pause_reading_on_backpressure)):
    /// the buffer draining never ends it.
    pub fn pause_reading(&self) {
        self.handle.set_reading_paused(true);
    }

    /// Undoes [`pause_reading`](Self::pause_reading). Idempotent; does nothing once closing.
    ///
    /// While the write buffer is over its high-water mark and the transport
    /// holds reading for backpressure (the default for a server's connections),
    /// data is delivered again only once the buffer has drained to the low mark.
    pub fn resume_reading(&self) {
        self.handle.set_reading_paused(false);
    }

    /// True unless [`pause_reading`](Self::pause_reading) is in force or the
    /// transport is closing, as in asyncio.
    ///
    /// It reports the protocol's own pause only: a transport holding reading
    /// because its write buffer is over the high-water mark (see
    /// [`ServerOptions::pause_reading_on_backpressure`](crate::ServerOptions::pause_reading_on_backpressure))
    /// still says true, so code that pauses and resumes around its own
    /// buffers sees its own state. That hold uses the write buffer's marks, so
    /// it starts and ends with the protocol's `pause_writing` and
    /// `resume_writing`.
    pub fn is_reading(&self) -> bool {
        self.handle.is_reading()
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
        self.handle.set_write_buffer_limits(high, low)
    }

    /// The current `(low, high)` water marks.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.handle.get_write_buffer_limits()
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
            match state.upgraded_to().cloned() {
                Some(next) => next,
                None if state.core().is_closed() => {
                    return std::task::Poll::Ready(Err(Error::Closed("transport")));
                }
                None if state.is_writable() => return std::task::Poll::Ready(Ok(())),
                None => {
                    state.add_drain_waiter(cx.waker());
                    return std::task::Poll::Pending;
                }
            }
        };
        next.poll_drain(cx)
    }

    /// Sends `count` bytes of `file` from `offset` (to the end of the file
    /// when `count` is `None`) and returns how many were sent: asyncio's
    /// `loop.sendfile(transport, file, offset, count)`.
    ///
    /// On plain TCP and Unix stream sockets the bytes go out by zero-copy
    /// `sendfile(2)` from the connection's driver, never through user space.
    /// On other transports (TLS, pipes, [`connect_stream`](crate::connect_stream)
    /// streams), or if the kernel refuses the file, it falls back to reading
    /// 256 KiB chunks and writing them under flow control (it waits for the
    /// buffer to drain under its high-water mark after each one); use
    /// [`sendfile_zero_copy`](Self::sendfile_zero_copy) to refuse that.
    ///
    /// As in asyncio:
    ///
    /// * it starts once the write buffer is flushed, so earlier
    ///   [`write`](Self::write)s arrive first;
    /// * no `data_received` runs while it is in progress; reading then goes
    ///   on as it was ([`pause_reading`](Self::pause_reading) in force stays
    ///   in force);
    /// * the protocol hears no `pause_writing`/`resume_writing` of the
    ///   transfer's own chunks (asyncio lends the transport to a protocol of
    ///   its own meanwhile); one paused before the call hears
    ///   `resume_writing` once the buffer drains after it;
    /// * a [`write`](Self::write) or [`writelines`](Self::writelines) while it
    ///   is in progress is a misuse (asyncio raises `RuntimeError`): the data
    ///   is dropped and an error is logged, since it would land inside the
    ///   file. Write after the returned future completes;
    /// * the file's bytes are read at `offset` without using the file's
    ///   position, and afterwards the position is set to `offset` plus the
    ///   bytes sent (left alone when nothing was sent);
    /// * `count` past the end of the file sends what is there; `None` sends
    ///   up to the file's length when the call starts.
    ///
    /// The future completes once the last byte is handed to the kernel
    /// (zero-copy) or queued in the write buffer (fallback); a
    /// [`close`](Self::close) afterwards flushes it as usual.
    ///
    /// # Errors
    ///
    /// * [`Error::InvalidArgument`]: `count` is `Some(0)`, or `file` is not a
    ///   regular file;
    /// * [`Error::Closed`]: the transport was closing or closed before it
    ///   started, or ended before a byte was sent;
    /// * [`Error::InvalidState`]: another `sendfile` is in progress on it;
    /// * [`Error::Unsupported`]: the transport cannot write (a read pipe);
    /// * [`Error::Io`]: reading the file failed, or the peer reset the
    ///   connection, before a byte was sent;
    /// * [`Error::SendfileInterrupted`]: any of those after some bytes were
    ///   sent, with the count (`close()`, `abort()` or the peer's reset
    ///   during the transfer, a read error part-way). A reset also ends the
    ///   connection with that error, as a failed write does.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropping the future stops the transfer part-way,
    /// with an unknown number of bytes sent and the file position untouched.
    /// Reading and writes resume.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(transport: aioproto::Transport) -> aioproto::Result<()> {
    /// let file = std::fs::File::open("Cargo.toml")?;
    /// transport.write("200 OK\n"); // goes first
    /// let sent = transport.sendfile(&file, 0, None).await?;
    /// assert_eq!(sent, file.metadata()?.len());
    /// transport.close();
    /// # Ok(()) }
    /// ```
    pub async fn sendfile(
        &self,
        file: &std::fs::File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        sendfile::send_file(self, file, offset, count, true).await
    }

    /// [`sendfile`](Self::sendfile) with zero-copy `sendfile(2)` only:
    /// asyncio's `loop.sendfile(..., fallback=False)`.
    ///
    /// # Errors
    ///
    /// As [`sendfile`](Self::sendfile), and
    /// [`Error::SendfileNotAvailable`] on a transport that is not a plain
    /// TCP or Unix stream socket (TLS, pipes, foreign streams), or for a file
    /// the kernel cannot send from; nothing was sent then.
    ///
    /// # Cancel safety
    ///
    /// As [`sendfile`](Self::sendfile).
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(transport: aioproto::Transport, file: std::fs::File) -> aioproto::Result<()> {
    /// match transport.sendfile_zero_copy(&file, 0, Some(4096)).await {
    ///     Err(aioproto::Error::SendfileNotAvailable(why)) => eprintln!("no zero-copy: {why}"),
    ///     other => println!("sent {}", other?),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sendfile_zero_copy(
        &self,
        file: &std::fs::File,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        sendfile::send_file(self, file, offset, count, false).await
    }

    /// Bytes queued and not yet handed to the kernel. Exact: inside
    /// `data_received` it includes the replies the driver sends when the
    /// callback returns.
    pub fn get_write_buffer_size(&self) -> usize {
        let replies = if self.handle.driver_running_here() {
            replies::pending_len()
        } else {
            0
        };
        self.handle.get_write_buffer_size() + replies
    }

    /// Sets a hard cap on the write buffer: a write that takes it over `limit`
    /// aborts the connection with [`Error::WriteBufferFull`]. `None` (the
    /// default) means no cap. This is how a server drops a peer that never reads.
    pub fn set_write_buffer_hard_limit(&self, limit: Option<usize>) {
        self.update(|state| state.set_hard_limit(limit));
    }

    /// Replaces the protocol that receives this connection's callbacks, like
    /// asyncio's `set_protocol`.
    ///
    /// The switch happens right after the current callback returns; later data
    /// goes to the new protocol. The new protocol's `connection_made` is **not**
    /// called (keep the transport yourself): this is asyncio's handover, where
    /// the caller wires the new protocol up. A [`CodecProtocol`](crate::CodecProtocol)
    /// handler that hands the connection over with bytes already buffered uses
    /// [`FrameSink::switch_protocol`](crate::FrameSink::switch_protocol)
    /// instead, which calls `connection_made` and passes those bytes on first.
    /// Accepts a [`Protocol`](crate::Protocol)
    /// or a [`BufferedProtocol`](crate::BufferedProtocol), and returns a shared
    /// reference to it.
    pub fn set_protocol<P, M>(&self, protocol: P) -> Arc<Mutex<P>>
    where
        P: crate::transport::dispatch::IntoHandler<M>,
    {
        let (shared, handler) = protocol.into_handler();
        self.set_handler(handler);
        shared
    }

    /// Queues `handler` as the connection's protocol from the driver's next
    /// pass on (see [`set_protocol`](Self::set_protocol)). `false`: the
    /// connection had already ended, and `handler` will never be called;
    /// `true`: it will be, `connection_lost` included.
    pub(crate) fn set_handler(&self, handler: crate::transport::dispatch::Handler) -> bool {
        self.update(|state| state.set_next_handler(handler)).is_ok()
    }

    /// Drops a protocol queued by [`set_handler`](Self::set_handler) that the
    /// driver has not taken yet: the current one keeps the callbacks.
    pub(crate) fn cancel_handler(&self) {
        drop(self.update(|state| state.cancel_next_handler()));
    }

    /// Everything known about the connection: addresses, socket, TLS details.
    pub fn extra(&self) -> &ExtraInfo {
        self.handle.extra()
    }

    /// What the TLS handshake established (`peercert`, `cipher`,
    /// `alpn_protocol`, `server_name`); `None` on a plain connection.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(&self) -> Option<&tls_info::TlsInfo> {
        self.extra().tls.as_deref()
    }

    /// The remote address, like `get_extra_info('peername')`. Behind a PROXY
    /// protocol header ([`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol)),
    /// the client's address the header carries; see
    /// [`original_peername`](Self::original_peername).
    pub fn peername(&self) -> Option<SocketAddr> {
        self.handle.peername()
    }

    /// The local address, like `get_extra_info('sockname')`. Behind a PROXY
    /// protocol header, the destination the header carries.
    pub fn sockname(&self) -> Option<SocketAddr> {
        self.handle.sockname()
    }

    /// The socket's own remote address: the proxy's when a PROXY protocol
    /// header replaced [`peername`](Self::peername), else the same as it.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{BaseProtocol, Protocol, Transport};
    ///
    /// struct Log;
    /// impl BaseProtocol for Log {
    ///     fn connection_made(&mut self, t: &Transport) {
    ///         println!("client {:?} via {:?}", t.peername(), t.original_peername());
    ///     }
    /// }
    /// impl Protocol for Log {}
    /// ```
    pub fn original_peername(&self) -> Option<SocketAddr> {
        match &self.extra().proxy {
            Some(proxy) => proxy.socket_peername,
            None => self.peername(),
        }
    }

    /// The socket's own local address: see [`original_peername`](Self::original_peername).
    ///
    /// # Examples
    ///
    /// ```
    /// # use aioproto::{BaseProtocol, Protocol, Transport};
    /// # struct Log;
    /// impl BaseProtocol for Log {
    ///     fn connection_made(&mut self, t: &Transport) {
    ///         assert!(t.proxy().is_some() || t.original_sockname() == t.sockname());
    ///     }
    /// }
    /// # impl Protocol for Log {}
    /// ```
    pub fn original_sockname(&self) -> Option<SocketAddr> {
        match &self.extra().proxy {
            Some(proxy) => proxy.socket_sockname,
            None => self.sockname(),
        }
    }

    /// The socket's own addresses and the raw header, when the connection
    /// began with a PROXY protocol header; `None` otherwise.
    ///
    /// # Examples
    ///
    /// See [`ProxyInfo`](crate::ProxyInfo).
    pub fn proxy(&self) -> Option<&proxy_info::ProxyInfo> {
        self.extra().proxy.as_deref()
    }

    /// Whether TCP_NODELAY is on (it is by default for every aioproto TCP
    /// connection). `None` for transports without a TCP socket.
    pub fn nodelay(&self) -> Option<bool> {
        self.lock().socket_options().map(|o| o.nodelay)
    }

    /// Turns TCP_NODELAY on or off. The driver applies it right after the
    /// current callback; failures are logged. Ignored without a TCP socket.
    pub fn set_nodelay(&self, on: bool) {
        self.update(|state| state.change_socket_options(|o| o.nodelay = on));
    }

    /// Whether SO_KEEPALIVE is on. `None` for transports without a socket.
    pub fn keepalive(&self) -> Option<bool> {
        self.lock().socket_options().map(|o| o.keepalive)
    }

    /// Turns SO_KEEPALIVE on or off, applied like [`set_nodelay`](Self::set_nodelay).
    pub fn set_keepalive(&self, on: bool) {
        self.update(|state| state.change_socket_options(|o| o.keepalive = on));
    }

    /// From now on, writes, `close()`, `abort()` and `drain()` on this handle go
    /// to `next` (the transport `start_tls` upgraded this connection to).
    ///
    /// A `close()` or `abort()` made on this handle while the upgrade was in
    /// flight is done to `next` now.
    pub(crate) fn forward_to(&self, next: &Transport) {
        match self.update(|state| state.set_upgraded_to(next.clone())) {
            Some(Asked::Close) => next.close(),
            Some(Asked::Abort) => next.abort(),
            None => {}
        }
    }

    /// True if both handles control the same connection.
    pub fn same_as(&self, other: &Transport) -> bool {
        self.handle.same_as(&other.handle)
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Transport")
            .field("peername", &self.peername())
            .field("sockname", &self.sockname())
            .field("buffered", &state.core().buffer().len())
            .field("reading_held", &state.is_reading_held())
            .field("closing", &state.core().is_closing())
            .field("closed", &state.core().is_closed())
            .field("core", state.core())
            .finish()
    }
}
