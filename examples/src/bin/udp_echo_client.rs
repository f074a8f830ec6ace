//! UDP echo client: sends each message as one datagram, prints each reply.
//!
//! ```text
//! udp_echo_client HOST PORT MSG...
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use aioproto::{DatagramOptions, DatagramProtocol, create_datagram_endpoint};
use aioproto_examples::{Args, UsageError, init_logging, run_single_threaded, usage_exit};
use bytes::Bytes;
use tokio::sync::mpsc;

const USAGE: &str = "udp_echo_client HOST PORT MSG...";
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
    let args = Args::parse(&[], &[]).unwrap_or_else(|e| usage_exit(USAGE, &e));
    let [host, port, messages @ ..] = args.positional.as_slice() else {
        usage_exit(USAGE, &UsageError("HOST and PORT are required".into()));
    };
    let port: u16 = port
        .parse()
        .unwrap_or_else(|e| usage_exit(USAGE, &UsageError(format!("PORT {port}: {e}"))));
    run_single_threaded("udp_echo_client", run(host, port, messages));
}

async fn run(host: &str, port: u16, messages: &[String]) -> aioproto::Result<()> {
    let remote = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| aioproto::Error::invalid_argument(format!("{host}: no address")))?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (transport, _client) = create_datagram_endpoint(
        move || Client { received: tx },
        None,
        Some(remote),
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
