//! Line chat client: stdin lines go to the server, server lines go to stdout.
//! See docs/DESIGN.md for the chat protocol (the first line is your nickname).
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

use aioproto::{BaseProtocol, ConnectOptions, Error, Protocol, create_connection};
use aioproto_examples::{
    ClientTlsFlags, init_logging, run_single_threaded, stdin_lines, usage_exit,
};
use bytes::Bytes;
use clap::Parser;
use tokio::sync::oneshot;

/// Line chat client: stdin lines go to the server, server lines go to stdout.
///
/// The first line you type is your nickname; then `/who`, `/quit` or any
/// text. Exits when the server closes the connection: after `/quit`, or once
/// stdin ends.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Server to connect to (the HOST argument wins).
    #[arg(long = "host", value_name = "HOST", default_value = "127.0.0.1")]
    host_flag: String,
    /// Server port (the PORT argument wins).
    #[arg(long = "port", value_name = "PORT", default_value_t = 7777)]
    port_flag: u16,
    #[command(flatten)]
    tls: ClientTlsFlags,
    /// Server to connect to.
    #[arg(value_name = "HOST")]
    host: Option<String>,
    /// Server port.
    #[arg(value_name = "PORT")]
    port: Option<u16>,
}

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
    let cli = Cli::parse();
    let host = cli.host.unwrap_or(cli.host_flag);
    let port = cli.port.unwrap_or(cli.port_flag);
    let mut options = ConnectOptions::new();
    match cli.tls.client_tls(cli.tls.tls, "--tls") {
        Ok(Some(tls)) => {
            options.tls(tls);
        }
        Ok(None) => {}
        Err(e) => usage_exit::<Cli>(e),
    }
    run_single_threaded("chat_client", run(&host, port, &options));
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
    // Stdin is read on a plain thread (see stdin_lines): the program exits as
    // soon as the connection ends, even while stdin stays open.
    let mut stdin = stdin_lines();
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
            line = stdin.recv(), if stdin_open => match line {
                Some(line) => {
                    transport.write(line);
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
