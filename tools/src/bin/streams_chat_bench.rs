//! Load tools for `tools/bench/70_streams_chat.sh`.
//!
//! ```text
//! streams_chat_bench server streams|tokio      line echo server on 127.0.0.1:0
//! streams_chat_bench echo-load ADDR CONNS SECS  ping-pong 64-byte lines, prints requests/s
//! streams_chat_bench chat-load ADDR CLIENTS SECS
//!     CLIENTS join a chat_server; in each round every client sends one line and
//!     waits for the CLIENTS-1 lines of the others; prints deliveries/s
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Load tools for tools/bench/70_streams_chat.sh.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
enum Cli {
    /// A line echo server on 127.0.0.1:0: aioproto streams or plain tokio.
    Server {
        #[arg(value_enum)]
        kind: Kind,
    },
    /// Ping-pong 64-byte lines over CONNS connections; prints requests/s.
    EchoLoad {
        addr: SocketAddr,
        conns: usize,
        /// How long to run (the upper bound when --requests is given).
        #[arg(value_parser = aioproto_tools::parse_seconds)]
        secs: f64,
        /// Stop after this many requests in all, spread over the connections
        /// (for counting instructions per request under cachegrind).
        #[arg(long, value_name = "N", value_parser = aioproto_tools::parse_count)]
        requests: Option<usize>,
    },
    /// CLIENTS join a chat_server; each round every client sends one line and
    /// waits for the CLIENTS-1 lines of the others; prints deliveries/s.
    ChatLoad {
        addr: SocketAddr,
        #[arg(value_parser = parse_clients)]
        clients: usize,
        #[arg(value_parser = aioproto_tools::parse_seconds)]
        secs: f64,
    },
}

fn parse_clients(value: &str) -> Result<usize, String> {
    match aioproto_tools::parse_count(value)? {
        0 | 1 => Err("needs at least 2 clients".to_owned()),
        n => Ok(n),
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Kind {
    Streams,
    Tokio,
}

fn main() -> Result<(), BoxError> {
    match Cli::parse() {
        Cli::Server { kind } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(server(kind))
        }
        Cli::EchoLoad {
            addr,
            conns,
            secs,
            requests,
        } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(echo_load(addr, conns, secs, requests))
        }
        Cli::ChatLoad {
            addr,
            clients,
            secs,
        } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(chat_load(addr, clients, secs))
        }
    }
}

async fn server(kind: Kind) -> Result<(), BoxError> {
    match kind {
        Kind::Streams => {
            let server = aioproto::start_server(
                |r, w| async move {
                    while let Some(line) = r.next_line().await? {
                        w.write(line);
                        w.drain().await?;
                    }
                    Ok(())
                },
                "127.0.0.1",
                0,
            )
            .await?;
            println!("listening on {}", server.local_addrs()[0]);
            tokio::signal::ctrl_c().await.ok();
            std::future::pending::<()>().await;
        }
        Kind::Tokio => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            println!("listening on {}", listener.local_addr()?);
            loop {
                let (mut sock, _) = listener.accept().await?;
                sock.set_nodelay(true)?;
                tokio::spawn(async move {
                    let (rd, mut wr) = sock.split();
                    let mut rd = BufReader::new(rd);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match rd.read_until(b'\n', &mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {
                                if wr.write_all(&line).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        }
    }
    Ok(())
}

async fn echo_load(
    addr: SocketAddr,
    conns: usize,
    secs: f64,
    requests: Option<usize>,
) -> Result<(), BoxError> {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let remaining = Arc::new(AtomicU64::new(conns as u64));
    let finished = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for i in 0..conns {
        let (stop, done) = (stop.clone(), done.clone());
        let (remaining, finished) = (remaining.clone(), finished.clone());
        // This connection's share of --requests (the first ones take the remainder).
        let quota = requests.map(|n| n / conns + usize::from(i < n % conns));
        let sock = TcpStream::connect(addr).await?;
        sock.set_nodelay(true)?;
        tasks.push(tokio::spawn(async move {
            let outcome = async {
                let (rd, mut wr) = sock.into_split();
                let mut rd = BufReader::new(rd);
                let msg = [b"x".repeat(63), b"\n".to_vec()].concat();
                let mut line = Vec::new();
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) && quota.is_none_or(|q| sent < q) {
                    sent += 1;
                    wr.write_all(&msg).await?;
                    line.clear();
                    if rd.read_until(b'\n', &mut line).await? == 0 {
                        break;
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, std::io::Error>(())
            }
            .await;
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                finished.notify_one();
            }
            outcome
        }));
    }
    let start = Instant::now();
    // Until SECS, or until every connection met its quota (the last one to
    // finish leaves a permit in `finished`).
    let deadline = tokio::time::sleep(Duration::from_secs_f64(secs));
    if requests.is_some() {
        let _ = tokio::time::timeout_at(deadline.deadline(), finished.notified()).await;
    } else {
        deadline.await;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    println!("requests {n} requests/s {:.0}", n as f64 / elapsed);
    Ok(())
}

async fn chat_load(addr: SocketAddr, clients: usize, secs: f64) -> Result<(), BoxError> {
    let barrier = Arc::new(tokio::sync::Barrier::new(clients));
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let mut socks = Vec::new();
    for i in 0..clients {
        let mut sock = TcpStream::connect(addr).await?;
        sock.set_nodelay(true)?;
        sock.write_all(format!("bench{i}\n/who\n").as_bytes())
            .await?;
        socks.push(sock);
    }
    let mut tasks = Vec::new();
    for (i, sock) in socks.into_iter().enumerate() {
        let (barrier, stop, rounds) = (barrier.clone(), stop.clone(), rounds.clone());
        tasks.push(tokio::spawn(async move {
            let (rd, mut wr) = sock.into_split();
            let mut lines = BufReader::new(rd).lines();
            // Joined once our /who answer arrives; then everyone starts together.
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("* online: ") {
                    break;
                }
            }
            barrier.wait().await;
            let start = Instant::now();
            let mut round = 0u64;
            loop {
                wr.write_all(format!("round {round} from {i}\n").as_bytes())
                    .await?;
                let mut got = 0;
                while got < clients - 1 {
                    match lines.next_line().await? {
                        Some(line) if line.starts_with("bench") => got += 1,
                        Some(_) => {}
                        None => return Err(std::io::Error::other("server closed")),
                    }
                }
                round += 1;
                // Everyone decides to stop in the same round.
                let leader = barrier.wait().await.is_leader();
                if leader {
                    rounds.store(round, Ordering::Relaxed);
                    if start.elapsed().as_secs_f64() >= secs {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                barrier.wait().await;
                if stop.load(Ordering::Relaxed) {
                    return Ok(start.elapsed());
                }
            }
        }));
    }
    let mut elapsed = Duration::ZERO;
    for t in tasks {
        elapsed = elapsed.max(t.await??);
    }
    let rounds = rounds.load(Ordering::Relaxed);
    let deliveries = rounds * (clients as u64) * (clients as u64 - 1);
    println!(
        "clients {clients} rounds {rounds} deliveries {deliveries} deliveries/s {:.0}",
        deliveries as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
