//! A protocol over any tokio byte stream (`connect_stream`): a duplex pipe
//! and a tokio `TcpStream` opened elsewhere, with half-close and close.

mod support;

use aioproto::testing::{Event, Recorder};
use aioproto::{BaseProtocol, Bytes, Protocol, Transport, connect_stream};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Echoes, and keeps its write side open after the peer's EOF (like a TCP
/// protocol returning true from eof_received), then closes.
#[derive(Default)]
struct EchoThenClose(Option<Transport>);

impl BaseProtocol for EchoThenClose {
    fn connection_made(&mut self, t: &Transport) {
        self.0 = Some(t.clone());
    }
}
impl Protocol for EchoThenClose {
    fn data_received(&mut self, data: Bytes) {
        self.0.as_ref().unwrap().write(data);
    }
    fn eof_received(&mut self) -> bool {
        let t = self.0.as_ref().unwrap();
        t.write("bye");
        t.close();
        true
    }
}

/// Over a duplex pipe: the callbacks run in order, echoes arrive, the peer's
/// shutdown is `eof_received`, and our close sends the stream's shutdown
/// after the last write (the peer reads EOF).
#[tokio::test]
async fn a_protocol_runs_over_a_duplex_pipe() {
    init_tracing();
    let (ours, mut theirs) = tokio::io::duplex(16 * 1024);
    let (protocol, events) = Recorder::new(EchoThenClose::default());
    let (transport, _) = connect_stream(move || protocol, ours).unwrap();
    assert_eq!(transport.peername(), None);
    assert!(transport.can_write_eof());

    theirs.write_all(b"ping").await.unwrap();
    let mut echo = [0u8; 4];
    with_timeout(theirs.read_exact(&mut echo)).await.unwrap();
    assert_eq!(&echo, b"ping");

    theirs.shutdown().await.unwrap();
    let mut rest = Vec::new();
    with_timeout(theirs.read_to_end(&mut rest)).await.unwrap();
    assert_eq!(rest, b"bye", "the last write, then EOF");

    with_timeout(async {
        while !events.events().contains(&Event::ConnectionLost(None)) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    events.check_order().unwrap();
    assert_eq!(events.data(), Bytes::from_static(b"ping"));
}

/// Over a tokio `TcpStream` connected outside aioproto, and `write_eof()`
/// half-closes through the stream's `poll_shutdown`.
#[tokio::test]
async fn a_protocol_runs_over_a_tokio_tcp_stream() {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
    let (mut peer, _) = accepted.unwrap();
    let log = Log::new();
    let (transport, _) = connect_stream(|| Events::new(&log), client.unwrap()).unwrap();
    transport.write("half");
    transport.write_eof().unwrap();
    let mut got = Vec::new();
    with_timeout(peer.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"half");
    peer.write_all(b"still reading").await.unwrap();
    log.wait_data(13).await;
    assert_eq!(log.data(), b"still reading");
    drop(peer);
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
}
