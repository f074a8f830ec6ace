//! UDP load generator for `make bench`: N clients each send a datagram and
//! wait for its echo, over and over (ping-pong), for a fixed time.
//!
//! ```text
//! udp_load ADDR [--clients N] [--seconds S] [--size BYTES]
//! ```
//!
//! Prints one line: `datagrams=… seconds=… rate=… lost=…` (rate in round trips
//! per second; a datagram not echoed within 200 ms counts as lost and is resent).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use aioproto_tools::{parse_count, parse_seconds};
use clap::Parser;
use tokio::net::UdpSocket;

const LOSS_TIMEOUT: Duration = Duration::from_millis(200);

/// UDP load generator for `make bench`: N clients each send a datagram and
/// wait for its echo, over and over, for a fixed time.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// The UDP echo server, IP:PORT.
    addr: SocketAddr,
    /// Clients.
    #[arg(long, value_name = "N", default_value = "10", value_parser = parse_count)]
    clients: usize,
    /// How long to run.
    #[arg(long, value_name = "S", default_value = "5", value_parser = parse_seconds)]
    seconds: f64,
    /// Bytes per datagram.
    #[arg(long, value_name = "BYTES", default_value = "64", value_parser = parse_count)]
    size: usize,
}

fn main() {
    let Cli {
        addr,
        clients,
        seconds,
        size,
    } = Cli::parse();
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .and_then(|runtime| runtime.block_on(run(addr, clients, seconds, size)));
    match outcome {
        Ok((done, lost, elapsed)) => println!(
            "datagrams={done} seconds={elapsed:.2} rate={:.0} lost={lost}",
            done as f64 / elapsed
        ),
        Err(e) => {
            eprintln!("udp_load: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(
    addr: SocketAddr,
    clients: usize,
    seconds: f64,
    size: usize,
) -> std::io::Result<(u64, u64, f64)> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        tasks.spawn(client(addr, size, deadline));
    }
    let (mut done, mut lost) = (0u64, 0u64);
    while let Some(result) = tasks.join_next().await {
        let (d, l) = result.map_err(std::io::Error::other)??;
        done += d;
        lost += l;
    }
    Ok((done, lost, start.elapsed().as_secs_f64()))
}

async fn client(addr: SocketAddr, size: usize, deadline: Instant) -> std::io::Result<(u64, u64)> {
    let socket = UdpSocket::bind(if addr.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    })
    .await?;
    socket.connect(addr).await?;
    let message = vec![b'x'; size];
    let mut buf = vec![0u8; 65536];
    let (mut done, mut lost) = (0u64, 0u64);
    while Instant::now() < deadline {
        socket.send(&message).await?;
        match tokio::time::timeout(LOSS_TIMEOUT, socket.recv(&mut buf)).await {
            Ok(Ok(n)) if n == size => done += 1,
            Ok(Ok(_)) => lost += 1,
            Ok(Err(e)) => return Err(e),
            Err(_) => lost += 1,
        }
    }
    Ok((done, lost))
}
