//! Relaying between TCP connections (`splice`, `connect_and_splice`): bytes
//! both ways exact, backpressure from a sink that does not read, EOF as a
//! half-close each way, and an error on one side closing both.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use aioproto::{
    BaseProtocol, ConnectOptions, Protocol, Relay, ServerOptions, Transport, connect_and_splice,
    create_server, splice,
};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The forwarding protocol of the relay server: each client is spliced to a
/// new connection to `upstream`, and its relay is handed to the test.
struct Forward {
    upstream: SocketAddr,
    relays: mpsc::UnboundedSender<Relay>,
}

impl BaseProtocol for Forward {
    fn connection_made(&mut self, client: &Transport) {
        // Not a byte is read before the relay takes over.
        client.pause_reading();
        let (client, upstream, relays) = (client.clone(), self.upstream, self.relays.clone());
        tokio::spawn(async move {
            let host = upstream.ip().to_string();
            match connect_and_splice(&client, &host, upstream.port(), &ConnectOptions::new()).await
            {
                Ok(relay) => {
                    let _ = relays.send(relay);
                }
                Err(_) => client.close(),
            }
        });
    }
}
impl Protocol for Forward {}

/// A relay server in front of a raw upstream listener; returns the server's
/// address, the upstream listener and the relays as they start.
async fn relay_server() -> (
    aioproto::Server,
    SocketAddr,
    TcpListener,
    mpsc::UnboundedReceiver<Relay>,
) {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let factory = move || Forward {
        upstream: upstream_addr,
        relays: tx.clone(),
    };
    let server = create_server(factory, "127.0.0.1", 0, &ServerOptions::new())
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    (server, addr, upstream, rx)
}

/// Deterministic bytes that differ at every offset of a period far from any
/// buffer size, so a lost, doubled or reordered chunk changes the checksum.
fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// FNV-1a over `data`.
fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Reads everything until EOF, returning the length and checksum.
async fn drain_to_eof(mut stream: impl AsyncReadExt + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    out
}

const BIG: usize = 32 * 1024 * 1024;

/// 32 MiB each way through a `connect_and_splice` relay: the upstream echoes
/// (with `tokio::io::copy`), the client gets back exactly what it sent, and
/// the relay counts 32 MiB each way and ends cleanly after the client's EOF
/// went through and the upstream closed.
#[tokio::test]
async fn thirty_two_mib_each_way_arrive_exact() {
    init_tracing();
    let (server, addr, upstream, mut relays) = relay_server().await;
    let echo = tokio::spawn(async move {
        let (stream, _) = upstream.accept().await.unwrap();
        let (mut r, mut w) = stream.into_split();
        tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let sent = pattern(BIG);
    let expected = checksum(&sent);
    let client = raw_connect(addr).await;
    let (r, mut w) = client.into_split();
    let writer = tokio::spawn(async move {
        w.write_all(&sent).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let received = with_timeout_of(ms(60_000), drain_to_eof(r)).await;
    assert_eq!(received.len(), BIG);
    assert_eq!(checksum(&received), expected);
    let _w = with_timeout(writer).await.unwrap();
    with_timeout(echo).await.unwrap();

    let relay = with_timeout(relays.recv()).await.unwrap();
    let outcome = with_timeout(relay.finished()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.stats.a_to_b, BIG as u64);
    assert_eq!(outcome.stats.b_to_a, BIG as u64);
    server.close();
}

/// A client that stops reading pauses the upstream: the relay stops reading
/// the upstream (`is_reading()` false), the client's write buffer never
/// holds more than its high mark plus one 64 KiB read, and the upstream's
/// writer stalls instead of the relay buffering. Once the client reads,
/// reading resumes and every byte arrives.
#[tokio::test]
async fn a_sink_that_does_not_read_pauses_its_source() {
    init_tracing();
    const HIGH: usize = 64 * 1024;
    const TOTAL: usize = 64 * 1024 * 1024;
    let (client, client_peer) = held_pair().await;
    let (upstream, mut upstream_peer) = held_pair().await;
    client.set_write_buffer_limits(Some(HIGH), None).unwrap();
    let relay = splice(&client, &upstream).unwrap();

    let data = Arc::new(pattern(TOTAL));
    let to_send = data.clone();
    let mut writer = tokio::spawn(async move {
        upstream_peer.write_all(&to_send).await.unwrap();
        upstream_peer.shutdown().await.unwrap();
        upstream_peer
    });
    // The client's peer does not read: the kernel's buffers fill, then the
    // relay pauses the upstream.
    with_timeout(async {
        while relay.stats().backpressure_pauses == 0 || upstream.is_reading() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // The writer stays stuck: nothing buffers 64 MiB on its way.
    assert!(
        tokio::time::timeout(ms(500), &mut writer).await.is_err(),
        "64 MiB went through a sink that never reads"
    );
    let stats = relay.stats();
    assert!(
        stats.peak_write_buffer <= HIGH + 64 * 1024,
        "peak {} over high mark + one read",
        stats.peak_write_buffer
    );
    assert!(stats.b_to_a < TOTAL as u64 / 2, "{stats:?}");

    let received = with_timeout_of(ms(60_000), drain_to_eof(client_peer)).await;
    assert_eq!(received.len(), TOTAL);
    assert_eq!(checksum(&received), checksum(&data));
    let outcome = relay.stats();
    assert_eq!(outcome.b_to_a, TOTAL as u64);
    assert!(outcome.peak_write_buffer <= HIGH + 64 * 1024, "{outcome:?}");
    let _peer = with_timeout(writer).await.unwrap();
}

/// The client half-closes first: the upstream reads its bytes then EOF, and
/// can still answer; the answer and then the upstream's EOF reach the client.
#[tokio::test]
async fn client_eof_reaches_the_upstream_as_a_half_close() {
    init_tracing();
    let (server, addr, upstream, mut relays) = relay_server().await;
    let mut client = raw_connect(addr).await;
    let (mut up, _) = with_timeout(upstream.accept()).await.unwrap();
    raw_write(&mut client, b"ping").await;
    client.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut up).await, b"ping");
    raw_write(&mut up, b"pong").await;
    up.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut client).await, b"pong");
    let relay = with_timeout(relays.recv()).await.unwrap();
    let outcome = with_timeout(relay.finished()).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!((outcome.stats.a_to_b, outcome.stats.b_to_a), (4, 4));
    server.close();
}

/// The upstream half-closes first: the client gets its bytes and EOF, and
/// its later bytes still reach the upstream.
#[tokio::test]
async fn upstream_eof_reaches_the_client_as_a_half_close() {
    init_tracing();
    let (server, addr, upstream, mut relays) = relay_server().await;
    let mut client = raw_connect(addr).await;
    let (mut up, _) = with_timeout(upstream.accept()).await.unwrap();
    raw_write(&mut up, b"hello").await;
    up.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut client).await, b"hello");
    raw_write(&mut client, b"still here").await;
    client.shutdown().await.unwrap();
    assert_eq!(read_to_eof(&mut up).await, b"still here");
    let relay = with_timeout(relays.recv()).await.unwrap();
    assert!(with_timeout(relay.finished()).await.error.is_none());
    server.close();
}

/// Bytes the client sends before the upstream is up are held, not lost: the
/// upstream accepts only after the client has sent and half-closed.
#[tokio::test]
async fn bytes_sent_before_the_upstream_is_up_are_kept() {
    init_tracing();
    let (server, addr, upstream, _relays) = relay_server().await;
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, b"early bytes").await;
    client.shutdown().await.unwrap();
    let (mut up, _) = with_timeout(upstream.accept()).await.unwrap();
    assert_eq!(read_to_eof(&mut up).await, b"early bytes");
    server.close();
}

/// A client reset aborts the upstream: it sees its connection end, and the
/// relay reports the error.
#[tokio::test]
async fn a_reset_on_one_side_closes_the_other() {
    init_tracing();
    let (client, client_peer) = held_pair().await;
    let (upstream, mut upstream_peer) = held_pair().await;
    let relay = splice(&client, &upstream).unwrap();
    reset(client_peer);
    let (_, _) = read_until_closed(&mut upstream_peer).await;
    let outcome = with_timeout(relay.finished()).await;
    assert!(outcome.error.is_some(), "a reset is an error");
    assert!(client.is_closing() && upstream.is_closing());
}

/// `Relay::close` flushes what was relayed, then closes both sides.
#[tokio::test]
async fn relay_close_flushes_and_closes_both() {
    init_tracing();
    let (client, mut client_peer) = held_pair().await;
    let (upstream, mut upstream_peer) = held_pair().await;
    let relay = splice(&client, &upstream).unwrap();
    raw_write(&mut upstream_peer, b"last words").await;
    with_timeout(async {
        while relay.stats().b_to_a < 10 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    relay.close();
    assert_eq!(read_to_eof(&mut client_peer).await, b"last words");
    assert_eq!(read_to_eof(&mut upstream_peer).await, b"");
    assert!(with_timeout(relay.finished()).await.error.is_none());
}

/// Bad arguments are refused with a clear error; a closed transport makes
/// a relay that ends at once and closes the other side.
#[tokio::test]
async fn bad_arguments_and_closed_transports() {
    init_tracing();
    let (a, _a_peer) = held_pair().await;
    let (b, mut b_peer) = held_pair().await;
    assert!(matches!(
        splice(&a, &a),
        Err(aioproto::Error::InvalidArgument(_))
    ));
    assert!(matches!(
        aioproto::pipe(&a, &a),
        Err(aioproto::Error::InvalidArgument(_))
    ));
    a.abort();
    let relay = splice(&a, &b).unwrap();
    let outcome = with_timeout(relay.finished()).await;
    assert!(matches!(outcome.error, Some(aioproto::Error::Closed(_))));
    let (_, _) = read_until_closed(&mut b_peer).await;
    assert!(b.is_closing());
}

/// An upstream that refuses: `connect_and_splice` fails and the client is
/// left for the caller, which closes it.
#[tokio::test]
async fn a_refused_upstream_is_an_error() {
    init_tracing();
    let (client, mut client_peer) = held_pair().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = connect_and_splice(&client, "127.0.0.1", port, &ConnectOptions::new())
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, aioproto::Error::Io(_)), "{err:?}");
    assert!(!client.is_closing() && !client.is_reading());
    client.close();
    assert_eq!(read_to_eof(&mut client_peer).await, b"");
}
