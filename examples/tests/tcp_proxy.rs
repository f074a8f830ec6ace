//! The `tcp_proxy` binary in front of an upstream on port 0: round trip,
//! half-close each way, a client that does not read stalling the upstream,
//! a refused upstream closing the client, PROXY headers v1 and v2 carrying
//! the client's address, and its command line (`--help` 0, mistakes 2,
//! SIGTERM 0).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use aioproto::{ProxyHeader, ProxyParse, ProxyVersion};
use support::{Server, TIMEOUT, run, start_server, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_tcp_proxy");

/// A raw upstream listener, and the proxy started in front of it.
async fn proxy_in_front(extra: &[&str]) -> (Server, TcpListener) {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let to = upstream.local_addr().unwrap().to_string();
    let mut args = vec!["--port", "0", "--to", &to];
    args.extend_from_slice(extra);
    (start_server(BIN, &args).await, upstream)
}

async fn connect(addr: SocketAddr) -> TcpStream {
    within(TIMEOUT, "connect", TcpStream::connect(addr))
        .await
        .unwrap()
}

async fn accept(listener: &TcpListener) -> TcpStream {
    within(
        TIMEOUT,
        "the proxy's upstream connection",
        listener.accept(),
    )
    .await
    .unwrap()
    .0
}

async fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    within(TIMEOUT, "read to EOF", stream.read_to_end(&mut out))
        .await
        .unwrap();
    out
}

async fn write(stream: &mut TcpStream, data: &[u8]) {
    within(TIMEOUT, "write", stream.write_all(data))
        .await
        .unwrap();
}

/// Bytes go both ways unchanged, 1 MiB included, and half-closes pass: the
/// client's EOF reaches the upstream, which still answers; then the
/// upstream's EOF reaches the client.
#[tokio::test]
async fn round_trip_and_half_close_each_way() {
    let (proxy, upstream) = proxy_in_front(&[]).await;
    let mut client = connect(proxy.addr).await;
    let mut up = accept(&upstream).await;
    write(&mut client, b"hello upstream").await;
    let mut buf = [0u8; 14];
    within(TIMEOUT, "read", up.read_exact(&mut buf))
        .await
        .unwrap();
    assert_eq!(&buf, b"hello upstream");
    let big: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
    write(&mut up, &big).await;
    let mut got = vec![0u8; big.len()];
    within(TIMEOUT, "read 1 MiB", client.read_exact(&mut got))
        .await
        .unwrap();
    assert!(got == big, "1 MiB changed on its way");
    // Client half-closes: the upstream sees EOF and can still answer.
    client.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut up).await, b"");
    write(&mut up, b"after your EOF").await;
    up.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut client).await, b"after your EOF");

    // And the other way: the upstream half-closes first.
    let mut client = connect(proxy.addr).await;
    let mut up = accept(&upstream).await;
    write(&mut up, b"bye").await;
    up.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut client).await, b"bye");
    write(&mut client, b"one more").await;
    client.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut up).await, b"one more");
    proxy.stop().await;
}

/// A client that stops reading stalls the upstream: 64 MiB do not get
/// through (the proxy does not buffer them); once the client reads, all of
/// them arrive.
#[tokio::test]
async fn a_client_that_does_not_read_stalls_the_upstream() {
    const TOTAL: usize = 64 * 1024 * 1024;
    let (proxy, upstream) = proxy_in_front(&[]).await;
    let mut client = connect(proxy.addr).await;
    let mut up = accept(&upstream).await;
    let mut writer = tokio::spawn(async move {
        up.write_all(&vec![1u8; TOTAL]).await.unwrap();
        up.shutdown().await.unwrap();
        up
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut writer)
            .await
            .is_err(),
        "64 MiB went through to a client that does not read"
    );
    let got = within(Duration::from_secs(60), "read 64 MiB", async {
        let mut n = 0usize;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match client.read(&mut buf).await.unwrap() {
                0 => break n,
                k => n += k,
            }
        }
    })
    .await;
    assert_eq!(got, TOTAL);
    within(TIMEOUT, "the writer", writer).await.unwrap();
    proxy.stop().await;
}

/// An upstream that refuses: the client is closed, with nothing sent.
#[tokio::test]
async fn a_refused_upstream_closes_the_client() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let to = closed.local_addr().unwrap().to_string();
    drop(closed);
    let proxy = start_server(BIN, &["--port", "0", "--to", &to]).await;
    let mut client = connect(proxy.addr).await;
    assert_eq!(read_to_eof(&mut client).await, b"");
    proxy.stop().await;
}

/// Reads a whole PROXY header from `up`; returns it and the bytes after it.
async fn read_header(up: &mut TcpStream) -> (ProxyHeader, Vec<u8>) {
    let mut buf = Vec::new();
    loop {
        match ProxyHeader::parse(&buf).expect("a valid header") {
            ProxyParse::Complete { header, consumed } => return (header, buf[consumed..].to_vec()),
            ProxyParse::Incomplete { .. } => {
                let mut chunk = [0u8; 512];
                let n = within(TIMEOUT, "the header", up.read(&mut chunk))
                    .await
                    .unwrap();
                assert_ne!(n, 0, "EOF inside the header: {buf:?}");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// With `--proxy-protocol v1` / `v2`, the upstream first gets a header of
/// that version whose source is the client's address and destination the
/// proxy's; the client's bytes follow.
#[tokio::test]
async fn proxy_protocol_headers_carry_the_client_address() {
    for (flag, version) in [("v1", ProxyVersion::V1), ("v2", ProxyVersion::V2)] {
        let (proxy, upstream) = proxy_in_front(&["--proxy-protocol", flag]).await;
        let mut client = connect(proxy.addr).await;
        write(&mut client, b"payload").await;
        let mut up = accept(&upstream).await;
        let (header, mut rest) = read_header(&mut up).await;
        assert_eq!(header.version(), version);
        assert_eq!(header.source(), Some(client.local_addr().unwrap()));
        assert_eq!(header.destination(), Some(proxy.addr));
        client.shutdown().await.unwrap();
        rest.extend(read_to_eof(&mut up).await);
        assert_eq!(rest, b"payload");
        proxy.stop().await;
    }
}

/// `--help` exits 0 and lists the proxy's flags; a missing or bad `--to` or
/// `--proxy-protocol` is a usage error (exit 2).
#[tokio::test]
async fn command_line() {
    let (status, stdout, _) = run(BIN, &["--help"]).await;
    assert_eq!(status.code(), Some(0));
    for flag in [
        "--to",
        "--proxy-protocol",
        "--connect-timeout",
        "--grace",
        "--workers",
    ] {
        assert!(stdout.contains(flag), "--help lacks {flag}: {stdout}");
    }
    let bad: &[&[&str]] = &[
        &[],
        &["--to", "nowhere"],
        &["--to", "127.0.0.1:0"],
        &["--to", "::1:80"],
        &["--to", "127.0.0.1:80", "--proxy-protocol", "v3"],
        &["--to", "127.0.0.1:80", "--connect-timeout", "0"],
        &["--to", "127.0.0.1:80", "--cert", "x.pem"],
    ];
    for args in bad {
        let (status, _, stderr) = run(BIN, args).await;
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
    }
}

/// SIGTERM with a relay open: the proxy closes it and exits 0.
#[tokio::test]
async fn sigterm_exits_0_with_a_relay_open() {
    let (proxy, upstream) = proxy_in_front(&[]).await;
    let mut client = connect(proxy.addr).await;
    let mut up = accept(&upstream).await;
    write(&mut client, b"x").await;
    let mut one = [0u8; 1];
    within(TIMEOUT, "read", up.read_exact(&mut one))
        .await
        .unwrap();
    proxy.stop().await;
    assert_eq!(read_to_eof(&mut client).await, b"");
    assert_eq!(read_to_eof(&mut up).await, b"");
}
