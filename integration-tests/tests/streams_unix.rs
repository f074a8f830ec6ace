//! Streams over Unix sockets: echo, half-close and the reader limit.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use aioproto::{
    Error, ServerOptions, StreamReader, StreamWriter, open_unix_connection,
    open_unix_connection_with, start_unix_server, start_unix_server_with,
};

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("timed out")
}

fn socket_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "aioproto-streams-{name}-{}.sock",
        std::process::id()
    ))
}

#[tokio::test]
async fn half_close_and_reply_over_unix() {
    let path = socket_path("halfclose");
    let server = start_unix_server(
        |r: StreamReader, w: StreamWriter| async move {
            let data = r.read_all().await?;
            w.write(format!("got {} bytes\n", data.len()));
            Ok(())
        },
        &path,
    )
    .await
    .unwrap();
    let (r, w) = open_unix_connection(&path).await.unwrap();
    assert_eq!(w.extra().peer_path.as_deref(), Some(path.as_path()));
    w.write(vec![b'u'; 100_000]);
    w.write_eof().unwrap();
    assert_eq!(bounded(r.readline()).await.unwrap(), "got 100000 bytes\n");
    assert_eq!(bounded(r.read_all()).await.unwrap(), "");
    // Both sides sent EOF; as in asyncio the transport stays open until closed.
    w.close();
    bounded(w.wait_closed()).await.unwrap();
    server.close();
}

#[tokio::test]
async fn limit_applies_over_unix() {
    let path = socket_path("limit");
    let server = start_unix_server_with(
        |r: StreamReader, w: StreamWriter| async move {
            let outcome = r.readuntil(b"END").await;
            let reply = match outcome {
                Ok(found) => format!("ok {}\n", found.len()),
                Err(Error::LimitOverrun { consumed, .. }) => format!("overrun {consumed}\n"),
                Err(e) => format!("error {e}\n"),
            };
            w.write(reply);
            Ok(())
        },
        &path,
        &ServerOptions::new(),
        16,
    )
    .await
    .unwrap();
    let (r, w) = open_unix_connection_with(&path, 1024).await.unwrap();
    w.write("short END");
    assert_eq!(bounded(r.readline()).await.unwrap(), "ok 9\n");
    let (r, w) = open_unix_connection(&path).await.unwrap();
    w.write("x".repeat(40));
    let reply = bounded(r.readline()).await.unwrap();
    assert!(reply.starts_with(b"overrun "), "{reply:?}");
    server.close();
}
