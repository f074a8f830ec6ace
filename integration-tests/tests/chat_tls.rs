//! The chat protocol over TLS, sharing one room with plain TCP clients (as
//! `chat_server --tls-port` serves it).

mod support;

use std::time::Duration;

use aioproto::pubsub::Room;
use aioproto::{
    ConnectOptions, ServerOptions, create_server, open_connection, open_connection_with,
};
use aioproto_examples::chat::ChatClient;
use support::pki::Pki;

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn tls_and_plain_clients_share_the_room() {
    let pki = Pki::new();
    let room = Room::local("lobby");
    let plain_room = room.clone();
    let plain = create_server(
        move || ChatClient::new(plain_room.clone()),
        "127.0.0.1",
        0,
        &ServerOptions::new(),
    )
    .await
    .unwrap();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let tls_room = room.clone();
    let tls = create_server(
        move || ChatClient::new(tls_room.clone()),
        "127.0.0.1",
        0,
        &options,
    )
    .await
    .unwrap();

    let (pr, pw) = open_connection("127.0.0.1", plain.local_addrs()[0].port())
        .await
        .unwrap();
    pw.write("plain\n/who\n");
    assert_eq!(bounded(pr.readline()).await.unwrap(), "* online: plain\n");

    let mut connect = ConnectOptions::new();
    let mut client_tls = pki.client_tls();
    client_tls.server_name("localhost").unwrap();
    connect.tls(client_tls);
    let (tr, tw) = bounded(open_connection_with(
        "127.0.0.1",
        tls.local_addrs()[0].port(),
        &connect,
        64 * 1024,
    ))
    .await
    .unwrap();
    tw.write("secure\n");
    assert_eq!(bounded(pr.readline()).await.unwrap(), "* secure joined\n");
    tw.write("hello over tls\n");
    assert_eq!(
        bounded(pr.readline()).await.unwrap(),
        "secure: hello over tls\n"
    );
    pw.write("hello in plain text\n");
    assert_eq!(
        bounded(tr.readline()).await.unwrap(),
        "plain: hello in plain text\n"
    );
    tw.write("/who\n");
    assert_eq!(
        bounded(tr.readline()).await.unwrap(),
        "* online: plain, secure\n"
    );

    // A too-long line over TLS: the error line arrives before the close.
    tw.write(format!("{}\n", "x".repeat(70_000)));
    assert_eq!(
        bounded(tr.readline()).await.unwrap(),
        "! error: line too long\n"
    );
    assert_eq!(bounded(pr.readline()).await.unwrap(), "* secure left\n");
    plain.close();
    tls.close();
}
