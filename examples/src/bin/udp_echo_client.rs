//! UDP echo client: sends each message as one datagram, prints each reply.
//!
//! ```text
//! udp_echo_client HOST PORT MSG...
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use aioproto::{DatagramOptions, DatagramProtocol, create_datagram_endpoint};
use aioproto_examples::{init_logging, run_single_threaded};
use bytes::Bytes;
use clap::Parser;
use tokio::sync::mpsc;

/// UDP echo client: sends each MSG as one datagram, prints each reply.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Server address.
    #[arg(value_name = "HOST")]
    host: String,
    /// Server port.
    #[arg(value_name = "PORT")]
    port: u16,
    /// Messages, one datagram each.
    #[arg(value_name = "MSG")]
    messages: Vec<String>,
}
/// How long to wait for one reply before giving up (UDP may lose datagrams).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Hands replies and errors to `main` through a channel.
struct Client {
    received: mpsc::UnboundedSender<aioproto::Result<Bytes>>,
}

impl DatagramProtocol for Client {
    fn datagram_received(&mut self, data: Bytes, _addr: SocketAddr) {
        let _ = self.received.send(Ok(data));
    }

    fn error_received(&mut self, exc: aioproto::Error) {
        let _ = self.received.send(Err(exc));
    }
}

fn main() {
    init_logging();
    let cli = Cli::parse();
    run_single_threaded("udp_echo_client", run(&cli.host, cli.port, &cli.messages));
}

async fn run(host: &str, port: u16, messages: &[String]) -> aioproto::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    // The endpoint resolves the host, as asyncio's remote_addr=(host, port).
    let (transport, _client) = create_datagram_endpoint(
        move || Client { received: tx },
        None,
        (host, port),
        &DatagramOptions::new(),
    )
    .await?;
    for message in messages {
        transport.sendto(message.clone(), None)?;
        match tokio::time::timeout(REPLY_TIMEOUT, rx.recv()).await {
            Ok(Some(Ok(reply))) => println!("{}", String::from_utf8_lossy(&reply)),
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => return Err(aioproto::Error::Closed("endpoint")),
            Err(_) => return Err(aioproto::Error::Timeout("reply")),
        }
    }
    transport.close();
    Ok(())
}
