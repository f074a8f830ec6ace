//! `start_tls`: upgrading live connections on both sides, bytes that arrived
//! with the STARTTLS line, the pause state, failures and time-outs (spec
//! T38, T39).

mod support;

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use aioproto::{Error, create_connection, start_tls, start_tls_with_data};
use bytes::Bytes;
use rustls::pki_types::ServerName;
use support::pki::*;
use support::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP stream whose first write carries `prefix` in the same send, so the
/// STARTTLS line and the ClientHello arrive in one segment.
struct PrefixFirstWrite {
    inner: TcpStream,
    prefix: Vec<u8>,
}

impl AsyncRead for PrefixFirstWrite {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PrefixFirstWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        while !this.prefix.is_empty() {
            let slices = [IoSlice::new(&this.prefix), IoSlice::new(buf)];
            let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, &slices))?;
            if n >= this.prefix.len() {
                let rest = n - this.prefix.len();
                this.prefix.clear();
                if rest > 0 {
                    return Poll::Ready(Ok(rest));
                }
            } else {
                this.prefix.drain(..n);
            }
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Server side, with bytes of the TLS stream already read: the client sends
/// `STARTTLS\n` and its ClientHello in one segment. The protocol hands the
/// bytes after the line to `start_tls_with_data`; the handshake completes, the
/// same protocol echoes over TLS through its old handle, and `connection_made`
/// ran once.
#[tokio::test]
async fn server_side_upgrade_keeps_bytes_read_with_the_starttls_line() {
    init_tracing();
    let pki = Pki::new();
    let server_tls = pki.server_tls("server");
    let leftover = Arc::new(Mutex::new(None::<usize>));
    let seen = leftover.clone();
    let (server, addr, mut logs) = recording_server(move |log| {
        let server_tls = server_tls.clone();
        let seen = seen.clone();
        let mut upgraded = false;
        Events::new(log).on_data(move |t, data| {
            if upgraded {
                t.write(data.clone()); // the old handle forwards to TLS
                return;
            }
            if let Some(rest) = data.strip_prefix(b"STARTTLS\n") {
                upgraded = true;
                *seen.lock().unwrap() = Some(rest.len());
                let upgrading = start_tls_with_data(
                    t,
                    server_tls.clone(),
                    true,
                    None,
                    Bytes::copy_from_slice(rest),
                );
                tokio::spawn(async move {
                    upgrading.await.expect("server-side upgrade");
                });
            } else {
                t.write(data.clone());
            }
        })
    })
    .await;

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"plain\n").await.unwrap();
    let mut echo = [0u8; 6];
    with_timeout(tcp.read_exact(&mut echo)).await.unwrap();
    assert_eq!(&echo, b"plain\n");

    let stream = PrefixFirstWrite {
        inner: tcp,
        prefix: b"STARTTLS\n".to_vec(),
    };
    let mut tls = with_timeout(
        tokio_rustls::TlsConnector::from(pki.raw_client_config())
            .connect(ServerName::try_from("localhost").unwrap(), stream),
    )
    .await
    .expect("handshake over the upgraded connection");
    let rest = leftover.lock().unwrap().expect("the STARTTLS line arrived");
    assert!(rest > 0, "the ClientHello came with the STARTTLS line");

    tls.write_all(b"over tls").await.unwrap();
    let mut echo = [0u8; 8];
    with_timeout(tls.read_exact(&mut echo)).await.unwrap();
    assert_eq!(&echo, b"over tls");
    tls.shutdown().await.unwrap();

    let log = next_log(&mut logs).await;
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.count("cm"), 1, "no second connection_made");
    assert_eq!(log.lost_count(), 1);
    let data = log.data();
    assert!(data.starts_with(b"plain\nSTARTTLS\n"));
    assert!(data.ends_with(b"over tls"));
    server.close();
}

/// A raw server for client-side upgrades: reads `plain_len` plaintext bytes,
/// accepts TLS on the same socket, sends `O`, reads `tls_len` bytes over TLS,
/// then sends close_notify and waits for the client to finish.
async fn upgrading_peer(
    pki: &Pki,
    plain_len: usize,
    tls_len: usize,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<(usize, usize)>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.raw_server_config("server"));
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut plain = vec![0u8; plain_len];
        tcp.read_exact(&mut plain).await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        tls.write_all(b"O").await.unwrap();
        let mut over_tls = vec![0u8; tls_len];
        tls.read_exact(&mut over_tls).await.unwrap();
        tls.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = tls.read_to_end(&mut rest).await;
        (plain.len(), over_tls.len())
    });
    (addr, task)
}

/// T38: client-side upgrade in place. 100 KiB plaintext, `start_tls`, `O`
/// arrives over TLS at the same protocol, 100 KiB over TLS, the peer's
/// close_notify gives `eof` and `cl(None)`. `connection_made` ran once.
#[tokio::test]
async fn client_side_upgrade_in_place() {
    init_tracing();
    let pki = Pki::new();
    let size = 100 * 1024;
    let (addr, peer) = upgrading_peer(&pki, size, size).await;
    let log = Log::new();
    let (plain, _) = with_timeout(create_connection(
        {
            let log = log.clone();
            move || Events::new(&log)
        },
        "127.0.0.1",
        addr.port(),
        &aioproto::ConnectOptions::new(),
    ))
    .await
    .unwrap();
    plain.write(vec![b'p'; size]);
    assert!(plain.tls().is_none());
    let tls = with_timeout(start_tls(
        &plain,
        pki.client_tls(),
        false,
        Some("localhost"),
    ))
    .await
    .expect("client-side upgrade");
    assert!(tls.tls().is_some());
    assert!(tls.can_write_eof(), "TLS 1.3 can half-close");
    assert_eq!(tls.peername(), plain.peername());
    log.wait_data(1).await;
    assert_eq!(log.data(), b"O");
    tls.write(vec![b't'; size]);
    assert_eq!(with_timeout(peer).await.unwrap(), (size, size));
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    assert!(plain.is_closing(), "the plaintext handle is closed");
}

/// The pause state survives the upgrade: a transport paused before
/// `start_tls` is paused after it, and data waits for `resume_reading`.
#[tokio::test]
async fn pause_state_is_kept() {
    init_tracing();
    let pki = Pki::new();
    let (addr, peer) = upgrading_peer(&pki, 5, 3).await;
    let log = Log::new();
    let (plain, _) = with_timeout(create_connection(
        {
            let log = log.clone();
            move || Events::new(&log)
        },
        "127.0.0.1",
        addr.port(),
        &aioproto::ConnectOptions::new(),
    ))
    .await
    .unwrap();
    plain.write("hello");
    plain.pause_reading();
    let tls = with_timeout(start_tls(
        &plain,
        pki.client_tls(),
        false,
        Some("localhost"),
    ))
    .await
    .unwrap();
    assert!(!tls.is_reading(), "still paused after the upgrade");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(log.data().is_empty(), "nothing delivered while paused");
    tls.resume_reading();
    log.wait_data(1).await;
    assert_eq!(log.data(), b"O");
    // The old handle forwards writes to the TLS transport.
    plain.write("abc");
    assert_eq!(with_timeout(peer).await.unwrap(), (5, 3));
    assert!(log.wait_lost().await.is_none());
}

/// A failed upgrade: the peer answers the ClientHello with plaintext. The
/// future fails with the TLS error and the protocol's `connection_lost` gets
/// the same error, once.
#[tokio::test]
async fn failed_upgrade_ends_the_connection() {
    init_tracing();
    let pki = Pki::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf).await;
        let _ = tcp.write_all(b"HTTP/1.0 400 no TLS here\r\n\r\n").await;
        let _ = tcp.read(&mut buf).await;
    });
    let log = Log::new();
    let (plain, _) = with_timeout(create_connection(
        {
            let log = log.clone();
            move || Events::new(&log)
        },
        "127.0.0.1",
        addr.port(),
        &aioproto::ConnectOptions::new(),
    ))
    .await
    .unwrap();
    let err = with_timeout(start_tls(
        &plain,
        pki.client_tls(),
        false,
        Some("localhost"),
    ))
    .await
    .expect_err("not a TLS peer");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    let lost = log
        .wait_lost()
        .await
        .expect("connection_lost with the error");
    assert_eq!(lost.to_string(), err.to_string());
    assert_eq!(log.lost_count(), 1);
    assert_eq!(log.count("cm"), 1);
}

/// T39: a peer that never handshakes makes `start_tls` time out after the
/// handshake timeout; the protocol hears of it in `connection_lost`.
#[tokio::test]
async fn upgrade_handshake_timeout() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) = recording_server(Events::new).await;
    let log = Log::new();
    let (plain, _) = with_timeout(create_connection(
        {
            let log = log.clone();
            move || Events::new(&log)
        },
        "127.0.0.1",
        addr.port(),
        &aioproto::ConnectOptions::new(),
    ))
    .await
    .unwrap();
    let mut tls = pki.client_tls();
    tls.handshake_timeout(Duration::from_millis(300)).unwrap();
    let err = with_timeout(start_tls(&plain, tls, false, Some("localhost")))
        .await
        .expect_err("the server never answers");
    assert!(err.is_timeout(), "{err:?}");
    assert!(log.wait_lost().await.unwrap().is_timeout());
    // The server saw the ClientHello as plain data and then the close.
    let server_log = next_log(&mut logs).await;
    server_log.wait_lost().await;
    server.close();
}

/// A second `start_tls` while the first is in flight, or on a closing
/// transport, is refused.
#[tokio::test]
async fn start_tls_on_closing_transport_is_refused() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr) = echo_server().await;
    let log = Log::new();
    let (plain, _) = with_timeout(create_connection(
        {
            let log = log.clone();
            move || Events::new(&log)
        },
        "127.0.0.1",
        addr.port(),
        &aioproto::ConnectOptions::new(),
    ))
    .await
    .unwrap();
    plain.close();
    let err = start_tls(&plain, pki.client_tls(), false, Some("localhost"))
        .await
        .expect_err("closing");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    assert!(log.wait_lost().await.is_none());
    server.close();
}
