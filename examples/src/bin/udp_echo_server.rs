//! UDP echo server: sends every datagram back to its sender. See docs/DESIGN.md.
//!
//! ```text
//! udp_echo_server [--host H] [--port P]
//! ```

use std::net::SocketAddr;

use aioproto::{DatagramOptions, DatagramProtocol, DatagramTransport, create_datagram_endpoint};
use aioproto_examples::{
    ListenFlags, announce, init_logging, parse_server_args, run_single_threaded, shutdown_signal,
};
use bytes::Bytes;
use clap::Parser;

/// UDP echo server: sends every datagram back to its sender.
///
/// Prints `listening on ADDR` once it receives; exits 0 on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    listen: ListenFlags,
}

/// The whole protocol: keep the transport, send each datagram back, and
/// drop the replies while the send buffer is over its high-water mark.
///
/// UDP promises no delivery, so a server that cannot send drops rather than
/// queues: a peer flooding it while the kernel's send buffer is full would
/// otherwise make the queue grow without bound.
#[derive(Default)]
struct Echo {
    transport: Option<DatagramTransport>,
    /// Between `pause_writing` and `resume_writing`.
    paused: bool,
    /// Replies dropped while paused, reported when the buffer drains.
    dropped: u64,
}

impl DatagramProtocol for Echo {
    fn connection_made(&mut self, transport: &DatagramTransport) {
        self.transport = Some(transport.clone());
    }

    fn datagram_received(&mut self, data: Bytes, addr: SocketAddr) {
        if self.paused {
            self.dropped += 1;
            return;
        }
        if let Some(transport) = &self.transport {
            // Cannot fail: the endpoint has no remote_addr and addr is given.
            let _ = transport.sendto(data, Some(addr));
        }
    }

    fn pause_writing(&mut self) {
        self.paused = true;
    }

    fn resume_writing(&mut self) {
        self.paused = false;
        if self.dropped > 0 {
            tracing::warn!(
                dropped = self.dropped,
                "replies dropped while the send buffer was full"
            );
            self.dropped = 0;
        }
    }

    fn error_received(&mut self, exc: aioproto::Error) {
        tracing::warn!(error = %exc, "datagram error");
    }
}

fn main() {
    init_logging();
    let cli: Cli = parse_server_args("9999");
    run_single_threaded("udp_echo_server", serve(&cli.listen.host, cli.listen.port));
}

async fn serve(host: &str, port: u16) -> aioproto::Result<()> {
    // A host name is resolved by the endpoint, as asyncio's local_addr=(host, port).
    let (transport, _echo) =
        create_datagram_endpoint(Echo::default, (host, port), None, &DatagramOptions::new())
            .await?;
    let stop = shutdown_signal()?; // before the listening line
    if let Some(addr) = transport.sockname() {
        announce(addr);
    }
    stop.await;
    transport.close();
    Ok(())
}
