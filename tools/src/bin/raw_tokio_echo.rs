//! The baseline for `make bench`: a plain tokio echo server, as a tokio user
//! would write it (64 KiB buffer per connection, single-threaded runtime).
//!
//! `raw_tokio_echo [--port P] [--runtime current|multi]` prints `listening on ADDR` and
//! exits 0 on SIGTERM/SIGINT. `--runtime multi` runs it on the multi-thread runtime
//! `#[tokio::main]` builds, to show what that scheduler costs raw tokio.

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The baseline for `make bench`: a plain tokio echo server on 127.0.0.1.
/// Prints `listening on ADDR`, exits 0 on SIGINT/SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Port; 0 picks any free port.
    #[arg(long, value_name = "P", default_value_t = 0)]
    port: u16,
    /// The tokio runtime: `current` (one thread) or `multi` (what `#[tokio::main]` builds).
    #[arg(long, value_enum, default_value_t = Runtime::Current)]
    runtime: Runtime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Runtime {
    Current,
    Multi,
}

fn main() -> std::io::Result<()> {
    let Cli { port, runtime } = Cli::parse();
    aioproto_tools::serve_raw(port, runtime == Runtime::Multi, |mut stream| {
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
    })
}
