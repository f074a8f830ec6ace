//! Line echo server on the streams layer (asyncio's `start_server` with a
//! `StreamReader` and a `StreamWriter` per client), TCP or TLS.
//!
//! ```text
//! streams_echo_server [--host H] [--port P] [--tls --cert F --key F [--client-ca F]]
//! ```
//!
//! Each line a client sends comes back as it was; a last line without `\n`
//! comes back too, then the server closes that connection. The asyncio original:
//!
//! ```python
//! async def handle(reader, writer):
//!     while line := await reader.readline():
//!         writer.write(line)
//!         await writer.drain()
//!     writer.close()
//!     await writer.wait_closed()
//!
//! server = await asyncio.start_server(handle, '127.0.0.1', 8889)
//! ```

use aioproto::{DEFAULT_LIMIT, StreamReader, StreamWriter, start_server_with};
use aioproto_examples::{
    ServerFlags, announce, init_logging, parse_server_args, run_single_threaded, shutdown,
    shutdown_signal, usage_exit,
};
use clap::Parser;

/// Line echo server on the streams API (start_server, readline, write, drain):
/// each line comes back as it was.
///
/// Prints `listening on ADDR` once it accepts; exits 0 on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
}

/// One client: read a line, write it back, wait until it is flushed.
async fn handle(reader: StreamReader, writer: StreamWriter) -> aioproto::Result<()> {
    loop {
        let line = reader.readline().await?;
        if line.is_empty() {
            break; // EOF
        }
        writer.write(line);
        // Flow control: wait while the client is slow to read.
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

fn main() {
    init_logging();
    let cli: Cli = parse_server_args("8889");
    let options = cli
        .server
        .options_with_tls()
        .unwrap_or_else(|e| usage_exit::<Cli>(e));
    run_single_threaded("streams_echo_server", async move {
        let flags = &cli.server;
        let server =
            start_server_with(handle, flags.host(), flags.port(), &options, DEFAULT_LIMIT).await?;
        let stop = shutdown_signal()?; // before the listening line
        for addr in server.local_addrs() {
            announce(addr);
        }
        stop.await;
        shutdown(&[&server], cli.server.grace()).await;
        Ok::<_, aioproto::Error>(())
    });
}
