//! Load generator for `make bench` (vmbench-style ping-pong).
//!
//! ```text
//! loadgen echo    ADDR --conns N --size BYTES (--duration SECS | --requests N)
//! loadgen idle    ADDR --conns N          # opens N connections, prints "ready", holds them until stdin closes
//! loadgen connect ADDR --duration SECS    # connects and closes as fast as it can
//! ```
//!
//! Prints one `key=value` line that tools/bench/*.sh parse.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Opts {
    mode: String,
    addr: SocketAddr,
    conns: usize,
    size: usize,
    duration: Option<Duration>,
    requests: Option<u64>,
}

fn parse() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args
        .first()
        .cloned()
        .ok_or("missing mode (echo, idle, connect)")?;
    let addr = args
        .get(1)
        .ok_or("missing ADDR")?
        .parse()
        .map_err(|e| format!("ADDR: {e}"))?;
    let mut opts = Opts {
        mode,
        addr,
        conns: 10,
        size: 1024,
        duration: None,
        requests: None,
    };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<f64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--conns" => opts.conns = number(value)? as usize,
            "--size" => opts.size = number(value)? as usize,
            "--duration" => opts.duration = Some(Duration::from_secs_f64(number(value)?)),
            "--requests" => opts.requests = Some(number(value)? as u64),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(opts)
}

fn main() {
    let opts = parse().unwrap_or_else(|e| {
        eprintln!("loadgen: {e}");
        std::process::exit(2)
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(async {
        match opts.mode.as_str() {
            "echo" => echo(&opts).await,
            "idle" => idle(&opts).await,
            "connect" => connect(&opts).await,
            other => Err(std::io::Error::other(format!("unknown mode {other}"))),
        }
    });
    if let Err(e) = outcome {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

/// Each connection sends `size` bytes, waits for all of them back, and repeats.
async fn echo(opts: &Opts) -> std::io::Result<()> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_conn = opts.requests.map(|r| r.div_ceil(opts.conns as u64));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..opts.conns {
        let mut stream = TcpStream::connect(opts.addr).await?;
        stream.set_nodelay(true)?;
        let (done, stop, size) = (done.clone(), stop.clone(), opts.size);
        tasks.push(tokio::spawn(async move {
            let message = vec![b'x'; size];
            let mut reply = vec![0u8; size];
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) && per_conn.is_none_or(|limit| sent < limit) {
                stream.write_all(&message).await?;
                stream.read_exact(&mut reply).await?;
                sent += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, std::io::Error>(())
        }));
    }
    if let Some(duration) = opts.duration {
        tokio::time::sleep(duration).await;
        stop.store(true, Ordering::Relaxed);
    }
    for task in tasks {
        task.await.map_err(std::io::Error::other)??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let requests = done.load(Ordering::Relaxed);
    println!(
        "requests={requests} elapsed={elapsed:.3} rps={:.0}",
        requests as f64 / elapsed
    );
    Ok(())
}

/// Opens connections and holds them, for the memory-per-idle-connection figure.
async fn idle(opts: &Opts) -> std::io::Result<()> {
    let mut held = Vec::with_capacity(opts.conns);
    for _ in 0..opts.conns {
        held.push(TcpStream::connect(opts.addr).await?);
    }
    println!("ready conns={}", held.len());
    let mut sink = Vec::new();
    tokio::io::stdin().read_to_end(&mut sink).await?;
    Ok(())
}

/// Connects and closes in a loop, for the accepted-connections-per-second figure.
async fn connect(opts: &Opts) -> std::io::Result<()> {
    let duration = opts.duration.unwrap_or(Duration::from_secs(2));
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < duration {
        let mut stream = TcpStream::connect(opts.addr).await?;
        stream.write_all(b"x").await?;
        let mut one = [0u8; 1];
        stream.read_exact(&mut one).await?;
        count += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "connections={count} elapsed={elapsed:.3} cps={:.0}",
        count as f64 / elapsed
    );
    Ok(())
}
