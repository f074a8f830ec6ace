//! # 9. Pipes and subprocesses
//!
//! asyncio drives pipes and child processes with the same Protocol/Transport
//! model as sockets, and so does aioproto (features `unix` and `process`).
//!
//! | asyncio | aioproto |
//! |---|---|
//! | `loop.connect_read_pipe(factory, pipe)` | [`connect_read_pipe`](crate::connect_read_pipe)`(factory, pipe)` |
//! | `loop.connect_write_pipe(factory, pipe)` | [`connect_write_pipe`](crate::connect_write_pipe)`(factory, pipe)` |
//! | `loop.subprocess_exec(factory, prog, *args, stdin=…)` | [`subprocess_exec`](crate::subprocess_exec)`(factory, prog, args, &options).await` |
//! | `loop.subprocess_shell(factory, cmd, …)` | [`subprocess_shell`](crate::subprocess_shell)`(factory, cmd, &options).await` |
//! | `asyncio.SubprocessProtocol` | [`SubprocessProtocol`](crate::SubprocessProtocol) |
//! | `transport.get_pipe_transport(fd)` | [`SubprocessTransport::get_pipe_transport`](crate::SubprocessTransport::get_pipe_transport) |
//! | `transport.get_returncode()` | [`SubprocessTransport::returncode`](crate::SubprocessTransport::returncode) |
//! | `subprocess.PIPE` / `DEVNULL` / `STDOUT` / `None` | [`Stdio::Pipe`](crate::Stdio::Pipe) / [`Null`](crate::Stdio::Null) / [`Stdout`](crate::Stdio::Stdout) / [`Inherit`](crate::Stdio::Inherit) |
//! | `asyncio.create_subprocess_exec(…)` | [`create_subprocess_exec`](crate::create_subprocess_exec)`(prog, args, &options).await` |
//! | `proc.communicate(input)` | [`Process::communicate`](crate::Process::communicate)`(Some(input)).await` |
//! | `ProcessLookupError` | [`Error::Io`](crate::Error::Io) with `raw_os_error() == Some(ESRCH)` |
//!
//! ## Pipes
//!
//! A read pipe is a read-only transport: data, then `eof_received`, then
//! `connection_lost(None)`, whatever `eof_received` returns. A write pipe is a
//! write-only transport with the usual flow control; `write_eof()` closes it,
//! and it notices by itself when the reader goes away.
//!
//! ```python
//! class Reader(asyncio.Protocol):
//!     def data_received(self, data):
//!         print("got", data)
//!     def connection_lost(self, exc):
//!         print("writer closed")
//!
//! rfd, wfd = os.pipe()
//! await loop.connect_read_pipe(Reader, open(rfd, "rb", 0))
//! ```
//!
//! ```
//! use aioproto::{BaseProtocol, Error, Protocol, Transport, connect_read_pipe, connect_write_pipe};
//! use bytes::Bytes;
//! use tokio::sync::oneshot;
//!
//! struct Reader {
//!     got: Vec<u8>,
//!     done: Option<oneshot::Sender<Vec<u8>>>,
//! }
//!
//! impl BaseProtocol for Reader {
//!     fn connection_lost(&mut self, exc: Option<Error>) {
//!         assert!(exc.is_none()); // the writer closed: a clean end
//!         let _ = self.done.take().unwrap().send(std::mem::take(&mut self.got));
//!     }
//! }
//! impl Protocol for Reader {
//!     fn data_received(&mut self, data: Bytes) {
//!         self.got.extend_from_slice(&data);
//!     }
//! }
//!
//! struct Writer;
//! impl BaseProtocol for Writer {
//!     fn connection_made(&mut self, transport: &Transport) {
//!         transport.write("through a pipe");
//!         transport.write_eof().unwrap(); // on a pipe: flush, then close
//!     }
//! }
//! impl Protocol for Writer {}
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (reader, writer) = std::io::pipe()?;
//! let (tx, rx) = oneshot::channel();
//! connect_read_pipe(move || Reader { got: Vec::new(), done: Some(tx) }, reader)?;
//! connect_write_pipe(|| Writer, writer)?;
//! assert_eq!(rx.await?, b"through a pipe");
//! # Ok(()) }
//! ```
//!
//! Anything that owns a pipe-like descriptor can be passed: `std::io::pipe()`
//! ends, `OwnedFd`, a FIFO opened as a `File`, one end of a `UnixStream::pair()`,
//! tokio's `pipe::Sender`/`Receiver`, a pty master (see
//! [`IntoPipeFd`](crate::IntoPipeFd)). Regular files and `/dev/null` cannot be
//! polled and are refused with [`Error::InvalidArgument`](crate::Error::InvalidArgument).
//!
//! ## Subprocesses with a protocol
//!
//! asyncio's `SubprocessProtocol` gets every event of the child: output per fd,
//! each pipe closing, the exit, and finally `connection_lost`.
//!
//! ```python
//! class Date(asyncio.SubprocessProtocol):
//!     def __init__(self, exit_future):
//!         self.exit_future = exit_future
//!         self.output = bytearray()
//!     def pipe_data_received(self, fd, data):
//!         self.output.extend(data)
//!     def process_exited(self):
//!         self.exit_future.set_result(True)
//!
//! transport, protocol = await loop.subprocess_exec(
//!     lambda: Date(exit_future), sys.executable, "-c", "import datetime; print(datetime.datetime.now())",
//!     stdin=None, stderr=None)
//! await exit_future
//! transport.close()
//! ```
//!
//! ```
//! use aioproto::{Stdio, SubprocessOptions, SubprocessProtocol, subprocess_exec};
//! use bytes::Bytes;
//!
//! #[derive(Default)]
//! struct Date {
//!     output: Vec<u8>,
//! }
//!
//! impl SubprocessProtocol for Date {
//!     fn pipe_data_received(&mut self, _fd: i32, data: Bytes) {
//!         self.output.extend_from_slice(&data);
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let mut options = SubprocessOptions::new();
//! options.stdin(Stdio::Inherit).stderr(Stdio::Inherit);
//! let (transport, protocol) = subprocess_exec(Date::default, "date", ["+%Y"], &options).await?;
//! assert_eq!(transport.wait().await?, 0); // the exit; output may still be in flight
//! transport.wait_closed().await; // every pipe closed: connection_lost has run
//! assert_eq!(protocol.lock().unwrap().output.len(), 5); // "2026\n"
//! transport.close(); // nothing left to kill; never signals an exited child
//! # Ok(()) }
//! ```
//!
//! The guarantees (docs/DESIGN.md contract 8):
//!
//! * `connection_made` comes first, `connection_lost` last, once, after the exit
//!   **and** after every pipe closed. For each fd, data comes before its
//!   `pipe_connection_lost`; `process_exited` may come anywhere in between.
//! * [`wait()`](crate::SubprocessTransport::wait) resolves when the child exits,
//!   even if a grandchild it left behind still holds its stdout.
//! * [`close()`](crate::SubprocessTransport::close) closes the pipes and kills
//!   the child if it still runs. Signals are sent under the same lock that
//!   reaping takes, after a non-reaping `waitid(WNOWAIT)` look, so an exited
//!   child (or a recycled pid) is never signalled: you get ESRCH instead.
//! * No zombies: a task per child waits for it and reaps it, whether or not you
//!   keep any handle.
//!
//! The return code is asyncio's: the exit status, or minus the signal number
//! when a signal killed the child (`-9` after [`kill()`](crate::SubprocessTransport::kill)).
//!
//! Two differences from asyncio: the creation functions take their arguments as
//! an iterator (so "shell with a list" cannot be written), and
//! `start_new_session=True` becomes
//! [`new_process_group(true)`](crate::SubprocessOptions::new_process_group), a
//! new process group rather than a new session, because `setsid()` would need an
//! `unsafe` hook and aioproto forbids `unsafe`.
//!
//! ## The high-level `Process`
//!
//! `asyncio.create_subprocess_exec` wraps the protocol into stream objects; so
//! does [`create_subprocess_exec`](crate::create_subprocess_exec).
//! [`communicate`](crate::Process::communicate) feeds stdin while reading stdout
//! and stderr at the same time, so neither side can block the other on a full
//! pipe, and a child that exits without reading its input is not an error.
//!
//! ```python
//! proc = await asyncio.create_subprocess_exec(
//!     "sort", stdin=PIPE, stdout=PIPE, stderr=PIPE)
//! out, err = await proc.communicate(b"pear\napple\n")
//! print(proc.returncode, out)
//! ```
//!
//! ```
//! use aioproto::{SubprocessOptions, create_subprocess_exec};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let mut proc = create_subprocess_exec("sort", Vec::<&str>::new(), &SubprocessOptions::new()).await?;
//! let (out, err) = proc.communicate(Some("pear\napple\n".into())).await?;
//! assert_eq!(proc.returncode(), Some(0));
//! assert_eq!(out.unwrap(), "apple\npear\n");
//! assert_eq!(err.unwrap(), "");
//! # Ok(()) }
//! ```
//!
//! Line by line, with the reader and writer halves:
//!
//! ```
//! use aioproto::{Stdio, SubprocessOptions, create_subprocess_shell};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> aioproto::Result<()> {
//! let mut options = SubprocessOptions::new();
//! options.stderr(Stdio::Inherit);
//! let proc = create_subprocess_shell("while read l; do echo \"<$l>\"; done", &options).await?;
//! let (stdin, stdout) = (proc.stdin.as_ref().unwrap(), proc.stdout.as_ref().unwrap());
//! stdin.write("one\n");
//! assert_eq!(stdout.readline().await?, "<one>\n");
//! stdin.write("two\n");
//! stdin.drain().await?;
//! assert_eq!(stdout.readline().await?, "<two>\n");
//! stdin.close(); // EOF: the loop ends
//! assert_eq!(proc.wait().await?, 0);
//! # Ok(()) }
//! ```
//!
//! Default streams differ: [`SubprocessOptions::new`](crate::SubprocessOptions::new)
//! pipes all three (like `loop.subprocess_exec`), where
//! `asyncio.create_subprocess_exec` inherits them. Pipe only what you read: an
//! unread output pauses at twice the reader's
//! [`limit`](crate::SubprocessOptions::limit) and the child then blocks.
//!
//! The `subprocess_demo` example (`subprocess_demo -- CMD ARGS…`) puts it all
//! together: it forwards its own stdin to the child through a read-pipe
//! transport and prints the child's lines as `out: …` / `err: …`.
