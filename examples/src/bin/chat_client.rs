//! Line chat client: stdin lines go to the server, server lines go to stdout.
//! See DESIGN.md for the chat protocol (the first line is your nickname).
//!
//! ```text
//! chat_client [--host H] [--port P] [--tls --ca F [--cert F --key F] [--server-name N]] [HOST [PORT]]
//! ```
//!
//! `--tls` speaks TLS, trusting the CA in `--ca` (the server certificate is
//! checked against `--server-name`, else HOST).
//!
//! Written on the Protocol layer: the protocol prints what arrives; the main
//! task reads stdin and writes each line to the transport. At the end of stdin
//! the client half-closes, the server says goodbye by closing, and the client
//! exits once `connection_lost` ran.

use std::io::Write;

use aioproto::{BaseProtocol, ClientTls, ConnectOptions, Error, Protocol, create_connection};
use aioproto_examples::{Args, UsageError, init_logging, run_single_threaded, usage_exit};
use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;

const USAGE: &str = "chat_client [--host H] [--port P] \
    [--tls --ca F [--cert F --key F] [--server-name N]] [HOST [PORT]]";

/// Prints everything the server sends; reports the end of the connection.
struct Printer {
    lost: Option<oneshot::Sender<Option<Error>>>,
}

impl BaseProtocol for Printer {
    fn connection_lost(&mut self, exc: Option<Error>) {
        if let Some(tx) = self.lost.take() {
            let _ = tx.send(exc);
        }
    }
}

impl Protocol for Printer {
    fn data_received(&mut self, data: Bytes) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&data);
        let _ = out.flush();
    }
}

fn main() {
    init_logging();
    let args = Args::parse(
        &["host", "port", "ca", "cert", "key", "server-name"],
        &["tls"],
    )
    .unwrap_or_else(|e| usage_exit(USAGE, &e));
    let host = args
        .positional
        .first()
        .map(String::as_str)
        .or(args.value("host"))
        .unwrap_or("127.0.0.1")
        .to_owned();
    let port = match args.positional.get(1) {
        Some(p) => p
            .parse()
            .unwrap_or_else(|e| usage_exit(USAGE, &UsageError(format!("PORT {p}: {e}")))),
        None => args
            .parsed("port", 7777u16)
            .unwrap_or_else(|e| usage_exit(USAGE, &e)),
    };
    if args.positional.len() > 2 {
        usage_exit(USAGE, &UsageError("too many arguments".into()));
    }
    let mut options = ConnectOptions::new();
    if let Some(tls) = tls(&args).unwrap_or_else(|e| usage_exit(USAGE, &e)) {
        options.tls(tls);
    }
    run_single_threaded("chat_client", run(&host, port, &options));
}

/// Reads the TLS flags.
fn tls(args: &Args) -> Result<Option<ClientTls>, UsageError> {
    if !args.flag("tls") {
        for name in ["ca", "cert", "key", "server-name"] {
            if args.value(name).is_some() {
                return Err(UsageError(format!("--{name} needs --tls")));
            }
        }
        return Ok(None);
    }
    let mut builder = ClientTls::builder();
    builder.ca_file(args.required("ca")?);
    match (args.value("cert"), args.value("key")) {
        (Some(cert), Some(key)) => {
            builder.client_cert(cert, key);
        }
        (None, None) => {}
        _ => return Err(UsageError("--cert and --key go together".into())),
    }
    let mut tls = builder
        .build()
        .map_err(|e| UsageError(format!("TLS settings: {e}")))?;
    if let Some(name) = args.value("server-name") {
        tls.server_name(name)
            .map_err(|e| UsageError(format!("--server-name {name}: {e}")))?;
    }
    Ok(Some(tls))
}

async fn run(host: &str, port: u16, options: &ConnectOptions) -> aioproto::Result<()> {
    let (lost_tx, mut lost_rx) = oneshot::channel();
    let (transport, _printer) = create_connection(
        move || Printer {
            lost: Some(lost_tx),
        },
        host,
        port,
        options,
    )
    .await?;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut sent_any = false;
    loop {
        tokio::select! {
            lost = &mut lost_rx => {
                return match lost {
                    Ok(Some(err)) => Err(err),
                    _ => Ok(()),
                };
            }
            line = stdin.next_line(), if stdin_open => match line? {
                Some(line) => {
                    transport.write(format!("{line}\n"));
                    sent_any = true;
                }
                None => {
                    // End of input: half-close, and the server closes in turn
                    // after answering what we sent. TLS cannot half-close, so
                    // there we ask the server to end with /quit (once joined).
                    stdin_open = false;
                    if transport.write_eof().is_err() {
                        if sent_any {
                            transport.write("/quit\n");
                        } else {
                            transport.close();
                        }
                    }
                }
            },
        }
    }
}
