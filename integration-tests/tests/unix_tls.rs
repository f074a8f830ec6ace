//! TLS over Unix sockets: a Unix server with `ServerOptions::tls` speaks TLS
//! exactly as a TCP one does, since both go through the one start path; and
//! `create_unix_connection_with`, whose `ConnectOptions` bring TLS, a PROXY
//! header and the per-connection settings to a Unix client, and refuse what
//! only TCP has.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aioproto::{
    AddressFamily, ConnectOptions, Error, ProxyHeader, ProxyProtocol, Server, ServerOptions,
    create_unix_connection, create_unix_connection_with, create_unix_server, start_tls,
};
use support::pki::*;
use support::*;
use tokio::sync::mpsc::UnboundedReceiver;

/// A fresh directory for one test's socket, and the socket's path in it.
fn socket_path(test: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("aioproto-unix-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    (dir, path)
}

/// A recording Unix echo server with `options`; each connection first logs
/// its peer address (from a PROXY header, if any) as one event.
async fn echo_server(
    path: &Path,
    options: &ServerOptions,
) -> (Server, UnboundedReceiver<Arc<Log>>) {
    let (tx, logs) = tokio::sync::mpsc::unbounded_channel();
    let server = create_unix_server(
        move || {
            let log = Log::new();
            let _ = tx.send(log.clone());
            let log2 = log.clone();
            Events::new(&log)
                .on_made(move |t| log2.push(format!("peer={:?}", t.peername())))
                .on_data(|t, data| t.write(data.clone()))
        },
        path,
        options,
    )
    .await
    .unwrap();
    (server, logs)
}

/// A TLS Unix server, a client that upgrades its Unix connection with
/// `start_tls` (naming the server, as a path has no address to check): the
/// bytes round-trip encrypted and both ends close cleanly.
#[tokio::test]
async fn tls_round_trip_over_a_unix_socket() {
    init_tracing();
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(format!("aioproto-unix-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tls.sock");

    let (tx, mut logs) = tokio::sync::mpsc::unbounded_channel();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let server = create_unix_server(
        move || {
            let log = Log::new();
            let _ = tx.send(log.clone());
            Events::new(&log).on_data(|t, data| t.write(data.clone()))
        },
        &path,
        &options,
    )
    .await
    .unwrap();

    let client_log = Log::new();
    let (plain, _) = create_unix_connection(|| Events::new(&client_log), &path)
        .await
        .unwrap();
    let tls = with_timeout(start_tls(
        &plain,
        pki.client_tls(),
        false,
        Some("localhost"),
    ))
    .await
    .expect("TLS handshake over the Unix socket");
    assert!(tls.tls().is_some());
    tls.write("secret over AF_UNIX");
    client_log.wait_data(19).await;
    assert_eq!(client_log.data(), b"secret over AF_UNIX");

    let server_log = next_log(&mut logs).await;
    tls.close();
    assert!(server_log.wait_lost().await.is_none());
    assert_eq!(server_log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    server.close();
    with_timeout(server.wait_closed()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ConnectOptions::tls` on a Unix client: the handshake names the server
/// by `ClientTls::server_name`, the bytes round-trip, and the time limits
/// of the options hold on the connection. Without a server name there is
/// nothing to check the certificate against: a clear error.
#[tokio::test]
async fn tls_by_connect_options_needs_and_checks_the_server_name() {
    init_tracing();
    let pki = Pki::new();
    let (dir, path) = socket_path("tls-options");
    let mut server_options = ServerOptions::new();
    server_options.tls(pki.server_tls("server"));
    let (server, mut logs) = echo_server(&path, &server_options).await;

    let mut options = ConnectOptions::new();
    options.tls(pki.client_tls());
    let log = Log::new();
    let Err(err) = create_unix_connection_with(|| Events::new(&log), &path, &options).await else {
        panic!("TLS over a Unix socket without a server name was accepted");
    };
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("server_name"), "{err}");

    let mut named = pki.client_tls();
    named.server_name("localhost").unwrap();
    options
        .tls(named)
        .read_idle_timeout(Duration::from_millis(200));
    let (transport, _) = with_timeout(create_unix_connection_with(
        || Events::new(&log),
        &path,
        &options,
    ))
    .await
    .expect("TLS over the Unix socket");
    assert!(transport.tls().is_some());
    transport.write("secret");
    log.wait_data(6).await;
    assert_eq!(log.data(), b"secret");
    // The read-idle limit of the options ends the quiet connection.
    let lost = with_timeout(log.wait_lost()).await;
    assert!(matches!(lost, Some(Error::Timeout(_))), "{lost:?}");
    next_log(&mut logs).await.wait_lost().await;

    // A certificate for another name fails the handshake.
    let mut wrong = pki.client_tls();
    wrong.server_name("alt.example").unwrap();
    options.tls(wrong);
    let refused = create_unix_connection_with(|| Events::new(&Log::new()), &path, &options).await;
    assert!(refused.is_err(), "the wrong name was accepted");
    server.close();
    let _ = std::fs::remove_dir_all(&dir);
}

/// `ConnectOptions::proxy_header` on a Unix client: the header goes first,
/// and a server that reads PROXY headers reports the addresses it names.
#[tokio::test]
async fn a_proxy_header_goes_first_on_a_unix_client() {
    init_tracing();
    let (dir, path) = socket_path("proxy-client");
    let mut server_options = ServerOptions::new();
    server_options.proxy_protocol(ProxyProtocol::any());
    let (server, mut logs) = echo_server(&path, &server_options).await;
    let claimed = "198.51.100.7:40000".parse().unwrap();
    let dest = "192.0.2.1:443".parse().unwrap();
    let mut options = ConnectOptions::new();
    options
        .proxy_header(ProxyHeader::tcp(claimed, dest))
        .unwrap();
    let log = Log::new();
    let (transport, _) = with_timeout(create_unix_connection_with(
        || Events::new(&log),
        &path,
        &options,
    ))
    .await
    .unwrap();
    transport.write("after the header");
    log.wait_data(16).await;
    assert_eq!(log.data(), b"after the header");
    let server_log = next_log(&mut logs).await;
    server_log
        .wait_until("the peer line", |l| l.events().len() >= 2)
        .await;
    assert_eq!(server_log.events()[1], format!("peer=Some({claimed})"));
    assert_eq!(server.stats().proxy_header_rejected, 0);
    transport.close();
    server_log.wait_lost().await;
    server.close();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each option only TCP has is refused by name, before anything connects.
#[tokio::test]
async fn options_of_tcp_are_refused_on_a_unix_socket() {
    init_tracing();
    let (dir, path) = socket_path("refused");
    let (server, _logs) = echo_server(&path, &ServerOptions::new()).await;
    let pki = Pki::new();
    /// Sets one option on fresh options.
    type Set = fn(&mut ConnectOptions, &Pki);
    let cases: [(&str, Set); 8] = [
        ("local_addr", |o, _| {
            o.local_addr("127.0.0.1:0".parse().unwrap());
        }),
        ("happy_eyeballs_delay", |o, _| {
            o.happy_eyeballs_delay(Duration::from_millis(250));
        }),
        ("interleave", |o, _| {
            o.interleave(1);
        }),
        ("family", |o, _| {
            o.family(AddressFamily::Ipv4);
        }),
        ("all_errors", |o, _| {
            o.all_errors(true);
        }),
        ("keepalive", |o, _| {
            o.keepalive(true);
        }),
        ("nodelay(false)", |o, _| {
            o.nodelay(false);
        }),
        ("server_tls", |o, pki| {
            o.server_tls(pki.server_tls("server"));
        }),
    ];
    for (name, set) in cases {
        let mut options = ConnectOptions::new();
        set(&mut options, &pki);
        let log = Log::new();
        let Err(err) = create_unix_connection_with(|| Events::new(&log), &path, &options).await
        else {
            panic!("{name} was accepted on a Unix socket");
        };
        assert!(matches!(err, Error::InvalidArgument(_)), "{name}: {err}");
        assert!(err.to_string().contains(name), "{name}: {err}");
        assert!(log.events().is_empty(), "{name}: a callback ran");
    }
    assert_eq!(server.stats().accepted, 0, "nothing connected");
    server.close();
    let _ = std::fs::remove_dir_all(&dir);
}
