//! Key/value server over a line protocol, two ways: a [`CodecProtocol`] with
//! tokio-util's `LinesCodec` (the default), or with `--async` an
//! [`AsyncProtocol`] run by [`AsyncAdapter`], which awaits its store per
//! command the way a protocol that calls a database would.
//!
//! ```text
//! kv_server [--host H] [--port P] [--async] [--tls --cert F --key F [--client-ca F]]
//! ```
//!
//! The protocol, one command per line (`\n` or `\r\n`), one reply line each:
//!
//! | command | reply |
//! |---|---|
//! | `SET KEY VALUE` | `OK` (VALUE is the rest of the line, spaces included) |
//! | `GET KEY` | `VALUE VALUE`, or `NOT_FOUND` |
//! | `DEL KEY` | `DELETED`, or `NOT_FOUND` |
//! | `QUIT` | `BYE`, then the server closes the connection |
//! | anything else | `ERROR <reason>` |
//!
//! Every client shares one store. A line over 64 KiB closes the connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aioproto::{
    AsyncAdapter, AsyncProtocol, CodecProtocol, FrameHandler, FrameSink, Transport, create_server,
};
use aioproto_examples::{
    ServerFlags, announce, init_logging, parse_server_args, run_single_threaded, shutdown,
    shutdown_signal, usage_exit,
};
use bytes::{Bytes, BytesMut};
use clap::Parser;
use tokio_util::codec::{Decoder, LinesCodec};

/// The longest command line accepted.
const MAX_LINE: usize = 64 * 1024;

/// Key/value server over a line protocol: `SET KEY VALUE`, `GET KEY`,
/// `DEL KEY`, `QUIT`; one reply line per command.
///
/// Prints `listening on ADDR` once it accepts; exits 0 on SIGINT or SIGTERM.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(flatten)]
    server: ServerFlags,
    /// Serve with an AsyncProtocol under AsyncAdapter (awaiting the store per
    /// command) instead of the default CodecProtocol with LinesCodec.
    #[arg(long = "async")]
    use_async: bool,
}

type Store = HashMap<String, String>;

/// What one command line asks for.
enum Reply {
    /// Send this line.
    Line(String),
    /// Send `BYE` and close.
    Quit,
}

/// Runs one command against the store. Shared by both protocols.
fn execute(store: &mut Store, line: &str) -> Reply {
    let mut words = line.splitn(3, ' ');
    let command = words.next().unwrap_or_default();
    let (key, rest) = (words.next(), words.next());
    let line = match (command, key, rest) {
        ("SET", Some(key), Some(value)) if !key.is_empty() => {
            store.insert(key.to_owned(), value.to_owned());
            "OK".to_owned()
        }
        ("GET", Some(key), None) => match store.get(key) {
            Some(value) => format!("VALUE {value}"),
            None => "NOT_FOUND".to_owned(),
        },
        ("DEL", Some(key), None) => match store.remove(key) {
            Some(_) => "DELETED".to_owned(),
            None => "NOT_FOUND".to_owned(),
        },
        ("QUIT", None, None) => return Reply::Quit,
        ("SET", ..) => "ERROR usage: SET KEY VALUE".to_owned(),
        ("GET" | "DEL", ..) => format!("ERROR usage: {command} KEY"),
        ("QUIT", ..) => "ERROR usage: QUIT".to_owned(),
        ("", ..) => "ERROR empty command".to_owned(),
        _ => "ERROR unknown command (SET, GET, DEL, QUIT)".to_owned(),
    };
    Reply::Line(line)
}

/// The default: frames (lines) from a `CodecProtocol`, answered at once.
struct KvHandler {
    store: Arc<Mutex<Store>>,
}

impl FrameHandler<LinesCodec> for KvHandler {
    fn frame_received(
        &mut self,
        line: String,
        sink: &mut FrameSink<'_, LinesCodec>,
    ) -> aioproto::Result<()> {
        let reply = {
            let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
            execute(&mut store, line.trim_end_matches('\r'))
        };
        match reply {
            Reply::Line(line) => sink.send(line),
            Reply::Quit => {
                sink.send("BYE")?;
                sink.transport().close();
                Ok(())
            }
        }
    }
}

/// `--async`: the same commands in an `AsyncProtocol`. It splits lines with
/// the same `LinesCodec` and awaits the (async) store lock per command, as a
/// protocol that queries a database would await the query. The adapter pauses
/// reading while a command runs.
struct AsyncKv {
    store: Arc<tokio::sync::Mutex<Store>>,
    transport: Option<Transport>,
    codec: LinesCodec,
    pending: BytesMut,
    quit: bool,
}

#[async_trait::async_trait]
impl AsyncProtocol for AsyncKv {
    async fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }

    async fn data_received(&mut self, data: Bytes) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        if self.quit {
            return;
        }
        self.pending.extend_from_slice(&data);
        loop {
            let line = match self.codec.decode(&mut self.pending) {
                Ok(Some(line)) => line,
                Ok(None) => return,
                Err(e) => {
                    // As CodecProtocol does on a decoder error: close.
                    tracing::info!(error = %e, "closing");
                    transport.close();
                    self.quit = true;
                    return;
                }
            };
            let reply = execute(&mut *self.store.lock().await, line.trim_end_matches('\r'));
            match reply {
                Reply::Line(line) => transport.write(format!("{line}\n")),
                Reply::Quit => {
                    transport.write("BYE\n");
                    transport.close();
                    self.quit = true;
                    return;
                }
            }
        }
    }
}

fn main() {
    init_logging();
    let cli: Cli = parse_server_args("6380");
    let options = cli
        .server
        .options_with_tls()
        .unwrap_or_else(|e| usage_exit::<Cli>(e));
    run_single_threaded("kv_server", async move {
        let (host, port) = (cli.server.host(), cli.server.port());
        let server = if cli.use_async {
            let store = Arc::new(tokio::sync::Mutex::new(Store::new()));
            let factory = move || {
                AsyncAdapter::new(AsyncKv {
                    store: store.clone(),
                    transport: None,
                    codec: LinesCodec::new_with_max_length(MAX_LINE),
                    pending: BytesMut::new(),
                    quit: false,
                })
            };
            create_server(factory, host, port, &options).await?
        } else {
            let store = Arc::new(Mutex::new(Store::new()));
            let factory = move || {
                CodecProtocol::new(
                    LinesCodec::new_with_max_length(MAX_LINE),
                    KvHandler {
                        store: store.clone(),
                    },
                )
            };
            create_server(factory, host, port, &options).await?
        };
        let stop = shutdown_signal()?; // before the listening line
        for addr in server.local_addrs() {
            announce(addr);
        }
        stop.await;
        shutdown(&[&server], cli.server.grace()).await;
        Ok::<_, aioproto::Error>(())
    });
}
