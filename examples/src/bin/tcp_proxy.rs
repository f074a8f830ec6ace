//! TCP proxy: each client connection is relayed to a new connection to the
//! upstream, both ways, with backpressure. See docs/DESIGN.md for the command
//! line.
//!
//! ```text
//! tcp_proxy [--host H] [--port P] --to HOST:PORT [--proxy-protocol v1|v2]
//!     [--tls --cert F --key F [--client-ca F]] [--connect-timeout SECS]
//!     [--max-connections N] [--idle-timeout SECS] [--handshake-timeout SECS]
//!     [--grace SECS] [--workers N]
//! ```
//!
//! A client that stops reading stops the upstream from being read (and the
//! other way round), so the proxy holds at most about one write buffer's
//! high-water mark (64 KiB) plus one read per direction and connection. EOF
//! passes as a half-close each way. An upstream that refuses, or does not
//! answer within `--connect-timeout`, closes the client. With `--tls` the
//! proxy terminates TLS and speaks plain TCP to the upstream.

use std::time::Duration;

use aioproto::{
    BaseProtocol, ConnectOptions, Protocol, ProxyHeader, ProxyVersion, ServerOptions, Transport,
    connect_and_splice, create_server,
};
use aioproto_examples::{
    ServerFlags, announce, init_logging, parse_server_args, parse_timeout, run_single_threaded,
    shutdown, shutdown_signal, usage_exit,
};
use clap::{Parser, ValueEnum};

/// TCP proxy: relays every client to a new connection to the upstream.
///
/// Prints `listening on ADDR` once it accepts; exits 0 on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
    /// The upstream every client is relayed to: HOST:PORT (an IPv6 address
    /// in brackets: [::1]:80).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_upstream)]
    to: Upstream,
    /// Send the upstream a PROXY protocol header (HAProxy) carrying the
    /// client's address before any of the client's bytes.
    #[arg(long, value_name = "VERSION")]
    proxy_protocol: Option<HeaderVersion>,
    /// Give up on an upstream that has not accepted after SECS seconds (a
    /// decimal number above 0); the client is then closed.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_timeout)]
    connect_timeout: Duration,
}

/// `--proxy-protocol`.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum HeaderVersion {
    V1,
    V2,
}

impl From<HeaderVersion> for ProxyVersion {
    fn from(version: HeaderVersion) -> Self {
        match version {
            HeaderVersion::V1 => ProxyVersion::V1,
            HeaderVersion::V2 => ProxyVersion::V2,
        }
    }
}

/// `--to`: where to connect.
#[derive(Clone, Debug)]
struct Upstream {
    host: String,
    port: u16,
}

/// Parses `HOST:PORT` or `[IPV6]:PORT`.
fn parse_upstream(value: &str) -> Result<Upstream, String> {
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("{value:?} is not HOST:PORT"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(':') && !value.starts_with('[') {
        return Err(format!(
            "{value:?} is not HOST:PORT (an IPv6 address goes in brackets)"
        ));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("{port:?} is not a port from 1 to 65535"))?;
    Ok(Upstream {
        host: host.to_owned(),
        port,
    })
}

/// What every connection needs to reach the upstream.
struct Route {
    upstream: Upstream,
    header: Option<ProxyVersion>,
    options: ConnectOptions,
}

impl Route {
    /// The connect options for `client`: with its PROXY header, if one is
    /// asked for.
    fn options_for(&self, client: &Transport) -> aioproto::Result<ConnectOptions> {
        let mut options = self.options.clone();
        if let Some(version) = self.header {
            let header = match (client.peername(), client.sockname()) {
                (Some(source), Some(destination)) => ProxyHeader::tcp(source, destination),
                // Not expected on TCP; the header then says "unknown".
                _ => ProxyHeader::unknown(),
            };
            options.proxy_header(header.with_version(version))?;
        }
        Ok(options)
    }
}

/// One client: held unread until its upstream is up, then spliced.
struct Proxy {
    route: std::sync::Arc<Route>,
}

impl BaseProtocol for Proxy {
    fn connection_made(&mut self, client: &Transport) {
        // Bytes the client sends before the upstream is up wait in the kernel.
        client.pause_reading();
        let (client, route) = (client.clone(), self.route.clone());
        tokio::spawn(async move {
            let options = match route.options_for(&client) {
                Ok(options) => options,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot encode the PROXY header");
                    client.close();
                    return;
                }
            };
            let Upstream { host, port } = &route.upstream;
            match connect_and_splice(&client, host, *port, &options).await {
                Ok(relay) => {
                    let outcome = relay.finished().await;
                    tracing::debug!(?outcome, "relay ended");
                }
                Err(e) => {
                    tracing::info!(error = %e, "upstream {host}:{port} unreachable; closing the client");
                    client.close();
                }
            }
        });
    }
}

impl Protocol for Proxy {}

fn main() {
    init_logging();
    let cli: Cli = parse_server_args("8900");
    let options = cli
        .server
        .options_with_tls()
        .unwrap_or_else(|e| usage_exit::<Cli>(e));
    run_single_threaded("tcp_proxy", serve(cli, options));
}

async fn serve(cli: Cli, options: ServerOptions) -> aioproto::Result<()> {
    let flags = &cli.server;
    let mut connect = ConnectOptions::new();
    connect.connect_timeout(cli.connect_timeout);
    if flags.idle_timeout > 0 {
        connect.idle_timeout(Duration::from_secs(flags.idle_timeout));
    }
    let route = std::sync::Arc::new(Route {
        upstream: cli.to.clone(),
        header: cli.proxy_protocol.map(ProxyVersion::from),
        options: connect,
    });
    let stop = shutdown_signal()?; // before the listening line
    let factory = move || Proxy {
        route: route.clone(),
    };
    let server = create_server(factory, flags.host(), flags.port(), &options).await?;
    for addr in server.local_addrs() {
        announce(addr);
    }
    stop.await;
    shutdown(&[&server], flags.grace()).await;
    Ok(())
}
