//! Baseline for `make bench`: the plainest tokio-rustls echo server, same
//! runtime settings as `echo_server --tls` (one thread, ring provider, 64 KiB
//! buffer per connection). Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
//!
//! ```text
//! raw_tls_echo CERT KEY [PORT]
//! ```

use std::io::Write;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Baseline for `make bench`: the plainest tokio-rustls echo server on
/// 127.0.0.1. Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Server certificate chain (PEM).
    cert: std::path::PathBuf,
    /// Server private key (PEM).
    key: std::path::PathBuf,
    /// Port; 0 picks any free port.
    #[arg(default_value_t = 0)]
    port: u16,
}

fn main() {
    let Cli { cert, key, port } = Cli::parse();
    if let Err(e) = run(&cert, &key, port) {
        eprintln!("raw_tls_echo: {e}");
        std::process::exit(1);
    }
}

fn run(
    cert: &std::path::Path,
    key: &std::path::Path,
    port: u16,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let acceptor = aioproto_tools::tls_acceptor(cert, key)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let listener = TcpListener::bind(("127.0.0.1", port)).await?;
            // The handlers are in place before the listening line.
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", listener.local_addr()?)?;
            out.flush()?;
            drop(out);
            let serve = async move {
                loop {
                    let (tcp, _) = listener.accept().await?;
                    tcp.set_nodelay(true)?;
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let mut buf = vec![0u8; 65536];
                        while let Ok(n) = tls.read(&mut buf).await {
                            if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = tls.shutdown().await;
                    });
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            };
            tokio::select! {
                r = serve => r?,
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            Ok(())
        })
}
