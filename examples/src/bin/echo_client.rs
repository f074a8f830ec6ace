//! Echo client: sends each message, prints each echo. See DESIGN.md.
//!
//! ```text
//! echo_client HOST PORT MSG...
//! echo_client --unix PATH MSG...
//! ```

use std::time::Duration;

use aioproto::{BaseProtocol, ConnectOptions, Protocol, Transport, create_connection};
use aioproto_examples::{Args, UsageError, init_logging, usage_exit};
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

const USAGE: &str = "echo_client HOST PORT MSG... | echo_client --unix PATH MSG...";
/// How long to wait for one echo before giving up.
const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

/// Collects echoed bytes and hands them to `main` through a channel.
struct Client {
    received: mpsc::UnboundedSender<Option<Bytes>>,
}

impl BaseProtocol for Client {
    fn connection_lost(&mut self, _exc: Option<aioproto::Error>) {
        let _ = self.received.send(None);
    }
}

impl Protocol for Client {
    fn data_received(&mut self, data: Bytes) {
        let _ = self.received.send(Some(data));
    }
}

fn main() {
    init_logging();
    let args = Args::parse(&["unix"], &[]).unwrap_or_else(|e| usage_exit(USAGE, &e));
    let (target, messages) = match args.value("unix") {
        Some(path) => (Target::Unix(path.into()), args.positional.as_slice()),
        None => {
            let [host, port, messages @ ..] = args.positional.as_slice() else {
                usage_exit(USAGE, &UsageError("HOST and PORT are required".into()));
            };
            let port: u16 = port
                .parse()
                .unwrap_or_else(|e| usage_exit(USAGE, &UsageError(format!("PORT {port}: {e}"))));
            (Target::Tcp(host.clone(), port), messages)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run(target, messages)) {
        eprintln!("echo_client: {e}");
        std::process::exit(1);
    }
}

/// Where to connect.
enum Target {
    Tcp(String, u16),
    Unix(std::path::PathBuf),
}

async fn connect(target: Target, client: Client) -> aioproto::Result<Transport> {
    let (transport, _client) = match target {
        Target::Tcp(host, port) => {
            create_connection(move || client, &host, port, &ConnectOptions::new()).await?
        }
        Target::Unix(path) => aioproto::create_unix_connection(move || client, path).await?,
    };
    Ok(transport)
}

async fn run(target: Target, messages: &[String]) -> aioproto::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let transport = connect(target, Client { received: tx }).await?;
    for message in messages {
        transport.write(message.clone());
        let mut echo = BytesMut::new();
        while echo.len() < message.len() {
            match tokio::time::timeout(ECHO_TIMEOUT, rx.recv()).await {
                Ok(Some(Some(data))) => echo.extend_from_slice(&data),
                Ok(_) => return Err(aioproto::Error::Closed("connection")),
                Err(_) => return Err(aioproto::Error::Timeout("echo")),
            }
        }
        println!("{}", String::from_utf8_lossy(&echo));
    }
    transport.close();
    Ok(())
}
