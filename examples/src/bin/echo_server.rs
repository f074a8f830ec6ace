//! Echo server: sends every byte back. See DESIGN.md for the command line.
//!
//! ```text
//! echo_server [--host H] [--port P]
//! echo_server --unix PATH
//! ```

use aioproto::{BaseProtocol, Protocol, Server, ServerOptions, Transport, create_server};
use aioproto_examples::{Args, announce, init_logging, shutdown_signal, usage_exit};
use bytes::Bytes;

const USAGE: &str = "echo_server [--host H] [--port P] | echo_server --unix PATH";

/// The whole protocol: keep the transport, write back what arrives.
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: Bytes) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}

fn main() {
    init_logging();
    let args =
        Args::parse(&["host", "port", "unix"], &[]).unwrap_or_else(|e| usage_exit(USAGE, &e));
    let host = args.value("host").unwrap_or("127.0.0.1").to_owned();
    let port = args
        .parsed("port", 8888u16)
        .unwrap_or_else(|e| usage_exit(USAGE, &e));
    // One thread, like asyncio: the benchmark pins this process to one core.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let unix = args.value("unix").map(std::path::PathBuf::from);
    if let Err(e) = runtime.block_on(serve(&host, port, unix)) {
        eprintln!("echo_server: {e}");
        std::process::exit(1);
    }
}

async fn serve(host: &str, port: u16, unix: Option<std::path::PathBuf>) -> aioproto::Result<()> {
    let server = listen(host, port, unix).await?;
    shutdown_signal().await?;
    server.close();
    server.close_clients();
    server.wait_closed().await;
    Ok(())
}

/// Starts the server on TCP, or on a Unix socket with `--unix PATH`, and
/// announces where it listens.
async fn listen(
    host: &str,
    port: u16,
    unix: Option<std::path::PathBuf>,
) -> aioproto::Result<Server> {
    let options = ServerOptions::new();
    if let Some(path) = unix {
        let server = aioproto::create_unix_server(Echo::default, &path, &options).await?;
        announce(path.display());
        return Ok(server);
    }
    let server = create_server(Echo::default, host, port, &options).await?;
    for addr in server.local_addrs() {
        announce(addr);
    }
    Ok(server)
}
