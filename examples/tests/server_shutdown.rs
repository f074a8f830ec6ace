//! `--grace SECS` on a real `echo_server`: a client that writes and never
//! reads (so the server holds echo it cannot send) delays the exit after
//! SIGTERM by at most the grace period, plain and TLS; the server then exits
//! 0 and logs its counters, which show the client cut by the shutdown.

#[path = "support/certs.rs"]
mod certs;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use certs::Certs;
use support::{TIMEOUT, start_server, within};
use tokio::io::{AsyncWrite, AsyncWriteExt};

const GRACE: Duration = Duration::from_secs(1);

/// A client socket with a small receive buffer, so the server's echo backs up fast.
fn small_buffer_client(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    tokio::net::TcpStream::from_std(socket.into()).unwrap()
}

/// How much the client writes: far more than the kernel buffers on the
/// loopback path hold (a few MiB each way), so the server is left holding echo.
const FLOOD: u64 = 64 << 20;

/// Writes [`FLOOD`] bytes in 64 KiB chunks (or until the connection ends),
/// counting them, and keeps the connection open.
async fn write_flood<S: AsyncWrite + Unpin>(mut stream: S, written: Arc<AtomicU64>) -> S {
    let chunk = vec![b'x'; 64 * 1024];
    while written.load(Ordering::Relaxed) < FLOOD && stream.write_all(&chunk).await.is_ok() {
        written.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    stream
}

/// Writes the flood, then holds the connection open, never reading.
async fn flood_and_hold<S: AsyncWrite + Unpin>(stream: S, written: Arc<AtomicU64>) {
    let _stream = write_flood(stream, written).await;
    std::future::pending::<()>().await;
}

/// Waits until the flood is written, or until it makes no progress for
/// 300 ms (a server that stops reading while its echo is unsent), polled
/// every 20 ms, at most [`TIMEOUT`]: no event tells the test which.
async fn wait_until_flooded(written: &AtomicU64) {
    let deadline = Instant::now() + TIMEOUT;
    let mut last = (written.load(Ordering::Relaxed), Instant::now());
    loop {
        let now = written.load(Ordering::Relaxed);
        if now >= FLOOD {
            return;
        }
        if now != last.0 || now == 0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= Duration::from_millis(300) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the flood neither ended nor stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn exits_within_grace_with_a_non_reader(tls: bool) {
    let certs = Certs::new();
    let mut args: Vec<String> = ["--port", "0", "--grace", "1"].map(String::from).to_vec();
    if tls {
        args.extend(certs.server_args());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = start_server(env!("CARGO_BIN_EXE_echo_server"), &args).await;

    let tcp = small_buffer_client(server.addr);
    let written = Arc::new(AtomicU64::new(0));
    let writer = if tls {
        let stream = within(TIMEOUT, "TLS handshake", certs.connect(tcp)).await;
        tokio::spawn(flood_and_hold(stream, written.clone()))
    } else {
        tokio::spawn(flood_and_hold(tcp, written.clone()))
    };
    wait_until_flooded(&written).await;

    let pid = nix::unistd::Pid::from_raw(server.child.id().expect("running") as i32);
    let signalled = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signal");
    let status = within(
        GRACE + Duration::from_secs(2),
        "exit within grace + 2 s",
        server.child.wait(),
    )
    .await
    .expect("wait");
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took >= GRACE, "exited before the grace period: {took:?}");

    let addr = server.addr;
    let log = server.stderr().await;
    let stats = log
        .lines()
        .find(|l| l.contains("server_stats") && l.contains("stopped"))
        .unwrap_or_else(|| panic!("no stats line on exit: {log}"));
    assert!(stats.contains(&format!("stopped {addr}:")), "{stats}");
    assert!(stats.contains("accepted=1 "), "{stats}");
    assert!(stats.contains("aborted_by_shutdown=1 "), "{stats}");
    assert_eq!(
        log.lines().filter(|l| l.contains("server_stats")).count(),
        1,
        "{log}"
    );
    writer.abort();
}

#[tokio::test]
async fn plain_echo_server_exits_within_grace_with_a_client_that_never_reads() {
    exits_within_grace_with_a_non_reader(false).await;
}

#[tokio::test]
async fn tls_echo_server_exits_within_grace_with_a_client_that_never_reads() {
    exits_within_grace_with_a_non_reader(true).await;
}

/// With readers only, the exit does not wait for the grace period, and the
/// counters say everyone closed cleanly; with workers too.
#[tokio::test]
async fn well_behaved_clients_do_not_wait_for_the_grace() {
    for workers in ["1", "2"] {
        let mut server = start_server(
            env!("CARGO_BIN_EXE_echo_server"),
            &["--port", "0", "--grace", "30", "--workers", workers],
        )
        .await;
        let mut clients = Vec::new();
        for _ in 0..8 {
            let mut c = support::LineClient::connect(server.addr).await;
            assert_eq!(c.ask("hi").await, "hi");
            clients.push(c);
        }
        let started = Instant::now();
        let pid = nix::unistd::Pid::from_raw(server.child.id().expect("running") as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("signal");
        let status = within(Duration::from_secs(10), "exit", server.child.wait())
            .await
            .expect("wait");
        assert!(status.success());
        assert!(started.elapsed() < Duration::from_secs(10));
        for mut c in clients {
            assert_eq!(c.line().await, None);
        }
        let log = server.stderr().await;
        assert!(
            log.contains("accepted=8 open=0") && log.contains("closed_cleanly=8"),
            "{log}"
        );
    }
}
