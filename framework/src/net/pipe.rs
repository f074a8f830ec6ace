//! Pipe transports: [`connect_read_pipe`] and [`connect_write_pipe`], asyncio's
//! `loop.connect_read_pipe()` / `loop.connect_write_pipe()`.
//!
//! Any pipe-like file descriptor works: anonymous pipes, FIFOs, socketpairs,
//! character devices such as a pty master. The descriptor is switched to
//! non-blocking mode (as asyncio does) and owned by the transport's driver task
//! from then on; the protocol is the same [`Protocol`](crate::Protocol) /
//! [`BufferedProtocol`](crate::BufferedProtocol) used over TCP.
//!
//! Behaviour, as in asyncio:
//!
//! * a **read pipe** delivers `data_received` until the writer closes, then
//!   `eof_received` and `connection_lost(None)`, whatever `eof_received`
//!   returns (a pipe has no write side to keep open). `pause_reading` /
//!   `resume_reading` work as on sockets. A pty master whose slave side closed
//!   reports `EIO`; that is treated as EOF.
//! * a **write pipe** has write flow control (`pause_writing` above 64 KiB) and
//!   `write_eof()`, which on a pipe is the same as `close()`: flush, then
//!   `connection_lost(None)`. `abort()` drops the buffer. When the reader goes
//!   away, the transport ends even if it is idle: `connection_lost(None)` with an
//!   empty buffer, `connection_lost(Some(BrokenPipe))` when data was still pending.

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::stat::{SFlag, fstat};
use tokio::io::unix::AsyncFd;
use tokio::io::{Interest, Ready};
use tokio::net::unix::pipe;

use crate::error::{Error, Result};
use crate::transport::dispatch::IntoHandler;
use crate::transport::io::{StreamIo, poll_read_into_slice};
use crate::transport::start::{ConnectionConfig, MadeOn, start_protocol};
use crate::transport::{Capabilities, ExtraInfo, Transport, write_buffer};

/// Something that owns a pipe-like file descriptor and can give it up:
/// what [`connect_read_pipe`] and [`connect_write_pipe`] accept.
///
/// Implemented for [`OwnedFd`], [`File`] (a FIFO opened with `File::open`),
/// `std::os::unix::net::UnixStream` (one end of a socketpair), std's
/// `PipeReader`/`PipeWriter` and child pipes, and tokio's
/// [`pipe::Sender`]/[`pipe::Receiver`]. Implement it for your own fd owners.
///
/// # Examples
///
/// ```
/// use aioproto::IntoPipeFd;
///
/// let (reader, _writer) = std::io::pipe()?;
/// let fd = reader.into_pipe_fd()?;
/// # let _ = fd;
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait IntoPipeFd {
    /// Gives up the descriptor.
    ///
    /// # Errors
    ///
    /// Whatever the owner reports when it cannot hand the descriptor over
    /// (tokio's pipes deregister from the reactor first).
    fn into_pipe_fd(self) -> io::Result<OwnedFd>;
}

macro_rules! into_owned_fd {
    ($($ty:ty),* $(,)?) => {$(
        impl IntoPipeFd for $ty {
            fn into_pipe_fd(self) -> io::Result<OwnedFd> {
                Ok(OwnedFd::from(self))
            }
        }
    )*};
}

into_owned_fd!(
    OwnedFd,
    File,
    std::os::unix::net::UnixStream,
    std::io::PipeReader,
    std::io::PipeWriter,
    std::process::ChildStdin,
    std::process::ChildStdout,
    std::process::ChildStderr,
);

impl IntoPipeFd for pipe::Sender {
    fn into_pipe_fd(self) -> io::Result<OwnedFd> {
        self.into_nonblocking_fd()
    }
}

impl IntoPipeFd for pipe::Receiver {
    fn into_pipe_fd(self) -> io::Result<OwnedFd> {
        self.into_nonblocking_fd()
    }
}

/// Connects a protocol to the read end of a pipe, like asyncio's
/// `loop.connect_read_pipe(protocol_factory, pipe)`.
///
/// Calls `connection_made` before returning, then a driver task on the current
/// tokio runtime delivers `data_received` until EOF, then `eof_received`, then
/// `connection_lost(None)`. The returned [`Transport`] is read-only: writes are
/// dropped and logged. [`Transport::close`] stops reading and ends the
/// transport with `connection_lost(None)`.
///
/// Returns the transport and the protocol (shared with the driver).
///
/// # Errors
///
/// * [`Error::InvalidArgument`] if `pipe` is not a pipe, FIFO, socket or
///   character device, or cannot be polled (regular files, `/dev/null`);
/// * [`Error::Io`] if the descriptor cannot be made non-blocking or registered;
/// * [`Error::CallbackPanicked`] if `connection_made` panicked (the protocol
///   then also got `connection_lost`).
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, connect_read_pipe};
/// use bytes::Bytes;
/// use std::io::Write;
///
/// #[derive(Default)]
/// struct Collect(Vec<u8>);
/// impl BaseProtocol for Collect {}
/// impl Protocol for Collect {
///     fn data_received(&mut self, data: Bytes) {
///         self.0.extend_from_slice(&data);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (reader, mut writer) = std::io::pipe()?;
/// let (transport, protocol) = connect_read_pipe(Collect::default, reader)?;
/// writer.write_all(b"hello")?;
/// drop(writer); // EOF: eof_received, then connection_lost(None)
/// while !transport.is_closing() {
///     tokio::task::yield_now().await;
/// }
/// # tokio::time::sleep(std::time::Duration::from_millis(10)).await;
/// assert_eq!(protocol.lock().unwrap().0, b"hello");
/// # Ok(()) }
/// ```
pub fn connect_read_pipe<F, P, M>(
    factory: F,
    pipe: impl IntoPipeFd,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    let (io, transport) = read_pipe(pipe.into_pipe_fd()?)?;
    start_protocol(
        io,
        transport,
        factory,
        ConnectionConfig::new(MadeOn::Caller),
    )
}

/// Connects a protocol to the write end of a pipe, like asyncio's
/// `loop.connect_write_pipe(protocol_factory, pipe)`.
///
/// Calls `connection_made` before returning. Writes are buffered and flushed by
/// a driver task with the usual flow control (`pause_writing` above 64 KiB,
/// `resume_writing` at 16 KiB). [`Transport::close`] and
/// [`Transport::write_eof`] flush and then close the pipe;
/// [`Transport::abort`] drops what is buffered. If the reading end closes, the
/// transport ends on its own, even while idle: `connection_lost(None)` when
/// nothing was pending, `connection_lost(Some(err))` with a broken-pipe
/// [`Error::Io`] when data was.
///
/// # Errors
///
/// As [`connect_read_pipe`].
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, Transport, connect_write_pipe};
/// use std::io::Read;
///
/// struct Hello;
/// impl BaseProtocol for Hello {
///     fn connection_made(&mut self, transport: &Transport) {
///         transport.write("hello");
///         transport.close(); // flushes first
///     }
/// }
/// impl Protocol for Hello {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (mut reader, writer) = std::io::pipe()?;
/// connect_write_pipe(|| Hello, writer)?;
/// let got = tokio::task::spawn_blocking(move || {
///     let mut s = String::new();
///     reader.read_to_string(&mut s).map(|_| s)
/// })
/// .await??;
/// assert_eq!(got, "hello");
/// # Ok(()) }
/// ```
pub fn connect_write_pipe<F, P, M>(
    factory: F,
    pipe: impl IntoPipeFd,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    let (io, transport) = write_pipe(pipe.into_pipe_fd()?)?;
    start_protocol(
        io,
        transport,
        factory,
        ConnectionConfig::new(MadeOn::Caller),
    )
}

/// Capabilities of a read pipe: reads, never writes; EOF always closes.
const READ_PIPE: Capabilities = Capabilities {
    can_write_eof: false,
    eof_keeps_open: false,
    readable: true,
    writable: false,
    default_high_water: write_buffer::DEFAULT_HIGH_WATER,
};

/// Capabilities of a write pipe: writes, never reads; `write_eof` closes.
const WRITE_PIPE: Capabilities = Capabilities {
    can_write_eof: true,
    eof_keeps_open: false,
    readable: false,
    writable: true,
    default_high_water: write_buffer::DEFAULT_HIGH_WATER,
};

/// Checks the descriptor's type and makes it non-blocking.
fn prepare(fd: &OwnedFd) -> Result<i32> {
    let stat = fstat(fd.as_fd()).map_err(io::Error::from)?;
    let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
    if ![SFlag::S_IFIFO, SFlag::S_IFSOCK, SFlag::S_IFCHR].contains(&kind) {
        return Err(Error::invalid_argument(
            "pipe transports are for pipes, FIFOs, sockets and character devices only",
        ));
    }
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags);
    if !flags.contains(OFlag::O_NONBLOCK) {
        fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
    }
    Ok(std::os::fd::AsRawFd::as_raw_fd(fd))
}

/// epoll refuses some character devices (`/dev/null`) with `EPERM`.
fn not_pollable(err: io::Error) -> Error {
    if err.raw_os_error() == Some(nix::libc::EPERM) {
        Error::invalid_argument("this file descriptor cannot be polled (e.g. /dev/null)")
    } else {
        err.into()
    }
}

fn pipe_extra(caps: Capabilities, raw: i32) -> ExtraInfo {
    let mut extra = ExtraInfo::new(caps);
    extra.pipe_fd = Some(raw);
    extra
}

/// Wraps a read end for a driver.
pub(crate) fn read_pipe(fd: OwnedFd) -> Result<(Box<dyn StreamIo>, Transport)> {
    let raw = prepare(&fd)?;
    let tty = nix::unistd::isatty(fd.as_fd()).unwrap_or(false);
    let rx = pipe::Receiver::from_owned_fd_unchecked(fd).map_err(not_pollable)?;
    let transport = Transport::new(pipe_extra(READ_PIPE, raw), None);
    Ok((Box::new(ReadPipe { rx, tty }), transport))
}

/// Wraps a write end for a driver.
pub(crate) fn write_pipe(fd: OwnedFd) -> Result<(Box<dyn StreamIo>, Transport)> {
    let raw = prepare(&fd)?;
    // `with_interest` is deprecated because a `T` whose `AsRawFd` may change or
    // close behind the registration is unsound; a `File` owns its descriptor
    // for its whole life, so that cannot happen here.
    #[allow(deprecated)]
    let fd = AsyncFd::with_interest(File::from(fd), Interest::WRITABLE).map_err(not_pollable)?;
    let transport = Transport::new(pipe_extra(WRITE_PIPE, raw), None);
    Ok((Box::new(WritePipe { fd }), transport))
}

/// The read end: tokio's pipe receiver reads into uninitialised spare capacity.
struct ReadPipe {
    rx: pipe::Receiver,
    /// A terminal reports the far side's close as `EIO`, which means EOF here.
    tty: bool,
}

impl ReadPipe {
    fn eof_on_tty_eio(&self, outcome: io::Result<usize>) -> io::Result<usize> {
        match outcome {
            Err(e) if self.tty && e.raw_os_error() == Some(nix::libc::EIO) => Ok(0),
            other => other,
        }
    }
}

fn not_writable() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "read pipe transports cannot write",
    )
}

fn not_readable() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "write pipe transports cannot read",
    )
}

impl StreamIo for ReadPipe {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        let outcome = ready!(crate::transport::io::poll_read_buf(
            Pin::new(&mut self.rx),
            cx,
            buf
        ));
        Poll::Ready(self.eof_on_tty_eio(outcome))
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let outcome = ready!(poll_read_into_slice(&mut self.rx, cx, buf));
        Poll::Ready(self.eof_on_tty_eio(outcome))
    }

    fn poll_write_vectored(
        &mut self,
        _: &mut Context<'_>,
        _: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(not_writable()))
    }

    fn poll_write_eof(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Err(not_writable()))
    }
}

/// The write end, polled by hand so that an idle writer can watch for the
/// reader closing (epoll reports `EPOLLERR`/`EPOLLHUP` on the write end).
///
/// Writes always try the syscall first and consult readiness only after
/// `EAGAIN`, so clearing a stale "writable" while idle never loses a wake-up.
struct WritePipe {
    fd: AsyncFd<File>,
}

impl StreamIo for WritePipe {
    fn poll_read_buf(&mut self, _: &mut Context<'_>, _: &mut BytesMut) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(not_readable()))
    }

    fn poll_read_slice(&mut self, _: &mut Context<'_>, _: &mut [u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(not_readable()))
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.fd.get_ref().write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                outcome => return Poll::Ready(outcome),
            }
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            // The kernel said "full" after the last readiness event: forget it, and
            // try again (an event that arrived meanwhile makes the write succeed).
            guard.clear_ready_matching(Ready::WRITABLE);
        }
    }

    fn poll_write_eof(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Dropping the descriptor is the EOF; the transport closes right after.
        Poll::Ready(Ok(()))
    }

    fn poll_peer_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let mut guard = match ready!(self.fd.poll_write_ready(cx)) {
                Ok(guard) => guard,
                Err(_) => return Poll::Ready(()),
            };
            if guard.ready().is_write_closed() || guard.ready().is_error() {
                return Poll::Ready(());
            }
            // Plain "writable" says nothing here: drop it and wait for the next event.
            guard.clear_ready_matching(Ready::WRITABLE);
        }
    }
}

impl fmt::Debug for ReadPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadPipe")
            .field("tty", &self.tty)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WritePipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritePipe").finish_non_exhaustive()
    }
}
