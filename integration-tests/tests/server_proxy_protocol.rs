//! `ServerOptions::proxy_protocol`: every accepted connection reads and checks
//! a PROXY protocol header (v1 or v2) before its protocol is made, over real
//! loopback sockets, TLS, Unix sockets and workers; and
//! `ConnectOptions::proxy_header`, the client side, round-tripping with it.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aioproto::{
    ConnectOptions, Error, ProxyHeader, ProxyProtocol, ProxyTlv, ProxyVersion, Server,
    ServerOptions, ServerStats, Transport, connect_accepted_socket, create_connection,
    create_unix_server,
};
use support::pki::Pki;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a connection's protocol saw of its addresses, pushed into its log by
/// `connection_made` as one event.
fn addresses(t: &Transport) -> String {
    format!(
        "peer={:?} sock={:?} orig_peer={:?} orig_sock={:?} peer_path={:?} sock_path={:?}",
        t.peername(),
        t.sockname(),
        t.original_peername(),
        t.original_sockname(),
        t.extra().peer_path,
        t.extra().sock_path,
    )
}

/// A recording echo server with `options` plus `proxy_protocol(config)`:
/// each connection logs its addresses, then echoes.
async fn proxy_server(
    config: ProxyProtocol,
    options: &mut ServerOptions,
) -> (Server, SocketAddr, UnboundedReceiver<Arc<Log>>) {
    options.proxy_protocol(config);
    recording_server_with(options, echo_events).await
}

fn echo_events(log: &Arc<Log>) -> Events {
    let log2 = log.clone();
    Events::new(log)
        .on_made(move |t| log2.push(addresses(t)))
        .on_data(|t, data| t.write(data.clone()))
}

/// The `addresses` line a connection logged (its second event, after `cm`).
async fn addresses_of(log: &Log) -> String {
    log.wait_until("the addresses line", |l| l.events().len() >= 2)
        .await;
    log.events()[1].clone()
}

/// Waits (bounded) until the server's counters satisfy `pred`.
async fn wait_stats(server: &Server, what: &str, pred: impl Fn(&ServerStats) -> bool) {
    let waiting = async {
        while !pred(&server.stats()) {
            tokio::time::sleep(ms(5)).await;
        }
    };
    if tokio::time::timeout(TIMEOUT, waiting).await.is_err() {
        panic!("{what}: {}", server.stats());
    }
}

fn tcp_header(source: &str, destination: &str, version: ProxyVersion) -> Vec<u8> {
    ProxyHeader::tcp(source.parse().unwrap(), destination.parse().unwrap())
        .with_version(version)
        .encode()
        .unwrap()
        .to_vec()
}

/// Sends `header` and `data` in one write; checks the echo of `data` and
/// returns the connection's log and the client socket.
async fn send_with_header(
    addr: SocketAddr,
    logs: &mut UnboundedReceiver<Arc<Log>>,
    header: &[u8],
    data: &[u8],
) -> (Arc<Log>, tokio::net::TcpStream) {
    let mut client = raw_connect(addr).await;
    let mut first = header.to_vec();
    first.extend_from_slice(data);
    raw_write(&mut client, &first).await;
    assert_eq!(read_exact(&mut client, data.len()).await, data);
    let log = next_log(logs).await;
    (log, client)
}

#[tokio::test]
async fn v1_tcp4_header_names_the_client_and_the_data_after_it_in_the_same_write_is_kept() {
    init_tracing();
    let (server, addr, mut logs) =
        proxy_server(ProxyProtocol::any(), &mut ServerOptions::new()).await;
    let header = tcp_header("192.0.2.10:40001", "198.51.100.1:443", ProxyVersion::V1);
    let (log, client) = send_with_header(addr, &mut logs, &header, b"hello after the header").await;
    let client_addr = client.local_addr().unwrap();
    assert_eq!(
        addresses_of(&log).await,
        format!(
            "peer=Some(192.0.2.10:40001) sock=Some(198.51.100.1:443) \
             orig_peer=Some({client_addr}) orig_sock=Some({addr}) peer_path=None sock_path=None"
        )
    );
    assert_eq!(log.data(), b"hello after the header");
    let events = log.events();
    assert_eq!(
        (events[0].as_str(), events[2].as_str()),
        ("cm", "dr"),
        "{events:?}"
    );
    drop(client);
    log.wait_lost().await;
    let stats = server.stats();
    assert_eq!(
        (stats.accepted, stats.proxy_header_rejected),
        (1, 0),
        "{stats}"
    );
    server.close();
}

#[tokio::test]
async fn v1_tcp6_and_v2_tcp4_tcp6_headers_with_tlvs() {
    let (server, addr, mut logs) =
        proxy_server(ProxyProtocol::any(), &mut ServerOptions::new()).await;

    let v1 = tcp_header("[2001:db8::1]:5000", "[2001:db8::2]:80", ProxyVersion::V1);
    let (log, _c1) = send_with_header(addr, &mut logs, &v1, b"a").await;
    assert!(
        addresses_of(&log).await.starts_with(
            "peer=Some([2001:db8::1]:5000) sock=Some([2001:db8::2]:80) orig_peer=Some(127.0.0.1:"
        ),
        "{:?}",
        log.events()
    );

    for (source, destination) in [
        ("203.0.113.5:1234", "203.0.113.6:8443"),
        ("[2001:db8::5]:1234", "[2001:db8::6]:8443"),
    ] {
        let header = ProxyHeader::tcp(source.parse().unwrap(), destination.parse().unwrap())
            .with_tlv(ProxyTlv::AUTHORITY, b"example.com".to_vec())
            .with_crc32c()
            .encode_v2()
            .unwrap();
        let (log, _client) = send_with_header(addr, &mut logs, &header, b"b").await;
        let line = addresses_of(&log).await;
        assert!(
            line.starts_with(&format!("peer=Some({source}) sock=Some({destination})")),
            "{line}"
        );
    }
    server.close();
}

#[tokio::test]
async fn the_decoded_header_and_the_raw_one_are_available() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut options = ServerOptions::new();
    options.proxy_protocol(ProxyProtocol::v2());
    let server = aioproto::create_server(
        move || {
            let tx = tx.clone();
            let log = Log::new();
            Events::new(&log).on_made(move |t| {
                let _ = tx.send((t.proxy_header(), t.proxy().map(|p| p.header.clone())));
            })
        },
        "127.0.0.1",
        0,
        &options,
    )
    .await
    .unwrap();
    let header = ProxyHeader::tcp("10.1.1.1:1".parse().unwrap(), "10.2.2.2:2".parse().unwrap())
        .with_tlv(ProxyTlv::UNIQUE_ID, b"conn-42".to_vec())
        .encode_v2()
        .unwrap();
    let mut client = raw_connect(server.local_addrs()[0]).await;
    raw_write(&mut client, &header).await;
    let (decoded, raw) = with_timeout(rx.recv()).await.unwrap();
    let decoded = decoded.expect("a decoded header");
    assert_eq!(decoded.version(), ProxyVersion::V2);
    assert_eq!(decoded.tlv(ProxyTlv::UNIQUE_ID), Some(&b"conn-42"[..]));
    assert_eq!(raw.as_deref(), Some(&header[..]));
    server.close();
}

#[tokio::test]
async fn local_and_unknown_headers_keep_the_real_addresses() {
    let (server, addr, mut logs) =
        proxy_server(ProxyProtocol::any(), &mut ServerOptions::new()).await;
    for header in [
        ProxyHeader::local().encode_v2().unwrap(),
        ProxyHeader::unknown().encode_v1().unwrap(),
        ProxyHeader::unknown().encode_v2().unwrap(),
    ] {
        let (log, client) = send_with_header(addr, &mut logs, &header, b"z").await;
        let me = client.local_addr().unwrap();
        assert_eq!(
            addresses_of(&log).await,
            format!(
                "peer=Some({me}) sock=Some({addr}) orig_peer=Some({me}) orig_sock=Some({addr}) \
                 peer_path=None sock_path=None"
            )
        );
    }
    server.close();
}

#[tokio::test]
async fn a_header_sent_byte_by_byte_is_read_whole_and_nothing_runs_before_it() {
    let (server, addr, mut logs) =
        proxy_server(ProxyProtocol::any(), &mut ServerOptions::new()).await;
    for header in [
        tcp_header("192.0.2.1:1000", "192.0.2.2:2000", ProxyVersion::V1),
        tcp_header("192.0.2.1:1000", "192.0.2.2:2000", ProxyVersion::V2),
    ] {
        let mut client = raw_connect(addr).await;
        client.set_nodelay(true).unwrap();
        let (last, head) = header.split_last().unwrap();
        for byte in head {
            raw_write(&mut client, &[*byte]).await;
            // Each byte its own segment, so the server reads them apart.
            tokio::time::sleep(ms(1)).await;
        }
        assert!(
            logs.try_recv().is_err(),
            "the factory ran before the header ended"
        );
        raw_write(&mut client, &[*last]).await;
        raw_write(&mut client, b"after").await;
        assert_eq!(read_exact(&mut client, 5).await, b"after");
        let log = next_log(&mut logs).await;
        assert!(
            addresses_of(&log)
                .await
                .starts_with("peer=Some(192.0.2.1:1000)")
        );
    }
    server.close();
}

/// Sends `bytes` (then, if `eof`, half-closes) and checks that the server
/// closes without echoing, never makes a protocol, and counts the rejection.
async fn rejected(bytes: &[u8], eof: bool, config: ProxyProtocol) {
    let (server, addr, mut logs) = proxy_server(config, &mut ServerOptions::new()).await;
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, bytes).await;
    if eof {
        client.shutdown().await.unwrap();
    }
    let (echoed, _) = read_until_closed(&mut client).await;
    assert!(echoed.is_empty(), "echoed {echoed:?}");
    wait_stats(&server, "the rejection is counted", |s| {
        s.proxy_header_rejected == 1 && s.open == 0
    })
    .await;
    assert!(logs.try_recv().is_err(), "the protocol factory was called");
    let stats = server.stats();
    assert_eq!(stats.accepted, 1, "{stats}");
    assert_eq!(
        stats.tls_handshakes_failed + stats.closed_with_error,
        0,
        "{stats}"
    );
    server.close();
}

#[tokio::test]
async fn malformed_headers_are_closed_counted_and_never_reach_the_factory() {
    init_tracing();
    rejected(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 80\r\nhello",
        false,
        ProxyProtocol::any(),
    )
    .await;
    rejected(b"PROXY TCP9 whatever\r\n", false, ProxyProtocol::any()).await;
    let mut bad_v2 = tcp_header("1.2.3.4:1", "5.6.7.8:2", ProxyVersion::V2);
    bad_v2[12] = 0x22; // version 2, command 2: undefined
    rejected(&bad_v2, false, ProxyProtocol::any()).await;
    // Too long: a v1 line with no CRLF in 107 bytes.
    rejected(
        &[b"PROXY UNKNOWN ".as_slice(), &[b'x'; 200]].concat(),
        false,
        ProxyProtocol::any(),
    )
    .await;
    // A v2 header announcing more than the 4 KiB cap: rejected on its length
    // field, long before the header timeout, with no body sent.
    let mut too_long = tcp_header("1.2.3.4:1", "5.6.7.8:2", ProxyVersion::V2)[..16].to_vec();
    too_long[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
    rejected(&too_long, false, ProxyProtocol::any()).await;
    // A version the server does not accept.
    rejected(
        &tcp_header("1.2.3.4:1", "5.6.7.8:2", ProxyVersion::V1),
        false,
        ProxyProtocol::v2(),
    )
    .await;
}

#[tokio::test]
async fn plain_data_without_a_header_is_closed() {
    rejected(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
        ProxyProtocol::any(),
    )
    .await;
    rejected(b"hello\n", false, ProxyProtocol::v1()).await;
}

#[tokio::test]
async fn a_header_cut_short_by_eof_is_rejected() {
    rejected(b"PROXY TCP4 1.2.3.4 ", true, ProxyProtocol::any()).await;
    let v2 = tcp_header("1.2.3.4:1", "5.6.7.8:2", ProxyVersion::V2);
    rejected(&v2[..20], true, ProxyProtocol::any()).await;
}

#[tokio::test]
async fn a_silent_peer_is_closed_at_the_header_timeout() {
    let mut options = ServerOptions::new();
    options.proxy_header_timeout(ms(300));
    let (server, addr, mut logs) = proxy_server(ProxyProtocol::any(), &mut options).await;
    let started = Instant::now();
    let mut client = raw_connect(addr).await;
    let (echoed, _) = read_until_closed(&mut client).await;
    let took = started.elapsed();
    assert!(echoed.is_empty());
    assert!(took >= ms(300), "closed after {took:?}, before the timeout");
    wait_stats(&server, "the timeout is counted", |s| {
        s.proxy_header_rejected == 1
    })
    .await;
    assert_eq!(
        server.stats().timed_out,
        0,
        "a header timeout counts as a rejection"
    );
    assert!(logs.try_recv().is_err());
    server.close();
}

#[tokio::test]
async fn the_header_comes_before_the_tls_client_hello_in_the_clear() {
    let pki = Pki::new();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let (server, addr, mut logs) = proxy_server(ProxyProtocol::any(), &mut options).await;

    // A raw client: the header, then a TLS handshake over the same socket.
    let mut tcp = raw_connect(addr).await;
    raw_write(
        &mut tcp,
        &tcp_header("192.0.2.77:5555", "192.0.2.1:443", ProxyVersion::V2),
    )
    .await;
    let mut tls = with_timeout(
        tokio_rustls::TlsConnector::from(pki.raw_client_config()).connect(
            rustls_pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        ),
    )
    .await
    .expect("TLS handshake after the header");
    tls.write_all(b"secret").await.unwrap();
    let mut echo = [0; 6];
    with_timeout(tls.read_exact(&mut echo)).await.unwrap();
    assert_eq!(&echo, b"secret");
    let log = next_log(&mut logs).await;
    assert!(
        addresses_of(&log)
            .await
            .starts_with("peer=Some(192.0.2.77:5555)")
    );

    // A plain client that skips the header: rejected as a PROXY failure, not TLS.
    let mut plain = raw_connect(addr).await;
    let mut hello = Vec::new();
    rustls::ClientConnection::new(
        pki.raw_client_config(),
        rustls_pki_types::ServerName::try_from("localhost").unwrap(),
    )
    .unwrap()
    .write_tls(&mut hello)
    .unwrap();
    raw_write(&mut plain, &hello).await;
    let _ = read_until_closed(&mut plain).await;
    wait_stats(&server, "one rejection", |s| s.proxy_header_rejected == 1).await;
    assert_eq!(server.stats().tls_handshakes_failed, 0);
    server.close();
}

#[tokio::test]
async fn connect_options_proxy_header_round_trips_plain_and_under_tls() {
    let pki = Pki::new();
    for tls in [false, true] {
        let mut server_options = ServerOptions::new();
        let mut connect = ConnectOptions::new();
        if tls {
            server_options.tls(pki.server_tls("server"));
            connect.tls(pki.client_tls());
        }
        let (server, addr, mut logs) =
            proxy_server(ProxyProtocol::any(), &mut server_options).await;
        for version in [ProxyVersion::V1, ProxyVersion::V2] {
            let claimed: SocketAddr = "198.51.100.200:61000".parse().unwrap();
            connect
                .proxy_header(ProxyHeader::tcp(claimed, addr).with_version(version))
                .unwrap();
            let client_log = Log::new();
            let (transport, _) = create_connection(
                || Events::new(&client_log),
                "localhost",
                addr.port(),
                &connect,
            )
            .await
            .unwrap();
            transport.write("ping");
            client_log.wait_data(4).await;
            assert_eq!(client_log.data(), b"ping");
            let log = next_log(&mut logs).await;
            let line = addresses_of(&log).await;
            assert!(
                line.starts_with(&format!("peer=Some({claimed}) sock=Some({addr})")),
                "tls={tls} {version}: {line}"
            );
            transport.close();
            log.wait_lost().await;
        }
        assert_eq!(server.stats().proxy_header_rejected, 0);
        server.close();
    }
}

#[tokio::test]
async fn proxy_header_options_refuse_what_cannot_be_sent() {
    let mut options = ConnectOptions::new();
    let v1_with_tlv = ProxyHeader::local()
        .with_version(ProxyVersion::V1)
        .with_tlv(ProxyTlv::NOOP, vec![0]);
    let err = options.proxy_header(v1_with_tlv).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    // An accepted socket plays the server: it sends no header.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    options.proxy_header(ProxyHeader::local()).unwrap();
    let log = Log::new();
    let Err(err) = connect_accepted_socket(|| Events::new(&log), accepted, &options).await else {
        panic!("connect_accepted_socket took a proxy_header");
    };
    assert!(err.to_string().contains("proxy_header"), "{err}");
}

#[tokio::test]
async fn over_a_unix_socket_a_v2_unix_header_names_the_paths() {
    let dir = std::env::temp_dir().join(format!("aioproto-proxy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("proxied.sock");
    let (tx, mut logs) = tokio::sync::mpsc::unbounded_channel();
    let mut options = ServerOptions::new();
    options.proxy_protocol(ProxyProtocol::v2());
    let server = create_unix_server(
        move || {
            let log = Log::new();
            let _ = tx.send(log.clone());
            let log2 = log.clone();
            Events::new(&log)
                .on_made(move |t| {
                    log2.push(format!(
                        "{} socket_sock_path={:?}",
                        addresses(t),
                        t.proxy().and_then(|p| p.socket_sock_path.clone())
                    ))
                })
                .on_data(|t, data| t.write(data.clone()))
        },
        &path,
        &options,
    )
    .await
    .unwrap();

    let header = ProxyHeader::unix_stream(b"/run/client.sock".to_vec(), b"/run/app.sock".to_vec())
        .encode_v2()
        .unwrap();
    let mut client = with_timeout(tokio::net::UnixStream::connect(&path))
        .await
        .unwrap();
    client
        .write_all(&[&header[..], b"unix data"].concat())
        .await
        .unwrap();
    let mut echo = [0; 9];
    with_timeout(client.read_exact(&mut echo)).await.unwrap();
    assert_eq!(&echo, b"unix data");
    let log = next_log(&mut logs).await;
    assert_eq!(
        addresses_of(&log).await,
        format!(
            "peer=None sock=None orig_peer=None orig_sock=None \
             peer_path=Some(\"/run/client.sock\") sock_path=Some(\"/run/app.sock\") \
             socket_sock_path=Some({path:?})"
        )
    );

    // Plain data on the Unix socket: closed, counted.
    let mut plain = with_timeout(tokio::net::UnixStream::connect(&path))
        .await
        .unwrap();
    plain.write_all(b"no header here").await.unwrap();
    let mut rest = Vec::new();
    let _ = with_timeout(plain.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
    wait_stats(&server, "one rejection", |s| s.proxy_header_rejected == 1).await;
    server.shutdown(Duration::from_secs(1)).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn with_workers_each_connection_gets_its_own_header() {
    let mut options = ServerOptions::new();
    options.workers(2);
    let (server, addr, mut logs) = proxy_server(ProxyProtocol::any(), &mut options).await;
    let mut seen = Vec::new();
    let mut clients = Vec::new();
    for i in 0..8u16 {
        let source = format!("192.0.2.{}:{}", i + 1, 10_000 + i);
        let header = tcp_header(&source, "192.0.2.254:80", ProxyVersion::V2);
        let (log, client) = send_with_header(addr, &mut logs, &header, b"w").await;
        seen.push((source, addresses_of(&log).await));
        clients.push(client);
    }
    for (source, line) in seen {
        assert!(line.starts_with(&format!("peer=Some({source})")), "{line}");
    }
    let mut silent = raw_connect(addr).await;
    silent.write_all(b"not a header").await.unwrap();
    let _ = read_until_closed(&mut silent).await;
    wait_stats(&server, "one rejection over the workers", |s| {
        s.proxy_header_rejected == 1
    })
    .await;
    assert_eq!(server.stats().accepted, 9);
    drop(clients);
    server.shutdown(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_connection_awaiting_its_header_counts_for_max_connections() {
    let mut options = ServerOptions::new();
    options.max_connections(1);
    let (server, addr, mut logs) = proxy_server(ProxyProtocol::any(), &mut options).await;

    let waiting = raw_connect(addr).await;
    wait_stats(&server, "the first connection reads its header", |s| {
        s.open == 1 && s.tls_handshaking == 1
    })
    .await;
    // The second waits in the backlog while the first holds the only place.
    let header = tcp_header("192.0.2.9:9", "192.0.2.1:1", ProxyVersion::V1);
    let mut second = raw_connect(addr).await;
    raw_write(&mut second, &[&header[..], b"second"].concat()).await;
    // The first gives up before sending its header: the place is free again.
    drop(waiting);
    assert_eq!(read_exact(&mut second, 6).await, b"second");
    let log = next_log(&mut logs).await;
    assert!(
        addresses_of(&log)
            .await
            .starts_with("peer=Some(192.0.2.9:9)")
    );
    let stats = server.stats();
    assert_eq!(stats.peak_open, 1, "{stats}");
    assert_eq!(stats.proxy_header_rejected, 1, "{stats}");
    server.close();
}

#[tokio::test]
async fn shutdown_ends_a_pending_header_read_at_once() {
    let mut options = ServerOptions::new();
    options.proxy_header_timeout(Duration::from_secs(60));
    let (server, addr, mut logs) = proxy_server(ProxyProtocol::any(), &mut options).await;
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, b"PROXY TCP4 ").await;
    wait_stats(&server, "the header read is pending", |s| {
        s.tls_handshaking == 1
    })
    .await;

    let started = Instant::now();
    with_timeout_of(
        Duration::from_secs(5),
        server.shutdown(Duration::from_secs(30)),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let (echoed, _) = read_until_closed(&mut client).await;
    assert!(echoed.is_empty());
    let stats = server.stats();
    assert_eq!((stats.open, stats.aborted_by_shutdown), (0, 1), "{stats}");
    assert!(logs.try_recv().is_err());
}
