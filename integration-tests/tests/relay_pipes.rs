//! Relaying through pipes and child processes: a TCP connection spliced to
//! `cat`'s stdin and stdout, and `pipe` from a read pipe into a socket and
//! from a socket into a write pipe.

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use aioproto::{
    Error, RelayEnd, SubprocessOptions, SubprocessProtocol, connect_read_pipe, connect_write_pipe,
    pipe, splice, subprocess_exec,
};
use bytes::Bytes;
use support::*;
use tokio::io::AsyncWriteExt;

/// What the subprocess protocol heard, in order.
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<Vec<String>>>);

impl Heard {
    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl SubprocessProtocol for Heard {
    fn pipe_data_received(&mut self, fd: i32, data: Bytes) {
        self.0
            .lock()
            .unwrap()
            .push(format!("data({fd},{})", data.len()));
    }
    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("pipe_lost({fd},{})", exc.is_some()));
    }
    fn process_exited(&mut self) {
        self.0.lock().unwrap().push("exited".into());
    }
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.0.lock().unwrap().push("lost".into());
    }
}

/// A TCP peer's 4 MiB go through `cat` and back exactly; the peer's EOF
/// closes `cat`'s stdin, `cat` exits, its stdout's EOF reaches the peer.
/// The subprocess protocol still hears both pipes end, the exit and
/// `connection_lost`, and hears none of stdout's data (the relay took it).
#[tokio::test]
async fn tcp_through_cat_and_back() {
    init_tracing();
    let (socket, peer) = held_pair().await;
    let heard = Heard::default();
    let protocol = heard.clone();
    let (child, _) = subprocess_exec(
        move || protocol,
        "cat",
        Vec::<&str>::new(),
        &SubprocessOptions::new(),
    )
    .await
    .unwrap();
    let relay = splice(&socket, RelayEnd::subprocess(&child).unwrap()).unwrap();

    let sent: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let (mut r, mut w) = peer.into_split();
    let to_send = sent.clone();
    let writer = tokio::spawn(async move {
        w.write_all(&to_send).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut received = Vec::new();
    with_timeout(tokio::io::AsyncReadExt::read_to_end(&mut r, &mut received))
        .await
        .unwrap();
    assert_eq!(received.len(), sent.len());
    assert!(received == sent, "cat's output differs from its input");
    let _w = with_timeout(writer).await.unwrap();

    let outcome = with_timeout(relay.finished()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.stats.a_to_b, sent.len() as u64);
    assert_eq!(outcome.stats.b_to_a, sent.len() as u64);
    assert_eq!(with_timeout(child.wait()).await.unwrap(), 0);
    with_timeout(child.wait_closed()).await;
    let events = heard.events();
    assert!(events.iter().all(|e| !e.starts_with("data")), "{events:?}");
    for expected in ["pipe_lost(0,false)", "pipe_lost(1,false)", "exited"] {
        assert!(events.contains(&expected.to_string()), "{events:?}");
    }
    assert_eq!(
        events.last().map(String::as_str),
        Some("lost"),
        "{events:?}"
    );
}

/// `pipe` from a read pipe into a socket: what is written to the pipe
/// arrives, and closing the pipe's writer sends EOF to the socket's peer.
#[tokio::test]
async fn read_pipe_into_a_socket() {
    init_tracing();
    let (socket, mut peer) = held_pair().await;
    let (reader, mut writer) = std::io::pipe().unwrap();
    let (read_pipe, _) = connect_read_pipe(|| Hold, reader).unwrap();
    let relay = pipe(&read_pipe, &socket).unwrap();
    let data = vec![7u8; 1024 * 1024];
    let to_write = data.clone();
    let feeder = std::thread::spawn(move || {
        writer.write_all(&to_write).unwrap();
    });
    assert_eq!(read_to_eof(&mut peer).await, data);
    feeder.join().unwrap();
    let outcome = with_timeout(relay.finished()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.stats.a_to_b, data.len() as u64);
}

/// `pipe` from a socket into a write pipe: the peer's bytes come out of the
/// pipe, and the peer's EOF closes the pipe.
#[tokio::test]
async fn socket_into_a_write_pipe() {
    init_tracing();
    let (socket, mut peer) = held_pair().await;
    let (mut reader, writer) = std::io::pipe().unwrap();
    let (write_pipe, _) = connect_write_pipe(|| Hold, writer).unwrap();
    let relay = pipe(&socket, &write_pipe).unwrap();
    let drainer = std::thread::spawn(move || {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    });
    raw_write(&mut peer, b"through the pipe").await;
    peer.shutdown().await.unwrap();
    let out = with_timeout(tokio::task::spawn_blocking(move || drainer.join().unwrap()))
        .await
        .unwrap();
    assert_eq!(out, b"through the pipe");
    assert!(with_timeout(relay.finished()).await.error.is_none());
    assert!(matches!(
        pipe(&write_pipe, &socket),
        Err(Error::InvalidArgument(_))
    ));
}

/// `pipe` from a child's stdout (its pipe transport as it is) into a socket:
/// the output arrives with EOF, and the subprocess protocol still hears the
/// pipe end, the exit and `connection_lost` (`wait_closed` resolves).
#[tokio::test]
async fn child_stdout_into_a_socket() {
    init_tracing();
    let (socket, mut peer) = held_pair().await;
    let heard = Heard::default();
    let protocol = heard.clone();
    let (child, _) = subprocess_exec(
        move || protocol,
        "printf",
        ["child says hi"],
        &SubprocessOptions::new(),
    )
    .await
    .unwrap();
    let stdout = child.get_pipe_transport(1).unwrap();
    let relay = pipe(&stdout, &socket).unwrap();
    assert_eq!(read_to_eof(&mut peer).await, b"child says hi");
    assert!(with_timeout(relay.finished()).await.error.is_none());
    with_timeout(child.wait_closed()).await;
    let events = heard.events();
    assert!(
        events.contains(&"pipe_lost(1,false)".to_string()),
        "{events:?}"
    );
    assert_eq!(
        events.last().map(String::as_str),
        Some("lost"),
        "{events:?}"
    );
}
