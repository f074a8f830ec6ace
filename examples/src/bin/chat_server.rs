//! Line chat server, written on the Protocol layer. See DESIGN.md for the
//! command line and the chat protocol; the protocol itself is in
//! `examples/src/chat.rs`.
//!
//! ```text
//! chat_server [--host H] [--port P]
//! ```

use aioproto::{ServerOptions, create_server};
use aioproto_examples::chat::{ChatClient, SharedRoom};
use aioproto_examples::{Args, announce, init_logging, shutdown_signal, usage_exit};

const USAGE: &str = "chat_server [--host H] [--port P]";

fn main() {
    init_logging();
    let args = Args::parse(&["host", "port"], &[]).unwrap_or_else(|e| usage_exit(USAGE, &e));
    let host = args.value("host").unwrap_or("127.0.0.1").to_owned();
    let port = args
        .parsed("port", 7777u16)
        .unwrap_or_else(|e| usage_exit(USAGE, &e));
    // One thread, like asyncio: callbacks never run at the same time.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(serve(&host, port)) {
        eprintln!("chat_server: {e}");
        std::process::exit(1);
    }
}

async fn serve(host: &str, port: u16) -> aioproto::Result<()> {
    let room = SharedRoom::default();
    let server = create_server(
        move || ChatClient::new(room.clone()),
        host,
        port,
        &ServerOptions::new(),
    )
    .await?;
    for addr in server.local_addrs() {
        announce(addr);
    }
    shutdown_signal().await?;
    server.close();
    server.close_clients();
    server.wait_closed().await;
    Ok(())
}
