//! The `streams_echo_server` binary over real sockets.

mod support;

use support::{LineClient, start_server};

#[tokio::test]
async fn echoes_lines_and_a_last_partial_line() {
    let server = start_server(env!("CARGO_BIN_EXE_streams_echo_server"), &["--port", "0"]).await;
    let mut a = LineClient::connect(server.addr).await;
    let mut b = LineClient::connect(server.addr).await;
    assert_eq!(a.ask("hello").await, "hello");
    // (tokio's Lines drops the \r of a \r\n ending.)
    assert_eq!(b.ask("from b\r").await, "from b");
    a.send("one\ntwo\nthr").await;
    assert_eq!(a.line().await.as_deref(), Some("one"));
    assert_eq!(a.line().await.as_deref(), Some("two"));
    a.send("ee").await;
    // EOF: the partial line comes back, then the server closes.
    use tokio::io::AsyncWriteExt;
    a.write.shutdown().await.expect("half-close");
    assert_eq!(a.line().await.as_deref(), Some("three"));
    assert_eq!(a.line().await, None);
    assert_eq!(b.ask("still here").await, "still here");
    // A large line goes through flow control (drain) intact.
    let big = "x".repeat(60_000);
    assert_eq!(b.ask(&big).await, big);
    drop(b);
    server.stop().await;
}

#[tokio::test]
async fn stops_with_a_client_connected() {
    let server = start_server(env!("CARGO_BIN_EXE_streams_echo_server"), &["--port", "0"]).await;
    let mut a = LineClient::connect(server.addr).await;
    assert_eq!(a.ask("hi").await, "hi");
    // SIGTERM closes the clients, so the exit does not wait for this one.
    server.stop().await;
    assert_eq!(a.line().await, None);
}
