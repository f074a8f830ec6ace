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

/// The server's resident memory, from `/proc` (KiB).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

/// A partial line sent a byte at a time, while another connection's lines
/// go through the same thread's read buffer in between, costs the server
/// what it counts, not a read buffer per byte: before the chunk queue
/// copied short chunks, 2,000 such bytes held about 60 MB.
#[tokio::test]
async fn a_partial_line_sent_a_byte_at_a_time_does_not_hold_read_buffers() {
    use tokio::io::AsyncWriteExt;
    let server = start_server(env!("CARGO_BIN_EXE_streams_echo_server"), &["--port", "0"]).await;
    let pid = server.child.id().expect("running");
    let mut trickle = LineClient::connect(server.addr).await;
    trickle.write.as_ref().set_nodelay(true).expect("nodelay");
    let mut busy = LineClient::connect(server.addr).await;
    let line = "x".repeat(32 * 1024 - 1);
    // Warm up: the allocator's working set for the busy connection's lines.
    for _ in 0..20 {
        assert_eq!(busy.ask(&line).await, line);
    }
    let before = rss_kib(pid);
    const BYTES: usize = 2_000;
    for _ in 0..BYTES {
        support::within(support::TIMEOUT, "one byte", trickle.write.write_all(b"y"))
            .await
            .expect("write");
        assert_eq!(busy.ask(&line).await, line);
    }
    let grown = rss_kib(pid).saturating_sub(before);
    assert!(
        grown < 16 * 1024,
        "{BYTES} buffered bytes grew the server by {grown} KiB"
    );
    // Nothing of the partial line was lost.
    trickle.send("\n").await;
    assert_eq!(trickle.line().await, Some("y".repeat(BYTES)));
    server.stop().await;
}
