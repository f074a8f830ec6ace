//! UDP echo server: sends every datagram back to its sender. See DESIGN.md.
//!
//! ```text
//! udp_echo_server [--host H] [--port P]
//! ```

use std::net::SocketAddr;

use aioproto::{DatagramOptions, DatagramProtocol, DatagramTransport, create_datagram_endpoint};
use aioproto_examples::{
    Args, UsageError, announce, init_logging, run_single_threaded, shutdown_signal, usage_exit,
};
use bytes::Bytes;

const USAGE: &str = "udp_echo_server [--host H] [--port P]";

/// The whole protocol: keep the transport, send each datagram back.
#[derive(Default)]
struct Echo {
    transport: Option<DatagramTransport>,
}

impl DatagramProtocol for Echo {
    fn connection_made(&mut self, transport: &DatagramTransport) {
        self.transport = Some(transport.clone());
    }

    fn datagram_received(&mut self, data: Bytes, addr: SocketAddr) {
        if let Some(transport) = &self.transport {
            // Cannot fail: the endpoint has no remote_addr and addr is given.
            let _ = transport.sendto(data, Some(addr));
        }
    }

    fn error_received(&mut self, exc: aioproto::Error) {
        tracing::warn!(error = %exc, "datagram error");
    }
}

fn main() {
    init_logging();
    let args = Args::parse(&["host", "port"], &[]).unwrap_or_else(|e| usage_exit(USAGE, &e));
    let host = args.value("host").unwrap_or("127.0.0.1").to_owned();
    let port = args
        .parsed("port", 9999u16)
        .unwrap_or_else(|e| usage_exit(USAGE, &e));
    run_single_threaded("udp_echo_server", serve(&host, port));
}

async fn serve(host: &str, port: u16) -> aioproto::Result<()> {
    let local = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .unwrap_or_else(|| usage_exit(USAGE, &UsageError(format!("{host}: no address"))));
    let (transport, _echo) =
        create_datagram_endpoint(Echo::default, Some(local), None, &DatagramOptions::new()).await?;
    if let Some(addr) = transport.sockname() {
        announce(addr);
    }
    shutdown_signal().await?;
    transport.close();
    Ok(())
}
