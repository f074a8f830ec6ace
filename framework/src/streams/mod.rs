//! Streams: asyncio's `open_connection` / `start_server` with a
//! [`StreamReader`] and a [`StreamWriter`], built on the Protocol layer.
//!
//! As in asyncio, a stream is a protocol ([`StreamReaderProtocol`]) that feeds
//! what arrives into a reader and keeps the write side's flow-control state for
//! the writer. Received data is kept as the [`Bytes`] chunks the transport
//! delivered, so a read that falls inside one chunk (the usual case) is a
//! zero-copy slice of it.
//!
//! ```text
//!  your task ── readline().await ──> StreamReader <── feed_data ── StreamReaderProtocol <── driver task
//!            ── write() / drain() ─> StreamWriter ── Transport ──────────────────────────────> socket
//! ```
//!
//! Backpressure works both ways. The reader pauses the transport's reading once
//! more than `2 × limit` bytes are buffered and resumes it at `limit` or below
//! (or whenever a read has to wait). [`StreamWriter::drain`] waits while the
//! write buffer is over its high-water mark.
//!
//! Both halves also implement tokio's [`AsyncRead`] / [`AsyncWrite`], so
//! tokio-util codecs, `tokio::io::copy` and the like plug in.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{Error, Result};
use crate::net::connect::{ConnectOptions, create_connection};
use crate::net::server::{Hosts, Server, ServerOptions, create_server};
use crate::streams::chunks::{ChunkBuf, concat};
use crate::transport::protocol::{BaseProtocol, Protocol};
use crate::transport::{ExtraInfo, Transport};
use crate::util::CatchUnwind;
use crate::util::lock;

/// asyncio's default stream limit (`_DEFAULT_LIMIT`): 64 KiB.
pub const DEFAULT_LIMIT: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// StreamReader
// ---------------------------------------------------------------------------

/// The read half of a stream, like asyncio's `StreamReader`.
///
/// A cheap handle (`Clone` shares the same buffer). Every read method takes
/// `&self`; as in asyncio, only one read may wait for data at a time: a second
/// read that has to wait while another is waiting fails with
/// [`Error::InvalidState`].
///
/// Reads return [`Bytes`] that are slices of the received chunks whenever the
/// result lies inside one chunk; only results that span chunks are copied.
///
/// # Examples
///
/// A reader can be fed by hand, which is handy in tests:
///
/// ```
/// use aioproto::StreamReader;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let reader = StreamReader::new(aioproto::DEFAULT_LIMIT)?;
/// reader.feed_data("hello\nwor");
/// reader.feed_data("ld\n");
/// reader.feed_eof();
/// assert_eq!(reader.readline().await?, "hello\n");
/// assert_eq!(reader.readline().await?, "world\n");
/// assert_eq!(reader.readline().await?, "");
/// assert!(reader.at_eof());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct StreamReader {
    shared: Arc<ReaderShared>,
}

struct ReaderShared {
    state: Mutex<ReaderState>,
}

struct ReaderState {
    buf: ChunkBuf,
    limit: usize,
    eof: bool,
    exception: Option<Error>,
    /// Wakes the read that waits for data.
    waker: Option<Waker>,
    /// An `async` read method is waiting for data.
    waiting: bool,
    transport: Option<Transport>,
    /// We paused the transport's reading.
    paused: bool,
}

impl ReaderState {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn maybe_resume(&mut self) {
        if self.paused && self.buf.len() <= self.limit {
            self.paused = false;
            if let Some(t) = &self.transport {
                t.resume_reading();
            }
        }
    }
}

/// Clears the "a read is waiting" mark when the read finishes or is dropped.
struct WaitGuard<'a> {
    shared: &'a ReaderShared,
    active: bool,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        if self.active {
            let mut state = lock(&self.shared.state);
            state.waiting = false;
            state.waker = None;
        }
    }
}

impl StreamReader {
    /// Makes a reader with the given limit, not attached to any transport.
    ///
    /// The limit bounds `readline`/`readuntil` and sets the backpressure
    /// points (pause reading above `2 × limit`, resume at `limit`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `limit` is 0 (asyncio: `Limit cannot be <= 0`).
    pub fn new(limit: usize) -> Result<Self> {
        if limit == 0 {
            return Err(Error::invalid_argument("limit cannot be <= 0"));
        }
        Ok(Self::build(limit))
    }

    /// A reader with a limit already checked to be non-zero.
    fn build(limit: usize) -> Self {
        StreamReader {
            shared: Arc::new(ReaderShared {
                state: Mutex::new(ReaderState {
                    buf: ChunkBuf::default(),
                    limit,
                    eof: false,
                    exception: None,
                    waker: None,
                    waiting: false,
                    transport: None,
                    paused: false,
                }),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ReaderState> {
        lock(&self.shared.state)
    }

    /// The limit given at creation.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    fn set_transport(&self, transport: &Transport) {
        self.lock().transport = Some(transport.clone());
    }

    /// Appends received data (the protocol calls this; tests may too).
    ///
    /// Pauses the transport's reading once more than `2 × limit` bytes are buffered.
    pub fn feed_data(&self, data: impl Into<Bytes>) {
        let data = data.into();
        if data.is_empty() {
            return;
        }
        let mut state = self.lock();
        if state.eof {
            tracing::warn!("feed_data after feed_eof; data dropped");
            return;
        }
        state.buf.push(data);
        state.wake();
        if !state.paused
            && state.buf.len() > 2 * state.limit
            && let Some(t) = &state.transport
        {
            t.pause_reading();
            state.paused = true;
        }
    }

    /// Marks the end of the stream: reads return what is left, then empty.
    pub fn feed_eof(&self) {
        let mut state = self.lock();
        state.eof = true;
        state.wake();
    }

    /// Makes waiting and later reads fail with `exc`.
    pub fn set_exception(&self, exc: Error) {
        let mut state = self.lock();
        state.exception = Some(exc);
        state.wake();
    }

    /// The error set by [`set_exception`](Self::set_exception) (the
    /// connection's failure), if any.
    pub fn exception(&self) -> Option<Error> {
        self.lock().exception.clone()
    }

    /// True when EOF was fed **and** the buffer is empty.
    pub fn at_eof(&self) -> bool {
        let state = self.lock();
        state.eof && state.buf.is_empty()
    }

    /// Bytes buffered and not yet read.
    pub fn buffered(&self) -> usize {
        self.lock().buf.len()
    }

    /// Runs `attempt` on the state until it gives an answer, waiting for data in between.
    async fn op<T>(
        &self,
        name: &'static str,
        mut attempt: impl FnMut(&mut ReaderState) -> Option<Result<T>>,
    ) -> Result<T> {
        let mut guard = WaitGuard {
            shared: &self.shared,
            active: false,
        };
        poll_fn(|cx| {
            let mut state = lock(&guard.shared.state);
            if let Some(exc) = &state.exception {
                return Poll::Ready(Err(exc.clone()));
            }
            if let Some(outcome) = attempt(&mut state) {
                state.maybe_resume();
                return Poll::Ready(outcome);
            }
            if state.eof {
                // Every attempt answers at EOF; this is a safety net, not a path.
                return Poll::Ready(Err(Error::invalid_state(format!("{name}() at eof"))));
            }
            if state.waiting && !guard.active {
                return Poll::Ready(Err(Error::invalid_state(format!(
                    "{name}() called while another task is already waiting for incoming data"
                ))));
            }
            state.waiting = true;
            guard.active = true;
            state.waker = Some(cx.waker().clone());
            // Waiting for data always resumes reading first, so a read larger
            // than the pause point can complete.
            if state.paused {
                state.paused = false;
                if let Some(t) = &state.transport {
                    t.resume_reading();
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Reads up to `n` bytes: waits until some data is available and returns
    /// at most `n` of it, or empty at EOF. `read(0)` returns empty at once.
    ///
    /// Returns a zero-copy slice of one received chunk, so it may return fewer
    /// bytes than are buffered. Use [`read_all`](Self::read_all) for asyncio's
    /// `read(-1)`.
    ///
    /// # Errors
    ///
    /// The connection's failure (see [`exception`](Self::exception));
    /// [`Error::InvalidState`] if another read is already waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no data is taken unless it returns.
    pub async fn read(&self, n: usize) -> Result<Bytes> {
        if n == 0 {
            return Ok(Bytes::new());
        }
        self.op("read", |state| {
            if !state.buf.is_empty() {
                Some(Ok(state.buf.take_front(n)))
            } else if state.eof {
                Some(Ok(Bytes::new()))
            } else {
                None
            }
        })
        .await
    }

    /// Reads until EOF and returns everything (asyncio's `read()` / `read(-1)`).
    ///
    /// The data is moved out of the reader as it arrives, so the transport is
    /// never paused by it.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: data read before the cancellation is lost.
    pub async fn read_all(&self) -> Result<Bytes> {
        let mut parts = Vec::new();
        self.op("read", |state| {
            state.buf.drain_into(&mut parts);
            state.eof.then_some(Ok(()))
        })
        .await?;
        Ok(concat(parts))
    }

    /// Reads one line, up to and including `\n`.
    ///
    /// At EOF it returns the partial last line, or empty.
    ///
    /// # Errors
    ///
    /// [`Error::LimitOverrun`] (asyncio raises `ValueError` here) when the line
    /// is longer than the limit. Unlike [`readuntil`](Self::readuntil), the
    /// data is dropped: the overlong line with its `\n` if the `\n` was
    /// buffered, otherwise the whole buffer. Also the errors of [`read`](Self::read).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn readline(&self) -> Result<Bytes> {
        match self.readuntil(b"\n").await {
            Ok(line) => Ok(line),
            Err(Error::IncompleteRead { partial, .. }) => Ok(partial),
            Err(Error::LimitOverrun { message, consumed }) => {
                let mut state = self.lock();
                if state.buf.starts_with_at(b"\n", consumed) {
                    state.buf.advance(consumed + 1);
                } else {
                    state.buf.clear();
                }
                state.maybe_resume();
                Err(Error::LimitOverrun { message, consumed })
            }
            Err(e) => Err(e),
        }
    }

    /// Reads up to and including `separator`.
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`] for an empty separator;
    /// - [`Error::IncompleteRead`] with `expected: None` at EOF without the
    ///   separator (the buffer is emptied into `partial`);
    /// - [`Error::LimitOverrun`] when the data before the separator exceeds the
    ///   limit (`...not found...` or `...is found...`); the data **stays** in the
    ///   buffer;
    /// - the errors of [`read`](Self::read).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let reader = aioproto::StreamReader::new(64)?;
    /// reader.feed_data("key: value\r\n\r\nbody");
    /// assert_eq!(reader.readuntil(b"\r\n\r\n").await?, "key: value\r\n\r\n");
    /// # Ok(()) }
    /// ```
    pub async fn readuntil(&self, separator: &[u8]) -> Result<Bytes> {
        self.readuntil_any(&[separator]).await
    }

    /// Reads up to and including the first of several separators to end
    /// (asyncio 3.13's tuple form: the match that ends earliest wins).
    ///
    /// # Errors
    ///
    /// As [`readuntil`](Self::readuntil); also [`Error::InvalidArgument`] for
    /// an empty list.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn readuntil_any(&self, separators: &[&[u8]]) -> Result<Bytes> {
        if separators.is_empty() || separators.iter().any(|s| s.is_empty()) {
            return Err(Error::invalid_argument(
                "separator should contain at least one element and no empty one",
            ));
        }
        let min_len = separators.iter().map(|s| s.len()).min().unwrap_or(1);
        let max_len = separators.iter().map(|s| s.len()).max().unwrap_or(1);
        let mut offset = 0;
        self.op("readuntil", |state| {
            let buflen = state.buf.len();
            if buflen >= offset + min_len {
                let mut best: Option<(usize, usize)> = None;
                for sep in separators {
                    if let Some(start) = state.buf.find(sep, offset) {
                        let end = start + sep.len();
                        if best.is_none_or(|(_, e)| end < e) {
                            best = Some((start, end));
                        }
                    }
                }
                if let Some((start, end)) = best {
                    if start > state.limit {
                        return Some(Err(Error::LimitOverrun {
                            message: "separator is found, but chunk is longer than limit",
                            consumed: start,
                        }));
                    }
                    return Some(Ok(state.buf.split_to(end)));
                }
                offset = (buflen + 1).saturating_sub(max_len);
                if offset > state.limit {
                    return Some(Err(Error::LimitOverrun {
                        message: "separator is not found, and chunk exceed the limit",
                        consumed: offset,
                    }));
                }
            }
            if state.eof {
                return Some(Err(Error::IncompleteRead {
                    partial: state.buf.take_all(),
                    expected: None,
                }));
            }
            None
        })
        .await
    }

    /// Reads exactly `n` bytes (not bounded by the limit). `readexactly(0)`
    /// returns empty at once.
    ///
    /// # Errors
    ///
    /// [`Error::IncompleteRead`] with `expected: Some(n)` when EOF comes first
    /// (the buffer is emptied into `partial`); the errors of [`read`](Self::read).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn readexactly(&self, n: usize) -> Result<Bytes> {
        if n == 0 {
            return Ok(Bytes::new());
        }
        self.op("readexactly", |state| {
            if state.buf.len() >= n {
                Some(Ok(state.buf.split_to(n)))
            } else if state.eof {
                Some(Err(Error::IncompleteRead {
                    partial: state.buf.take_all(),
                    expected: Some(n),
                }))
            } else {
                None
            }
        })
        .await
    }

    /// The next line, or `None` at EOF: asyncio's `async for line in reader`.
    ///
    /// The line **keeps its `\n`** (and a `\r\n` stays whole), as asyncio's
    /// lines do; the last line before EOF may have none. This differs from
    /// tokio's `Lines::next_line`, which strips the terminator: trim it with
    /// `line.strip_suffix(b"\n")` (or `trim_ascii_end`) when you want tokio's
    /// behaviour.
    ///
    /// # Errors
    ///
    /// As [`readline`](Self::readline).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn next_line(&self) -> Result<Option<Bytes>> {
        let line = self.readline().await?;
        Ok((!line.is_empty()).then_some(line))
    }
}

impl AsyncRead for StreamReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut state = self.lock();
        if let Some(exc) = &state.exception {
            return Poll::Ready(Err(exc.clone().into_io()));
        }
        if !state.buf.is_empty() {
            let n = state.buf.copy_to(out.initialize_unfilled());
            out.advance(n);
            state.maybe_resume();
            return Poll::Ready(Ok(()));
        }
        if state.eof || out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        state.waker = Some(cx.waker().clone());
        if state.paused {
            state.paused = false;
            if let Some(t) = &state.transport {
                t.resume_reading();
            }
        }
        Poll::Pending
    }
}

impl fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("StreamReader")
            .field("buffered", &state.buf.len())
            .field("limit", &state.limit)
            .field("eof", &state.eof)
            .field("exception", &state.exception)
            .field("paused", &state.paused)
            .finish()
    }
}

// ---------------------------------------------------------------------------
// The protocol
// ---------------------------------------------------------------------------

/// Flow-control and lifetime state shared by the protocol and the writer.
#[derive(Default)]
struct ConnShared {
    state: Mutex<ConnState>,
    /// Made by a `start_server` variant: `start_tls` upgrades as the server.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    server_side: bool,
}

#[derive(Default)]
struct ConnState {
    /// Between `pause_writing` and `resume_writing`.
    paused: bool,
    /// `connection_lost` ran.
    lost: bool,
    /// What `connection_lost` got.
    error: Option<Error>,
    /// Drains, flushes and `wait_closed`s to wake on any change.
    wakers: Vec<Waker>,
}

impl ConnState {
    fn register(&mut self, waker: &Waker) {
        if !self.wakers.iter().any(|w| w.will_wake(waker)) {
            self.wakers.push(waker.clone());
        }
    }

    fn wake_all(&mut self) {
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
    }
}

type OnConnect = Box<dyn FnOnce(StreamReader, StreamWriter) + Send>;

/// The protocol under a stream, like asyncio's `StreamReaderProtocol`: it feeds
/// a [`StreamReader`] and tracks flow control for [`StreamWriter`]s.
///
/// [`open_connection`] and [`start_server`] use it for you. Use it directly to
/// run streams over any transport, e.g. the in-memory one of
/// [`testing`](crate::testing).
///
/// `eof_received` returns true when the transport can half-close (TCP, Unix),
/// so the writer can still send after the peer's EOF; false over TLS.
///
/// # Examples
///
/// ```
/// use aioproto::StreamReaderProtocol;
/// use aioproto::testing::TestConnection;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(1024)?);
/// let (reader, writer) = {
///     let p = protocol.lock().unwrap();
///     (p.reader(), p.writer(conn.transport()))
/// };
/// conn.feed("ping\n");
/// assert_eq!(reader.readline().await?, "ping\n");
/// writer.write("pong\n");
/// writer.drain().await?;
/// conn.settle().await;
/// assert_eq!(conn.written(), "pong\n");
/// # Ok(()) }
/// ```
pub struct StreamReaderProtocol {
    reader: StreamReader,
    conn: Arc<ConnShared>,
    on_connect: Option<OnConnect>,
}

impl StreamReaderProtocol {
    /// A protocol with a fresh reader of the given limit.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `limit` is 0.
    pub fn new(limit: usize) -> Result<Self> {
        Ok(StreamReaderProtocol {
            reader: StreamReader::new(limit)?,
            conn: Arc::default(),
            on_connect: None,
        })
    }

    /// A handle to the reader this protocol feeds.
    pub fn reader(&self) -> StreamReader {
        self.reader.clone()
    }

    /// A writer for `transport` (the transport this protocol runs on).
    pub fn writer(&self, transport: &Transport) -> StreamWriter {
        StreamWriter {
            transport: transport.clone(),
            reader: self.reader.clone(),
            conn: self.conn.clone(),
        }
    }
}

impl BaseProtocol for StreamReaderProtocol {
    fn connection_made(&mut self, transport: &Transport) {
        self.reader.set_transport(transport);
        if let Some(on_connect) = self.on_connect.take() {
            on_connect(self.reader.clone(), self.writer(transport));
        }
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        match &exc {
            None => self.reader.feed_eof(),
            Some(e) => self.reader.set_exception(e.clone()),
        }
        let mut state = lock(&self.conn.state);
        state.lost = true;
        state.paused = false;
        state.error = exc;
        state.wake_all();
    }

    fn pause_writing(&mut self) {
        let mut state = lock(&self.conn.state);
        state.paused = true;
        state.wake_all();
    }

    fn resume_writing(&mut self) {
        let mut state = lock(&self.conn.state);
        state.paused = false;
        state.wake_all();
    }
}

impl Protocol for StreamReaderProtocol {
    fn data_received(&mut self, data: Bytes) {
        self.reader.feed_data(data);
    }

    fn eof_received(&mut self) -> bool {
        self.reader.feed_eof();
        // The reader holds the current transport (it changes after start_tls).
        self.reader
            .lock()
            .transport
            .as_ref()
            .is_some_and(Transport::can_write_eof)
    }
}

impl fmt::Debug for StreamReaderProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReaderProtocol")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// StreamWriter
// ---------------------------------------------------------------------------

/// The write half of a stream, like asyncio's `StreamWriter`.
///
/// Writes queue on the transport at once and never block; [`drain`](Self::drain)
/// is where a writer waits for the peer. Share it across tasks with an `Arc`:
/// every method takes `&self`, and many tasks may await `drain` at once.
///
/// Dropping the writer closes the transport (flushing what was written), like
/// asyncio's `StreamWriter.__del__`.
///
/// # Examples
///
/// ```
/// use aioproto::{open_connection, start_server};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let server = start_server(
///     |reader, writer| async move {
///         while let Some(line) = reader.next_line().await? {
///             writer.write(line);
///             writer.drain().await?;
///         }
///         Ok(())
///     },
///     "127.0.0.1",
///     0,
/// )
/// .await?;
/// let port = server.local_addrs()[0].port();
/// let (reader, writer) = open_connection("127.0.0.1", port).await?;
/// writer.write("hello\n");
/// assert_eq!(reader.readline().await?, "hello\n");
/// writer.close();
/// writer.wait_closed().await?;
/// server.close();
/// # Ok(()) }
/// ```
pub struct StreamWriter {
    transport: Transport,
    reader: StreamReader,
    conn: Arc<ConnShared>,
}

impl StreamWriter {
    /// Queues `data` on the transport; see [`Transport::write`].
    pub fn write(&self, data: impl Into<Bytes>) {
        self.transport.write(data);
    }

    /// Queues several chunks; they leave in one vectored write.
    pub fn writelines<I>(&self, chunks: I)
    where
        I: IntoIterator,
        I::Item: Into<Bytes>,
    {
        self.transport.writelines(chunks);
    }

    /// Half-closes after the buffer is flushed; reading goes on.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] over TLS (see [`can_write_eof`](Self::can_write_eof)).
    pub fn write_eof(&self) -> Result<()> {
        self.transport.write_eof()
    }

    /// Whether [`write_eof`](Self::write_eof) is supported.
    pub fn can_write_eof(&self) -> bool {
        self.transport.can_write_eof()
    }

    /// Closes the transport: flushes, then ends the connection. Not async;
    /// await [`wait_closed`](Self::wait_closed) to know it ended.
    pub fn close(&self) {
        self.transport.close();
    }

    /// True once [`close`](Self::close) was called or the connection ended.
    pub fn is_closing(&self) -> bool {
        self.transport.is_closing()
    }

    /// The transport under the stream.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// `get_extra_info`: addresses, TLS details.
    pub fn extra(&self) -> &ExtraInfo {
        self.transport.extra()
    }

    /// The remote address.
    pub fn peername(&self) -> Option<std::net::SocketAddr> {
        self.transport.peername()
    }

    /// The local address.
    pub fn sockname(&self) -> Option<std::net::SocketAddr> {
        self.transport.sockname()
    }

    /// Upgrades the connection to TLS in place, like asyncio's
    /// `StreamWriter.start_tls`: afterwards this writer and its reader speak TLS.
    ///
    /// Streams from a `start_server` variant act as the TLS server (`config`
    /// must be a [`ServerTls`](crate::ServerTls)); from `open_connection`, as
    /// the client (a [`ClientTls`](crate::ClientTls); `server_name` overrides
    /// the name checked against the certificate). What was written is flushed
    /// first. Bytes the reader holds unread at that point are taken to be the
    /// start of the TLS stream (the peer's handshake), not plaintext.
    ///
    /// # Errors
    ///
    /// The errors of [`start_tls`](crate::start_tls): a mismatched `config`
    /// ([`Error::InvalidArgument`]), a closed transport, or the handshake's
    /// failure, after which the connection is closed.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropping it closes the connection.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(mut writer: aioproto::StreamWriter, reader: aioproto::StreamReader)
    /// #     -> aioproto::Result<()> {
    /// writer.write("STARTTLS\r\n");
    /// assert_eq!(reader.readline().await?, "READY\r\n");
    /// writer.start_tls(aioproto::ClientTls::from_ca_file("certs/ca.pem")?, Some("localhost")).await?;
    /// writer.write("now encrypted\n");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub async fn start_tls(
        &mut self,
        config: impl Into<crate::net::tls::TlsConfig>,
        server_name: Option<&str>,
    ) -> Result<()> {
        let reader = self.reader.clone();
        let upgrading = crate::net::tls::start_tls_deferred(
            &self.transport,
            config.into(),
            self.conn.server_side,
            server_name,
            move || reader.lock().buf.take_all(),
        );
        let transport = upgrading.await?;
        self.reader.set_transport(&transport);
        self.transport = transport;
        Ok(())
    }

    /// The flow-control check shared by `drain`, `poll_write` and `poll_flush`.
    /// `Ready(Ok)` means "go on writing".
    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if let Some(exc) = self.reader.exception() {
            return Poll::Ready(Err(exc));
        }
        let mut state = lock(&self.conn.state);
        if state.lost {
            return Poll::Ready(Err(lost_error()));
        }
        let closing = self.transport.is_closing();
        if closing || state.paused {
            // Closing: wait for connection_lost, then fail like asyncio.
            // Paused: wait for resume_writing (or the loss).
            state.register(cx.waker());
            return Poll::Pending;
        }
        drop(state);
        // Over the mark but not paused yet: the driver either pauses us or
        // flushes below the mark, and the transport wakes drain waiters in both cases.
        self.transport.poll_drain(cx).map_err(|_| lost_error())
    }

    /// Waits until it is fine to write more: returns at once unless the write
    /// buffer is over its high-water mark, then waits for it to drain to the
    /// low mark. Any number of tasks may wait at once.
    ///
    /// # Errors
    ///
    /// The connection's failure if it failed; an I/O `ConnectionReset`
    /// ("connection lost") if the connection ended, or ends while waiting,
    /// including after [`close`](Self::close).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn drain(&self) -> Result<()> {
        poll_fn(|cx| self.poll_drain(cx)).await
    }

    /// Waits until the connection has ended (`connection_lost` ran).
    ///
    /// # Errors
    ///
    /// The error `connection_lost` got, if any.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn wait_closed(&self) -> Result<()> {
        poll_fn(|cx| {
            let mut state = lock(&self.conn.state);
            if state.lost {
                return Poll::Ready(state.error.clone().map_or(Ok(()), Err));
            }
            state.register(cx.waker());
            Poll::Pending
        })
        .await
    }
}

fn lost_error() -> Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "connection lost").into()
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        self.transport.close();
    }
}

impl AsyncWrite for StreamWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.transport.is_closing() {
            let err = self.reader.exception().unwrap_or_else(lost_error);
            return Poll::Ready(Err(err.into_io()));
        }
        match self.poll_drain(cx) {
            Poll::Ready(Ok(())) => {
                self.transport.write_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into_io())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if lock(&self.conn.state).lost && self.reader.exception().is_none() {
            return Poll::Ready(Ok(()));
        }
        self.poll_drain(cx).map_err(Error::into_io)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.transport.can_write_eof() {
            self.transport.write_eof().map_err(Error::into_io)?;
        } else {
            self.transport.close();
        }
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamWriter")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// open_connection / start_server
// ---------------------------------------------------------------------------

/// Connects to `host:port` and returns a reader and a writer, like asyncio's
/// `open_connection` (default limit 64 KiB, default [`ConnectOptions`]).
///
/// # Errors
///
/// The errors of [`create_connection`].
///
/// # Cancel safety
///
/// Cancelling it before it returns closes any socket it opened.
///
/// # Examples
///
/// See [`StreamWriter`].
pub async fn open_connection(host: &str, port: u16) -> Result<(StreamReader, StreamWriter)> {
    open_connection_with(host, port, &ConnectOptions::new(), DEFAULT_LIMIT).await
}

/// [`open_connection`] with connect options (TLS once enabled, timeouts, …)
/// and a reader limit.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `limit` is 0; the errors of [`create_connection`].
///
/// # Cancel safety
///
/// Cancelling it before it returns closes any socket it opened.
pub async fn open_connection_with(
    host: &str,
    port: u16,
    options: &ConnectOptions,
    limit: usize,
) -> Result<(StreamReader, StreamWriter)> {
    let protocol = StreamReaderProtocol::new(limit)?;
    let (transport, protocol) = create_connection(|| protocol, host, port, options).await?;
    let p = lock(&protocol);
    Ok((p.reader(), p.writer(&transport)))
}

/// Starts a server that runs `client_connected` for each connection with its
/// reader and writer, like asyncio's `start_server` (default limit 64 KiB,
/// default [`ServerOptions`]).
///
/// Each call runs in its own tokio task. If it returns an error (other than
/// [`Error::Cancelled`]) or panics, the error is logged as `Unhandled exception
/// in client_connected_cb` and the connection is closed; the server goes on.
/// When it returns, its writer is dropped, which closes the connection (keep
/// the writer elsewhere to keep it open).
///
/// # Errors
///
/// The errors of [`create_server`].
///
/// # Cancel safety
///
/// Cancelling it before it returns closes every socket it bound.
///
/// # Examples
///
/// See [`StreamWriter`].
pub async fn start_server<F, Fut>(
    client_connected: F,
    host: impl Into<Hosts>,
    port: u16,
) -> Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    start_server_with(
        client_connected,
        host,
        port,
        &ServerOptions::new(),
        DEFAULT_LIMIT,
    )
    .await
}

/// [`start_server`] with server options (TLS once enabled, backlog, …) and a
/// reader limit.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `limit` is 0; the errors of [`create_server`].
///
/// # Cancel safety
///
/// Cancelling it before it returns closes every socket it bound.
pub async fn start_server_with<F, Fut>(
    client_connected: F,
    host: impl Into<Hosts>,
    port: u16,
    options: &ServerOptions,
    limit: usize,
) -> Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    create_server(
        stream_factory(client_connected, limit)?,
        host,
        port,
        options,
    )
    .await
}

/// Connects to the Unix socket at `path` and returns a reader and a writer,
/// like asyncio's `open_unix_connection` (default limit 64 KiB).
///
/// # Errors
///
/// The errors of [`create_unix_connection`](crate::create_unix_connection).
///
/// # Cancel safety
///
/// Cancelling it before it returns closes the socket.
///
/// # Examples
///
/// ```
/// use aioproto::{open_unix_connection, start_unix_server};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let path = std::env::temp_dir().join(format!("aioproto-streams-{}.sock", std::process::id()));
/// let server = start_unix_server(
///     |reader, writer| async move {
///         writer.write(reader.readline().await?);
///         Ok(())
///     },
///     &path,
/// )
/// .await?;
/// let (reader, writer) = open_unix_connection(&path).await?;
/// writer.write("over a unix socket\n");
/// assert_eq!(reader.readline().await?, "over a unix socket\n");
/// server.close();
/// # Ok(()) }
/// ```
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn open_unix_connection(
    path: impl AsRef<std::path::Path>,
) -> Result<(StreamReader, StreamWriter)> {
    open_unix_connection_with(path, DEFAULT_LIMIT).await
}

/// [`open_unix_connection`] with a reader limit.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `limit` is 0; the errors of
/// [`create_unix_connection`](crate::create_unix_connection).
///
/// # Cancel safety
///
/// Cancelling it before it returns closes the socket.
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn open_unix_connection_with(
    path: impl AsRef<std::path::Path>,
    limit: usize,
) -> Result<(StreamReader, StreamWriter)> {
    let protocol = StreamReaderProtocol::new(limit)?;
    let (transport, protocol) = crate::net::unix::create_unix_connection(|| protocol, path).await?;
    let p = lock(&protocol);
    Ok((p.reader(), p.writer(&transport)))
}

/// Starts a Unix socket server that runs `client_connected` per connection,
/// like asyncio's `start_unix_server` (default limit 64 KiB); see
/// [`start_server`] for how the callback runs.
///
/// # Errors
///
/// The errors of [`create_unix_server`](crate::create_unix_server).
///
/// # Cancel safety
///
/// Cancelling it before it returns closes the socket it bound.
///
/// # Examples
///
/// See [`open_unix_connection`].
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn start_unix_server<F, Fut>(
    client_connected: F,
    path: impl AsRef<std::path::Path>,
) -> Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    start_unix_server_with(client_connected, path, &ServerOptions::new(), DEFAULT_LIMIT).await
}

/// [`start_unix_server`] with server options and a reader limit.
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `limit` is 0; the errors of
/// [`create_unix_server`](crate::create_unix_server).
///
/// # Cancel safety
///
/// Cancelling it before it returns closes the socket it bound.
#[cfg(feature = "unix")]
#[cfg_attr(docsrs, doc(cfg(feature = "unix")))]
pub async fn start_unix_server_with<F, Fut>(
    client_connected: F,
    path: impl AsRef<std::path::Path>,
    options: &ServerOptions,
    limit: usize,
) -> Result<Server>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    crate::net::unix::create_unix_server(stream_factory(client_connected, limit)?, path, options)
        .await
}

/// The protocol factory behind every `start_server` variant.
pub(crate) fn stream_factory<F, Fut>(
    client_connected: F,
    limit: usize,
) -> Result<impl Fn() -> StreamReaderProtocol + Send + Sync + 'static>
where
    F: Fn(StreamReader, StreamWriter) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    StreamReader::new(limit)?;
    let callback = Arc::new(client_connected);
    Ok(move || {
        let callback = callback.clone();
        let mut protocol = StreamReaderProtocol {
            reader: StreamReader::build(limit),
            conn: Arc::new(ConnShared {
                server_side: true,
                ..ConnShared::default()
            }),
            on_connect: None,
        };
        protocol.on_connect = Some(Box::new(move |reader, writer| {
            let transport = writer.transport().clone();
            let task = CatchUnwind::new("client_connected_cb", callback(reader, writer));
            tokio::spawn(async move {
                let failure = match task.await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) if e.is_cancelled() => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(panic) => Some(panic.to_string()),
                };
                if let Some(failure) = failure {
                    tracing::error!(error = %failure, "Unhandled exception in client_connected_cb");
                    transport.close();
                }
            });
        }));
        protocol
    })
}

pub(crate) mod chunks;
#[cfg(feature = "process")]
pub(crate) mod process;

#[cfg(test)]
mod tests;
