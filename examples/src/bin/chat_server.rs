//! Line chat server, written on the Protocol layer. See DESIGN.md for the
//! command line and the chat protocol; the protocol itself is in
//! `examples/src/chat.rs`.
//!
//! ```text
//! chat_server [--host H] [--port P] [--tls --cert F --key F [--client-ca F]]
//! chat_server [--host H] [--port P] --tls-port P2 --cert F --key F [--client-ca F]
//! ```
//!
//! `--tls` serves TLS on `--port`. `--tls-port` serves plain TCP on `--port`
//! and TLS on `--tls-port` at the same time, into one shared room (this is
//! what `make run` starts). The protocol is the same either way: TLS is a
//! server option, not a different protocol.

use aioproto::{Server, ServerOptions, ServerTls, create_server};
use aioproto_examples::chat::{ChatClient, SharedRoom};
use aioproto_examples::{
    Args, UsageError, announce, init_logging, run_single_threaded, server_tls_from_args,
    shutdown_signal, usage_exit,
};

const USAGE: &str = "chat_server [--host H] [--port P] \
    [--tls | --tls-port P2] [--cert F --key F [--client-ca F]]";

/// Where to serve TLS, if anywhere.
enum Tls {
    None,
    /// TLS instead of plain TCP on `--port`.
    Only(ServerTls),
    /// Plain on `--port` and TLS on this port too.
    Also(u16, ServerTls),
}

fn main() {
    init_logging();
    let args = Args::parse(
        &["host", "port", "tls-port", "cert", "key", "client-ca"],
        &["tls"],
    )
    .unwrap_or_else(|e| usage_exit(USAGE, &e));
    let host = args.value("host").unwrap_or("127.0.0.1").to_owned();
    let port = args
        .parsed("port", 7777u16)
        .unwrap_or_else(|e| usage_exit(USAGE, &e));
    let tls = tls(&args).unwrap_or_else(|e| usage_exit(USAGE, &e));
    run_single_threaded("chat_server", serve(&host, port, tls));
}

/// Reads the TLS flags.
fn tls(args: &Args) -> Result<Tls, UsageError> {
    let tls_port: Option<u16> = match args.value("tls-port") {
        None => None,
        Some(_) => Some(args.parsed("tls-port", 0u16)?),
    };
    if args.flag("tls") && tls_port.is_some() {
        return Err(UsageError("--tls and --tls-port exclude each other".into()));
    }
    let enabled = args.flag("tls") || tls_port.is_some();
    let Some(server_tls) = server_tls_from_args(args, enabled, "--tls or --tls-port")? else {
        return Ok(Tls::None);
    };
    Ok(match tls_port {
        Some(p) => Tls::Also(p, server_tls),
        None => Tls::Only(server_tls),
    })
}

async fn serve(host: &str, port: u16, tls: Tls) -> aioproto::Result<()> {
    // One room for every listener: plain and TLS clients chat together.
    let room = SharedRoom::default();
    let factory = move || {
        let room = room.clone();
        move || ChatClient::new(room.clone())
    };
    let mut servers: Vec<Server> = Vec::new();
    let (plain, tls) = match tls {
        Tls::None => (true, None),
        Tls::Only(tls) => (false, Some((port, tls))),
        Tls::Also(tls_port, tls) => (true, Some((tls_port, tls))),
    };
    if plain {
        servers.push(create_server(factory(), host, port, &ServerOptions::new()).await?);
    }
    if let Some((tls_port, tls)) = tls {
        let mut options = ServerOptions::new();
        options.tls(tls);
        servers.push(create_server(factory(), host, tls_port, &options).await?);
    }
    for server in &servers {
        for addr in server.local_addrs() {
            announce(addr);
        }
    }
    shutdown_signal().await?;
    for server in &servers {
        server.close();
        server.close_clients();
    }
    for server in &servers {
        server.wait_closed().await;
    }
    Ok(())
}
