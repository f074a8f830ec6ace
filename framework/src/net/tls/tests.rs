use std::time::Duration;

use super::*;

#[test]
fn zero_timeouts_are_refused_like_asyncio() {
    let err = check_timeout("ssl_handshake_timeout", Duration::ZERO).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert!(err.to_string().contains("positive number"), "{err}");
    assert_eq!(
        check_timeout("ssl_shutdown_timeout", Duration::from_millis(1)).unwrap(),
        Duration::from_millis(1)
    );
}

#[test]
fn server_names_default_to_the_host() {
    let tls = ClientTls::from_config(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    );
    assert_eq!(
        tls.name_for("localhost").unwrap(),
        ServerName::try_from("localhost").unwrap()
    );
    // Bracketed IPv6 literals are accepted as the IP address.
    assert!(matches!(
        tls.name_for("[::1]").unwrap(),
        ServerName::IpAddress(_)
    ));
    assert!(tls.name_for("bad name!").is_err());
    let mut tls = tls;
    tls.server_name("example.test").unwrap();
    assert_eq!(
        tls.name_for("127.0.0.1").unwrap(),
        ServerName::try_from("example.test").unwrap()
    );
}

#[test]
fn builders_report_missing_files_with_their_path() {
    let err = ServerTls::from_pem("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
    assert_eq!(err.io_kind(), Some(io::ErrorKind::NotFound));
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    let err = ClientTls::builder().build().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
}

#[test]
fn alpn_lists_copy_every_protocol() {
    assert_eq!(
        alpn_list(["h2", "http/1.1"]),
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    assert!(alpn_list(Vec::<&[u8]>::new()).is_empty());
}

/// Records `connection_lost`.
struct Lost(
    Arc<std::sync::Mutex<Vec<Option<Error>>>>,
    Arc<tokio::sync::Notify>,
);

impl crate::BaseProtocol for Lost {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.0.lock().unwrap().push(exc);
        self.1.notify_one();
    }
}
impl crate::Protocol for Lost {}

/// Awaits `f`, failing the test after 10 s.
async fn bound<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

/// When the test closes or aborts the plaintext handle.
#[derive(Clone, Copy, PartialEq)]
enum When {
    /// Right after calling `start_tls`, before the driver has detached.
    Requested,
    /// During the handshake: the stream is detached, no transport forwards yet.
    Handshaking,
}

/// Client-side `start_tls` to a raw TLS peer that holds the handshake back
/// until the ClientHello is in and the test had its say; returns how the
/// connection ended as the peer saw it (`Ok(bytes)` at a clean close_notify,
/// `Err(kind)` otherwise, the handshake's failure included), what
/// `start_tls` returned, and the protocol's `connection_lost` argument.
async fn end_during_upgrade(
    when: When,
    end: fn(&Transport),
) -> (
    std::result::Result<usize, io::ErrorKind>,
    Result<Transport>,
    Option<Error>,
) {
    use tokio::io::AsyncReadExt;

    let pki = aioproto_test_pki::TempPki::new("tls-unit").unwrap();
    let server = ServerTls::from_pem(pki.cert("server"), pki.key("server")).unwrap();
    let client = ClientTls::from_ca_file(pki.ca()).unwrap();
    // Both settings hold what they read: the files may go.
    drop(pki);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (hello_tx, hello_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 1];
        tcp.peek(&mut first).await.unwrap();
        hello_tx.send(()).unwrap();
        go_rx.await.unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(server.config());
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.kind())?;
        let mut got = Vec::new();
        tls.read_to_end(&mut got)
            .await
            .map(|_| got.len())
            .map_err(|e| e.kind())
    });
    let lost = Arc::new(std::sync::Mutex::new(Vec::new()));
    let notify = Arc::new(tokio::sync::Notify::new());
    let (plain, _) = crate::create_connection(
        {
            let (lost, notify) = (lost.clone(), notify.clone());
            move || Lost(lost, notify)
        },
        "127.0.0.1",
        port,
        &crate::ConnectOptions::new(),
    )
    .await
    .unwrap();
    let upgrading = tokio::spawn(start_tls(&plain, client, false, Some("localhost")));
    if when == When::Requested {
        end(&plain);
    }
    bound(hello_rx).await.unwrap();
    if when == When::Handshaking {
        end(&plain);
    }
    go_tx.send(()).unwrap();
    let upgraded = bound(upgrading).await.unwrap();
    let seen = bound(peer).await.unwrap();
    bound(async {
        while lost.lock().unwrap().is_empty() {
            notify.notified().await;
        }
    })
    .await;
    let exc = lost.lock().unwrap().pop().unwrap();
    (seen, upgraded, exc)
}

/// An `abort()` on the plaintext handle while the handshake runs stops the
/// handshake: `start_tls` fails with `Closed`, the socket is dropped (the
/// peer's handshake fails), and the protocol gets `connection_lost(None)`.
#[tokio::test]
async fn abort_during_the_handshake_stops_it() {
    let (seen, upgraded, exc) = end_during_upgrade(When::Handshaking, Transport::abort).await;
    assert!(matches!(upgraded, Err(Error::Closed(_))), "{upgraded:?}");
    assert!(exc.is_none(), "{exc:?}");
    assert!(seen.is_err(), "the peer's handshake failed: {seen:?}");
}

/// A `close()` while the handshake runs closes the upgraded transport
/// gracefully: close_notify, then `connection_lost(None)`.
#[tokio::test]
async fn close_during_the_handshake_reaches_the_upgraded_transport() {
    let (seen, upgraded, exc) = end_during_upgrade(When::Handshaking, Transport::close).await;
    assert!(upgraded.unwrap().is_closing());
    assert!(exc.is_none(), "{exc:?}");
    assert_eq!(seen, Ok(0), "a clean close_notify, no data");
}

/// A `close()` right after `start_tls` was called, before the driver handed
/// the stream over, is kept for the upgraded transport too.
#[tokio::test]
async fn close_before_the_detach_reaches_the_upgraded_transport() {
    let (seen, upgraded, exc) = end_during_upgrade(When::Requested, Transport::close).await;
    assert!(upgraded.unwrap().is_closing());
    assert!(exc.is_none(), "{exc:?}");
    assert_eq!(seen, Ok(0));
}
