//! The baseline for `make bench`: a plain tokio echo server, as a tokio user
//! would write it (64 KiB buffer per connection, single-threaded runtime).
//!
//! `raw_tokio_echo [--port P]` prints `listening on ADDR` and exits 0 on SIGTERM/SIGINT.

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// The baseline for `make bench`: a plain tokio echo server on 127.0.0.1.
/// Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Port; 0 picks any free port.
    #[arg(long, value_name = "P", default_value_t = 0)]
    port: u16,
}

fn main() -> std::io::Result<()> {
    let Cli { port } = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        // The handlers are in place before the listening line.
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        aioproto_tools::announce(listener.local_addr()?);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (mut stream, _) = accepted?;
                    stream.set_nodelay(true)?;
                    tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => {
                                    if stream.write_all(&buf[..n]).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    });
                }
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
            }
        }
    })
}
