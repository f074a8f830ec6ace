//! TLS round trips, flow control over TLS, extra info, and how TLS connections
//! end: close_notify both ways, a peer FIN without close_notify (spec section E,
//! contract 1-6 and 11).

mod support;

use aioproto::{ConnectOptions, Error, create_connection, start_tls};
use support::pki::*;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Round trip: an aioproto TLS client and server, the protocol unchanged from TCP.
#[tokio::test]
async fn round_trip_client_and_server() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) = tls_recording_server(pki.server_tls("server"), |log| {
        Events::new(log).on_data(|t, data| t.write(data.clone()))
    })
    .await;
    let log = Log::new();
    let mut tls = pki.client_tls();
    tls.server_name("localhost").unwrap();
    let (transport, _) = with_timeout(connect_tls_recording(&log, "127.0.0.1", addr.port(), tls))
        .await
        .expect("TLS connect");
    assert_eq!(
        log.events(),
        ["cm"],
        "connection_made ran before create_connection returned"
    );
    transport.write("hello ");
    transport.write("over TLS");
    log.wait_data(14).await;
    assert_eq!(log.data(), b"hello over TLS");
    transport.close();
    assert_eq!(log.wait_lost().await.map(|e| e.to_string()), None);
    let server_log = next_log(&mut logs).await;
    assert_eq!(server_log.wait_lost().await.map(|e| e.to_string()), None);
    assert_eq!(server_log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    assert_eq!(log.trace(), ["cm", "dr", "cl(None)"]);
    server.close();
}

/// Connecting by host name: "localhost" is both the address and the name checked.
#[tokio::test]
async fn round_trip_by_host_name() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr) = tls_echo_server(pki.server_tls("server")).await;
    let log = Log::new();
    let (transport, _) = with_timeout(connect_tls_recording(
        &log,
        "localhost",
        addr.port(),
        pki.client_tls(),
    ))
    .await
    .expect("TLS connect to localhost");
    transport.write("ping");
    log.wait_data(4).await;
    assert_eq!(log.data(), b"ping");
    assert_eq!(
        transport.tls().unwrap().server_name.as_deref(),
        Some("localhost")
    );
    transport.abort();
    log.wait_lost().await;
    server.close();
}

/// Large writes: 8 MiB through a TLS echo whose server starts with reading
/// paused. The client is paused above the TLS high-water mark and resumed
/// below the low one once the server reads; every byte comes back in order.
/// Contract 4 over TLS, counting plaintext.
#[tokio::test]
async fn large_writes_with_flow_control() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) = tls_recording_server(pki.server_tls("server"), |log| {
        Events::new(log)
            .on_made(|t| t.pause_reading())
            .on_data(|t, data| t.write(data.clone()))
    })
    .await;
    let log = Log::new();
    let (transport, _) = with_timeout(connect_tls_recording(
        &log,
        "localhost",
        addr.port(),
        pki.client_tls(),
    ))
    .await
    .unwrap();
    assert_eq!(
        transport.get_write_buffer_limits(),
        (131072, 524288),
        "asyncio's TLS defaults (T13)"
    );
    let total = 8 * 1024 * 1024;
    let payload: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    for chunk in payload.chunks(64 * 1024) {
        transport.write(chunk.to_vec());
    }
    log.wait_for("pw").await;
    assert!(
        transport.get_write_buffer_size() > 524288,
        "paused only above high"
    );
    let server_log = next_log(&mut logs).await;
    assert_eq!(server_log.count("dr"), 0, "server reading is paused");
    server_log.wait_for("cm").await; // registered before connection_made
    server.connections().pop().unwrap().resume_reading();
    log.wait_data(total).await;
    assert!(log.data() == payload, "every byte back, in order");
    log.wait_for("rw").await;
    assert_eq!(log.count("pw"), 1);
    assert_eq!(log.count("rw"), 1);
    assert_eq!(transport.get_write_buffer_size(), 0);
    transport.close();
    assert!(log.wait_lost().await.is_none());
    server.close();
}

/// T27: extra info on both sides, and TLS cannot half-close.
#[tokio::test]
async fn extra_info_and_no_half_close() {
    init_tracing();
    let pki = Pki::new();
    let server_tls = aioproto::ServerTls::builder(pki.cert("server"), pki.key("server"))
        .optional_client_ca(pki.ca())
        .alpn(["echo", "other"])
        .build()
        .unwrap();
    let (server, addr, mut logs) = tls_recording_server(server_tls, Events::new).await;
    let client_tls = aioproto::ClientTls::builder()
        .ca_file(pki.ca())
        .client_cert(pki.cert("client"), pki.key("client"))
        .alpn(["echo"])
        .build()
        .unwrap();
    let log = Log::new();
    let (transport, _) = with_timeout(connect_tls_recording(
        &log,
        "localhost",
        addr.port(),
        client_tls,
    ))
    .await
    .unwrap();

    let info = transport.tls().expect("TLS info on a TLS transport");
    assert_eq!(info.peer_certificates.len(), 1);
    let server_cert = std::fs::read_to_string(pki.cert("server")).unwrap();
    assert!(!server_cert.is_empty());
    assert_eq!(info.protocol_version, rustls::ProtocolVersion::TLSv1_3);
    assert!(!matches!(
        info.cipher_suite,
        rustls::CipherSuite::Unknown(_)
    ));
    assert_eq!(info.alpn_protocol_str(), Some("echo"));
    assert_eq!(info.server_name.as_deref(), Some("localhost"));
    assert!(transport.peername().is_some() && transport.sockname().is_some());
    assert!(transport.can_write_eof(), "TLS 1.3 can half-close");

    transport.write("x");
    let server_log = next_log(&mut logs).await;
    server_log.wait_data(1).await;
    let server_side = server.connections().pop().unwrap();
    let info = server_side.tls().unwrap();
    assert_eq!(
        info.server_name.as_deref(),
        Some("localhost"),
        "the SNI the client sent"
    );
    assert_eq!(info.peer_certificates.len(), 1, "the client certificate");
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"echo"[..]));
    transport.close();
    log.wait_lost().await;
    server.close();
}

/// A plain TCP connection has no TLS info.
#[tokio::test]
async fn plain_connections_have_no_tls_info() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let (transport, _) = with_timeout(create_connection(
        Echo::default,
        "127.0.0.1",
        addr.port(),
        &ConnectOptions::new(),
    ))
    .await
    .unwrap();
    assert!(transport.tls().is_none());
    assert!(transport.can_write_eof());
    transport.abort();
    server.close();
}

/// T32 (local close): `close()` sends close_notify, so a raw TLS peer reads a
/// clean end of stream after the data; the server sees `cl(None)`.
#[tokio::test]
async fn close_sends_close_notify() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) = tls_recording_server(pki.server_tls("server"), |log| {
        Events::new(log).on_made(|t| {
            t.write("OK");
            t.close();
        })
    })
    .await;
    let mut client = pki.raw_connect(addr).await;
    let mut got = Vec::new();
    with_timeout(client.read_to_end(&mut got))
        .await
        .expect("a clean end: close_notify arrived");
    assert_eq!(got, b"OK");
    drop(client);
    let log = next_log(&mut logs).await;
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "cl(None)"]);
    server.close();
}

/// T32 variant, reported as an error per contract 6: the peer closes TCP
/// without close_notify. Data before it is delivered; `connection_lost` gets an
/// error and `eof_received` is not called.
#[tokio::test]
async fn peer_fin_without_close_notify_is_an_error() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let mut client = pki.raw_connect(addr).await;
    client.write_all(b"hi").await.unwrap();
    client.flush().await.unwrap();
    let log = next_log(&mut logs).await;
    log.wait_data(2).await;
    // FIN on the TCP socket under TLS, no close_notify.
    client.get_mut().0.shutdown().await.unwrap();
    let err = log.wait_lost().await.expect("an error, not a clean close");
    assert_eq!(
        err.io_kind(),
        Some(std::io::ErrorKind::UnexpectedEof),
        "{err}"
    );
    assert_eq!(log.count("eof"), 0);
    assert_eq!(log.lost_count(), 1);
    server.close();
}

/// T32: the peer's close_notify is a clean EOF: `eof_received`, then our
/// close_notify back and `cl(None)`.
#[tokio::test]
async fn peer_close_notify_is_a_clean_eof() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) =
        tls_recording_server(pki.server_tls("server"), Events::new).await;
    let mut client = pki.raw_connect(addr).await;
    client.write_all(b"bye").await.unwrap();
    client.shutdown().await.unwrap(); // close_notify
    let log = next_log(&mut logs).await;
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    let mut rest = Vec::new();
    with_timeout(client.read_to_end(&mut rest))
        .await
        .expect("the server answered with close_notify");
    server.close();
}

/// T33: data written just before `close()` is all flushed before close_notify.
#[tokio::test]
async fn buffered_data_is_flushed_before_close_notify() {
    init_tracing();
    let pki = Pki::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.raw_server_config("server"));
    let peer = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        // Do not read for a while, so the client's buffer fills up.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let mut all = Vec::new();
        tls.read_to_end(&mut all).await.map(|_| all.len())
    });
    let log = Log::new();
    let (transport, _) = with_timeout(connect_tls_recording(
        &log,
        "localhost",
        addr.port(),
        pki.client_tls(),
    ))
    .await
    .unwrap();
    for _ in 0..32 {
        transport.write(vec![b'x'; 128 * 1024]);
    }
    transport.close();
    let received = with_timeout(peer)
        .await
        .unwrap()
        .expect("clean close_notify");
    assert_eq!(received, 32 * 128 * 1024);
    assert!(log.wait_lost().await.is_none());
}

/// T35: pause_reading over TLS keeps the data; after resume it arrives, then
/// the peer's close gives `eof` and `cl(None)`.
#[tokio::test]
async fn pause_reading_keeps_data() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr, mut logs) = tls_recording_server(pki.server_tls("server"), |log| {
        let mut first = true;
        Events::new(log).on_data(move |t, _| {
            if std::mem::take(&mut first) {
                t.write("world");
                t.pause_reading();
            }
        })
    })
    .await;
    let mut client = pki.raw_connect(addr).await;
    client.write_all(b"hello").await.unwrap();
    let mut reply = [0u8; 5];
    with_timeout(client.read_exact(&mut reply)).await.unwrap();
    assert_eq!(&reply, b"world");
    client.write_all(b"extra bytes").await.unwrap();
    client.shutdown().await.unwrap();
    let log = next_log(&mut logs).await;
    log.wait_for("cm").await; // registered before connection_made
    let transport = server.connections().pop().unwrap();
    assert!(!transport.is_reading());
    // Give the bytes time to arrive; none may be delivered while paused.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(log.data(), b"hello");
    transport.resume_reading();
    log.wait_data(16).await;
    assert_eq!(log.data(), b"helloextra bytes");
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    server.close();
}

/// `start_tls` with a mismatched side is refused without touching the connection.
#[tokio::test]
async fn start_tls_rejects_mismatched_settings() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr) = echo_server().await;
    let log = Log::new();
    let (transport, _) = with_timeout(create_connection(
        {
            let log = log.clone();
            move || Events::new(&log)
        },
        "127.0.0.1",
        addr.port(),
        &ConnectOptions::new(),
    ))
    .await
    .unwrap();
    let err = start_tls(&transport, pki.client_tls(), true, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = start_tls(&transport, pki.server_tls("server"), false, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = start_tls(
        &transport,
        pki.server_tls("server"),
        true,
        Some("localhost"),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    transport.write("still plain");
    log.wait_data(11).await;
    assert!(!transport.is_closing());
    transport.close();
    assert!(log.wait_lost().await.is_none());
    server.close();
}

/// T37: a corrupted TLS stream. The peer sends `A\n` over TLS, then plaintext
/// garbage on the raw socket: the client gets `A\n`, then `connection_lost`
/// with a TLS error.
#[tokio::test]
async fn corrupted_stream_is_a_tls_error() {
    init_tracing();
    let pki = Pki::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.raw_server_config("server"));
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.unwrap();
        tls.write_all(b"A\n").await.unwrap();
        tls.flush().await.unwrap();
        let mut one = [0u8; 1];
        tls.read_exact(&mut one).await.unwrap();
        let (tcp, _) = tls.get_mut();
        tcp.write_all(b"this is not a TLS record\r\n")
            .await
            .unwrap();
        let _ = tcp.read(&mut one).await;
    });
    let log = Log::new();
    let (transport, _) = with_timeout(connect_tls_recording(
        &log,
        "localhost",
        addr.port(),
        pki.client_tls(),
    ))
    .await
    .unwrap();
    log.wait_data(2).await;
    assert_eq!(log.data(), b"A\n");
    transport.write("x");
    let err = log.wait_lost().await.expect("a TLS error");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    transport.close(); // does not panic after the end
    assert_eq!(log.lost_count(), 1);
}

/// Issue 10 item 7: `connect_accepted_socket` with `server_tls` serves TLS on a
/// socket accepted outside aioproto (asyncio's `ssl=` there, server side): the
/// handshake runs before the protocol is made, and an aioproto TLS client
/// talks to it. Client-side TLS there is refused, not silently ignored.
#[tokio::test]
async fn accepted_socket_serves_tls() {
    init_tracing();
    let pki = Pki::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server_log = Log::new();
    let serve = {
        let server_log = server_log.clone();
        let tls = pki.server_tls("server");
        async move {
            let (accepted, _) = listener.accept().await.unwrap();
            let mut options = ConnectOptions::new();
            options.server_tls(tls);
            aioproto::connect_accepted_socket(
                || Events::new(&server_log).on_data(|t, data| t.write(data.clone())),
                accepted.into_std().unwrap(),
                &options,
            )
            .await
        }
    };
    let client_log = Log::new();
    let mut tls = pki.client_tls();
    tls.server_name("localhost").unwrap();
    let (served, connected) = with_timeout(async {
        tokio::join!(
            serve,
            connect_tls_recording(&client_log, "127.0.0.1", port, tls)
        )
    })
    .await;
    let (server_transport, _) = served.expect("the accepted socket speaks TLS");
    assert!(
        server_transport.tls().is_some(),
        "the transport reports TLS"
    );
    let (client, _) = connected.expect("TLS connect");
    client.write("over an accepted socket");
    client_log.wait_data(23).await;
    assert_eq!(client_log.data(), b"over an accepted socket");
    client.close();
    assert!(server_log.wait_lost().await.is_none());
    assert_eq!(server_log.trace(), ["cm", "dr", "eof", "cl(None)"]);

    // Client-side TLS on an accepted socket is an error, not plaintext.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let refused_log = Log::new();
    let err = aioproto::connect_accepted_socket(
        || Events::new(&refused_log),
        accepted,
        &connect_options(pki.client_tls()),
    )
    .await
    .err()
    .expect("client TLS on an accepted socket is refused");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(refused_log.events().is_empty());
}

/// `create_connection_from_std` with client TLS: the handshake runs over the
/// socket connected elsewhere, naming the server by `server_name`.
#[tokio::test]
async fn an_already_connected_socket_speaks_tls() {
    init_tracing();
    let pki = Pki::new();
    let (server, addr) = tls_echo_server(pki.server_tls("server")).await;
    let socket = std::net::TcpStream::connect(addr).unwrap();
    let mut tls = pki.client_tls();
    tls.server_name("localhost").unwrap();
    let log = Log::new();
    let (t, _) =
        aioproto::create_connection_from_std(|| Events::new(&log), socket, &connect_options(tls))
            .await
            .expect("TLS over the handed-in socket");
    assert!(t.tls().is_some());
    t.write("secret");
    log.wait_data(6).await;
    assert_eq!(log.data(), b"secret");
    t.close();
    server.close();
}

/// An echo protocol that answers the peer's close_notify with a last line,
/// then closes.
struct EchoThenBye(Option<aioproto::Transport>);

impl aioproto::BaseProtocol for EchoThenBye {
    fn connection_made(&mut self, t: &aioproto::Transport) {
        self.0 = Some(t.clone());
    }
}
impl aioproto::Protocol for EchoThenBye {
    fn data_received(&mut self, data: bytes::Bytes) {
        self.0.as_ref().unwrap().write(data);
    }
    fn eof_received(&mut self) -> bool {
        self.0.as_ref().unwrap().write("bye");
        false
    }
}

/// TLS 1.3 `write_eof()` (RFC 8446 §6.1): close_notify goes out and reading
/// goes on, so the server's answers after our EOF still arrive; with TLS 1.2
/// the transport cannot half-close and says so.
#[tokio::test]
async fn tls13_write_eof_sends_close_notify_and_keeps_reading() {
    init_tracing();
    let pki = Pki::new();
    let mut options = aioproto::ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let server = aioproto::create_server(|| EchoThenBye(None), "127.0.0.1", 0, &options)
        .await
        .unwrap();
    let port = server.local_addrs()[0].port();

    let log = Log::new();
    let mut tls = pki.client_tls();
    tls.server_name("localhost").unwrap();
    let (t, _) = with_timeout(connect_tls_recording(&log, "127.0.0.1", port, tls))
        .await
        .unwrap();
    assert!(t.can_write_eof());
    t.write("ping");
    t.write_eof().unwrap();
    log.wait_data(7).await;
    assert_eq!(
        log.data(),
        b"pingbye",
        "the server's data after our EOF arrived"
    );
    assert!(log.wait_lost().await.is_none());

    // TLS 1.2 only: no half-close.
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_root_certificates({
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_file_iter(pki.ca()).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        roots
    })
    .with_no_client_auth();
    let mut tls12 = aioproto::ClientTls::from_config(config);
    tls12.server_name("localhost").unwrap();
    let log12 = Log::new();
    let (t12, _) = with_timeout(connect_tls_recording(&log12, "127.0.0.1", port, tls12))
        .await
        .unwrap();
    assert_eq!(
        t12.tls().unwrap().protocol_version,
        rustls::ProtocolVersion::TLSv1_2
    );
    assert!(!t12.can_write_eof());
    assert!(matches!(t12.write_eof(), Err(Error::Unsupported(_))));
    t12.close();
    server.close();
}
