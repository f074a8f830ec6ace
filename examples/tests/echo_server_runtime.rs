//! `echo_server --runtime current|multi|loop-multi` as a user runs it: the
//! same echo on each runtime, many connections at once, a clean exit on
//! SIGTERM; `--runtime` with `--workers` above 1 is a usage error.

mod support;

use std::net::SocketAddr;

use support::{TIMEOUT, run, start_server, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Ping-pongs `rounds` messages of `size` bytes over one connection and
/// checks every echo byte for byte.
async fn ping_pong(addr: SocketAddr, id: u8, size: usize, rounds: usize) {
    let mut stream = within(TIMEOUT, "connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    for round in 0..rounds {
        let message: Vec<u8> = (0..size)
            .map(|i| (i as u8).wrapping_add(id).wrapping_add(round as u8))
            .collect();
        stream.write_all(&message).await.expect("write");
        let mut echo = vec![0; size];
        within(TIMEOUT, "the echo", stream.read_exact(&mut echo))
            .await
            .expect("read the echo");
        assert!(echo == message, "connection {id} round {round}: wrong echo");
    }
}

/// Eight connections at once, each with messages both small and larger than
/// one 64 KiB read, on the runtime `runtime`.
async fn echoes_on(runtime: &str) {
    let server = start_server(
        env!("CARGO_BIN_EXE_echo_server"),
        &["--port", "0", "--runtime", runtime],
    )
    .await;
    let addr = server.addr;
    let clients: Vec<_> = (0..8u8)
        .map(|id| {
            tokio::spawn(async move {
                ping_pong(addr, id, 1024, 20).await;
                ping_pong(addr, id, 100 * 1024, 3).await;
            })
        })
        .collect();
    for client in clients {
        within(TIMEOUT, "a client", client)
            .await
            .expect("client task");
    }
    server.stop().await;
}

#[tokio::test]
async fn echoes_on_the_current_thread_runtime() {
    echoes_on("current").await;
}

#[tokio::test]
async fn echoes_on_a_multi_thread_tokio_runtime() {
    echoes_on("multi").await;
}

#[tokio::test]
async fn echoes_on_a_multi_thread_event_loop() {
    echoes_on("loop-multi").await;
}

#[tokio::test]
async fn runtime_with_several_workers_is_a_usage_error() {
    let (status, _, stderr) = run(
        env!("CARGO_BIN_EXE_echo_server"),
        &["--port", "0", "--runtime", "multi", "--workers", "2"],
    )
    .await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--runtime"), "{stderr}");
}

#[tokio::test]
async fn an_unknown_runtime_is_a_usage_error() {
    let (status, _, stderr) = run(env!("CARGO_BIN_EXE_echo_server"), &["--runtime", "async"]).await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--runtime"), "{stderr}");
}
