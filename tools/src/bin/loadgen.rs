//! Load generator for `make bench` (vmbench-style ping-pong).
//!
//! ```text
//! loadgen echo    ADDR --conns N --size BYTES (--duration SECS | --requests N)
//! loadgen idle    ADDR --conns N          # opens N connections, prints "ready", holds them until stdin closes
//! loadgen connect ADDR --duration SECS    # connects and closes as fast as it can
//! loadgen fetch   ADDR --path P [--count N] [--conns N] [--expect BYTES] [--tls --ca F]
//!                                         # `GET P` from a file server, N times in all
//! ```
//!
//! Prints one `key=value` line that tools/bench/*.sh parse.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aioproto_tools::{parse_count, parse_seconds};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Load generator for `make bench` (vmbench-style ping-pong); prints one
/// `key=value` line that tools/bench/*.sh parse.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Each connection sends SIZE bytes, waits for all of them back, repeats.
    Echo {
        /// The echo server, IP:PORT.
        addr: SocketAddr,
        /// Connections.
        #[arg(long, value_name = "N", default_value = "10", value_parser = parse_count)]
        conns: usize,
        /// Bytes per request.
        #[arg(long, value_name = "BYTES", default_value = "1024", value_parser = parse_count)]
        size: usize,
        /// Run for this long.
        #[arg(long, value_name = "SECS", value_parser = parse_seconds, required_unless_present = "requests")]
        duration: Option<f64>,
        /// Stop after this many requests in all.
        #[arg(long, value_name = "N", value_parser = parse_count, conflicts_with = "duration")]
        requests: Option<usize>,
    },
    /// Opens N connections, prints "ready", holds them until stdin closes.
    Idle {
        /// The server, IP:PORT.
        addr: SocketAddr,
        /// Connections.
        #[arg(long, value_name = "N", default_value = "10", value_parser = parse_count)]
        conns: usize,
    },
    /// Connects, echoes one byte and closes, as fast as it can.
    Connect {
        /// The echo server, IP:PORT.
        addr: SocketAddr,
        /// Run for this long.
        #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_seconds)]
        duration: f64,
    },
    /// Sends `GET PATH` to a file server (file_server's protocol) COUNT times
    /// in all, CONNS at once, each read until the server closes; prints the
    /// MiB/s received.
    Fetch {
        /// The file server, IP:PORT.
        addr: SocketAddr,
        /// The path asked for.
        #[arg(long, value_name = "PATH")]
        path: String,
        /// Fetches in all.
        #[arg(long, value_name = "N", default_value = "10", value_parser = parse_count)]
        count: usize,
        /// Fetches at once.
        #[arg(long, value_name = "N", default_value = "1", value_parser = parse_count)]
        conns: usize,
        /// Fail unless every answer is this many bytes.
        #[arg(long, value_name = "BYTES")]
        expect: Option<u64>,
        /// Speak TLS (needs --ca), checking the name localhost.
        #[arg(long, requires = "ca")]
        tls: bool,
        /// Trust server certificates signed by this CA (PEM).
        #[arg(long, value_name = "FILE", requires = "tls")]
        ca: Option<std::path::PathBuf>,
    },
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("loadgen: cannot start the tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.mode {
            Mode::Echo {
                addr,
                conns,
                size,
                duration,
                requests,
            } => {
                let duration = duration.map(Duration::from_secs_f64);
                echo(addr, conns, size, duration, requests.map(|r| r as u64)).await
            }
            Mode::Idle { addr, conns } => idle(addr, conns).await,
            Mode::Connect { addr, duration } => {
                connect(addr, Duration::from_secs_f64(duration)).await
            }
            Mode::Fetch {
                addr,
                path,
                count,
                conns,
                expect,
                tls: _,
                ca,
            } => {
                let tls = ca.as_deref().map(tls_connector).transpose()?;
                let fetch = Fetch {
                    addr,
                    request: format!("GET {path}\n"),
                    expect,
                    tls,
                };
                fetch.run(count, conns).await
            }
        }
    });
    if let Err(e) = outcome {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

/// Each connection sends `size` bytes, waits for all of them back, and repeats.
async fn echo(
    addr: SocketAddr,
    conns: usize,
    size: usize,
    duration: Option<Duration>,
    requests: Option<u64>,
) -> std::io::Result<()> {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_conn = requests.map(|r| r.div_ceil(conns.max(1) as u64));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (done, stop) = (done.clone(), stop.clone());
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
    if let Some(duration) = duration {
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
async fn idle(addr: SocketAddr, conns: usize) -> std::io::Result<()> {
    let mut held = Vec::with_capacity(conns);
    for _ in 0..conns {
        held.push(TcpStream::connect(addr).await?);
    }
    println!("ready conns={}", held.len());
    let mut sink = Vec::new();
    tokio::io::stdin().read_to_end(&mut sink).await?;
    Ok(())
}

/// Connects and closes in a loop, for the accepted-connections-per-second figure.
async fn connect(addr: SocketAddr, duration: Duration) -> std::io::Result<()> {
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < duration {
        let mut stream = TcpStream::connect(addr).await?;
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

/// `loadgen fetch`: what each fetch asks for and how.
struct Fetch {
    addr: SocketAddr,
    request: String,
    expect: Option<u64>,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl Fetch {
    /// Runs `count` fetches, `conns` at a time, and prints the figures.
    async fn run(self, count: usize, conns: usize) -> std::io::Result<()> {
        let this = Arc::new(self);
        let next = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..conns.min(count) {
            let (this, next, bytes) = (this.clone(), next.clone(), bytes.clone());
            tasks.push(tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < count as u64 {
                    let got = this.once().await?;
                    if this.expect.is_some_and(|want| want != got) {
                        return Err(std::io::Error::other(format!(
                            "got {got} bytes, expected {:?}",
                            this.expect
                        )));
                    }
                    bytes.fetch_add(got, Ordering::Relaxed);
                }
                Ok::<_, std::io::Error>(())
            }));
        }
        for task in tasks {
            task.await.map_err(std::io::Error::other)??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let bytes = bytes.load(Ordering::Relaxed);
        println!(
            "fetches={count} bytes={bytes} elapsed={elapsed:.3} mibps={:.1}",
            bytes as f64 / (1024.0 * 1024.0) / elapsed
        );
        Ok(())
    }

    /// One fetch: the bytes received before the server closed.
    async fn once(&self) -> std::io::Result<u64> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => drain(tcp, self.request.as_bytes()).await,
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from("localhost")
                    .map_err(std::io::Error::other)?;
                drain(connector.connect(name, tcp).await?, self.request.as_bytes()).await
            }
        }
    }
}

/// Sends `request`, then reads into one reused 256 KiB buffer until EOF.
async fn drain<S>(mut stream: S, request: &[u8]) -> std::io::Result<u64>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream.write_all(request).await?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// A TLS client trusting the CA in `ca` (PEM).
fn tls_connector(ca: &std::path::Path) -> std::io::Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(std::io::Error::other)? {
        roots
            .add(cert.map_err(std::io::Error::other)?)
            .map_err(std::io::Error::other)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}
