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

use tokio::net::UdpSocket;

const LOSS_TIMEOUT: Duration = Duration::from_millis(200);

fn usage(err: &str) -> ! {
    eprintln!("error: {err}\nusage: udp_load ADDR [--clients N] [--seconds S] [--size BYTES]");
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut addr: Option<SocketAddr> = None;
    let (mut clients, mut seconds, mut size) = (10usize, 5.0f64, 64usize);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        match arg.as_str() {
            "--clients" => {
                clients = value("--clients")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --clients"))
            }
            "--seconds" => {
                seconds = value("--seconds")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --seconds"))
            }
            "--size" => {
                size = value("--size")
                    .parse()
                    .unwrap_or_else(|_| usage("bad --size"))
            }
            other if addr.is_none() => {
                addr = Some(other.parse().unwrap_or_else(|_| usage("bad ADDR")))
            }
            other => usage(&format!("unexpected argument {other}")),
        }
    }
    let addr = addr.unwrap_or_else(|| usage("ADDR is required"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (done, lost, elapsed) = runtime.block_on(async move {
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..clients {
            tasks.spawn(client(addr, size, deadline));
        }
        let (mut done, mut lost) = (0u64, 0u64);
        while let Some(result) = tasks.join_next().await {
            let (d, l) = result.expect("client task").expect("client I/O");
            done += d;
            lost += l;
        }
        (done, lost, start.elapsed().as_secs_f64())
    });
    println!(
        "datagrams={done} seconds={elapsed:.2} rate={:.0} lost={lost}",
        done as f64 / elapsed
    );
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
