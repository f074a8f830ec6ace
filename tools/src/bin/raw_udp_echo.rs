//! Baseline for `make bench`: the plainest tokio UDP echo server, same runtime
//! settings as `udp_echo_server` (one thread). Prints `listening on ADDR`,
//! exits 0 on SIGINT/SIGTERM.
//!
//! ```text
//! raw_udp_echo [PORT]
//! ```

use std::io::Write;

use clap::Parser;
use tokio::net::UdpSocket;
use tokio::signal::unix::{SignalKind, signal};

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Baseline for `make bench`: the plainest tokio UDP echo server on
/// 127.0.0.1. Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Port; 0 picks any free port.
    #[arg(default_value_t = 0)]
    port: u16,
}

fn main() -> std::io::Result<()> {
    let Cli { port } = Cli::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let socket = UdpSocket::bind(("127.0.0.1", port)).await?;
            // The handlers are in place before the listening line.
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", socket.local_addr()?)?;
            out.flush()?;
            drop(out);
            // The echo loop is its own task, as a plain tokio server would have it.
            let echo = tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    let (n, peer) = socket.recv_from(&mut buf).await?;
                    socket.send_to(&buf[..n], peer).await?;
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            });
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            echo.abort();
            Ok(())
        })
}
