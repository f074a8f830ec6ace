//! `get_extra_info`-style accessors and socket options (contract item 11).

mod support;

use aioproto::{ConnectOptions, ServerOptions, create_connection, create_server};
use support::*;

/// Contract 11: peername/sockname on both ends mirror each other; TCP_NODELAY
/// is on by default on both; keep-alive is off by default.
#[tokio::test]
async fn peername_sockname_and_default_socket_options() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(Events::new).await;
    let log = Log::new();
    let (client, _) = connect_recording(&log, addr.port()).await;
    let server_log = next_log(&mut rx).await;
    server_log.wait_for("cm").await;
    let server_side = server.connections().pop().unwrap();

    assert_eq!(client.peername(), Some(addr));
    assert_eq!(server_side.sockname(), Some(addr));
    assert_eq!(server_side.peername(), client.sockname());
    assert_eq!(client.extra().peername, client.peername());
    assert_eq!(client.extra().sockname, client.sockname());
    assert!(client.extra().peer_path.is_none());

    for t in [&client, &server_side] {
        assert_eq!(t.nodelay(), Some(true), "TCP_NODELAY on by default");
        assert_eq!(t.keepalive(), Some(false));
        assert!(t.can_write_eof());
    }
    client.close();
    log.wait_lost().await;
    server.close();
}

/// Contract 11: keep-alive and TCP_NODELAY can be changed on a live
/// connection, and the options of `ServerOptions`/`ConnectOptions` are applied.
#[tokio::test]
async fn socket_options_are_settable() {
    init_tracing();
    let mut options = ServerOptions::new();
    options.nodelay(false).keepalive(true);
    let server = create_server(Echo::default, "127.0.0.1", 0, &options)
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    let mut connect = ConnectOptions::new();
    connect.nodelay(false).keepalive(true);
    let log = Log::new();
    let (client, _) = create_connection(|| Events::new(&log), "127.0.0.1", addr.port(), &connect)
        .await
        .unwrap();
    assert_eq!(client.nodelay(), Some(false));
    assert_eq!(client.keepalive(), Some(true));
    client.write("x");
    log.wait_data(1).await;
    let server_side = server.connections().pop().unwrap();
    assert_eq!(server_side.nodelay(), Some(false));
    assert_eq!(server_side.keepalive(), Some(true));

    client.set_nodelay(true);
    client.set_keepalive(false);
    assert_eq!(client.nodelay(), Some(true));
    assert_eq!(client.keepalive(), Some(false));
    // The connection keeps working after the driver applied the change.
    client.write("y");
    log.wait_data(2).await;
    assert_eq!(log.data(), b"xy");
    client.close();
    log.wait_lost().await;
    server.close();
}
