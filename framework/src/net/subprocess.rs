//! Child processes driven by a protocol: [`subprocess_exec`], [`subprocess_shell`],
//! [`SubprocessProtocol`] and [`SubprocessTransport`], asyncio's
//! `loop.subprocess_exec()` / `loop.subprocess_shell()`.
//!
//! Each piped standard stream of the child becomes a pipe [`Transport`]: fd 0
//! is a write pipe, fds 1 and 2 are read pipes, each with its own driver task.
//! Their events reach one [`SubprocessProtocol`], tagged with the child's fd
//! number. A separate task waits for the child's exit and reaps it.
//!
//! Event order, as in asyncio:
//!
//! ```text
//! connection_made -> (pipe_data_received(fd) | pipe_connection_lost(fd) | process_exited)* -> connection_lost
//! ```
//!
//! * for each fd, every `pipe_data_received` comes before its `pipe_connection_lost`;
//! * `process_exited` comes when the child exits, even if a grandchild still
//!   holds one of its pipes open (and so does [`SubprocessTransport::wait`]);
//! * `connection_lost(None)` comes once, last, after the exit **and** after every
//!   pipe was lost.
//!
//! Callbacks run on the pipe drivers' tasks and the exit task, one at a time
//! (the protocol sits behind a mutex), never inside a call made by the user.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::net::pipe::{read_pipe, write_pipe};
use crate::transport::Transport;
use crate::transport::dispatch::{IntoHandler, guard};
use crate::transport::protocol::{BaseProtocol, Protocol};
use crate::transport::start::{ConnectionConfig, Ending, MadeOn, OnFinish, start_connection};
use crate::util::lock;

/// Callbacks for a child process, like asyncio's `SubprocessProtocol`.
///
/// Every method has a no-op default. `fd` is the child's descriptor number:
/// 0 (stdin), 1 (stdout) or 2 (stderr).
///
/// # Examples
///
/// ```
/// use aioproto::{Error, SubprocessProtocol};
/// use bytes::Bytes;
///
/// #[derive(Default)]
/// struct Collect {
///     stdout: Vec<u8>,
/// }
///
/// impl SubprocessProtocol for Collect {
///     fn pipe_data_received(&mut self, fd: i32, data: Bytes) {
///         if fd == 1 {
///             self.stdout.extend_from_slice(&data);
///         }
///     }
///     fn process_exited(&mut self) {
///         println!("child exited");
///     }
///     fn connection_lost(&mut self, _exc: Option<Error>) {
///         println!("all done: {:?}", String::from_utf8_lossy(&self.stdout));
///     }
/// }
/// ```
pub trait SubprocessProtocol: Send + 'static {
    /// Called once, before any other callback, with the transport of the child.
    fn connection_made(&mut self, transport: &SubprocessTransport) {
        let _ = transport;
    }

    /// The child wrote `data` to its stdout (`fd == 1`) or stderr (`fd == 2`).
    fn pipe_data_received(&mut self, fd: i32, data: Bytes) {
        let _ = (fd, data);
    }

    /// The pipe to the child's `fd` closed: `None` for a clean close (EOF, or a
    /// local `close()`), `Some(err)` on failure (e.g. a broken stdin pipe with
    /// data still pending).
    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
        let _ = (fd, exc);
    }

    /// The child exited; [`SubprocessTransport::returncode`] now has its status.
    fn process_exited(&mut self) {}

    /// Called once, last: the child exited and every pipe closed.
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = exc;
    }

    /// The stdin pipe's write buffer went over its high-water mark.
    fn pause_writing(&mut self) {}

    /// The stdin pipe's write buffer drained to its low-water mark.
    fn resume_writing(&mut self) {}
}

/// What to connect one of the child's standard streams to.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Stdio {
    /// A pipe to the parent, reachable with
    /// [`SubprocessTransport::get_pipe_transport`] (asyncio's `PIPE`). The default.
    #[default]
    Pipe,
    /// The parent's own stream (asyncio's `None`).
    Inherit,
    /// `/dev/null` (asyncio's `DEVNULL`).
    Null,
    /// For stderr only: wherever stdout goes (asyncio's `STDOUT`).
    Stdout,
    /// A file or any other descriptor the parent opened (asyncio's file
    /// object or fd): the child gets a duplicate of it. Make one with
    /// [`Stdio::from_fd`], e.g. from a `std::fs::File`.
    File(Arc<OwnedFd>),
}

impl Stdio {
    /// Redirects the stream to `fd` (a `File`, a socket, one end of a pipe).
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{Stdio, SubprocessOptions};
    ///
    /// # fn f() -> std::io::Result<()> {
    /// let log = std::fs::File::create(std::env::temp_dir().join("child.log"))?;
    /// let mut options = SubprocessOptions::new();
    /// options.stdout(Stdio::from_fd(log));
    /// # Ok(()) }
    /// ```
    pub fn from_fd(fd: impl Into<OwnedFd>) -> Stdio {
        Stdio::File(Arc::new(fd.into()))
    }

    /// A pipe to the parent.
    pub(crate) fn is_pipe(&self) -> bool {
        matches!(self, Stdio::Pipe)
    }
}

/// How to start a child: its standard streams, environment, directory and
/// process group. Used by [`subprocess_exec`], [`subprocess_shell`] and the
/// high-level [`create_subprocess_exec`](crate::create_subprocess_exec).
///
/// Defaults: all three streams piped, the parent's environment and working
/// directory, the parent's process group, a stream reader limit of 64 KiB.
///
/// # Examples
///
/// ```
/// use aioproto::{Stdio, SubprocessOptions};
///
/// let mut options = SubprocessOptions::new();
/// options
///     .stdin(Stdio::Null)
///     .stderr(Stdio::Stdout)
///     .env("LC_ALL", "C")
///     .current_dir("/");
/// ```
#[derive(Debug, Clone)]
pub struct SubprocessOptions {
    pub(crate) stdin: Stdio,
    pub(crate) stdout: Stdio,
    pub(crate) stderr: Stdio,
    env_clear: bool,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    new_process_group: bool,
    pass_fds: Vec<Arc<OwnedFd>>,
    pub(crate) limit: usize,
}

impl Default for SubprocessOptions {
    fn default() -> Self {
        SubprocessOptions {
            stdin: Stdio::Pipe,
            stdout: Stdio::Pipe,
            stderr: Stdio::Pipe,
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            new_process_group: false,
            pass_fds: Vec::new(),
            limit: 64 * 1024,
        }
    }
}

impl SubprocessOptions {
    /// The defaults; see the type docs.
    pub fn new() -> Self {
        Self::default()
    }

    /// The child's stdin (default [`Stdio::Pipe`]).
    pub fn stdin(&mut self, stdio: Stdio) -> &mut Self {
        self.stdin = stdio;
        self
    }

    /// The child's stdout (default [`Stdio::Pipe`]).
    pub fn stdout(&mut self, stdio: Stdio) -> &mut Self {
        self.stdout = stdio;
        self
    }

    /// The child's stderr (default [`Stdio::Pipe`]); [`Stdio::Stdout`] merges it
    /// into stdout.
    pub fn stderr(&mut self, stdio: Stdio) -> &mut Self {
        self.stderr = stdio;
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl Into<OsString>) -> &mut Self {
        self.env.push((key.into(), None));
        self
    }

    /// Starts the child with an empty environment (plus what [`env`](Self::env) adds).
    pub fn env_clear(&mut self) -> &mut Self {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The child's working directory (default: the parent's).
    pub fn current_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Puts the child in a new process group of its own (`setpgid(0, 0)`), so
    /// signals sent to the parent's group (Ctrl-C) do not reach it. This is
    /// aioproto's stand-in for asyncio's `start_new_session=True`: a full
    /// `setsid()` needs an `unsafe` `pre_exec` hook, which this crate forbids.
    pub fn new_process_group(&mut self, on: bool) -> &mut Self {
        self.new_process_group = on;
        self
    }

    /// Keeps `fd` open in the child, at the same number (asyncio's
    /// `pass_fds`); every other descriptor of the parent is closed there.
    ///
    /// The descriptor is made inheritable for the moment of the spawn only
    /// (its close-on-exec flag cleared, then set again), so a child that
    /// another thread spawns at that same moment inherits it too.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn f() -> std::io::Result<()> {
    /// let (reader, writer) = std::io::pipe()?;
    /// let mut options = aioproto::SubprocessOptions::new();
    /// options.pass_fd(writer); // the child writes to it by its number
    /// # drop(reader);
    /// # Ok(()) }
    /// ```
    pub fn pass_fd(&mut self, fd: impl Into<OwnedFd>) -> &mut Self {
        self.pass_fds.push(Arc::new(fd.into()));
        self
    }

    /// The buffer limit of the high-level [`Process`](crate::Process) readers
    /// (asyncio's `limit`, default 64 KiB): reading from the pipe pauses while
    /// more than twice this much is buffered. Unused by [`subprocess_exec`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `limit` is 0.
    pub fn limit(&mut self, limit: usize) -> Result<&mut Self> {
        if limit == 0 {
            return Err(Error::invalid_argument("limit must be greater than 0"));
        }
        self.limit = limit;
        Ok(self)
    }
}

/// Starts `program` with `args` and connects `factory()`'s protocol to it,
/// like asyncio's `loop.subprocess_exec(protocol_factory, program, *args)`.
///
/// `program` is looked up in `PATH` if it has no slash. Once this returns,
/// `connection_made` has run and the pipe drivers and the exit task are going.
///
/// # Errors
///
/// * [`Error::InvalidArgument`]: `program` is empty, a string contains a NUL
///   byte, or [`Stdio::Stdout`] was given for stdin or stdout;
/// * [`Error::Io`]: the child could not be started (`NotFound`,
///   `PermissionDenied`, …) or a pipe could not be set up;
/// * [`Error::CallbackPanicked`]: `connection_made` panicked; the child was
///   killed and reaped, and no other callback is made.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// The child is started and handed to its tasks without awaiting, so
/// cancelling the future before completion starts nothing.
///
/// # Examples
///
/// ```
/// use aioproto::{SubprocessOptions, SubprocessProtocol, subprocess_exec};
/// use bytes::Bytes;
///
/// #[derive(Default)]
/// struct Out(Vec<u8>);
/// impl SubprocessProtocol for Out {
///     fn pipe_data_received(&mut self, _fd: i32, data: Bytes) {
///         self.0.extend_from_slice(&data);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let (transport, protocol) =
///     subprocess_exec(Out::default, "echo", ["hello"], &SubprocessOptions::new()).await?;
/// assert_eq!(transport.wait().await?, 0);
/// transport.wait_closed().await;
/// assert_eq!(protocol.lock().unwrap().0, b"hello\n");
/// # Ok(()) }
/// ```
pub async fn subprocess_exec<F, P, I, S>(
    factory: F,
    program: impl AsRef<OsStr>,
    args: I,
    options: &SubprocessOptions,
) -> Result<(SubprocessTransport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: SubprocessProtocol,
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let program = program.as_ref();
    if program.is_empty() {
        return Err(Error::invalid_argument("program must not be empty"));
    }
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    start(command, options, factory)
}

/// Runs `cmd` with `/bin/sh -c` and connects `factory()`'s protocol to it, like
/// asyncio's `loop.subprocess_shell(protocol_factory, cmd)`.
///
/// The command line is passed to the shell as one string; quote user input
/// yourself. Everything else is as [`subprocess_exec`].
///
/// # Errors
///
/// As [`subprocess_exec`]; an empty `cmd` is [`Error::InvalidArgument`].
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// As [`subprocess_exec`].
///
/// # Examples
///
/// ```
/// use aioproto::{Stdio, SubprocessOptions, SubprocessProtocol, subprocess_shell};
///
/// struct Quiet;
/// impl SubprocessProtocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let mut options = SubprocessOptions::new();
/// options.stdin(Stdio::Null).stdout(Stdio::Null).stderr(Stdio::Null);
/// let (transport, _) = subprocess_shell(|| Quiet, "exit 7", &options).await?;
/// assert_eq!(transport.wait().await?, 7);
/// # Ok(()) }
/// ```
pub async fn subprocess_shell<F, P>(
    factory: F,
    cmd: &str,
    options: &SubprocessOptions,
) -> Result<(SubprocessTransport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: SubprocessProtocol,
{
    if cmd.is_empty() {
        return Err(Error::invalid_argument("cmd must not be empty"));
    }
    let mut command = tokio::process::Command::new("/bin/sh");
    command.arg("-c").arg(cmd);
    start(command, options, factory)
}

/// A handle to a running (or finished) child, like asyncio's
/// `SubprocessTransport`.
///
/// Cloning is cheap and every clone controls the same child.
///
/// # What happens when handles drop
///
/// Nothing: the child goes on, its pipes keep being driven, and the exit task
/// reaps it when it exits, so no zombie is left. Call [`close`](Self::close)
/// to stop it. If the tokio runtime itself shuts down first, the child is
/// killed (and reaped by tokio in the background).
///
/// # Examples
///
/// ```
/// use aioproto::{SubprocessOptions, SubprocessProtocol, subprocess_exec};
///
/// struct Quiet;
/// impl SubprocessProtocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let (transport, _) = subprocess_exec(|| Quiet, "cat", Vec::<&str>::new(), &SubprocessOptions::new()).await?;
/// let stdin = transport.get_pipe_transport(0).expect("stdin is piped");
/// stdin.write("ignored\n");
/// assert_eq!(transport.returncode(), None);
/// transport.close(); // closes the pipes and kills `cat`
/// assert_eq!(transport.wait().await?, -9);
/// assert!(transport.kill().is_err()); // ESRCH: it is gone
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SubprocessTransport {
    shared: Arc<Shared>,
}

impl SubprocessTransport {
    /// The child's process id (kept after it exited, like asyncio's `get_pid()`).
    pub fn pid(&self) -> u32 {
        self.shared.pid
    }

    /// The exit status once the child exited and was reaped: the exit code, or
    /// minus the signal number if a signal killed it (like asyncio). `None`
    /// while it runs.
    pub fn returncode(&self) -> Option<i32> {
        self.shared.lock_state().returncode
    }

    /// The pipe transport connected to the child's `fd` (0, 1 or 2), or `None`
    /// if that stream is not a pipe. Writing to fd 0's transport feeds the
    /// child's stdin; closing it sends EOF. Pausing fd 1's reading stops
    /// `pipe_data_received(1, …)` (the child then blocks once the pipe fills).
    pub fn get_pipe_transport(&self, fd: i32) -> Option<Transport> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.shared.pipes.get(i))
            .and_then(Clone::clone)
    }

    /// The pipe transport of `fd`, and the notice its new owner (a relay,
    /// which replaces the pipe's protocol) gives when the pipe ends, so the
    /// subprocess still learns of it.
    pub(crate) fn pipe_end(&self, fd: i32) -> Option<(Transport, PipeEnd)> {
        let transport = self.get_pipe_transport(fd)?;
        let end = PipeEnd {
            fd,
            shared: self.shared.clone(),
        };
        Some((transport, end))
    }

    /// Sends signal number `signal` to the child, like `os.kill(pid, signal)`.
    ///
    /// The child is never signalled once it has exited, even if its exit has
    /// not been processed yet, so a recycled pid can never be hit.
    ///
    /// # Errors
    ///
    /// * [`Error::InvalidArgument`]: not a valid signal number;
    /// * [`Error::Io`] with `raw_os_error() == Some(ESRCH)` (asyncio's
    ///   `ProcessLookupError`) once the child has exited.
    ///
    /// # Examples
    ///
    /// ```
    /// # async fn f(transport: aioproto::SubprocessTransport) -> aioproto::Result<()> {
    /// transport.send_signal(1)?; // SIGHUP
    /// assert_eq!(transport.wait().await?, -1);
    /// # Ok(()) }
    /// ```
    pub fn send_signal(&self, signal: i32) -> Result<()> {
        let signal = Signal::try_from(signal)
            .map_err(|_| Error::invalid_argument(format!("invalid signal number {signal}")))?;
        self.shared.signal(signal)
    }

    /// Sends SIGTERM; see [`send_signal`](Self::send_signal).
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Self::send_signal).
    pub fn terminate(&self) -> Result<()> {
        self.shared.signal(Signal::SIGTERM)
    }

    /// Sends SIGKILL; see [`send_signal`](Self::send_signal).
    ///
    /// # Errors
    ///
    /// As [`send_signal`](Self::send_signal).
    pub fn kill(&self) -> Result<()> {
        self.shared.signal(Signal::SIGKILL)
    }

    /// Closes every pipe (stdin is flushed first) and kills the child if it is
    /// still running. Idempotent; never fails, and never signals a child that
    /// already exited. The protocol's remaining callbacks follow on their tasks.
    pub fn close(&self) {
        {
            let mut state = self.shared.lock_state();
            if state.closed {
                return;
            }
            state.closed = true;
        }
        for pipe in self.shared.pipes.iter().flatten() {
            pipe.close();
        }
        match self.shared.signal(Signal::SIGKILL) {
            Ok(()) => tracing::debug!(pid = self.shared.pid, "close() killed the child"),
            Err(e) => tracing::trace!(error = %e, "close(): child already gone"),
        }
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closing(&self) -> bool {
        self.shared.lock_state().closed
    }

    /// Waits for the child to exit and returns its [`returncode`](Self::returncode).
    ///
    /// Resolves when the child itself exits, even if a grandchild still holds
    /// one of its pipes. Any number of tasks may wait at once.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if waiting for the child failed in the OS (not expected).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaves the child alone.
    pub async fn wait(&self) -> Result<i32> {
        let mut rx = self.shared.exit.subscribe();
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| Error::Closed("subprocess exit task"))?;
        outcome.clone().unwrap_or(Err(Error::Closed("subprocess")))
    }

    /// Waits until `connection_lost` has been called: the child exited and
    /// every pipe closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_closed(&self) {
        let mut rx = self.shared.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }
}

impl fmt::Debug for SubprocessTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock_state();
        f.debug_struct("SubprocessTransport")
            .field("pid", &self.shared.pid)
            .field("returncode", &state.returncode)
            .field("closed", &state.closed)
            .field("pipes_open", &state.pipes_open)
            .finish()
    }
}

/// What every handle, pipe adapter and the exit task share.
struct Shared {
    pid: u32,
    pipes: [Option<Transport>; 3],
    /// The child; the exit task reaps it while holding this lock, and signals
    /// are sent under it, so a reaped pid is never signalled.
    child: Mutex<tokio::process::Child>,
    state: Mutex<ProcState>,
    /// The user's protocol; taken after `connection_lost` to break cycles.
    protocol: Mutex<Option<Arc<dyn DynSubprocess>>>,
    exit: watch::Sender<Option<Result<i32>>>,
    finished: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct ProcState {
    returncode: Option<i32>,
    exited: bool,
    pipes_open: usize,
    /// `pipe_connection_lost` went out for fd 0, 1, 2.
    pipes_reported: [bool; 3],
    closed: bool,
    /// `connection_lost` was called (or must never be: creation failed).
    lost: bool,
}

fn esrch() -> Error {
    io::Error::from_raw_os_error(Errno::ESRCH as i32).into()
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, ProcState> {
        lock(&self.state)
    }

    fn protocol(&self) -> Option<Arc<dyn DynSubprocess>> {
        lock(&self.protocol).clone()
    }

    /// Signals the child unless it has exited (reaped or not).
    fn signal(&self, signal: Signal) -> Result<()> {
        let child = lock(&self.child);
        if child.id().is_none() || self.lock_state().exited {
            return Err(esrch());
        }
        let pid = Pid::from_raw(self.pid as i32);
        // Look without reaping: a zombie must not be signalled either.
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(_) | Err(Errno::ECHILD) => return Err(esrch()),
            Err(e) => return Err(io::Error::from(e).into()),
        }
        kill(pid, signal).map_err(io::Error::from)?;
        drop(child);
        Ok(())
    }

    /// Polls the child's exit once, holding the child lock only for the poll.
    fn poll_exit(&self, cx: &mut Context<'_>) -> Poll<io::Result<std::process::ExitStatus>> {
        let mut child = lock(&self.child);
        let wait = pin!(child.wait());
        wait.poll(cx)
    }

    /// The exit task: waits, records the status, tells the protocol.
    async fn run_exit_task(self: Arc<Self>) {
        let status = std::future::poll_fn(|cx| self.poll_exit(cx)).await;
        let outcome = status.map_err(Error::from).map(|status| {
            status
                .code()
                .unwrap_or_else(|| -status.signal().unwrap_or(0))
        });
        let report = {
            let mut state = self.lock_state();
            state.exited = true;
            state.returncode = outcome.as_ref().ok().copied();
            !state.lost
        };
        tracing::debug!(pid = self.pid, returncode = ?outcome, "child exited");
        if report && let Some(protocol) = self.protocol() {
            protocol.process_exited();
        }
        self.exit.send_replace(Some(outcome));
        self.try_finish();
    }

    /// Tells the protocol that pipe `fd` ended (once per pipe): from the
    /// pipe's own protocol, or from whoever replaced it (a relay).
    fn pipe_lost(&self, fd: i32, exc: Option<Error>) {
        let report = {
            let mut state = self.lock_state();
            let slot = usize::try_from(fd)
                .ok()
                .and_then(|i| state.pipes_reported.get_mut(i));
            let first = slot.is_some_and(|reported| !std::mem::replace(reported, true));
            first && !state.lost
        };
        if report && let Some(protocol) = self.protocol() {
            protocol.pipe_connection_lost(fd, exc);
        }
    }

    /// A pipe driver ended (after its `connection_lost`, whichever protocol
    /// had it): reports the pipe if nobody did (its protocol was replaced
    /// with `set_protocol`), then counts it closed.
    fn pipe_finished(&self, fd: i32, ending: Ending) {
        let exc = match ending {
            Ending::Clean => None,
            _ => Some(Error::Closed("pipe")),
        };
        self.pipe_lost(fd, exc);
        self.lock_state().pipes_open -= 1;
        self.try_finish();
    }

    /// Calls `connection_lost` once the child exited and every pipe closed.
    fn try_finish(&self) {
        let call = {
            let mut state = self.lock_state();
            if !state.exited || state.pipes_open > 0 {
                return;
            }
            !std::mem::replace(&mut state.lost, true)
        };
        if call && let Some(protocol) = lock(&self.protocol).take() {
            protocol.connection_lost(None);
        }
        self.finished.send_replace(true);
    }
}

/// The user's protocol behind its mutex, object-safe.
trait DynSubprocess: Send + Sync {
    fn connection_made(&self, transport: &SubprocessTransport) -> Result<()>;
    /// Panics propagate to the pipe driver's guard, which ends that pipe.
    fn pipe_data_received(&self, fd: i32, data: Bytes);
    fn pipe_connection_lost(&self, fd: i32, exc: Option<Error>);
    fn process_exited(&self);
    fn connection_lost(&self, exc: Option<Error>);
    fn pause_writing(&self);
    fn resume_writing(&self);
}

struct Cell<P>(Arc<Mutex<P>>);

impl<P: SubprocessProtocol> DynSubprocess for Cell<P> {
    fn connection_made(&self, transport: &SubprocessTransport) -> Result<()> {
        guard("connection_made", || {
            lock(&self.0).connection_made(transport)
        })
    }
    fn pipe_data_received(&self, fd: i32, data: Bytes) {
        lock(&self.0).pipe_data_received(fd, data);
    }
    fn pipe_connection_lost(&self, fd: i32, exc: Option<Error>) {
        let _ = guard("pipe_connection_lost", || {
            lock(&self.0).pipe_connection_lost(fd, exc)
        });
    }
    fn process_exited(&self) {
        let _ = guard("process_exited", || lock(&self.0).process_exited());
    }
    fn connection_lost(&self, exc: Option<Error>) {
        let _ = guard("connection_lost", || lock(&self.0).connection_lost(exc));
    }
    fn pause_writing(&self) {
        lock(&self.0).pause_writing();
    }
    fn resume_writing(&self) {
        lock(&self.0).resume_writing();
    }
}

/// The end of a pipe whose protocol was replaced (see
/// [`SubprocessTransport::pipe_end`]): reported like the pipe's own protocol
/// would have.
pub(crate) struct PipeEnd {
    fd: i32,
    shared: Arc<Shared>,
}

impl PipeEnd {
    /// The pipe's transport ended with `exc`.
    pub(crate) fn lost(self, exc: Option<Error>) {
        self.shared.pipe_lost(self.fd, exc);
    }
}

/// The protocol of one pipe: forwards to the subprocess protocol with the fd.
struct PipeAdapter {
    fd: i32,
    shared: Arc<Shared>,
}

impl BaseProtocol for PipeAdapter {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.shared.pipe_lost(self.fd, exc);
    }
    fn pause_writing(&mut self) {
        if let Some(protocol) = self.shared.protocol() {
            protocol.pause_writing();
        }
    }
    fn resume_writing(&mut self) {
        if let Some(protocol) = self.shared.protocol() {
            protocol.resume_writing();
        }
    }
}

impl Protocol for PipeAdapter {
    fn data_received(&mut self, data: Bytes) {
        if let Some(protocol) = self.shared.protocol() {
            protocol.pipe_data_received(self.fd, data);
        }
    }
}

/// The child's side and our side of each standard stream.
struct Plumbing {
    child: [std::process::Stdio; 3],
    parent: [Option<OwnedFd>; 3],
}

/// Runs `spawn` with the close-on-exec flag of every fd in `fds` cleared, so
/// the child inherits them at their numbers; sets it again afterwards.
fn with_inheritable<T>(
    fds: &[Arc<OwnedFd>],
    spawn: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let set = |fd: &OwnedFd, cloexec: bool| -> io::Result<()> {
        let flags = FdFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFD)?);
        let flags = if cloexec {
            flags | FdFlag::FD_CLOEXEC
        } else {
            flags - FdFlag::FD_CLOEXEC
        };
        fcntl(fd, FcntlArg::F_SETFD(flags))?;
        Ok(())
    };
    for fd in fds {
        set(fd, false)?;
    }
    let spawned = spawn();
    for fd in fds {
        // The child has its copy now; ours must not leak into later children.
        if let Err(e) = set(fd, true) {
            tracing::warn!(error = %e, "cannot set close-on-exec again on a passed fd");
        }
    }
    spawned
}

fn cloexec_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

fn plumbing(options: &SubprocessOptions) -> Result<Plumbing> {
    use std::process::Stdio as S;
    let simple = |stdio: &Stdio, name: &str| -> Result<S> {
        match stdio {
            Stdio::Inherit => Ok(S::inherit()),
            Stdio::Null => Ok(S::null()),
            Stdio::File(fd) => Ok(S::from(fd.try_clone()?)),
            Stdio::Pipe => unreachable!("pipes are handled by the caller"),
            Stdio::Stdout => Err(Error::invalid_argument(format!(
                "Stdio::Stdout is only valid for stderr, not {name}"
            ))),
        }
    };
    let mut parent: [Option<OwnedFd>; 3] = [None, None, None];
    let stdin = match &options.stdin {
        Stdio::Pipe => {
            let (r, w) = cloexec_pipe()?;
            parent[0] = Some(w);
            S::from(r)
        }
        other => simple(other, "stdin")?,
    };
    let mut stdout_writer = None;
    let stdout = match &options.stdout {
        Stdio::Pipe => {
            let (r, w) = cloexec_pipe()?;
            parent[1] = Some(r);
            stdout_writer = Some(w.try_clone()?);
            S::from(w)
        }
        other => simple(other, "stdout")?,
    };
    let stderr = match (&options.stderr, &options.stdout) {
        (Stdio::Pipe, _) => {
            let (r, w) = cloexec_pipe()?;
            parent[2] = Some(r);
            S::from(w)
        }
        (Stdio::Stdout, Stdio::Pipe) => S::from(stdout_writer.take().expect("stdout pipe")),
        (Stdio::Stdout, Stdio::Inherit) => S::from(io::stdout().as_fd().try_clone_to_owned()?),
        (Stdio::Stdout, _) => S::null(),
        (other, _) => simple(other, "stderr")?,
    };
    Ok(Plumbing {
        child: [stdin, stdout, stderr],
        parent,
    })
}

fn start<F, P>(
    mut command: tokio::process::Command,
    options: &SubprocessOptions,
    factory: F,
) -> Result<(SubprocessTransport, Arc<Mutex<P>>)>
where
    F: FnOnce() -> P,
    P: SubprocessProtocol,
{
    // Made first: a panicking factory leaves no child behind.
    let protocol = Arc::new(Mutex::new(factory()));
    let Plumbing {
        child: stdio,
        parent,
    } = plumbing(options)?;
    let [stdin, stdout, stderr] = stdio;
    command.stdin(stdin).stdout(stdout).stderr(stderr);
    if options.env_clear {
        command.env_clear();
    }
    for (key, value) in &options.env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    if let Some(dir) = &options.cwd {
        command.current_dir(dir);
    }
    if options.new_process_group {
        command.process_group(0);
    }
    // If the runtime goes away with the child still running, kill it rather
    // than leave it unreaped.
    command.kill_on_drop(true);
    let spawned = with_inheritable(&options.pass_fds, || command.spawn());
    // The command holds our copies of the child's pipe ends: close them now, or
    // the child's stdout would never reach EOF.
    drop(command);
    let child = spawned.map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput => Error::invalid_argument(e),
        _ => Error::from(e),
    })?;
    let pid = child.id().expect("a just-spawned child has a pid");
    tracing::debug!(pid, "child started");

    // Wrap our pipe ends; fd 0 is written, 1 and 2 are read.
    let mut ios = Vec::new();
    let mut pipes: [Option<Transport>; 3] = [None, None, None];
    let mut wrap_error = None;
    for (fd, end) in parent.into_iter().enumerate() {
        let Some(end) = end else { continue };
        let wrapped = if fd == 0 {
            write_pipe(end)
        } else {
            read_pipe(end)
        };
        match wrapped {
            Ok((io, transport)) => {
                pipes[fd] = Some(transport.clone());
                ios.push((fd, io, transport));
            }
            Err(e) => wrap_error = Some(e),
        }
    }

    let (exit, _) = watch::channel(None);
    let (finished, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        pid,
        pipes,
        child: Mutex::new(child),
        state: Mutex::new(ProcState {
            pipes_open: ios.len(),
            ..ProcState::default()
        }),
        protocol: Mutex::new(Some(Arc::new(Cell(protocol.clone())))),
        exit,
        finished,
    });
    let transport = SubprocessTransport {
        shared: shared.clone(),
    };

    let made = match wrap_error {
        Some(e) => Err(e),
        None => Cell(protocol.clone()).connection_made(&transport),
    };
    if let Err(e) = made {
        // No callback after a failed start: kill, drop our pipe ends, reap.
        {
            let mut state = shared.lock_state();
            state.lost = true;
            state.closed = true;
            state.pipes_open = 0;
        }
        lock(&shared.protocol).take();
        let _ = shared.signal(Signal::SIGKILL);
        drop(ios);
        tokio::spawn(shared.run_exit_task());
        return Err(e);
    }

    for (fd, io, pipe_transport) in ios {
        let fd = fd as i32;
        let (_, handler) = PipeAdapter {
            fd,
            shared: shared.clone(),
        }
        .into_handler();
        // Counted closed from `on_finish`, which runs whichever protocol the
        // pipe has by then.
        let finished = shared.clone();
        let on_finish: OnFinish = Box::new(move |ending| finished.pipe_finished(fd, ending));
        // The subprocess protocol had the one connection_made; cannot fail.
        let _ = start_connection(
            io,
            handler,
            pipe_transport,
            ConnectionConfig::new(MadeOn::Already).with_on_finish(Some(on_finish)),
        );
    }
    tokio::spawn(shared.run_exit_task());
    Ok((transport, protocol))
}

#[cfg(test)]
mod tests;
