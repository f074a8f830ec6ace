//! Stream protocols over Unix sockets: T01/T02 over AF_UNIX, half-close, and an
//! echo server with 100 concurrent connections.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aioproto::{
    BaseProtocol, Error, Protocol, ServerOptions, Transport, create_unix_connection,
    create_unix_server,
};
use bytes::Bytes;
use support::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh socket path in a directory of its own, removed when dropped.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Made {
        peer_path: Option<PathBuf>,
        sock_path: Option<PathBuf>,
        peername_none: bool,
    },
    Data(Bytes),
    Eof,
    Lost(Option<String>),
}

/// Records callbacks; optionally replies to the first data and closes.
#[derive(Debug)]
struct Rec {
    tx: UnboundedSender<Ev>,
    transport: Option<Transport>,
    reply_and_close: Option<&'static [u8]>,
}

impl Rec {
    fn new(tx: UnboundedSender<Ev>) -> Rec {
        Rec {
            tx,
            transport: None,
            reply_and_close: None,
        }
    }
}

impl BaseProtocol for Rec {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
        let extra = transport.extra();
        let _ = self.tx.send(Ev::Made {
            peer_path: extra.peer_path.clone(),
            sock_path: extra.sock_path.clone(),
            peername_none: transport.peername().is_none() && transport.sockname().is_none(),
        });
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = self.tx.send(Ev::Lost(exc.map(|e| e.to_string())));
    }
}

impl Protocol for Rec {
    fn data_received(&mut self, data: Bytes) {
        let _ = self.tx.send(Ev::Data(data));
        if let (Some(reply), Some(t)) = (self.reply_and_close, &self.transport) {
            t.write(reply);
            t.close();
        }
    }
    fn eof_received(&mut self) -> bool {
        let _ = self.tx.send(Ev::Eof);
        false
    }
}

async fn next(rx: &mut UnboundedReceiver<Ev>) -> Ev {
    tokio::time::timeout(TIMEOUT, rx.recv())
        .await
        .expect("timed out waiting for a callback")
        .expect("protocol dropped")
}

/// T01 over AF_UNIX: one `cm`, 3 bytes of `dr`, socket paths as extra info,
/// `close()` gives exactly one `cl(None)` and nothing after it.
#[tokio::test]
async fn t01_server_lifecycle_over_unix() {
    let dir = TempDir::new("t01");
    let path = dir.path("srv.sock");
    let (tx, mut rx) = unbounded_channel();
    let server = create_unix_server(move || Rec::new(tx.clone()), &path, &ServerOptions::new())
        .await
        .unwrap();
    assert_eq!(server.local_paths(), std::slice::from_ref(&path));
    assert!(server.local_addrs().is_empty());
    assert!(server.is_serving());

    let mut client = UnixStream::connect(&path).await.unwrap();
    client.write_all(b"xxx").await.unwrap();
    let Ev::Made {
        peer_path,
        sock_path,
        peername_none,
    } = next(&mut rx).await
    else {
        panic!("expected connection_made first")
    };
    assert_eq!(sock_path.as_deref(), Some(path.as_path()));
    assert_eq!(peer_path, None, "the client end is unnamed");
    assert!(peername_none);
    let mut got = Vec::new();
    while got.len() < 3 {
        match next(&mut rx).await {
            Ev::Data(d) => got.extend_from_slice(&d),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, b"xxx");
    let transport = server.connections().pop().expect("one connection");
    transport.close();
    assert_eq!(next(&mut rx).await, Ev::Lost(None));
    // The client sees EOF.
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(TIMEOUT, client.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    drop(client);
    server.close();
    tokio::time::timeout(TIMEOUT, server.wait_closed())
        .await
        .unwrap();
    assert!(rx.try_recv().is_err(), "no callback after connection_lost");
    assert!(!path.exists(), "close() removed the socket file");
}

/// T02 over AF_UNIX: `create_unix_connection` returns after `cm`; the trace
/// is `cm, dr+, eof, cl(None)`.
#[tokio::test]
async fn t02_client_lifecycle_over_unix() {
    let dir = TempDir::new("t02");
    let path = dir.path("srv.sock");
    let (stx, _srx) = unbounded_channel();
    let server = create_unix_server(
        move || Rec {
            reply_and_close: Some(b"answer"),
            ..Rec::new(stx.clone())
        },
        &path,
        &ServerOptions::new(),
    )
    .await
    .unwrap();

    let (tx, mut rx) = unbounded_channel();
    let (transport, protocol) = create_unix_connection(move || Rec::new(tx), &path)
        .await
        .unwrap();
    // connection_made already ran.
    assert!(
        protocol
            .lock()
            .unwrap()
            .transport
            .as_ref()
            .is_some_and(|t| t.same_as(&transport))
    );
    assert!(matches!(rx.try_recv().unwrap(), Ev::Made { peer_path: Some(p), .. } if p == path));
    assert!(transport.can_write_eof());
    transport.write("request");
    let mut got = Vec::new();
    loop {
        match next(&mut rx).await {
            Ev::Data(d) => got.extend_from_slice(&d),
            Ev::Eof => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, b"answer");
    assert_eq!(next(&mut rx).await, Ev::Lost(None));
    server.close();
    tokio::time::timeout(TIMEOUT, server.wait_closed())
        .await
        .unwrap();
}

/// Connecting where nothing listens fails with a clear error.
#[tokio::test]
async fn connect_to_missing_path_fails() {
    let dir = TempDir::new("missing");
    let (tx, _rx) = unbounded_channel();
    let err = create_unix_connection(move || Rec::new(tx), dir.path("nobody.sock"))
        .await
        .unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::NotFound), "{err}");
}

/// Echo protocol for the load test.
struct Echo(Option<Transport>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.0 = Some(transport.clone());
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: Bytes) {
        if let Some(t) = &self.0 {
            t.write(data);
        }
    }
}

async fn echo_client(path: &Path, id: usize) {
    let mut stream = UnixStream::connect(path).await.unwrap();
    let message: Vec<u8> = (0..4096).map(|i| (i * 7 + id) as u8).collect();
    for _ in 0..5 {
        stream.write_all(&message).await.unwrap();
        let mut echo = vec![0u8; message.len()];
        stream.read_exact(&mut echo).await.unwrap();
        assert_eq!(echo, message);
    }
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

/// Unix echo with 100 concurrent connections, every byte checked; the
/// server ends with no connection left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_with_100_connections() {
    let dir = TempDir::new("echo100");
    let path = dir.path("echo.sock");
    let server = create_unix_server(|| Echo(None), &path, &ServerOptions::new())
        .await
        .unwrap();
    let mut clients = tokio::task::JoinSet::new();
    for id in 0..100 {
        let path = path.clone();
        clients.spawn(async move { echo_client(&path, id).await });
    }
    tokio::time::timeout(TIMEOUT, async {
        while let Some(done) = clients.join_next().await {
            done.unwrap();
        }
    })
    .await
    .expect("echo clients timed out");
    server.close();
    tokio::time::timeout(TIMEOUT, server.wait_closed())
        .await
        .expect("connections did not all end");
    assert_eq!(server.connection_count(), 0);
}

/// Keeps the write side open after EOF, answers, then closes (T03's server).
struct ReplyAfterEof(UnboundedSender<Ev>, Option<Transport>);

impl BaseProtocol for ReplyAfterEof {
    fn connection_made(&mut self, transport: &Transport) {
        self.1 = Some(transport.clone());
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = self.0.send(Ev::Lost(exc.map(|e| e.to_string())));
    }
}

impl Protocol for ReplyAfterEof {
    fn data_received(&mut self, data: Bytes) {
        let _ = self.0.send(Ev::Data(data));
    }
    fn eof_received(&mut self) -> bool {
        let _ = self.0.send(Ev::Eof);
        let t = self.1.as_ref().unwrap();
        t.write("reply-after-eof");
        t.close();
        true
    }
}

/// T03 over AF_UNIX: `write_eof()` half-closes, and `eof_received` returning
/// true keeps the server's write side open for its reply.
#[tokio::test]
async fn half_close_over_unix() {
    let dir = TempDir::new("t03");
    let path = dir.path("srv.sock");
    let (stx, mut srx) = unbounded_channel();
    let server = create_unix_server(
        move || ReplyAfterEof(stx.clone(), None),
        &path,
        &ServerOptions::new(),
    )
    .await
    .unwrap();
    let (tx, mut rx) = unbounded_channel();
    let (transport, _) = create_unix_connection(move || Rec::new(tx), &path)
        .await
        .unwrap();
    assert!(matches!(next(&mut rx).await, Ev::Made { .. }));
    transport.write("hello");
    transport.write_eof().unwrap();
    assert!(!transport.is_closing());
    assert_eq!(next(&mut srx).await, Ev::Data(Bytes::from_static(b"hello")));
    assert_eq!(next(&mut srx).await, Ev::Eof);
    let mut got = Vec::new();
    loop {
        match next(&mut rx).await {
            Ev::Data(d) => got.extend_from_slice(&d),
            Ev::Eof => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, b"reply-after-eof");
    assert_eq!(next(&mut rx).await, Ev::Lost(None));
    assert_eq!(next(&mut srx).await, Ev::Lost(None));
    server.close();
    tokio::time::timeout(TIMEOUT, server.wait_closed())
        .await
        .unwrap();
}
