//! Echo client: sends each message, prints each echo. See docs/DESIGN.md.
//!
//! ```text
//! echo_client [--tls --ca F [--cert F --key F] [--server-name N]] HOST PORT MSG...
//! echo_client --starttls --ca F [--server-name N] HOST PORT MSG...
//! echo_client --unix PATH MSG...
//! ```
//!
//! `--tls` speaks TLS from the start, trusting the CA in `--ca` (and showing a
//! client certificate with `--cert`/`--key` for servers that ask). `--starttls`
//! connects in plaintext, sends `STARTTLS`, waits for `READY`, then upgrades
//! the same connection with `start_tls` before sending the messages.

use std::time::Duration;

use aioproto::{
    BaseProtocol, ClientTls, ConnectOptions, Protocol, Transport, create_connection, start_tls,
};
use aioproto_examples::{
    ClientTlsFlags, UsageError, init_logging, run_single_threaded, usage_exit,
};
use bytes::{Bytes, BytesMut};
use clap::Parser;
use tokio::sync::mpsc;

/// Echo client: sends each MSG, prints each echo.
///
/// `echo_client [--tls --ca F] HOST PORT MSG...`, or `echo_client --unix PATH MSG...`.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    tls: ClientTlsFlags,
    /// Connect in plaintext, send STARTTLS, wait for READY, then upgrade the
    /// same connection to TLS (needs --ca).
    #[arg(long, conflicts_with = "tls")]
    starttls: bool,
    /// Connect to the Unix socket at PATH; then the arguments are all messages.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["tls", "starttls"])]
    unix: Option<std::path::PathBuf>,
    /// HOST PORT MSG... (or just MSG... with --unix).
    #[arg(value_name = "HOST PORT MSG", num_args = 0..)]
    operands: Vec<String>,
}

/// How long to wait for one echo before giving up.
const ECHO_TIMEOUT: Duration = Duration::from_secs(10);

/// What the protocol hands to `main`.
enum Event {
    Data(Bytes),
    /// The connection ended; `Some` with the reason it failed.
    Lost(Option<aioproto::Error>),
}

/// Collects echoed bytes and hands them to `main` through a channel.
struct Client {
    received: mpsc::UnboundedSender<Event>,
}

impl BaseProtocol for Client {
    fn connection_lost(&mut self, exc: Option<aioproto::Error>) {
        let _ = self.received.send(Event::Lost(exc));
    }
}

impl Protocol for Client {
    fn data_received(&mut self, data: Bytes) {
        let _ = self.received.send(Event::Data(data));
    }
}

enum Mode {
    Plain,
    Tls(ClientTls),
    StartTls(ClientTls),
}

fn main() {
    init_logging();
    let cli = Cli::parse();
    let mode = mode(&cli).unwrap_or_else(|e| usage_exit::<Cli>(e));
    if let Some(path) = cli.unix {
        run_single_threaded("echo_client", run_unix(path, &cli.operands));
    }
    let [host, port, messages @ ..] = cli.operands.as_slice() else {
        usage_exit::<Cli>("HOST and PORT are required");
    };
    let port: u16 = port
        .parse()
        .unwrap_or_else(|e| usage_exit::<Cli>(format!("PORT {port}: {e}")));
    run_single_threaded("echo_client", run(host, port, messages, mode));
}

/// Reads the TLS flags into a mode.
fn mode(cli: &Cli) -> Result<Mode, UsageError> {
    let enabled = cli.tls.tls || cli.starttls;
    let enabling = if cli.unix.is_some() {
        "--tls or --starttls (not --unix)"
    } else {
        "--tls or --starttls"
    };
    Ok(match cli.tls.client_tls(enabled, enabling)? {
        None => Mode::Plain,
        Some(tls) if cli.starttls => Mode::StartTls(tls),
        Some(tls) => Mode::Tls(tls),
    })
}

/// Waits until `want` bytes arrived; returns them. A connection that ends
/// first is an error: the reason it failed, or `Closed`.
async fn receive(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    want: usize,
) -> aioproto::Result<BytesMut> {
    let mut got = BytesMut::new();
    while got.len() < want {
        match tokio::time::timeout(ECHO_TIMEOUT, rx.recv()).await {
            Ok(Some(Event::Data(data))) => got.extend_from_slice(&data),
            Ok(Some(Event::Lost(Some(err)))) => return Err(err),
            Ok(Some(Event::Lost(None)) | None) => {
                return Err(aioproto::Error::Closed("connection"));
            }
            Err(_) => return Err(aioproto::Error::Timeout("echo")),
        }
    }
    Ok(got)
}

/// After `close()`: waits (bounded) for the close to finish, which on TLS is
/// the close_notify exchange; a failed close is the error.
async fn closed(rx: &mut mpsc::UnboundedReceiver<Event>) -> aioproto::Result<()> {
    let end = tokio::time::timeout(ECHO_TIMEOUT, async {
        loop {
            match rx.recv().await {
                Some(Event::Data(_)) => {}
                Some(Event::Lost(exc)) => return exc,
                None => return None,
            }
        }
    })
    .await;
    match end {
        Ok(Some(err)) => Err(err),
        Ok(None) => Ok(()),
        Err(_) => Err(aioproto::Error::Timeout("close")),
    }
}

async fn run(host: &str, port: u16, messages: &[String], mode: Mode) -> aioproto::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut options = ConnectOptions::new();
    let upgrade = match mode {
        Mode::Plain => None,
        Mode::Tls(tls) => {
            options.tls(tls);
            None
        }
        Mode::StartTls(tls) => Some(tls),
    };
    let (mut transport, _client): (Transport, _) =
        create_connection(move || Client { received: tx }, host, port, &options).await?;
    if let Some(tls) = upgrade {
        transport.write("STARTTLS\n");
        let answer = receive(&mut rx, b"READY\n".len()).await?;
        if &answer[..] != b"READY\n" {
            return Err(aioproto::Error::invalid_state(format!(
                "expected READY, got {:?}",
                String::from_utf8_lossy(&answer)
            )));
        }
        transport = start_tls(&transport, tls, false, Some(host)).await?;
        println!("upgraded to TLS");
    }
    if let Some(info) = transport.tls() {
        tracing::info!(version = ?info.protocol_version, cipher = ?info.cipher_suite, "TLS");
    }
    for message in messages {
        transport.write(message.clone());
        let echo = receive(&mut rx, message.len()).await?;
        println!("{}", String::from_utf8_lossy(&echo));
    }
    transport.close();
    closed(&mut rx).await
}

/// `--unix PATH`: the same echo over a Unix socket.
async fn run_unix(path: std::path::PathBuf, messages: &[String]) -> aioproto::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (transport, _client) =
        aioproto::create_unix_connection(move || Client { received: tx }, path).await?;
    for message in messages {
        transport.write(message.clone());
        let echo = receive(&mut rx, message.len()).await?;
        println!("{}", String::from_utf8_lossy(&echo));
    }
    transport.close();
    closed(&mut rx).await
}
