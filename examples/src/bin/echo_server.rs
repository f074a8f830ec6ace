//! Echo server: sends every byte back, over TCP, TLS, or plaintext upgraded
//! with STARTTLS. See docs/DESIGN.md for the command line.
//!
//! ```text
//! echo_server [--host H] [--port P] [--tls --cert F --key F [--client-ca F]]
//! echo_server [--host H] [--port P] --starttls --cert F --key F
//! echo_server --unix PATH
//!     [--proxy-protocol v1|v2|any [--proxy-header-timeout SECS]]
//!     [--max-connections N] [--handshake-timeout SECS] [--grace SECS] [--workers N]
//!     [--runtime current|multi|loop-multi]
//! ```
//!
//! With `--proxy-protocol`, every connection must start with a PROXY protocol
//! header of that version (HAProxy's; `any`: v1 or v2); only what follows it is
//! echoed. A connection that sends anything else first, a malformed header, or
//! no complete header within `--proxy-header-timeout` seconds (default 10), is
//! closed with nothing echoed, and counted as `proxy_header_rejected` in the
//! stats line.
//!
//! On SIGINT or SIGTERM it shuts down within `--grace` seconds (default 10),
//! logs its counters as one line on stderr, and exits 0.
//!
//! With `--starttls` the connection starts in plaintext; when the client sends
//! the line `STARTTLS`, the server answers `READY` and both sides upgrade to
//! TLS (`start_tls`), and echo goes on over TLS with the same protocol.

use aioproto::{
    BaseProtocol, Protocol, ProxyProtocol, ServerTls, Transport, create_server, start_tls_with_data,
};
use std::time::Duration;

use aioproto_examples::{
    RuntimeKind, ServerFlags, UsageError, announce, init_logging, parse_server_args, parse_timeout,
    run_on, shutdown, shutdown_signal, usage_exit,
};
use bytes::{Bytes, BytesMut};
use clap::{Parser, ValueEnum};

/// Echo server: sends every byte back, over TCP, TLS, STARTTLS or a Unix socket.
///
/// Prints `listening on ADDR` once it accepts; exits 0 on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
    /// Start in plaintext and upgrade to TLS when the client sends the line
    /// STARTTLS (needs --cert and --key).
    #[arg(long, conflicts_with = "tls")]
    starttls: bool,
    /// Serve on a Unix socket at PATH instead of TCP (plain echo only).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["tls", "starttls"])]
    unix: Option<std::path::PathBuf>,
    /// Require a PROXY protocol header of this version at the start of every
    /// connection, and echo only what follows it (default: no header).
    #[arg(long, value_name = "VERSION")]
    proxy_protocol: Option<ProxyVersionArg>,
    /// With --proxy-protocol: close a connection that has not sent its whole
    /// header after SECS seconds (a decimal number above 0).
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        value_parser = parse_timeout,
        requires = "proxy_protocol"
    )]
    proxy_header_timeout: Duration,
    /// The runtime the connections run on: `current` (one thread, asyncio's
    /// model), `multi` (a multi-thread tokio runtime, as `#[tokio::main]`
    /// builds) or `loop-multi` (a multi-thread `EventLoop`). Not with
    /// --workers above 1, which runs its own current-thread runtimes.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Current)]
    runtime: RuntimeKind,
}

/// The PROXY protocol versions `--proxy-protocol` accepts.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProxyVersionArg {
    /// The text header (`PROXY TCP4 …\r\n`).
    V1,
    /// The binary header.
    V2,
    /// Either.
    Any,
}

impl ProxyVersionArg {
    fn config(self) -> ProxyProtocol {
        match self {
            ProxyVersionArg::V1 => ProxyProtocol::v1(),
            ProxyVersionArg::V2 => ProxyProtocol::v2(),
            ProxyVersionArg::Any => ProxyProtocol::any(),
        }
    }
}

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
    let cli: Cli = parse_server_args("8888");
    let mode = mode(&cli).unwrap_or_else(|e| usage_exit::<Cli>(e));
    let proxy = cli
        .proxy_protocol
        .map(|version| (version.config(), cli.proxy_header_timeout));
    run_on("echo_server", cli.runtime, serve(&cli.server, mode, proxy));
}

/// Reads the TLS flags into a mode.
fn mode(cli: &Cli) -> Result<Mode, UsageError> {
    if cli.runtime != RuntimeKind::Current && cli.server.workers > 1 {
        return Err(UsageError(
            "--runtime needs --workers 1: workers run current-thread runtimes of their own".into(),
        ));
    }
    let (tls, starttls) = (cli.server.tls.tls, cli.starttls);
    if let Some(path) = &cli.unix {
        // Refuses --cert and friends: they would be ignored.
        cli.server
            .tls
            .server_tls(false, "--tls or --starttls (not --unix)")?;
        return Ok(Mode::Unix(path.clone()));
    }
    let Some(server_tls) = cli
        .server
        .server_tls(tls || starttls, "--tls or --starttls")?
    else {
        return Ok(Mode::Plain);
    };
    Ok(if tls {
        Mode::Tls(server_tls)
    } else {
        Mode::StartTls(server_tls)
    })
}

async fn serve(
    flags: &ServerFlags,
    mode: Mode,
    proxy: Option<(ProxyProtocol, Duration)>,
) -> aioproto::Result<()> {
    let (host, port) = (flags.host(), flags.port());
    let mut options = flags.options();
    if let Some((proxy, header_timeout)) = proxy {
        options
            .proxy_protocol(proxy)
            .proxy_header_timeout(header_timeout);
    }
    let stop = shutdown_signal()?; // before the listening line
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
    stop.await;
    shutdown(&[&server], flags.grace()).await;
    Ok(())
}
