//! Echo server: sends every byte back, over TCP, TLS, or plaintext upgraded
//! with STARTTLS. See DESIGN.md for the command line.
//!
//! ```text
//! echo_server [--host H] [--port P] [--tls --cert F --key F [--client-ca F]]
//! echo_server [--host H] [--port P] --starttls --cert F --key F
//! echo_server --unix PATH
//! ```
//!
//! With `--starttls` the connection starts in plaintext; when the client sends
//! the line `STARTTLS`, the server answers `READY` and both sides upgrade to
//! TLS (`start_tls`), and echo goes on over TLS with the same protocol.

use aioproto::{
    BaseProtocol, Protocol, ServerOptions, ServerTls, Transport, create_server, start_tls_with_data,
};
use aioproto_examples::{
    Args, UsageError, announce, init_logging, run_single_threaded, server_tls_from_args,
    shutdown_signal, usage_exit,
};
use bytes::{Bytes, BytesMut};

const USAGE: &str = "echo_server [--host H] [--port P] \
    [--tls --cert F --key F [--client-ca F]] [--starttls --cert F --key F] | echo_server --unix PATH";

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

/// Echo that upgrades to TLS on the line `STARTTLS`.
///
/// It keeps its first transport: after `start_tls`, writes and `close()` on
/// that handle go to the TLS transport.
struct StartTlsEcho {
    transport: Option<Transport>,
    tls: ServerTls,
    /// The start of a line that may still turn out to be `STARTTLS`.
    pending: BytesMut,
    upgraded: bool,
}

impl BaseProtocol for StartTlsEcho {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
}

impl Protocol for StartTlsEcho {
    fn data_received(&mut self, data: Bytes) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        if self.upgraded {
            transport.write(data);
            return;
        }
        self.pending.extend_from_slice(&data);
        loop {
            let Some(end) = self.pending.iter().position(|&b| b == b'\n') else {
                // Echo a partial line at once unless it may become `STARTTLS`.
                if !b"STARTTLS\r".starts_with(&self.pending) {
                    transport.write(self.pending.split().freeze());
                }
                return;
            };
            let line = self.pending.split_to(end + 1).freeze();
            if line.trim_ascii_end() != b"STARTTLS" {
                transport.write(line);
                continue;
            }
            transport.write("READY\n");
            self.upgraded = true;
            // Bytes after the line already belong to the TLS handshake.
            let rest = self.pending.split().freeze();
            let upgrading = start_tls_with_data(&transport, self.tls.clone(), true, None, rest);
            tokio::spawn(async move {
                if let Err(e) = upgrading.await {
                    tracing::warn!(error = %e, "STARTTLS upgrade failed");
                }
            });
            return;
        }
    }
}

enum Mode {
    Plain,
    Unix(std::path::PathBuf),
    Tls(ServerTls),
    StartTls(ServerTls),
}

fn main() {
    init_logging();
    let args = Args::parse(
        &["host", "port", "cert", "key", "client-ca", "unix"],
        &["tls", "starttls"],
    )
    .unwrap_or_else(|e| usage_exit(USAGE, &e));
    let host = args.value("host").unwrap_or("127.0.0.1").to_owned();
    let port = args
        .parsed("port", 8888u16)
        .unwrap_or_else(|e| usage_exit(USAGE, &e));
    let mode = mode(&args).unwrap_or_else(|e| usage_exit(USAGE, &e));
    run_single_threaded("echo_server", serve(&host, port, mode));
}

/// Reads the TLS flags into a mode.
fn mode(args: &Args) -> Result<Mode, UsageError> {
    let (tls, starttls) = (args.flag("tls"), args.flag("starttls"));
    if tls && starttls {
        return Err(UsageError("--tls and --starttls exclude each other".into()));
    }
    if let Some(path) = args.value("unix") {
        if tls || starttls {
            return Err(UsageError("--unix serves plain echo only".into()));
        }
        return Ok(Mode::Unix(path.into()));
    }
    let Some(server_tls) = server_tls_from_args(args, tls || starttls, "--tls or --starttls")?
    else {
        return Ok(Mode::Plain);
    };
    Ok(if tls {
        Mode::Tls(server_tls)
    } else {
        Mode::StartTls(server_tls)
    })
}

async fn serve(host: &str, port: u16, mode: Mode) -> aioproto::Result<()> {
    let mut options = ServerOptions::new();
    let server = match mode {
        Mode::Plain => create_server(Echo::default, host, port, &options).await?,
        Mode::Unix(path) => {
            let server = aioproto::create_unix_server(Echo::default, &path, &options).await?;
            announce(path.display());
            server
        }
        Mode::Tls(tls) => {
            options.tls(tls);
            create_server(Echo::default, host, port, &options).await?
        }
        Mode::StartTls(tls) => {
            let factory = move || StartTlsEcho {
                transport: None,
                tls: tls.clone(),
                pending: BytesMut::new(),
                upgraded: false,
            };
            create_server(factory, host, port, &options).await?
        }
    };
    for addr in server.local_addrs() {
        announce(addr);
    }
    shutdown_signal().await?;
    server.close();
    server.close_clients();
    server.wait_closed().await;
    Ok(())
}
