//! Shared fixtures for the tests that run the example binaries as a user
//! would: spawn one (`CARGO_BIN_EXE_*`, built by cargo for these tests),
//! talk to it over loopback, signal it, and bound every wait.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};
use tokio::task::JoinHandle;

/// How long any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test (naming `what`) after `limit`.
pub async fn within<F: Future>(limit: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// A `Command` for `bin` with piped stdout and stderr and no stdin; the child
/// is killed if the test drops it.
pub fn command(bin: &str, args: &[&str]) -> Command {
    let mut command = Command::new(bin);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `bin args` to the end; returns its status, stdout and stderr.
pub async fn run(bin: &str, args: &[&str]) -> (ExitStatus, String, String) {
    let out = within(TIMEOUT, bin, command(bin, args).output())
        .await
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A server binary that printed its `listening on` line.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Lines<BufReader<ChildStdout>>,
    stderr: Stderr,
}

/// A child's stderr, read as it comes, to its end. Left unread, a full pipe
/// (64 KiB of warnings) would block the child's next log line and with it
/// the thread that logs: a hang that looks like the child's own.
struct Stderr {
    text: Arc<Mutex<Vec<u8>>>,
    reader: JoinHandle<()>,
}

impl Stderr {
    fn read(mut pipe: ChildStderr) -> Stderr {
        let text = Arc::new(Mutex::new(Vec::new()));
        let reader = tokio::spawn({
            let text = text.clone();
            async move {
                let mut chunk = [0; 4096];
                while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
                    text.lock().unwrap().extend_from_slice(&chunk[..n]);
                }
            }
        });
        Stderr { text, reader }
    }

    /// What arrived so far.
    fn so_far(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// Everything, once the pipe has ended (the child exited).
    async fn all(mut self) -> String {
        within(TIMEOUT, "stderr to end", &mut self.reader)
            .await
            .expect("stderr reader");
        self.so_far()
    }
}

/// Starts `bin args` (which should include `--port 0`) and waits for its
/// `listening on IP:PORT` line.
pub async fn start_server(bin: &str, args: &[&str]) -> Server {
    let mut child = command(bin, args)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
    let stderr = Stderr::read(child.stderr.take().expect("piped"));
    let line = within(TIMEOUT, "the listening on line", stdout.next_line())
        .await
        .expect("read stdout")
        .unwrap_or_else(|| panic!("{bin} exited before listening"));
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not a listening line: {line:?}"));
    Server {
        child,
        addr,
        stdout,
        stderr,
    }
}

impl Server {
    /// Everything the server wrote to stderr; call it once the server has
    /// exited (it waits for the end of the pipe).
    pub async fn stderr(self) -> String {
        self.stderr.all().await
    }

    /// Sends `signal`, waits for the exit and checks that it is 0 with
    /// nothing more on stdout (exactly one `listening on` line); returns
    /// what the server wrote to stderr.
    pub async fn stop_with(mut self, signal: nix::sys::signal::Signal) -> String {
        let pid = self.child.id().expect("running") as i32;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).expect("signal");
        let status = match tokio::time::timeout(TIMEOUT, self.child.wait()).await {
            Ok(status) => status.expect("wait"),
            Err(_) => panic!(
                "the server did not exit within {TIMEOUT:?} of {signal}; stderr so far:\n{}",
                self.stderr.so_far()
            ),
        };
        let mut rest = String::new();
        let mut stdout = self.stdout.into_inner();
        within(TIMEOUT, "stdout to end", stdout.read_to_string(&mut rest))
            .await
            .expect("read stdout");
        let stderr = self.stderr.all().await;
        assert!(
            status.success(),
            "exit status {status} after {signal}; stderr:\n{stderr}"
        );
        assert_eq!(rest, "", "more stdout after the listening line");
        stderr
    }

    /// [`stop_with`](Self::stop_with) SIGTERM.
    pub async fn stop(self) -> String {
        self.stop_with(nix::sys::signal::Signal::SIGTERM).await
    }
}

/// A line client over plain TCP.
pub struct LineClient {
    pub lines: Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    pub write: tokio::net::tcp::OwnedWriteHalf,
}

impl LineClient {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> LineClient {
        let stream = within(TIMEOUT, "connect", tokio::net::TcpStream::connect(addr))
            .await
            .expect("connect");
        let (read, write) = stream.into_split();
        LineClient {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    /// Sends `data` as it is.
    pub async fn send(&mut self, data: &str) {
        use tokio::io::AsyncWriteExt;
        within(TIMEOUT, "write", self.write.write_all(data.as_bytes()))
            .await
            .expect("write");
    }

    /// The next line, without its `\n`; `None` at EOF.
    pub async fn line(&mut self) -> Option<String> {
        within(TIMEOUT, "a line", self.lines.next_line())
            .await
            .expect("read")
    }

    /// Sends `command\n` and returns the reply line.
    pub async fn ask(&mut self, command: &str) -> String {
        self.send(&format!("{command}\n")).await;
        self.line()
            .await
            .unwrap_or_else(|| panic!("closed instead of answering {command:?}"))
    }
}
