//! File server: one request line per connection, the file's bytes back by
//! `Transport::sendfile` (zero-copy `sendfile(2)` over plain TCP, 256 KiB
//! chunks under flow control over TLS). See docs/DESIGN.md for the command line.
//!
//! ```text
//! file_server --root DIR [--host H] [--port P] [--tls --cert F --key F [--client-ca F]]
//!     [--request-timeout SECS] [--max-connections N] [--idle-timeout SECS]
//!     [--handshake-timeout SECS] [--grace SECS] [--workers N]
//! ```
//!
//! The protocol: the client sends `GET <path>\n` (`\r\n` accepted), `path`
//! relative to DIR. The server answers with the file's bytes and closes
//! cleanly (FIN; close_notify first over TLS), or with one line and a close:
//!
//! | request | answer |
//! |---|---|
//! | a regular file inside DIR (through symlinks that stay inside DIR too) | its bytes |
//! | no such file, or a directory | `! error: not found` |
//! | an absolute path, a `..` component, a symlink resolving outside DIR, a file that is not a regular file, or one the server may not read | `! error: forbidden` |
//! | anything else: no `GET `, an empty path, a NUL byte, a line over 4 KiB (refused as soon as 4 KiB arrived without a newline, nothing more is read) | `! error: bad request` |
//!
//! Safe by default: a client has `--request-timeout` (default 10 s) to send
//! its line, a connection that moves no byte for `--idle-timeout` (default
//! 60 s here) is aborted (so a client that stops reading cannot hold a
//! transfer forever), at most `--max-connections` (default 1024 here) are
//! open at once, and nothing of a file is buffered beyond the transport's
//! write buffer (zero-copy: nothing at all).

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aioproto::{BaseProtocol, Protocol, Transport, create_server};
use aioproto_examples::{
    ServerFlags, init_logging, parse_server_args_with, parse_timeout, run_single_threaded,
    shutdown, shutdown_signal, usage_exit,
};
use bytes::{Bytes, BytesMut};
use clap::Parser;
use tokio::sync::oneshot;

/// The longest request line accepted, its newline excluded.
const MAX_LINE: usize = 4 * 1024;

/// File server: `GET <path>` relative to --root, answered with the file's
/// bytes by sendfile, then a clean close.
///
/// Prints `listening on ADDR` once it accepts; exits 0 on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Serve the files under this directory (symlinks are followed only
    /// while they stay inside it).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Close a client that has not sent its whole request line after SECS
    /// seconds (a decimal number above 0).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    request_timeout: Duration,
    #[command(flatten)]
    server: ServerFlags,
}

/// What the server answers a request line with.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    NotFound,
    Forbidden,
    BadRequest,
}

impl Refusal {
    fn line(&self) -> &'static str {
        match self {
            Refusal::NotFound => "! error: not found\n",
            Refusal::Forbidden => "! error: forbidden\n",
            Refusal::BadRequest => "! error: bad request\n",
        }
    }
}

/// Reads the request line, then hands it to the connection's task.
struct Request {
    transport: Option<Transport>,
    pending: BytesMut,
    /// Where the line goes; taken once it is there (or refused).
    line_tx: Option<oneshot::Sender<Result<Bytes, Refusal>>>,
    root: Arc<PathBuf>,
    request_timeout: Duration,
}

impl Request {
    fn answer(&mut self, line: Result<Bytes, Refusal>) {
        if let Some(transport) = &self.transport {
            // One request per connection: read nothing more.
            transport.pause_reading();
        }
        if let Some(tx) = self.line_tx.take() {
            let _ = tx.send(line);
        }
    }
}

impl BaseProtocol for Request {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
        let (tx, rx) = oneshot::channel();
        self.line_tx = Some(tx);
        let transport = transport.clone();
        let root = self.root.clone();
        let limit = self.request_timeout;
        tokio::spawn(async move {
            match tokio::time::timeout(limit, rx).await {
                Ok(Ok(line)) => respond(&transport, &root, line).await,
                // Timed out, or the connection ended before a line came.
                _ => transport.close(),
            }
        });
    }
}

impl Protocol for Request {
    fn data_received(&mut self, data: Bytes) {
        if self.line_tx.is_none() {
            return;
        }
        let searched = self.pending.len();
        self.pending.extend_from_slice(&data);
        let window = &self.pending[..self.pending.len().min(MAX_LINE + 1)];
        match window[searched.min(window.len())..]
            .iter()
            .position(|&b| b == b'\n')
        {
            Some(at) => {
                let mut line = self.pending.split_to(searched + at).freeze();
                if line.ends_with(b"\r") {
                    line.truncate(line.len() - 1);
                }
                self.answer(Ok(line));
            }
            None if self.pending.len() > MAX_LINE => self.answer(Err(Refusal::BadRequest)),
            None => {}
        }
    }
}

/// Answers one request line: the file by sendfile, or a refusal; then closes.
async fn respond(transport: &Transport, root: &Path, line: Result<Bytes, Refusal>) {
    let opened = match line {
        Ok(line) => {
            let root = root.to_owned();
            tokio::task::spawn_blocking(move || open_inside(&root, &line))
                .await
                .unwrap_or(Err(Refusal::BadRequest))
        }
        Err(refusal) => Err(refusal),
    };
    match opened {
        Ok(file) => {
            if let Err(e) = transport.sendfile(&file, 0, None).await {
                // A truncated file must not look complete: reset, not FIN.
                tracing::debug!(error = %e, "transfer failed");
                transport.abort();
                return;
            }
        }
        Err(refusal) => transport.write(refusal.line()),
    }
    transport.close();
}

/// Opens `GET <path>`'s file if it is a regular file inside `root` (which is
/// canonical). The check is made on the file actually opened (its path read
/// back from `/proc/self/fd`), so a symlink swapped in between cannot escape.
fn open_inside(root: &Path, line: &[u8]) -> Result<File, Refusal> {
    let path = line.strip_prefix(b"GET ").ok_or(Refusal::BadRequest)?;
    if path.is_empty() || path.contains(&0) {
        return Err(Refusal::BadRequest);
    }
    let path = Path::new(OsStr::from_bytes(path));
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::RootDir | Component::ParentDir | Component::Prefix(_) => {
                return Err(Refusal::Forbidden);
            }
        }
    }
    // Non-blocking, so a FIFO someone linked in cannot hang the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(root.join(path))
        .map_err(|e| refusal_for(&e))?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .map_err(|_| Refusal::Forbidden)?;
    if !real.starts_with(root) {
        return Err(Refusal::Forbidden);
    }
    let metadata = file.metadata().map_err(|e| refusal_for(&e))?;
    if metadata.is_dir() {
        return Err(Refusal::NotFound);
    }
    if !metadata.is_file() {
        return Err(Refusal::Forbidden);
    }
    Ok(file)
}

fn refusal_for(err: &std::io::Error) -> Refusal {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => Refusal::NotFound,
        // A symlink loop, or a name too long to exist, leads to no file.
        _ if matches!(
            err.raw_os_error(),
            Some(nix::libc::ELOOP | nix::libc::ENAMETOOLONG)
        ) =>
        {
            Refusal::NotFound
        }
        ErrorKind::PermissionDenied => Refusal::Forbidden,
        _ => Refusal::BadRequest,
    }
}

fn main() {
    init_logging();
    let cli: Cli = parse_server_args_with(
        "8000",
        &[("idle_timeout", "60"), ("max_connections", "1024")],
    );
    let root = std::fs::canonicalize(&cli.root)
        .ok()
        .filter(|root| root.is_dir())
        .unwrap_or_else(|| {
            usage_exit::<Cli>(format!(
                "--root {}: not a directory that can be opened",
                cli.root.display()
            ))
        });
    let options = cli
        .server
        .options_with_tls()
        .unwrap_or_else(|e| usage_exit::<Cli>(e));
    run_single_threaded("file_server", serve(&cli, Arc::new(root), options));
}

async fn serve(
    cli: &Cli,
    root: Arc<PathBuf>,
    options: aioproto::ServerOptions,
) -> aioproto::Result<()> {
    let flags = &cli.server;
    let request_timeout = cli.request_timeout;
    let stop = shutdown_signal()?; // before the listening line
    let factory = move || Request {
        transport: None,
        pending: BytesMut::new(),
        line_tx: None,
        root: root.clone(),
        request_timeout,
    };
    let server = create_server(factory, flags.host(), flags.port(), &options).await?;
    for addr in server.local_addrs() {
        aioproto_examples::announce(addr);
    }
    stop.await;
    shutdown(&[&server], flags.grace()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_are_checked_before_any_open() {
        let root = Path::new("/nonexistent-root");
        for (line, refusal) in [
            (&b"PUT x"[..], Refusal::BadRequest),
            (b"GET ", Refusal::BadRequest),
            (b"GET a\0b", Refusal::BadRequest),
            (b"GET /etc/passwd", Refusal::Forbidden),
            (b"GET a/../../x", Refusal::Forbidden),
            (b"GET missing", Refusal::NotFound),
        ] {
            assert_eq!(open_inside(root, line).unwrap_err(), refusal, "{line:?}");
        }
    }
}
