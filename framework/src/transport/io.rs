//! The byte-stream trait a driver runs ([`StreamIo`]) and its adapter for any
//! tokio socket ([`AsyncIo`]).
//!
//! TCP and Unix sockets come in through [`AsyncIo`], any other tokio stream
//! through [`ForeignIo`]; TLS, pipes and the in-memory test stream implement
//! [`StreamIo`] themselves.

use std::io;
use std::io::IoSlice;
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::transport::driver::READ_SIZE;
use crate::transport::sendfile::ZeroCopyTarget;

/// A byte stream a driver can run: TCP, Unix, TLS, pipes.
///
/// Object-safe so that `start_tls` can take the stream back from a driver and
/// wrap it. A driver is generic over its io: plain TCP runs its `AsyncIo`
/// inline (no box, no dyn calls on the hot path), everything else a
/// `Box<dyn StreamIo>`, which forwards every method.
pub(crate) trait StreamIo: Send + Unpin + 'static {
    /// Reads into the spare capacity of `buf`, at most [`READ_SIZE`] bytes
    /// (use [`poll_read_buf`]); `Ok(0)` is EOF.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>>;

    /// Waits until a read may find bytes, registering for the wake-up as a
    /// read that would block does. The driver asks this instead of reading
    /// when its last read came back short: tokio then cleared the socket's
    /// readiness (epoll is edge-triggered, so a short read drained the
    /// socket), and the read that would only hear `Pending` costs more
    /// than the readiness check. `Ready` when the stream cannot tell: the
    /// read itself then waits.
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Reads into a caller's slice (for `BufferedProtocol`).
    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Writes some of `bufs`.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;

    /// Pushes out bytes the stream itself still holds after accepting a write
    /// (TLS records waiting for the socket). Plain sockets hold none.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Whether [`poll_flush`](Self::poll_flush) can have work to do; a
    /// driver that hears `false` never calls it (one dyn call less per write).
    fn holds_written_bytes(&self) -> bool {
        true
    }

    /// Sends EOF on the write side (TCP FIN).
    fn poll_write_eof(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Graceful-close work after the buffer is flushed (TLS: close_notify). Plain
    /// sockets have none: dropping them sends FIN.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// The socket under the stream, for socket options; `None` for pipes.
    fn socket(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Zero-copy `sendfile(2)` of up to `count` bytes of `file` from
    /// `*offset`, which advances by what went out, once the socket is
    /// writable. `None`: this stream cannot (TLS, pipes, streams of other
    /// libraries), and the caller falls back to reads and writes.
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: BorrowedFd<'_>,
        offset: &mut u64,
        count: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        let _ = (cx, file, offset, count);
        None
    }

    /// For write-only streams (write pipes): ready once the reading end went
    /// away, so an idle writer notices without writing. The driver polls it
    /// only while nothing is buffered. Other streams never complete it.
    fn poll_peer_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let _ = cx;
        Poll::Pending
    }

    /// The stream as a trait object (to hand to `start_tls`); a box is
    /// passed on as it is.
    fn into_boxed(self) -> Box<dyn StreamIo>
    where
        Self: Sized,
    {
        Box::new(self)
    }
}

/// Every method forwards, the defaulted ones too: a default here would
/// silently replace the boxed stream's own (TLS's `poll_flush`, say).
impl StreamIo for Box<dyn StreamIo> {
    #[inline]
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        (**self).poll_read_buf(cx, buf)
    }

    #[inline]
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_read_ready(cx)
    }

    #[inline]
    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        (**self).poll_read_slice(cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        (**self).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_flush(cx)
    }

    fn holds_written_bytes(&self) -> bool {
        (**self).holds_written_bytes()
    }

    fn poll_write_eof(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_write_eof(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_close(cx)
    }

    fn socket(&self) -> Option<BorrowedFd<'_>> {
        (**self).socket()
    }

    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: BorrowedFd<'_>,
        offset: &mut u64,
        count: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        (**self).poll_sendfile(cx, file, offset, count)
    }

    fn poll_peer_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        (**self).poll_peer_closed(cx)
    }

    fn into_boxed(self) -> Box<dyn StreamIo> {
        self
    }
}

/// What a tokio socket offers past `AsyncRead`/`AsyncWrite`: a read and a
/// write that try first, and its read readiness on its own.
pub(crate) trait SocketIo {
    /// Reads into the spare capacity of `buf`, at most [`READ_SIZE`] bytes,
    /// once the socket is readable; `Ok(0)` is EOF. Tries the read first,
    /// as [`poll_write_now`](Self::poll_write_now) does the write: tokio's
    /// `poll_read` asks the cooperative budget and the readiness first, about
    /// 40 instructions more per read.
    fn poll_read_now(&self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>>;

    /// Writes some of `bufs` when the socket is writable. Tries the write
    /// first and waits for readiness only if it would block: tokio's
    /// `poll_write` asks the task's cooperative budget and the readiness
    /// on every call, which costs an echo request about 80 instructions
    /// more (the driver bounds its own work per poll).
    fn poll_write_now(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>])
    -> Poll<io::Result<usize>>;

    /// The socket's own `poll_read_ready` (see [`StreamIo::poll_read_ready`]).
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// `SocketIo` for a tokio socket type (the methods are each type's own).
macro_rules! socket_io {
    ($socket:ty) => {
        impl SocketIo for $socket {
            #[inline]
            fn poll_read_now(
                &self,
                cx: &mut Context<'_>,
                buf: &mut BytesMut,
            ) -> Poll<io::Result<usize>> {
                let room = (buf.capacity() - buf.len()).min(READ_SIZE);
                loop {
                    // A read that fills less than its room drained the
                    // socket (epoll is edge-triggered). The outer `try_io`
                    // then clears the readiness it saw before the read, as
                    // tokio's own `poll_read` does, so the driver's next
                    // look (`poll_read_ready`) waits for the peer instead
                    // of a read that costs an `EAGAIN` syscall. Readiness
                    // that arrived meanwhile has a newer tick and is kept.
                    let mut got = 0;
                    let outcome = self.try_io(Interest::READABLE, || {
                        got = self.try_read_buf(&mut (&mut *buf).limit(READ_SIZE))?;
                        if got > 0 && got < room {
                            Err(io::ErrorKind::WouldBlock.into())
                        } else {
                            Ok(got)
                        }
                    });
                    // Bytes read: whatever the outcome says (`Ok`, or the
                    // `WouldBlock` above), they are the answer. That
                    // `WouldBlock` is a simple error, which owns nothing:
                    // forgetting it skips a destructor that would decode
                    // its kind first (about 20 instructions a read).
                    if got > 0 {
                        std::mem::forget(outcome);
                        return Poll::Ready(Ok(got));
                    }
                    match outcome {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            ready!(self.poll_read_ready(cx))?;
                        }
                        outcome => return Poll::Ready(outcome),
                    }
                }
            }

            #[inline]
            fn poll_write_now(
                &self,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                loop {
                    // The write is rustix's `writev`, a direct system call.
                    // std's (through tokio and mio) goes through libc,
                    // whose wrapper of a cancellation point turns
                    // cancellation on and off around the call once the
                    // process has a second thread: about 30 instructions
                    // a write on a multi-thread runtime or with workers.
                    // Reads stay tokio's: reading into a `BytesMut`'s spare
                    // room needs `unsafe` to mark the bytes initialised.
                    match self.try_io(Interest::WRITABLE, || {
                        rustix::io::writev(self, bufs).map_err(io::Error::from)
                    }) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            ready!(self.poll_write_ready(cx))?;
                        }
                        outcome => return Poll::Ready(outcome),
                    }
                }
            }

            #[inline]
            fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_read_ready(cx)
            }
        }
    };
}

socket_io!(tokio::net::TcpStream);
#[cfg(feature = "unix")]
socket_io!(tokio::net::UnixStream);

/// Any tokio `AsyncRead + AsyncWrite` stream whose `poll_shutdown` half-closes
/// and that `sendfile(2)` can write to: TCP and Unix sockets.
pub(crate) struct AsyncIo<S>(pub(crate) S);

impl<S> StreamIo for AsyncIo<S>
where
    S: AsyncRead + AsyncWrite + ZeroCopyTarget + SocketIo + Unpin + Send + 'static,
{
    #[inline]
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        self.0.poll_read_now(cx, buf)
    }

    #[inline]
    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_readable(cx)
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read_into_slice(&mut self.0, cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_now(cx, bufs)
    }

    /// A TCP or Unix socket's writes go straight to the kernel.
    fn holds_written_bytes(&self) -> bool {
        false
    }

    fn poll_write_eof(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn socket(&self) -> Option<BorrowedFd<'_>> {
        Some(self.0.as_fd())
    }

    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: BorrowedFd<'_>,
        offset: &mut u64,
        count: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        Some(self.0.poll_sendfile(cx, file, offset, count))
    }
}

/// Any other tokio `AsyncRead + AsyncWrite` stream (a duplex pipe, a stream
/// of another library): no socket options, its own `poll_flush`, and
/// `poll_shutdown` as both half-close and graceful close (so a stream that
/// ends with a message of its own, such as a foreign TLS stream, sends it).
pub(crate) struct ForeignIo<S> {
    stream: S,
    /// `poll_shutdown` completed (by `write_eof()`): the close has nothing left to send.
    shut_down: bool,
}

impl<S> ForeignIo<S> {
    pub(crate) fn new(stream: S) -> Self {
        ForeignIo {
            stream,
            shut_down: false,
        }
    }
}

impl<S> StreamIo for ForeignIo<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        poll_read_buf(Pin::new(&mut self.stream), cx, buf)
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read_into_slice(&mut self.stream, cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_write_eof(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.stream).poll_shutdown(cx))?;
        self.shut_down = true;
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut_down {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_eof(cx)
    }
}

/// A stream whose first reads return bytes read from it already (what
/// followed a PROXY protocol header in the same read, what a `start_tls`
/// caller read before the upgrade), then read the stream.
pub(crate) struct Prefixed {
    prefix: Bytes,
    io: Box<dyn StreamIo>,
}

impl Prefixed {
    /// `io` with `prefix` in front; `io` itself when there is nothing to replay.
    pub(crate) fn wrap(io: Box<dyn StreamIo>, prefix: Bytes) -> Box<dyn StreamIo> {
        if prefix.is_empty() {
            io
        } else {
            Box::new(Prefixed { prefix, io })
        }
    }

    /// Copies as much of the prefix as fits into `dst`.
    fn take_prefix(&mut self, room: usize, dst: impl FnOnce(&[u8])) -> usize {
        let n = self.prefix.len().min(room);
        dst(&self.prefix[..n]);
        self.prefix.advance(n);
        n
    }
}

impl StreamIo for Prefixed {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        if self.prefix.is_empty() {
            return self.io.poll_read_buf(cx, buf);
        }
        let room = (buf.capacity() - buf.len()).min(READ_SIZE);
        let room = if room == 0 { self.prefix.len() } else { room };
        Poll::Ready(Ok(self.take_prefix(room, |p| buf.extend_from_slice(p))))
    }

    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            self.io.poll_read_ready(cx)
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.prefix.is_empty() || buf.is_empty() {
            return self.io.poll_read_slice(cx, buf);
        }
        let room = buf.len();
        Poll::Ready(Ok(
            self.take_prefix(room, |p| buf[..p.len()].copy_from_slice(p))
        ))
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_flush(cx)
    }

    fn holds_written_bytes(&self) -> bool {
        self.io.holds_written_bytes()
    }

    fn poll_write_eof(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_write_eof(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_close(cx)
    }

    fn socket(&self) -> Option<BorrowedFd<'_>> {
        self.io.socket()
    }

    // The prefix is on the read side only: a zero-copy send goes to the
    // stream underneath (a plain socket behind a PROXY header stays zero-copy).
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: BorrowedFd<'_>,
        offset: &mut u64,
        count: usize,
    ) -> Option<Poll<io::Result<usize>>> {
        self.io.poll_sendfile(cx, file, offset, count)
    }

    fn poll_peer_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.io.poll_peer_closed(cx)
    }
}

/// `StreamIo::poll_read_buf` for any tokio reader: reads into the spare
/// capacity of `buf` as it is (no zero-filling), at most [`READ_SIZE`]
/// bytes, whatever that capacity (the driver's buffer is shared by the
/// thread's connections and keeps room for more than one read): one read
/// adds at most that much to what a connection holds.
#[inline]
pub(crate) fn poll_read_buf<R: AsyncRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    tokio_util::io::poll_read_buf(reader, cx, &mut (&mut *buf).limit(READ_SIZE))
}

/// `StreamIo::poll_read_slice` for any tokio reader: reads into `buf` and
/// returns how many bytes arrived (0 at EOF).
pub(crate) fn poll_read_into_slice<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let mut read_buf = ReadBuf::new(buf);
    ready!(Pin::new(reader).poll_read(cx, &mut read_buf))?;
    Poll::Ready(Ok(read_buf.filled().len()))
}
