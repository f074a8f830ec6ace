//! Line chat server, written on the Protocol layer. See docs/DESIGN.md for the
//! command line and the chat protocol; the protocol itself is in
//! `examples/src/chat.rs`.
//!
//! ```text
//! chat_server [--host H] [--port P] [--tls --cert F --key F [--client-ca F]]
//! chat_server [--host H] [--port P] --tls-port P2 --cert F --key F [--client-ca F]
//!     [--redis redis://HOST:PORT [--room NAME]] [--workers N]
//!     [--max-connections N] [--handshake-timeout SECS] [--grace SECS]
//! ```
//!
//! `--tls` serves TLS on `--port`. `--tls-port` serves plain TCP on `--port`
//! and TLS on `--tls-port` at the same time, into one shared room (this is
//! what `make run` starts). The protocol is the same either way: TLS is a
//! server option, not a different protocol.
//!
//! The room is an [`aioproto::pubsub::Room`]: local to this process by
//! default (every worker of `--workers N` in it), or with `--redis` shared by
//! every chat server on that Redis with the same `--room` (default `lobby`):
//! messages, joins, leaves, `/who` and nickname uniqueness span them all.
//! If Redis goes away, each server goes on as a local room and re-forms the
//! shared room when Redis is back.

use aioproto::pubsub::{RedisOptions, Room};
use aioproto::{Server, ServerTls, create_server};
use aioproto_examples::chat::ChatClient;
use aioproto_examples::{
    ServerFlags, UsageError, announce, init_logging, parse_server_args, run_single_threaded,
    shutdown, shutdown_signal, usage_exit,
};
use clap::Parser;

/// Line chat server (see docs/DESIGN.md, "Chat protocol"): the first line a client
/// sends is its nickname, then `/who`, `/quit` or any text.
///
/// Prints `listening on ADDR` once it accepts (a second line for
/// --tls-port); exits 0 on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
    /// Also serve TLS on this port (0 = any free port), into the same room as
    /// the plain TCP clients on --port (needs --cert and --key).
    #[arg(long, value_name = "PORT", conflicts_with = "tls")]
    tls_port: Option<u16>,
    /// Share the room with every chat server on this Redis
    /// (redis://HOST:PORT): one room across servers and machines. Without
    /// it the room is local to this process.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// The room's name on Redis: servers with the same name share a room.
    #[arg(long, value_name = "NAME", default_value = "lobby", requires = "redis")]
    room: String,
}

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
    let cli: Cli = parse_server_args("7777");
    let tls = tls(&cli).unwrap_or_else(|e| usage_exit::<Cli>(e));
    run_single_threaded("chat_server", serve(&cli, tls));
}

/// Reads the TLS flags.
fn tls(cli: &Cli) -> Result<Tls, UsageError> {
    let enabled = cli.server.tls.tls || cli.tls_port.is_some();
    let Some(server_tls) = cli.server.server_tls(enabled, "--tls or --tls-port")? else {
        return Ok(Tls::None);
    };
    Ok(match cli.tls_port {
        Some(p) => Tls::Also(p, server_tls),
        None => Tls::Only(server_tls),
    })
}

/// The room every listener's clients join.
async fn room(cli: &Cli) -> Result<Room, String> {
    let Some(url) = &cli.redis else {
        return Ok(Room::local(&cli.room));
    };
    Room::connect_redis(&cli.room, &RedisOptions::new(url.as_str()))
        .await
        .map_err(|e| format!("cannot join room {:?} on {url}: {e}", cli.room))
}

async fn serve(cli: &Cli, tls: Tls) -> Result<(), String> {
    let flags = &cli.server;
    let (host, port) = (flags.host(), flags.port());
    let room = room(cli).await?;
    // One room for every listener: plain and TLS clients chat together.
    let factory = || {
        let room = room.clone();
        move || ChatClient::new(room.clone())
    };
    let mut servers: Vec<Server> = Vec::new();
    let (plain, tls) = match tls {
        Tls::None => (true, None),
        Tls::Only(tls) => (false, Some((port, tls))),
        Tls::Also(tls_port, tls) => (true, Some((tls_port, tls))),
    };
    let listening = async {
        if plain {
            servers.push(create_server(factory(), host, port, &flags.options()).await?);
        }
        if let Some((tls_port, tls)) = tls {
            let mut options = flags.options();
            options.tls(tls);
            servers.push(create_server(factory(), host, tls_port, &options).await?);
        }
        Ok::<(), aioproto::Error>(())
    };
    if let Err(e) = listening.await {
        for server in &servers {
            server.close();
        }
        room.close().await;
        return Err(e.to_string());
    }
    let stop = shutdown_signal().map_err(|e| e.to_string())?; // before the listening line
    for server in &servers {
        for addr in server.local_addrs() {
            announce(addr);
        }
    }
    stop.await;
    shutdown(&servers.iter().collect::<Vec<_>>(), flags.grace()).await;
    // Every client has left; a Redis room now tells the others this server is gone.
    room.close().await;
    Ok(())
}
