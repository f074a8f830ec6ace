//! Fixtures for the bounded-memory tests: a server in a child process (this
//! test binary re-run in child mode) whose memory is read from /proc, and a
//! per-client byte pattern that a reader checks as it arrives.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The test binary, re-run with `env` set so that test `name` plays the
/// server. Killed when dropped.
pub struct ChildServer {
    child: Child,
    lines: Mutex<mpsc::Receiver<String>>,
    /// The child's stdin, for [`dump`](Self::dump).
    stdin: Mutex<Option<std::process::ChildStdin>>,
}

impl ChildServer {
    /// Starts test `name` of this binary in child mode (`env=1`).
    pub fn spawn(name: &str, env: &str) -> ChildServer {
        Self::spawn_with(name, env, "1")
    }

    /// Starts test `name` of this binary in child mode (`env=value`).
    pub fn spawn_with(name: &str, env: &str, value: &str) -> ChildServer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(env, value)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test binary runs again as the server");
        let stdin = Mutex::new(child.stdin.take());
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        ChildServer {
            child,
            lines: Mutex::new(lines),
            stdin,
        }
    }

    /// Asks a child that serves [`answer_dumps`] for the state of its
    /// connections, for a failure message: the lines it printed between
    /// `DUMP` and `DUMP END` (empty if it did not answer within 10 s).
    pub fn dump(&self) -> Vec<String> {
        let asked = self
            .stdin
            .lock()
            .unwrap()
            .as_mut()
            .is_some_and(|stdin| writeln!(stdin, "DUMP").and_then(|()| stdin.flush()).is_ok());
        let mut dumped = Vec::new();
        if !asked {
            return dumped;
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let lines = self.lines.lock().unwrap();
        while let Ok(line) =
            lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            if line.contains("DUMP END") {
                break;
            }
            dumped.push(line);
        }
        dumped
    }

    /// Waits (up to `limit`) for a line of the child's containing `tag`, and
    /// returns what follows the tag. libtest prints "test <name> ... " first
    /// on the same line, hence the search.
    pub fn wait_for(&self, tag: &str, limit: Duration) -> String {
        self.try_wait_for(tag, limit)
            .unwrap_or_else(|gone| panic!("the child {gone} before saying {tag:?}"))
    }

    /// [`wait_for`](Self::wait_for), with what went wrong as an error:
    /// "did not answer within ..." or "exited".
    fn try_wait_for(&self, tag: &str, limit: Duration) -> Result<String, String> {
        let deadline = std::time::Instant::now() + limit;
        let lines = self.lines.lock().unwrap();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, rest)) = line.split_once(tag) {
                        return Ok(rest.trim().to_owned());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("did not answer within {limit:?}"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err("exited".to_owned()),
            }
        }
    }

    /// [`wait_for`](Self::wait_for) from async code, without blocking the
    /// runtime; a child that does not say `tag` in time is asked for a
    /// [`dump`](Self::dump), which the panic shows.
    pub async fn wait_for_async(self: &Arc<Self>, tag: &'static str, limit: Duration) -> String {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.try_wait_for(tag, limit).unwrap_or_else(|gone| {
                let dump = this.dump().join("\n");
                panic!("the child {gone} before saying {tag:?}; its dump:\n{dump}")
            })
        })
        .await
        .unwrap()
    }

    /// The child's current resident set (`VmRSS`) in bytes.
    pub fn rss(&self) -> u64 {
        status_bytes(self.child.id(), "VmRSS:")
    }

    /// The child's peak resident set so far (`VmHWM`) in bytes.
    pub fn peak_rss(&self) -> u64 {
        status_bytes(self.child.id(), "VmHWM:")
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's side of [`ChildServer::dump`]: until the parent kills it (or
/// for at most 300 s, should the parent be lost), answers each `DUMP` line on
/// stdin with `describe()`'s lines, then `DUMP END`. Spawn it first, so that
/// a child stuck before its next line still answers.
pub async fn answer_dumps(describe: impl Fn() -> Vec<String>) {
    use tokio::io::AsyncBufReadExt;
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let _ = tokio::time::timeout(Duration::from_secs(300), async {
        while let Ok(Some(line)) = stdin.next_line().await {
            if line.trim() == "DUMP" {
                for described in describe() {
                    println!("{described}");
                }
                println!("DUMP END");
            }
        }
    })
    .await;
}

/// A `kB` field of `/proc/<pid>/status`, in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// Mebibytes, for messages.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Length of the pattern (a prime, so its period never lines up with read
/// or write sizes).
const PATTERN_LEN: usize = 1_048_573;

/// Pseudo-random bytes every client's stream is cut from.
fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        (0..PATTERN_LEN)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    })
}

/// Where client `client`'s stream starts in the pattern.
fn start_of(client: usize) -> usize {
    (client * 65_537) % PATTERN_LEN
}

/// Writes `len` bytes of client `client`'s stream, then half-closes.
pub async fn write_stream<W: AsyncWrite + Unpin>(mut w: W, client: usize, len: usize) {
    let pattern = pattern();
    let mut at = start_of(client);
    let mut left = len;
    while left > 0 {
        let n = left.min(PATTERN_LEN - at).min(256 * 1024);
        w.write_all(&pattern[at..at + n]).await.unwrap();
        at = (at + n) % PATTERN_LEN;
        left -= n;
    }
    w.shutdown().await.unwrap();
}

/// Reads until EOF and checks every byte against client `client`'s stream
/// (a byte-for-byte comparison, done with `memcmp` so that a debug build
/// keeps up); returns how many bytes arrived.
pub async fn read_stream<R: AsyncRead + Unpin>(mut r: R, client: usize) -> usize {
    let pattern = pattern();
    let mut at = start_of(client);
    let mut total = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf).await.unwrap();
        if n == 0 {
            return total;
        }
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            let m = chunk.len().min(PATTERN_LEN - at);
            assert!(
                chunk[..m] == pattern[at..at + m],
                "client {client}: wrong bytes at offset {total}"
            );
            chunk = &chunk[m..];
            at = (at + m) % PATTERN_LEN;
            total += m;
        }
    }
}
