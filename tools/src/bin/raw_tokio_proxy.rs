//! The baseline of `tools/bench/55_proxy.sh`: a plain tokio TCP proxy, as a
//! tokio user would write it (`copy_bidirectional`, one task per client,
//! single-threaded runtime).
//!
//! `raw_tokio_proxy --to ADDR [--port P] [--buffer BYTES]` prints `listening on
//! ADDR` and exits 0 on SIGTERM/SIGINT. `--buffer` is each direction's copy
//! buffer: tokio's `copy_bidirectional` uses 8 KiB; the bench passes 64 KiB,
//! aioproto's read size, so the baseline is not slowed by small reads.

use std::net::SocketAddr;

use clap::Parser;
use tokio::net::TcpStream;

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The baseline of the proxy bench: a plain tokio proxy on 127.0.0.1 that
/// relays each client to `--to` with `tokio::io::copy_bidirectional`.
/// Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Port; 0 picks any free port.
    #[arg(long, value_name = "P", default_value_t = 0)]
    port: u16,
    /// The upstream, IP:PORT.
    #[arg(long, value_name = "IP:PORT")]
    to: SocketAddr,
    /// Each direction's copy buffer, in bytes (tokio's default is 8 KiB).
    #[arg(long, value_name = "BYTES", default_value_t = 8 * 1024, value_parser = clap::value_parser!(usize))]
    buffer: usize,
}

fn main() -> std::io::Result<()> {
    let Cli { port, to, buffer } = Cli::parse();
    let buffer = buffer.max(1);
    aioproto_tools::serve_raw(port, false, move |mut client| {
        tokio::spawn(async move {
            let Ok(mut upstream) = TcpStream::connect(to).await else {
                return;
            };
            let _ = upstream.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional_with_sizes(
                &mut client,
                &mut upstream,
                buffer,
                buffer,
            )
            .await;
        });
    })
}
