//! TLS load generator for `make bench` (vmbench method): N connections each
//! send a message, wait for the whole echo, and repeat, for a fixed time. With
//! `--handshakes`, each of N workers instead opens a fresh connection, does a
//! full handshake (no session resumption), echoes one byte and closes, again
//! and again. Prints one line of `key=value` fields:
//!
//! ```text
//! tls_load HOST:PORT --ca F [--conns N] [--size BYTES] [--seconds S] [--handshakes | --idle]
//! requests=123456 rate=24691.2 seconds=5.00
//! handshakes=2345 rate=469.0 seconds=5.00
//! idle=1000
//! ```
//!
//! With `--idle`, it opens N connections (each echoes one byte), prints
//! `idle=N`, and holds them open for `--seconds` (for memory per idle connection).
//!
//! Runs on one thread so it can be pinned to its own core (`taskset`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aioproto_tools::{parse_count, parse_seconds};
use clap::Parser;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// TLS load generator for `make bench`: ping-pong echo over N connections,
/// full handshakes (--handshakes), or N idle connections (--idle). Prints one
/// line of `key=value` fields.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Options {
    /// The TLS echo server, IP:PORT.
    #[arg(value_name = "HOST:PORT")]
    addr: SocketAddr,
    /// Trust server certificates signed by this CA (PEM).
    #[arg(long, value_name = "FILE")]
    ca: String,
    /// Connections (or handshake workers).
    #[arg(long, value_name = "N", default_value = "10", value_parser = parse_count)]
    conns: usize,
    /// Bytes per request.
    #[arg(long, value_name = "BYTES", default_value = "1024", value_parser = parse_count)]
    size: usize,
    /// How long to run (with --idle: how long to hold the connections).
    #[arg(long, value_name = "S", default_value = "5", value_parser = parse_seconds)]
    seconds: f64,
    /// Each worker does full handshakes (no resumption) in a loop.
    #[arg(long, conflicts_with = "idle")]
    handshakes: bool,
    /// Open the connections, echo one byte each, print `idle=N`, hold them.
    #[arg(long)]
    idle: bool,
}

fn client_config(ca: &str) -> Result<Arc<rustls::ClientConfig>, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // Every handshake in --handshakes mode is a full one.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

async fn connect(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, BoxError> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    Ok(connector
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?)
}

async fn ping_pong(
    mut tls: tokio_rustls::client::TlsStream<TcpStream>,
    size: usize,
    deadline: Instant,
    count: Arc<AtomicU64>,
) -> Result<(), BoxError> {
    let message = vec![b'x'; size];
    let mut back = vec![0u8; size];
    while Instant::now() < deadline {
        tls.write_all(&message).await?;
        tls.read_exact(&mut back).await?;
        count.fetch_add(1, Ordering::Relaxed);
    }
    let _ = tls.shutdown().await;
    Ok(())
}

async fn handshakes(
    addr: SocketAddr,
    connector: tokio_rustls::TlsConnector,
    deadline: Instant,
    count: Arc<AtomicU64>,
) -> Result<(), BoxError> {
    let mut byte = [0u8; 1];
    while Instant::now() < deadline {
        let mut tls = connect(addr, &connector).await?;
        tls.write_all(b"h").await?;
        tls.read_exact(&mut byte).await?;
        count.fetch_add(1, Ordering::Relaxed);
        let _ = tls.shutdown().await;
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let options = Options::parse();
    let connector = tokio_rustls::TlsConnector::from(client_config(&options.ca)?);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            if options.idle {
                let mut held = Vec::with_capacity(options.conns);
                let mut byte = [0u8; 1];
                for _ in 0..options.conns {
                    let mut tls = connect(options.addr, &connector).await?;
                    tls.write_all(b"i").await?;
                    tls.read_exact(&mut byte).await?;
                    held.push(tls);
                }
                println!("idle={}", held.len());
                use std::io::Write;
                std::io::stdout().flush()?;
                tokio::time::sleep(Duration::from_secs_f64(options.seconds)).await;
                return Ok(());
            }
            let count = Arc::new(AtomicU64::new(0));
            let mut streams = Vec::new();
            if !options.handshakes {
                for _ in 0..options.conns {
                    streams.push(connect(options.addr, &connector).await?);
                }
            }
            let started = Instant::now();
            let deadline = started + Duration::from_secs_f64(options.seconds);
            let mut tasks = tokio::task::JoinSet::new();
            if options.handshakes {
                for _ in 0..options.conns {
                    tasks.spawn(handshakes(
                        options.addr,
                        connector.clone(),
                        deadline,
                        count.clone(),
                    ));
                }
            } else {
                for tls in streams {
                    tasks.spawn(ping_pong(tls, options.size, deadline, count.clone()));
                }
            }
            while let Some(done) = tasks.join_next().await {
                done??;
            }
            let seconds = started.elapsed().as_secs_f64();
            let n = count.load(Ordering::Relaxed);
            let what = if options.handshakes {
                "handshakes"
            } else {
                "requests"
            };
            println!(
                "{what}={n} rate={:.1} seconds={seconds:.2}",
                n as f64 / seconds
            );
            Ok(())
        })
}
