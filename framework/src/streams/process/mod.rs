//! The high-level child process: [`create_subprocess_exec`],
//! [`create_subprocess_shell`] and [`Process`], asyncio's
//! `asyncio.create_subprocess_exec()` and `asyncio.subprocess.Process`.
//!
//! Built on [`subprocess_exec`]: a private
//! [`SubprocessProtocol`] feeds each output pipe into a [`ProcessReader`] and
//! tracks the stdin pipe's flow control for [`ProcessStdin::drain`]. A reader
//! pauses its pipe while more than twice its limit is buffered, so a child
//! that writes faster than the parent reads is slowed down instead of filling
//! memory. [`Process::communicate`] writes stdin and reads both outputs at the
//! same time, so it cannot deadlock on full pipes.

use std::fmt;
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::net::subprocess::{
    Stdio, SubprocessOptions, SubprocessProtocol, SubprocessTransport, subprocess_exec,
    subprocess_shell,
};
use crate::transport::Transport;
use crate::util::lock;

/// Starts `program` with `args`, like `asyncio.create_subprocess_exec(program, *args)`.
///
/// Streams set to [`Stdio::Pipe`] (the default of [`SubprocessOptions`]; asyncio
/// defaults to inheriting) appear as [`Process::stdin`], [`Process::stdout`]
/// and [`Process::stderr`]. A piped output that nobody reads stops the child
/// once the reader's buffer and the pipe are full: pipe only what you read.
///
/// # Errors
///
/// As [`subprocess_exec`].
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// The child is started without awaiting, so a cancelled call starts nothing.
///
/// # Examples
///
/// ```
/// use aioproto::{Stdio, SubprocessOptions, create_subprocess_exec};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let mut options = SubprocessOptions::new();
/// options.stderr(Stdio::Inherit);
/// let mut proc = create_subprocess_exec("cat", Vec::<&str>::new(), &options).await?;
/// let (out, _) = proc.communicate(Some("some data".into())).await?;
/// assert_eq!(out.unwrap(), "some data");
/// assert_eq!(proc.returncode(), Some(0));
/// # Ok(()) }
/// ```
pub async fn create_subprocess_exec<I, S>(
    program: impl AsRef<std::ffi::OsStr>,
    args: I,
    options: &SubprocessOptions,
) -> Result<Process>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let parts = Parts::new(options);
    let factory = parts.factory();
    let (transport, _) = subprocess_exec(factory, program, args, options).await?;
    Ok(parts.into_process(transport))
}

/// Runs `cmd` with `/bin/sh -c`, like `asyncio.create_subprocess_shell(cmd)`.
///
/// # Errors
///
/// As [`subprocess_shell`].
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// As [`create_subprocess_exec`].
///
/// # Examples
///
/// ```
/// use aioproto::{Stdio, SubprocessOptions, create_subprocess_shell};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let mut options = SubprocessOptions::new();
/// options.stdin(Stdio::Null).stdout(Stdio::Null).stderr(Stdio::Null);
/// let proc = create_subprocess_shell("exit 7", &options).await?;
/// assert_eq!(proc.wait().await?, 7);
/// # Ok(()) }
/// ```
pub async fn create_subprocess_shell(cmd: &str, options: &SubprocessOptions) -> Result<Process> {
    let parts = Parts::new(options);
    let factory = parts.factory();
    let (transport, _) = subprocess_shell(factory, cmd, options).await?;
    Ok(parts.into_process(transport))
}

/// The shared halves made before the child starts.
struct Parts {
    stdin: Option<Arc<WriterShared>>,
    stdout: Option<Arc<ReaderShared>>,
    stderr: Option<Arc<ReaderShared>>,
}

impl Parts {
    fn new(options: &SubprocessOptions) -> Self {
        let reader = |stdio: &Stdio| stdio.is_pipe().then(|| ReaderShared::new(options.limit));
        Parts {
            stdin: options.stdin.is_pipe().then(WriterShared::new),
            stdout: reader(&options.stdout),
            stderr: reader(&options.stderr),
        }
    }

    fn factory(&self) -> impl FnOnce() -> ProcessProtocol + use<> {
        let protocol = ProcessProtocol {
            stdin: self.stdin.clone(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
        };
        move || protocol
    }

    fn into_process(self, transport: SubprocessTransport) -> Process {
        Process {
            stdin: self.stdin.map(|shared| ProcessStdin { shared }),
            stdout: self.stdout.map(|shared| ProcessReader { shared }),
            stderr: self.stderr.map(|shared| ProcessReader { shared }),
            transport,
        }
    }
}

/// A child started by [`create_subprocess_exec`] or [`create_subprocess_shell`],
/// like asyncio's `asyncio.subprocess.Process`.
///
/// # What happens when it drops
///
/// The child goes on; it is reaped when it exits (no zombie). Its piped
/// outputs keep being read into the readers' buffers until they pause, after
/// which the child blocks on a full pipe. Kill it first if that is not wanted.
pub struct Process {
    /// The child's stdin, if it is [`Stdio::Pipe`].
    pub stdin: Option<ProcessStdin>,
    /// The child's stdout, if it is [`Stdio::Pipe`].
    pub stdout: Option<ProcessReader>,
    /// The child's stderr, if it is [`Stdio::Pipe`].
    pub stderr: Option<ProcessReader>,
    transport: SubprocessTransport,
}

impl Process {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.transport.pid()
    }

    /// The exit status once the child exited (minus the signal number if a
    /// signal killed it); `None` while it runs.
    pub fn returncode(&self) -> Option<i32> {
        self.transport.returncode()
    }

    /// The underlying transport.
    pub fn transport(&self) -> &SubprocessTransport {
        &self.transport
    }

    /// Sends signal number `signal`; see [`SubprocessTransport::send_signal`].
    ///
    /// # Errors
    ///
    /// As [`SubprocessTransport::send_signal`] (ESRCH once the child exited).
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        self.transport.send_signal(signal)
    }

    /// Sends SIGTERM.
    ///
    /// # Errors
    ///
    /// As [`SubprocessTransport::send_signal`].
    pub fn terminate(&self) -> Result<()> {
        self.transport.terminate()
    }

    /// Sends SIGKILL.
    ///
    /// # Errors
    ///
    /// As [`SubprocessTransport::send_signal`].
    pub fn kill(&self) -> Result<()> {
        self.transport.kill()
    }

    /// Waits for the child to exit and returns its return code.
    ///
    /// Does not read the pipes: a child that fills a piped output blocks, so
    /// read the outputs or use [`communicate`](Self::communicate).
    ///
    /// # Errors
    ///
    /// As [`SubprocessTransport::wait`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the child is left alone; wait again later.
    pub async fn wait(&self) -> Result<i32> {
        self.transport.wait().await
    }

    /// Writes `input` (if any) to stdin and closes it, reads stdout and stderr
    /// to EOF, all at once, then waits for the exit. Returns what was read from
    /// each piped output (`None` for outputs that are not pipes).
    ///
    /// A child that exits without reading its stdin is fine: the broken pipe is
    /// ignored, as in asyncio.
    ///
    /// # Errors
    ///
    /// * [`Error::InvalidState`]: `input` was given but stdin is not a pipe;
    /// * a read error from an output pipe, or a wait error.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: output read before cancellation is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{SubprocessOptions, create_subprocess_shell};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let mut proc = create_subprocess_shell("tr a-z A-Z; echo oops >&2", &SubprocessOptions::new()).await?;
    /// let (out, err) = proc.communicate(Some("abc".into())).await?;
    /// assert_eq!(out.unwrap(), "ABC");
    /// assert_eq!(err.unwrap(), "oops\n");
    /// # Ok(()) }
    /// ```
    pub async fn communicate(
        &mut self,
        input: Option<Bytes>,
    ) -> Result<(Option<Bytes>, Option<Bytes>)> {
        if input.is_some() && self.stdin.is_none() {
            return Err(Error::invalid_state(
                "communicate(input) needs stdin=Stdio::Pipe",
            ));
        }
        let feed = async {
            let Some(stdin) = &self.stdin else { return };
            if let Some(input) = input {
                stdin.write(input);
                if let Err(e) = stdin.drain().await {
                    // The child exited without reading everything: not an error here.
                    tracing::debug!(error = %e, "communicate(): stdin closed early");
                }
            }
            stdin.close();
        };
        let read = |reader: &Option<ProcessReader>| {
            let reader = reader.clone();
            async move {
                match reader {
                    Some(reader) => reader.read_to_end().await.map(Some),
                    None => Ok(None),
                }
            }
        };
        let ((), out, err) = tokio::join!(feed, read(&self.stdout), read(&self.stderr));
        let (out, err) = (out?, err?);
        self.wait().await?;
        Ok((out, err))
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid())
            .field("returncode", &self.returncode())
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .finish()
    }
}

/// The protocol behind a [`Process`].
struct ProcessProtocol {
    stdin: Option<Arc<WriterShared>>,
    stdout: Option<Arc<ReaderShared>>,
    stderr: Option<Arc<ReaderShared>>,
}

impl ProcessProtocol {
    fn reader(&self, fd: i32) -> Option<&Arc<ReaderShared>> {
        match fd {
            1 => self.stdout.as_ref(),
            2 => self.stderr.as_ref(),
            _ => None,
        }
    }
}

impl SubprocessProtocol for ProcessProtocol {
    fn connection_made(&mut self, transport: &SubprocessTransport) {
        if let Some(stdin) = &self.stdin {
            lock(&stdin.state).transport = transport.get_pipe_transport(0);
        }
        for fd in [1, 2] {
            if let Some(reader) = self.reader(fd) {
                lock(&reader.state).transport = transport.get_pipe_transport(fd);
            }
        }
    }

    fn pipe_data_received(&mut self, fd: i32, data: Bytes) {
        if let Some(reader) = self.reader(fd) {
            reader.feed(data);
        }
    }

    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
        if fd == 0 {
            if let Some(stdin) = &self.stdin {
                let mut state = lock(&stdin.state);
                state.lost = Some(exc);
                drop(state);
                stdin.notify.notify_waiters();
            }
        } else if let Some(reader) = self.reader(fd) {
            reader.finish(exc);
        }
    }

    fn pause_writing(&mut self) {
        if let Some(stdin) = &self.stdin {
            lock(&stdin.state).paused = true;
            stdin.notify.notify_waiters();
        }
    }

    fn resume_writing(&mut self) {
        if let Some(stdin) = &self.stdin {
            lock(&stdin.state).paused = false;
            stdin.notify.notify_waiters();
        }
    }
}

struct ReaderShared {
    state: Mutex<ReaderState>,
    notify: Notify,
    limit: usize,
}

#[derive(Default)]
struct ReaderState {
    buf: BytesMut,
    eof: bool,
    error: Option<Error>,
    paused: bool,
    transport: Option<Transport>,
}

impl ReaderShared {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(ReaderShared {
            state: Mutex::new(ReaderState::default()),
            notify: Notify::new(),
            limit,
        })
    }

    /// Data from the pipe: buffer it, pause the pipe if too much is waiting.
    fn feed(&self, data: Bytes) {
        {
            let mut state = lock(&self.state);
            state.buf.extend_from_slice(&data);
            if !state.paused
                && state.buf.len() > 2 * self.limit
                && let Some(transport) = &state.transport
            {
                transport.pause_reading();
                state.paused = true;
            }
        }
        self.notify.notify_waiters();
    }

    fn finish(&self, exc: Option<Error>) {
        {
            let mut state = lock(&self.state);
            state.eof = true;
            state.error = exc;
        }
        self.notify.notify_waiters();
    }

    /// Waits until `ready` says the state can answer, then lets `take` answer.
    async fn wait_then<R>(
        &self,
        mut ready: impl FnMut(&ReaderState) -> bool,
        take: impl FnOnce(&mut ReaderState) -> R,
    ) -> R {
        loop {
            let mut notified = pin!(self.notify.notified());
            notified.as_mut().enable();
            {
                let mut state = lock(&self.state);
                if ready(&state) {
                    let out = take(&mut state);
                    if state.paused && state.buf.len() <= self.limit {
                        if let Some(transport) = &state.transport {
                            transport.resume_reading();
                        }
                        state.paused = false;
                    }
                    return out;
                }
            }
            notified.await;
        }
    }
}

/// Reads one of the child's outputs, like asyncio's `StreamReader` on
/// `proc.stdout`. Cheap to clone; clones read from the same buffer.
///
/// # Examples
///
/// ```
/// use aioproto::{Stdio, SubprocessOptions, create_subprocess_exec};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let mut options = SubprocessOptions::new();
/// options.stdin(Stdio::Null).stderr(Stdio::Null);
/// let proc = create_subprocess_exec("printf", ["a\\nbc"], &options).await?;
/// let stdout = proc.stdout.as_ref().unwrap();
/// assert_eq!(stdout.readline().await?, "a\n");
/// assert_eq!(stdout.read_exact(2).await?, "bc");
/// assert_eq!(stdout.read(100).await?, ""); // EOF
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ProcessReader {
    shared: Arc<ReaderShared>,
}

impl ProcessReader {
    /// Reads up to `n` bytes: whatever is buffered (at most `n`), waiting for
    /// data if there is none. Returns an empty `Bytes` at EOF (or for `n == 0`).
    ///
    /// # Errors
    ///
    /// The pipe's read error, once the data before it was read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no data is taken unless the call completes.
    pub async fn read(&self, n: usize) -> Result<Bytes> {
        if n == 0 {
            return Ok(Bytes::new());
        }
        self.shared
            .wait_then(
                |s| !s.buf.is_empty() || s.eof,
                |s| {
                    if s.buf.is_empty() {
                        return s.error.take().map_or(Ok(Bytes::new()), Err);
                    }
                    let n = n.min(s.buf.len());
                    Ok(s.buf.split_to(n).freeze())
                },
            )
            .await
    }

    /// Reads everything up to EOF (asyncio's `read(-1)`).
    ///
    /// # Errors
    ///
    /// The pipe's read error; the data read so far is dropped.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: data taken before cancellation is lost.
    pub async fn read_to_end(&self) -> Result<Bytes> {
        let mut all = BytesMut::new();
        loop {
            let chunk = self.read(usize::MAX).await?;
            if chunk.is_empty() {
                return Ok(all.freeze());
            }
            if all.is_empty() {
                all = BytesMut::from(chunk);
            } else {
                all.extend_from_slice(&chunk);
            }
        }
    }

    /// Reads one line, up to and including `\n`; at EOF, what is left (maybe
    /// empty, which means EOF).
    ///
    /// # Errors
    ///
    /// * [`Error::InvalidArgument`] if no `\n` came within the reader's limit;
    ///   the buffered data is dropped (as asyncio's `ValueError`);
    /// * the pipe's read error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn readline(&self) -> Result<Bytes> {
        let limit = self.shared.limit;
        self.shared
            .wait_then(
                |s| s.eof || s.buf.contains(&b'\n') || s.buf.len() > limit,
                |s| {
                    if let Some(at) = s.buf.iter().position(|&b| b == b'\n') {
                        if at < limit {
                            return Ok(s.buf.split_to(at + 1).freeze());
                        }
                    } else if s.eof {
                        if s.buf.is_empty() {
                            return s.error.take().map_or(Ok(Bytes::new()), Err);
                        }
                        return Ok(s.buf.split().freeze());
                    }
                    s.buf.clear();
                    Err(Error::invalid_argument(
                        "separator is not found, and chunk exceed the limit",
                    ))
                },
            )
            .await
    }

    /// Reads exactly `n` bytes.
    ///
    /// # Errors
    ///
    /// An `UnexpectedEof` [`Error::Io`] if EOF comes first (the partial data is
    /// dropped; asyncio's `IncompleteReadError`); the pipe's read error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn read_exact(&self, n: usize) -> Result<Bytes> {
        self.shared
            .wait_then(
                |s| s.buf.len() >= n || s.eof,
                |s| {
                    if s.buf.len() >= n {
                        return Ok(s.buf.split_to(n).freeze());
                    }
                    let got = s.buf.len();
                    s.buf.clear();
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("{got} bytes read on a total of {n} expected bytes"),
                    )
                    .into())
                },
            )
            .await
    }

    /// True once the pipe reached EOF and the buffer is empty.
    pub fn at_eof(&self) -> bool {
        let state = lock(&self.shared.state);
        state.eof && state.buf.is_empty()
    }

    /// The pipe transport underneath (for `pause_reading` and friends).
    pub fn transport(&self) -> Option<Transport> {
        lock(&self.shared.state).transport.clone()
    }
}

impl fmt::Debug for ProcessReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("ProcessReader")
            .field("buffered", &state.buf.len())
            .field("eof", &state.eof)
            .field("paused", &state.paused)
            .field("limit", &self.shared.limit)
            .finish()
    }
}

struct WriterShared {
    state: Mutex<WriterState>,
    notify: Notify,
}

#[derive(Default)]
struct WriterState {
    paused: bool,
    /// `Some` once the pipe is gone, with its `pipe_connection_lost` error.
    lost: Option<Option<Error>>,
    transport: Option<Transport>,
}

impl WriterShared {
    fn new() -> Arc<Self> {
        Arc::new(WriterShared {
            state: Mutex::new(WriterState::default()),
            notify: Notify::new(),
        })
    }
}

/// Writes to the child's stdin, like asyncio's `StreamWriter` on `proc.stdin`.
/// Cheap to clone.
///
/// # Examples
///
/// ```
/// use aioproto::{Stdio, SubprocessOptions, create_subprocess_exec};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let mut options = SubprocessOptions::new();
/// options.stderr(Stdio::Null);
/// let proc = create_subprocess_exec("wc", ["-c"], &options).await?;
/// let stdin = proc.stdin.as_ref().unwrap();
/// stdin.write(vec![b'x'; 1_000_000]);
/// stdin.drain().await?; // waits while more than 64 KiB is queued
/// stdin.close();
/// let count = proc.stdout.as_ref().unwrap().read_to_end().await?;
/// assert_eq!(String::from_utf8_lossy(&count).trim(), "1000000");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ProcessStdin {
    shared: Arc<WriterShared>,
}

impl ProcessStdin {
    fn transport(&self) -> Option<Transport> {
        lock(&self.shared.state).transport.clone()
    }

    /// Queues `data`; see [`Transport::write`]. Follow a burst of writes with
    /// [`drain`](Self::drain).
    pub fn write(&self, data: impl Into<Bytes>) {
        if let Some(transport) = self.transport() {
            transport.write(data);
        }
    }

    /// Waits until the write buffer is below its high-water mark.
    ///
    /// # Errors
    ///
    /// Once the pipe is gone: its error (a broken pipe, when the child exited
    /// with data still pending), or a `ConnectionReset` [`Error::Io`]
    /// ("connection lost") after a clean close, as asyncio.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn drain(&self) -> Result<()> {
        let lost_error = |lost: &Option<Error>| {
            lost.clone().unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::ConnectionReset, "connection lost").into()
            })
        };
        let transport = {
            let state = lock(&self.shared.state);
            if let Some(lost) = &state.lost {
                return Err(lost_error(lost));
            }
            state.transport.clone()
        };
        let Some(transport) = transport else {
            return Ok(());
        };
        if transport.drain().await.is_ok() {
            return Ok(());
        }
        // The pipe ended while we waited: say how, as asyncio does.
        let state = lock(&self.shared.state);
        Err(state
            .lost
            .as_ref()
            .map_or_else(|| lost_error(&None), lost_error))
    }

    /// Flushes, then closes stdin (the child sees EOF).
    pub fn close(&self) {
        if let Some(transport) = self.transport() {
            transport.close();
        }
    }

    /// The same as [`close`](Self::close) on a pipe: flush, then EOF.
    pub fn write_eof(&self) {
        self.close();
    }

    /// True once closing or closed.
    pub fn is_closing(&self) -> bool {
        self.transport().is_none_or(|t| t.is_closing())
    }

    /// Waits until the pipe is closed (flushed or broken).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_closed(&self) {
        loop {
            let mut notified = pin!(self.shared.notify.notified());
            notified.as_mut().enable();
            if lock(&self.shared.state).lost.is_some() {
                return;
            }
            notified.await;
        }
    }
}

impl fmt::Debug for ProcessStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared.state);
        f.debug_struct("ProcessStdin")
            .field("paused", &state.paused)
            .field("lost", &state.lost.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests;
