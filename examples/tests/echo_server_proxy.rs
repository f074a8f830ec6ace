//! `echo_server --proxy-protocol v1|v2|any` as a user runs it: only what
//! follows a valid header is echoed; anything else first (a malformed header,
//! plain data, the other version) closes the connection with nothing echoed,
//! and the stats line on exit counts each rejection.

mod support;

use std::net::SocketAddr;

use aioproto::{ProxyHeader, ProxyVersion};
use support::{Server, TIMEOUT, run, start_server, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(addr: SocketAddr) -> TcpStream {
    within(TIMEOUT, "connect", TcpStream::connect(addr))
        .await
        .expect("connect")
}

/// Sends `first`, then reads `expect.len()` bytes of echo and checks them.
async fn echoes(addr: SocketAddr, first: &[u8], expect: &[u8]) -> TcpStream {
    let mut stream = connect(addr).await;
    stream.write_all(first).await.expect("write");
    let mut echo = vec![0; expect.len()];
    within(TIMEOUT, "the echo", stream.read_exact(&mut echo))
        .await
        .expect("read the echo");
    assert_eq!(echo, expect);
    stream
}

/// Sends `first` and checks that the server closes with nothing echoed.
async fn closed_without_echo(addr: SocketAddr, first: &[u8]) {
    let mut stream = connect(addr).await;
    stream.write_all(first).await.expect("write");
    let mut got = Vec::new();
    // A reset (the server closed with our bytes unread) is a close too.
    let _ = within(TIMEOUT, "the close", stream.read_to_end(&mut got)).await;
    assert!(got.is_empty(), "echoed {got:?}");
}

fn header(version: ProxyVersion) -> Vec<u8> {
    let client = "203.0.113.9:41000".parse().unwrap();
    let server = "192.0.2.1:8888".parse().unwrap();
    ProxyHeader::tcp(client, server)
        .with_version(version)
        .encode()
        .expect("encode")
        .to_vec()
}

/// Stops the server and returns its stats line.
async fn stats_line(server: Server) -> String {
    let log = server.stop().await;
    log.lines()
        .find(|l| l.contains("server_stats") && l.contains("stopped"))
        .unwrap_or_else(|| panic!("no stats line on exit: {log}"))
        .to_owned()
}

#[tokio::test]
async fn v1_server_echoes_what_follows_the_header_and_closes_on_anything_else() {
    let server = start_server(
        env!("CARGO_BIN_EXE_echo_server"),
        &["--port", "0", "--proxy-protocol", "v1"],
    )
    .await;
    let addr = server.addr;

    let mut first = header(ProxyVersion::V1);
    first.extend_from_slice(b"hello");
    let mut stream = echoes(addr, &first, b"hello").await;
    stream.write_all(b" again").await.expect("write");
    let mut echo = [0; 6];
    within(TIMEOUT, "the second echo", stream.read_exact(&mut echo))
        .await
        .expect("read");
    assert_eq!(&echo, b" again");
    drop(stream);

    closed_without_echo(addr, b"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\nhello").await;
    closed_without_echo(addr, b"hello, no header\r\n").await;
    closed_without_echo(addr, &header(ProxyVersion::V2)).await;

    let stats = stats_line(server).await;
    assert!(stats.contains("accepted=4 "), "{stats}");
    assert!(stats.contains("proxy_header_rejected=3 "), "{stats}");
}

#[tokio::test]
async fn v2_and_any_servers_take_their_versions() {
    let v2 = start_server(
        env!("CARGO_BIN_EXE_echo_server"),
        &["--port", "0", "--proxy-protocol", "v2"],
    )
    .await;
    let mut first = header(ProxyVersion::V2);
    first.extend_from_slice(b"ping");
    drop(echoes(v2.addr, &first, b"ping").await);
    closed_without_echo(v2.addr, &header(ProxyVersion::V1)).await;
    let stats = stats_line(v2).await;
    assert!(stats.contains("proxy_header_rejected=1 "), "{stats}");

    let any = start_server(
        env!("CARGO_BIN_EXE_echo_server"),
        &["--port", "0", "--proxy-protocol", "any"],
    )
    .await;
    for version in [ProxyVersion::V1, ProxyVersion::V2] {
        let mut first = header(version);
        first.extend_from_slice(b"x");
        drop(echoes(any.addr, &first, b"x").await);
    }
    let stats = stats_line(any).await;
    assert!(stats.contains("proxy_header_rejected=0 "), "{stats}");
}

#[tokio::test]
async fn a_bad_version_is_a_usage_error() {
    let (status, _, stderr) = run(
        env!("CARGO_BIN_EXE_echo_server"),
        &["--proxy-protocol", "v3"],
    )
    .await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--proxy-protocol"), "{stderr}");
}

/// `--proxy-header-timeout`: a client that connects and says nothing is
/// closed after that long (here 0.3 s, far below the 10 s default), and
/// counted; the flag needs `--proxy-protocol`, and a bad value is a usage
/// error.
#[tokio::test]
async fn a_silent_client_is_closed_at_the_header_timeout() {
    let server = start_server(
        env!("CARGO_BIN_EXE_echo_server"),
        &[
            "--port",
            "0",
            "--proxy-protocol",
            "any",
            "--proxy-header-timeout",
            "0.3",
        ],
    )
    .await;
    let started = std::time::Instant::now();
    let mut silent = connect(server.addr).await;
    let mut rest = Vec::new();
    within(
        TIMEOUT,
        "the close at the header timeout",
        silent.read_to_end(&mut rest),
    )
    .await
    .expect("a clean close");
    assert!(rest.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(250)
            && waited < std::time::Duration::from_secs(5),
        "closed after {waited:?}"
    );
    let stats = stats_line(server).await;
    assert!(stats.contains("proxy_header_rejected=1 "), "{stats}");

    for args in [
        &["--proxy-header-timeout", "3"][..],
        &["--proxy-protocol", "v1", "--proxy-header-timeout", "0"][..],
        &["--proxy-protocol", "v1", "--proxy-header-timeout", "soon"][..],
    ] {
        let (status, _, stderr) = run(env!("CARGO_BIN_EXE_echo_server"), args).await;
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--proxy-header-timeout"),
            "{args:?}: {stderr}"
        );
    }
}
