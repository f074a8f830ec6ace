//! Streams over TLS: round trip, EOF handling, and start_tls on streams.

mod support;

use std::time::Duration;

use aioproto::{
    ConnectOptions, Error, ServerOptions, StreamReader, StreamWriter, open_connection,
    open_connection_with, start_server, start_server_with,
};
use support::pki::Pki;

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn readline_echo_over_tls_and_no_half_close() {
    let pki = Pki::new();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let server = start_server_with(
        |r: StreamReader, w: StreamWriter| async move {
            assert!(w.extra().tls.is_some());
            while let Some(line) = r.next_line().await? {
                w.write(line);
                w.drain().await?;
            }
            // Over TLS the peer's close_notify ends the stream: no half-close.
            w.write("server saw eof\n");
            Ok(())
        },
        "127.0.0.1",
        0,
        &options,
        1024,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let mut connect = ConnectOptions::new();
    let mut tls = pki.client_tls();
    tls.server_name("localhost").unwrap();
    connect.tls(tls);
    let (r, w) = bounded(open_connection_with("127.0.0.1", port, &connect, 1024))
        .await
        .unwrap();
    assert!(w.extra().tls.is_some());
    assert!(w.can_write_eof(), "TLS 1.3 can half-close");
    let lines: Vec<String> = (0..300)
        .map(|i| format!("{i}: {}\n", "z".repeat(i)))
        .collect();
    w.write(lines.concat());
    for line in &lines {
        assert_eq!(bounded(r.readline()).await.unwrap(), line.as_bytes());
    }
    // A line over the 1 KiB limit fails like over TCP.
    w.write(format!("{}\n", "q".repeat(2000)));
    w.drain().await.unwrap();
    w.close();
    bounded(w.wait_closed()).await.unwrap();
    server.close();
}

#[tokio::test]
async fn start_tls_upgrades_a_plain_stream() {
    let pki = Pki::new();
    let server_tls = pki.server_tls("server");
    let server = start_server(
        move |r: StreamReader, mut w: StreamWriter| {
            let server_tls = server_tls.clone();
            async move {
                assert_eq!(r.readline().await?, "STARTTLS\n");
                w.write("READY\n");
                w.start_tls(server_tls, None).await?;
                assert!(w.extra().tls.is_some());
                while let Some(line) = r.next_line().await? {
                    w.write(line.to_ascii_uppercase());
                }
                Ok(())
            }
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (r, mut w) = open_connection("127.0.0.1", port).await.unwrap();
    w.write("STARTTLS\n");
    assert_eq!(bounded(r.readline()).await.unwrap(), "READY\n");
    bounded(w.start_tls(pki.client_tls(), Some("localhost")))
        .await
        .unwrap();
    assert!(w.transport().extra().tls.is_some());
    w.write("secret\n");
    assert_eq!(bounded(r.readline()).await.unwrap(), "SECRET\n");
    w.close();
    bounded(w.wait_closed()).await.unwrap();
    server.close();
}

#[tokio::test]
async fn start_tls_with_the_wrong_side_is_refused() {
    let pki = Pki::new();
    let server = start_server(
        |r: StreamReader, _w: StreamWriter| async move {
            r.read_all().await?;
            Ok(())
        },
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (_r, mut w) = open_connection("127.0.0.1", port).await.unwrap();
    let err = w
        .start_tls(pki.server_tls("server"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(!w.is_closing(), "a refused upgrade changes nothing");
    server.close();
}
