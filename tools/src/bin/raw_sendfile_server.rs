//! Baseline for `make bench` (tools/bench/35_file.sh): the plainest tokio
//! program speaking `file_server`'s protocol (one line `GET <path>\n`, the
//! file's bytes, close). Plain TCP sends with `sendfile(2)` on writable
//! readiness; `--tls` copies the file through tokio-rustls with 256 KiB
//! reads. No path checks beyond refusing `..` and absolute paths: a bench
//! baseline on loopback, not a server. Single-threaded runtime, like
//! `file_server`. Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
//!
//! ```text
//! raw_sendfile_server --root DIR [--port P] [--tls --cert F --key F]
//! ```

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, Interest,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bench baseline: `GET <path>` answered by plain sendfile(2) (or, with
/// --tls, tokio-rustls and 256 KiB reads) on 127.0.0.1.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// The directory served.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// Port; 0 picks any free port.
    #[arg(long, value_name = "P", default_value_t = 0)]
    port: u16,
    /// Serve TLS (needs --cert and --key).
    #[arg(long, requires_all = ["cert", "key"])]
    tls: bool,
    /// Server certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls")]
    cert: Option<PathBuf>,
    /// Server private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls")]
    key: Option<PathBuf>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("raw_sendfile_server: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<(), BoxError> {
    let tls = match (&cli.cert, &cli.key) {
        (Some(cert), Some(key)) => Some(aioproto_tools::tls_acceptor(cert, key)?),
        _ => None,
    };
    let root = Arc::new(cli.root);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(("127.0.0.1", cli.port)).await?;
            // The handlers are in place before the listening line.
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            aioproto_tools::announce(listener.local_addr()?);
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let (tcp, _) = accepted?;
                        tcp.set_nodelay(true)?;
                        let (root, tls) = (root.clone(), tls.clone());
                        tokio::spawn(async move {
                            let _ = match tls {
                                None => serve_plain(tcp, &root).await,
                                Some(tls) => match tls.accept(tcp).await {
                                    Ok(stream) => serve_tls(stream, &root).await,
                                    Err(e) => Err(e),
                                },
                            };
                        });
                    }
                    _ = term.recv() => return Ok(()),
                    _ = int.recv() => return Ok(()),
                }
            }
        })
}

/// Reads the request line and opens its file (`None`: refused).
async fn request<S: AsyncRead + Unpin>(stream: &mut S, root: &Path) -> io::Result<Option<File>> {
    let mut line = String::new();
    BufReader::new(stream)
        .take(4096)
        .read_line(&mut line)
        .await?;
    let Some(path) = line.trim_end().strip_prefix("GET ") else {
        return Ok(None);
    };
    let path = Path::new(path);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Ok(None);
    }
    Ok(File::open(root.join(path)).ok())
}

async fn serve_plain(mut tcp: TcpStream, root: &Path) -> io::Result<()> {
    let Some(file) = request(&mut tcp, root).await? else {
        return tcp.write_all(b"! error: not found\n").await;
    };
    let len = file.metadata()?.len();
    let mut offset: i64 = 0;
    while (offset as u64) < len {
        tcp.writable().await?;
        let remaining = (len - offset as u64).min(0x7fff_f000) as usize;
        match tcp.try_io(Interest::WRITABLE, || {
            nix::sys::sendfile::sendfile(tcp.as_fd(), file.as_fd(), Some(&mut offset), remaining)
                .map_err(io::Error::from)
        }) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn serve_tls<S: AsyncRead + AsyncWrite + Unpin>(mut tls: S, root: &Path) -> io::Result<()> {
    let Some(file) = request(&mut tls, root).await? else {
        tls.write_all(b"! error: not found\n").await?;
        return tls.shutdown().await;
    };
    let mut file = tokio::fs::File::from_std(file);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).await?;
    }
    tls.shutdown().await
}
