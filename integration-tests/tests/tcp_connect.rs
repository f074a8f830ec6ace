//! `create_connection`: error reporting, local_addr, connect timeout and
//! cancellation (spec case T23; the multi-address aggregation and Happy
//! Eyeballs ordering are unit-tested in framework/src/connect/tests.rs, since
//! this host's resolver maps `localhost` to one address only).

mod support;

use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aioproto::{ConnectOptions, Error, create_connection};
use support::*;

/// A port with nothing listening on it (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A listener whose accept queue is full, so further SYNs are dropped and a
/// connect to it hangs: a black hole on loopback. Keep the returned values alive.
fn black_hole() -> (socket2::Socket, std::net::TcpStream, std::net::SocketAddr) {
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let filler = std::net::TcpStream::connect(addr).unwrap();
    (l, filler, addr)
}

/// T23: one address that refuses gives that error unchanged (not wrapped in
/// `MultipleErrors`); no protocol is made.
#[tokio::test]
async fn t23_single_address_refused_is_reported_unchanged() {
    init_tracing();
    let made = Arc::new(AtomicBool::new(false));
    let m = made.clone();
    let err = create_connection(
        move || {
            m.store(true, Ordering::SeqCst);
            Echo::default()
        },
        "127.0.0.1",
        closed_port(),
        &ConnectOptions::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused), "{err}");
    assert!(!matches!(err, Error::MultipleErrors(_)));
    assert!(err.is_closed() || err.io_kind() == Some(ErrorKind::ConnectionRefused));
    assert!(
        !made.load(Ordering::SeqCst),
        "no protocol for a failed connect"
    );
}

/// T23: `localhost` to a closed port: every address it resolves to refuses
/// with the same message, so the errors collapse into one refusal (with
/// one address, it is that error unchanged).
#[tokio::test]
async fn t23_localhost_closed_port_collapses_identical_errors() {
    init_tracing();
    let port = closed_port();
    for delay in [None, Some(Duration::from_millis(10))] {
        let mut options = ConnectOptions::new();
        if let Some(d) = delay {
            options.happy_eyeballs_delay(d);
        }
        let err = with_timeout(create_connection(
            Echo::default,
            "localhost",
            port,
            &options,
        ))
        .await
        .unwrap_err();
        assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused), "{err}");
    }
}

/// T23: `connect_timeout` bounds a connect that never completes with
/// `Error::Timeout`; `is_timeout()` is true.
#[tokio::test]
async fn t23_connect_timeout() {
    init_tracing();
    let (_listener, _filler, addr) = black_hole();
    let mut options = ConnectOptions::new();
    options.connect_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let err = with_timeout(create_connection(
        Echo::default,
        "127.0.0.1",
        addr.port(),
        &options,
    ))
    .await
    .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(matches!(err, Error::Timeout(_)));
    assert!(started.elapsed() >= Duration::from_millis(190));
}

/// Cancel safety: dropping `create_connection` mid-connect runs no callback
/// and never calls the factory.
#[tokio::test]
async fn dropping_create_connection_runs_no_callback() {
    init_tracing();
    let (_listener, _filler, addr) = black_hole();
    let log = Log::new();
    let attempt = tokio::time::timeout(
        Duration::from_millis(100),
        create_connection(
            || Events::new(&log),
            "127.0.0.1",
            addr.port(),
            &ConnectOptions::new(),
        ),
    )
    .await;
    assert!(attempt.is_err(), "still connecting when dropped");
    assert!(log.events().is_empty());
}

/// `local_addr` binds the client end before connecting: the server sees it
/// as the peer.
#[tokio::test]
async fn local_addr_binds_the_client_end() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], closed_port()));
    let mut options = ConnectOptions::new();
    options.local_addr(local);
    let log = Log::new();
    let (t, _) = create_connection(|| Events::new(&log), "127.0.0.1", addr.port(), &options)
        .await
        .unwrap();
    assert_eq!(t.sockname(), Some(local));
    t.write("echo");
    log.wait_data(4).await; // the server has accepted by now
    let server_side = server.connections().pop().unwrap();
    assert_eq!(server_side.peername(), Some(local));
    t.close();
    log.wait_lost().await;
    server.close();
}

/// Argument validation: an empty host is an invalid argument.
#[tokio::test]
async fn empty_host_is_invalid() {
    let err = create_connection(Echo::default, "", 80, &ConnectOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
}

/// `family`: only addresses of that family are tried (asyncio's `family=`);
/// a host without one is a clear error.
#[tokio::test]
async fn family_picks_the_addresses_tried() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let mut options = ConnectOptions::new();
    options.family(aioproto::AddressFamily::Ipv4);
    let (t, _) = create_connection(Echo::default, "localhost", addr.port(), &options)
        .await
        .expect("localhost has an IPv4 address");
    assert!(t.peername().unwrap().is_ipv4());
    t.close();
    let mut options = ConnectOptions::new();
    options.family(aioproto::AddressFamily::Ipv6);
    let err = create_connection(Echo::default, "127.0.0.1", addr.port(), &options)
        .await
        .expect_err("127.0.0.1 has no IPv6 address");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    server.close();
}

/// `all_errors`: every address's error, as a list, even for one address
/// (asyncio's `all_errors=True`).
#[tokio::test]
async fn all_errors_lists_every_failure() {
    init_tracing();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut options = ConnectOptions::new();
    options.all_errors(true);
    let err = create_connection(Echo::default, "127.0.0.1", port, &options)
        .await
        .expect_err("nothing listens there");
    match err {
        Error::MultipleErrors(errors) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(
                errors[0].io_kind(),
                Some(std::io::ErrorKind::ConnectionRefused)
            );
        }
        other => panic!("expected MultipleErrors, got {other:?}"),
    }
}

/// `create_connection_from_std` (asyncio's `create_connection(sock=…)`): a
/// socket connected elsewhere runs the protocol; connecting options are refused.
#[tokio::test]
async fn an_already_connected_socket_runs_the_protocol() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let log = Log::new();
    let socket = std::net::TcpStream::connect(addr).unwrap();
    let (t, _) =
        aioproto::create_connection_from_std(|| Events::new(&log), socket, &ConnectOptions::new())
            .await
            .unwrap();
    assert_eq!(t.peername(), Some(addr));
    t.write("echo me");
    log.wait_data(7).await;
    assert_eq!(log.data(), b"echo me");
    t.close();
    assert!(log.wait_lost().await.is_none());

    let socket = std::net::TcpStream::connect(addr).unwrap();
    let mut options = ConnectOptions::new();
    options.connect_timeout(std::time::Duration::from_secs(1));
    let err = aioproto::create_connection_from_std(Echo::default, socket, &options)
        .await
        .expect_err("connect_timeout does not apply");
    assert!(err.to_string().contains("connect_timeout"), "{err}");
    server.close();
}
