//! TLS over Unix sockets: a Unix server with `ServerOptions::tls` speaks TLS
//! exactly as a TCP one does, since both go through the one start path.

mod support;

use aioproto::{ServerOptions, create_unix_connection, create_unix_server, start_tls};
use support::pki::*;
use support::*;

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
