//! Servers: close semantics, wait_closed, close/abort_clients, start_serving,
//! serve_forever, binding, and connect_accepted_socket (spec cases T17–T22;
//! contract item 9).

mod support;

use std::io::ErrorKind;
use std::time::Duration;

use aioproto::{
    ConnectOptions, Error, Hosts, ServerOptions, connect_accepted_socket, create_connection,
    create_server, create_server_from_std,
};
use support::*;
use tokio::net::TcpStream;

/// True if `fut` is still pending after the runtime had a chance to run it.
async fn still_pending<T>(handle: &tokio::task::JoinHandle<T>) -> bool {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    !handle.is_finished()
}

async fn refused(addr: std::net::SocketAddr) -> bool {
    matches!(
        with_timeout(TcpStream::connect(addr)).await,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

/// T17: `wait_closed()` is pending before `close()` and while connections
/// live; `close()` refuses new connections at once while the existing one
/// still echoes; when it ends, every waiter completes and a new one returns
/// at once.
#[tokio::test]
async fn t17_close_refuses_new_connections_existing_go_on_wait_closed() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let w1 = tokio::spawn({
        let s = server.clone();
        async move { s.wait_closed().await }
    });
    assert!(
        still_pending(&w1).await,
        "pending before close, no connections"
    );
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, b"hi").await;
    assert_eq!(read_exact(&mut client, 2).await, b"hi");
    let w2 = tokio::spawn({
        let s = server.clone();
        async move { s.wait_closed().await }
    });
    assert!(still_pending(&w2).await);

    server.close();
    assert!(!server.is_serving());
    assert!(server.local_addrs().is_empty());
    assert!(refused(addr).await, "new connections are refused at once");
    raw_write(&mut client, b"still").await;
    assert_eq!(read_exact(&mut client, 5).await, b"still");
    assert_eq!(server.connection_count(), 1);
    let w3 = tokio::spawn({
        let s = server.clone();
        async move { s.wait_closed().await }
    });
    assert!(still_pending(&w3).await);
    assert!(still_pending(&w1).await);

    // The client closes; the echo protocol's eof_received closes its side.
    drop(client);
    with_timeout(async {
        w1.await.unwrap();
        w2.await.unwrap();
        w3.await.unwrap();
    })
    .await;
    with_timeout_of(Duration::from_millis(100), server.wait_closed()).await;
    assert_eq!(server.connection_count(), 0);
    server.close(); // idempotent
}

/// T17 race: closing the server and the connection in the same tick still
/// lets `wait_closed()` return.
#[tokio::test]
async fn t17_close_server_and_connection_in_the_same_tick() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, b"x").await;
    assert_eq!(read_exact(&mut client, 1).await, b"x");
    let conn = server.connections().pop().unwrap();
    server.close();
    conn.close();
    with_timeout(server.wait_closed()).await;
    assert_eq!(read_to_eof(&mut client).await, b"");
}

/// T18: `close(); close_clients()` ends every connection gracefully and
/// `wait_closed()` completes.
#[tokio::test]
async fn t18_close_clients() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(Events::new).await;
    let mut clients = Vec::new();
    let mut logs = Vec::new();
    for _ in 0..3 {
        clients.push(raw_connect(addr).await);
        logs.push(next_log(&mut rx).await);
    }
    assert_eq!(server.connection_count(), 3);
    server.close();
    server.close_clients();
    with_timeout(server.wait_closed()).await;
    for (mut c, log) in clients.into_iter().zip(logs) {
        assert_eq!(read_to_eof(&mut c).await, b"");
        assert!(log.lost().unwrap().is_none());
    }
}

/// T18: `close(); abort_clients()` completes `wait_closed()` without waiting
/// for a write buffer the client never reads.
#[tokio::test]
async fn t18_abort_clients_does_not_wait_for_buffered_data() {
    init_tracing();
    let (server, addr, mut rx) =
        recording_server(|log| Events::new(log).on_made(|t| t.write(vec![0u8; 16 * 1024 * 1024])))
            .await;
    let _client = small_buffer_socket(addr);
    let log = next_log(&mut rx).await;
    log.wait_for("pw").await;
    let conn = server.connections().pop().unwrap();
    assert!(conn.get_write_buffer_size() > 0);
    server.close();
    server.abort_clients();
    with_timeout_of(Duration::from_secs(2), server.wait_closed()).await;
    assert!(
        log.lost().unwrap().is_none(),
        "abort is a clean local close"
    );
}

/// T19: `start_serving(false)` binds without listening (connects are
/// refused); `start_serving()` is idempotent; `serve_forever()` blocks, and
/// cancelling it (dropping the future) closes the server; a later
/// `serve_forever()` fails with `Closed`.
#[tokio::test]
async fn t19_start_serving_false_then_serve_forever_and_cancel() {
    init_tracing();
    let mut options = ServerOptions::new();
    options.start_serving(false);
    let server = create_server(Echo::default, "127.0.0.1", 0, &options)
        .await
        .unwrap();
    assert!(!server.is_serving());
    let addr = server.local_addrs()[0];
    assert_ne!(addr.port(), 0);
    assert!(refused(addr).await, "bound but not listening");

    server.start_serving().unwrap();
    server.start_serving().unwrap();
    assert!(server.is_serving());
    let forever = tokio::spawn({
        let s = server.clone();
        async move { s.serve_forever().await }
    });
    assert!(still_pending(&forever).await, "serve_forever blocks");
    let mut c = raw_connect(addr).await;
    raw_write(&mut c, b"ok").await;
    assert_eq!(read_exact(&mut c, 2).await, b"ok");

    forever.abort();
    assert!(forever.await.unwrap_err().is_cancelled());
    assert!(!server.is_serving());
    assert!(server.local_addrs().is_empty());
    assert!(refused(addr).await);
    let err = server.serve_forever().await.unwrap_err();
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    assert!(err.to_string().contains("is closed"), "{err}");
    let err = server.start_serving().unwrap_err();
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
}

/// T19: a second concurrent `serve_forever()` fails and leaves the first
/// one running; closing the server ends the first one with `Ok`.
#[tokio::test]
async fn t19_second_concurrent_serve_forever_fails() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let first = tokio::spawn({
        let s = server.clone();
        async move { s.serve_forever().await }
    });
    assert!(still_pending(&first).await);
    let err = with_timeout(server.serve_forever()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("already being awaited on serve_forever()")
    );
    assert!(
        server.is_serving(),
        "the failed call does not close the server"
    );
    let mut c = raw_connect(addr).await;
    raw_write(&mut c, b"z").await;
    assert_eq!(read_exact(&mut c, 1).await, b"z");
    server.close();
    with_timeout(first).await.unwrap().unwrap();
}

/// T20: no host means every interface, one socket per family with its own
/// (different) port; an IPv4 client and an IPv6 client both reach the
/// protocol, and the IPv6 socket is IPv6-only.
#[tokio::test]
async fn t20_no_host_is_dual_stack_with_separate_sockets() {
    init_tracing();
    let server = create_server(Echo::default, Hosts::All, 0, &ServerOptions::new())
        .await
        .unwrap();
    let addrs = server.local_addrs();
    let v4 = addrs.iter().find(|a| a.is_ipv4()).expect("an IPv4 socket");
    assert!(v4.ip().is_unspecified());
    let Some(v6) = addrs.iter().find(|a| a.is_ipv6()) else {
        // No IPv6 on this host: one socket only.
        assert_eq!(addrs.len(), 1);
        return;
    };
    assert_eq!(addrs.len(), 2);
    assert_ne!(
        v4.port(),
        v6.port(),
        "port 0 gives each socket its own port"
    );
    for target in [
        format!("127.0.0.1:{}", v4.port()),
        format!("[::1]:{}", v6.port()),
    ] {
        let mut c = raw_connect(target.parse().unwrap()).await;
        raw_write(&mut c, b"dual").await;
        assert_eq!(read_exact(&mut c, 4).await, b"dual", "{target}");
    }
    // IPV6_V6ONLY: the v6 socket does not take IPv4 connections on its port.
    let via_v4 = format!("127.0.0.1:{}", v6.port()).parse().unwrap();
    assert!(refused(via_v4).await);
    // `""` and `None` mean the same.
    for hosts in [Hosts::from(""), Hosts::from(None::<&str>)] {
        assert_eq!(hosts, Hosts::All);
    }
    server.close();
}

/// T20: a host list with duplicates binds once; different hosts bind each.
#[tokio::test]
async fn t20_host_list_is_deduplicated() {
    init_tracing();
    let server = create_server(
        Echo::default,
        ["127.0.0.1", "127.0.0.1"],
        0,
        &ServerOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(server.local_addrs().len(), 1);
    server.close();
    let server = create_server(
        Echo::default,
        ["127.0.0.1", "::1"],
        0,
        &ServerOptions::new(),
    )
    .await
    .unwrap();
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 2);
    assert!(addrs.iter().any(|a| a.is_ipv4()) && addrs.iter().any(|a| a.is_ipv6()));
    server.close();
}

/// T20/T21: `reuse_port` is off by default (a second server on the port
/// fails with EADDRINUSE, naming the address) and when on, `SO_REUSEPORT`
/// lets two servers share the port.
#[tokio::test]
async fn t20_t21_reuse_port_and_address_in_use() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let err = create_server(
        Echo::default,
        "127.0.0.1",
        addr.port(),
        &ServerOptions::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EADDRINUSE), "{err}");
    assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    server.close();

    let mut options = ServerOptions::new();
    options.reuse_port(true);
    let a = create_server(Echo::default, "127.0.0.1", 0, &options)
        .await
        .unwrap();
    let port = a.local_addrs()[0].port();
    let b = create_server(Echo::default, "127.0.0.1", port, &options)
        .await
        .expect("SO_REUSEPORT lets a second server bind the same port");
    assert_eq!(b.local_addrs()[0].port(), port);
    a.close();
    let mut c = raw_connect(([127, 0, 0, 1], port).into()).await;
    raw_write(&mut c, b"rp").await;
    assert_eq!(
        read_exact(&mut c, 2).await,
        b"rp",
        "the second server serves"
    );
    b.close();
}

/// T21: `create_connection(local_addr=<address in use>)` fails with
/// EADDRINUSE and the error names the address.
#[tokio::test]
async fn t21_connect_local_addr_in_use() {
    init_tracing();
    let (server, addr) = echo_server().await;
    let mut options = ConnectOptions::new();
    options.local_addr(addr);
    let err = create_connection(Echo::default, "127.0.0.1", addr.port(), &options)
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(nix::libc::EADDRINUSE), "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    server.close();
}

/// T21: `create_server_from_std` serves on a socket bound (and listening)
/// outside aioproto, at its address.
#[tokio::test]
async fn t21_create_server_from_std_listener() {
    init_tracing();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let server =
        create_server_from_std(Echo::default, std_listener, &ServerOptions::new()).unwrap();
    assert_eq!(server.local_addrs(), [addr]);
    let mut c = raw_connect(addr).await;
    raw_write(&mut c, b"std").await;
    assert_eq!(read_exact(&mut c, 3).await, b"std");
    server.close();
    assert!(refused(addr).await);
}

/// T22: a socket accepted outside aioproto is handed to
/// `connect_accepted_socket`; the protocol sees exactly `test data`, answers
/// `roger`, and gets `cl(None)` when the client closes.
#[tokio::test]
async fn t22_connect_accepted_socket() {
    init_tracing();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = raw_connect(addr).await;
    let (accepted, _) = listener.accept().unwrap();
    let log = Log::new();
    let (transport, _) = connect_accepted_socket(
        || Events::new(&log).on_data(|t, _| t.write("roger")),
        accepted,
        &ConnectOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(transport.peername(), Some(client.local_addr().unwrap()));
    raw_write(&mut client, b"test data").await;
    assert_eq!(read_exact(&mut client, 5).await, b"roger");
    drop(client);
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.data(), b"test data");
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
}

/// Contract 9: `connections()`/`connection_count()` track live connections.
#[tokio::test]
async fn connection_count_tracks_live_connections() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(Events::new).await;
    let c1 = raw_connect(addr).await;
    let l1 = next_log(&mut rx).await;
    let _c2 = raw_connect(addr).await;
    let _l2 = next_log(&mut rx).await;
    l1.wait_for("cm").await;
    assert_eq!(server.connection_count(), 2);
    drop(c1);
    l1.wait_lost().await;
    with_timeout(async {
        // on_finish runs right after connection_lost on the driver task.
        while server.connection_count() != 1 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(server.connections().len(), 1);
    server.close();
    server.abort_clients();
    with_timeout(server.wait_closed()).await;
}

/// T24 (the parts without TLS): an empty host for `create_server` means all
/// interfaces; a socket that is not connected is refused by
/// `connect_accepted_socket` with an error instead of a connection that
/// fails later.
#[tokio::test]
async fn t24_argument_validation() {
    init_tracing();
    let server = create_server(Echo::default, "", 0, &ServerOptions::new())
        .await
        .unwrap();
    assert!(server.local_addrs().iter().all(|a| a.ip().is_unspecified()));
    assert!(server.local_addrs().iter().any(|a| a.is_ipv4()));
    server.close();

    let unconnected =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let log = Log::new();
    let result = connect_accepted_socket(
        || Events::new(&log),
        std::net::TcpStream::from(unconnected),
        &ConnectOptions::new(),
    )
    .await;
    let err = result.err().expect("an unconnected socket is rejected");
    assert_eq!(err.io_kind(), Some(ErrorKind::NotConnected), "{err}");
    assert!(log.events().is_empty(), "no callback for a rejected socket");
}

/// No silently ignored option: `connect_accepted_socket` refuses the options
/// that concern connecting, naming the option, and runs no callback.
#[tokio::test]
async fn connect_accepted_socket_refuses_connecting_options() {
    init_tracing();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _client = raw_connect(addr).await;
    let (accepted, _) = listener.accept().unwrap();
    let log = Log::new();
    let mut options = ConnectOptions::new();
    options.connect_timeout(std::time::Duration::from_secs(1));
    let err = connect_accepted_socket(|| Events::new(&log), accepted, &options)
        .await
        .err()
        .expect("connect_timeout does not apply to an accepted socket");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(err.to_string().contains("connect_timeout"), "{err}");
    assert!(log.events().is_empty(), "no callback for a refused socket");
}

/// `Server` docs: dropping every handle does not stop the server (as in
/// asyncio, where the loop keeps serving); new connections are still served.
#[tokio::test]
async fn dropping_the_server_handle_keeps_serving() {
    init_tracing();
    let (server, addr) = echo_server().await;
    drop(server);
    tokio::task::yield_now().await;
    let mut c = raw_connect(addr).await;
    raw_write(&mut c, b"alive").await;
    assert_eq!(read_exact(&mut c, 5).await, b"alive");
}
