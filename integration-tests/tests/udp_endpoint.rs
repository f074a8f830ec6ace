//! UDP endpoints over loopback: spec cases T42–T45 and docs/DESIGN.md contract items 5 and 7.

use std::net::SocketAddr;
use std::time::Duration;

use aioproto::{
    DatagramOptions, DatagramProtocol, DatagramTransport, Error, create_datagram_endpoint,
    create_datagram_endpoint_from_std,
};
use bytes::Bytes;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

const TIMEOUT: Duration = Duration::from_secs(10);

/// One protocol callback, as seen by a test.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Made,
    Dgram(Bytes, SocketAddr),
    Err(std::io::ErrorKind),
    Lost(Option<String>),
}

/// Records every callback; optionally answers `prefix + data` to the sender.
#[derive(Debug)]
struct Rec {
    tx: UnboundedSender<Ev>,
    transport: Option<DatagramTransport>,
    reply_prefix: Option<&'static [u8]>,
    pause_on_made: bool,
    panic_on_data: bool,
}

impl Rec {
    fn new(tx: UnboundedSender<Ev>) -> Rec {
        Rec {
            tx,
            transport: None,
            reply_prefix: None,
            pause_on_made: false,
            panic_on_data: false,
        }
    }
    fn replying(tx: UnboundedSender<Ev>, prefix: &'static [u8]) -> Rec {
        Rec {
            reply_prefix: Some(prefix),
            ..Rec::new(tx)
        }
    }
}

impl DatagramProtocol for Rec {
    fn connection_made(&mut self, transport: &DatagramTransport) {
        self.transport = Some(transport.clone());
        if self.pause_on_made {
            transport.pause_reading();
        }
        let _ = self.tx.send(Ev::Made);
    }
    fn datagram_received(&mut self, data: Bytes, addr: SocketAddr) {
        if self.panic_on_data {
            panic!("boom in datagram_received");
        }
        if let (Some(prefix), Some(t)) = (self.reply_prefix, &self.transport) {
            let reply = [prefix, &data].concat();
            t.sendto(reply, Some(addr)).unwrap();
        }
        let _ = self.tx.send(Ev::Dgram(data, addr));
    }
    fn error_received(&mut self, exc: Error) {
        let kind = exc.io_kind().expect("an I/O error");
        let _ = self.tx.send(Ev::Err(kind));
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = self.tx.send(Ev::Lost(exc.map(|e| e.to_string())));
    }
}

async fn next(rx: &mut UnboundedReceiver<Ev>) -> Ev {
    tokio::time::timeout(TIMEOUT, rx.recv())
        .await
        .expect("timed out waiting for a callback")
        .expect("protocol dropped")
}

/// Asserts nothing arrives for a short while (absence cannot be awaited).
async fn quiet(rx: &mut UnboundedReceiver<Ev>) {
    let got = tokio::time::timeout(Duration::from_millis(150), rx.recv()).await;
    assert!(got.is_err(), "unexpected callback: {got:?}");
}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

/// An address nobody listens on: bind a socket, note its port, close it.
fn dead_addr(ip: &str) -> SocketAddr {
    let s = std::net::UdpSocket::bind((ip, 0)).unwrap();
    s.local_addr().unwrap()
}

async fn echo_roundtrip(local: &str) {
    let opts = DatagramOptions::new();
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec::replying(stx, b"resp:"),
        addr(local),
        None,
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let server_addr = server.sockname().expect("sockname");
    assert_eq!(server.peername(), None);

    let (ctx, mut crx) = unbounded_channel();
    let (client, _) =
        create_datagram_endpoint(move || Rec::new(ctx), None, Some(server_addr), &opts)
            .await
            .unwrap();
    // connection_made ran before create_datagram_endpoint returned.
    assert_eq!(crx.try_recv().unwrap(), Ev::Made);
    assert!(client.sockname().is_some());
    assert_eq!(client.peername(), Some(server_addr));

    client.sendto("xxx", None).unwrap();
    let Ev::Dgram(data, from) = next(&mut srx).await else {
        panic!("expected a datagram")
    };
    assert_eq!(data.len(), 3);
    assert_eq!(Some(from), client.sockname());
    let Ev::Dgram(data, from) = next(&mut crx).await else {
        panic!("expected a datagram")
    };
    assert_eq!(&data[..], b"resp:xxx");
    assert_eq!(data.len(), 8);
    assert_eq!(from, server_addr);

    client.close();
    assert_eq!(next(&mut crx).await, Ev::Lost(None));
    server.close();
    assert_eq!(next(&mut srx).await, Ev::Lost(None));
    assert!(server.is_closing());
}

/// T42: echo and lifecycle over IPv4.
#[tokio::test]
async fn t42_echo_ipv4() {
    echo_roundtrip("127.0.0.1:0").await;
}

/// T42: the same over IPv6 loopback.
#[tokio::test]
async fn t42_echo_ipv6() {
    echo_roundtrip("[::1]:0").await;
}

/// T42: with a pre-made socket (`sock=`).
#[tokio::test]
async fn t42_echo_from_std_socket() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let bound = sock.local_addr().unwrap();
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint_from_std(
        move || Rec::replying(stx, b"resp:"),
        sock,
        &DatagramOptions::new(),
    )
    .unwrap();
    assert_eq!(server.sockname(), Some(bound));
    assert_eq!(next(&mut srx).await, Ev::Made);

    let raw = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.send_to(b"xxx", bound).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = tokio::time::timeout(TIMEOUT, raw.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"resp:xxx");
    assert_eq!(from, bound);
    server.close();
    assert!(matches!(next(&mut srx).await, Ev::Dgram(..)));
    assert_eq!(next(&mut srx).await, Ev::Lost(None));
}

/// T43: a connected endpoint sending to a dead port gets one
/// `error_received(ConnectionRefused)` per send and stays open.
#[tokio::test]
async fn t43_connected_send_to_closed_port_reports_error_and_stays_open() {
    let dead = dead_addr("127.0.0.1");
    let (tx, mut rx) = unbounded_channel();
    let (t, _) = create_datagram_endpoint(
        move || Rec::new(tx),
        None,
        Some(dead),
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut rx).await, Ev::Made);
    for _ in 0..2 {
        t.sendto("a", None).unwrap();
        assert_eq!(
            next(&mut rx).await,
            Ev::Err(std::io::ErrorKind::ConnectionRefused)
        );
        assert!(!t.is_closing());
    }
    quiet(&mut rx).await;
    t.close();
    assert_eq!(next(&mut rx).await, Ev::Lost(None));
}

/// T43: an unconnected endpoint that sent to a dead address still receives,
/// and still sends, afterwards.
#[tokio::test]
async fn t43_unconnected_endpoint_still_works_after_sending_to_dead_address() {
    let opts = DatagramOptions::new();
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec::replying(stx, b"re:"),
        addr("127.0.0.1:0"),
        None,
        &opts,
    )
    .await
    .unwrap();
    let server_addr = server.sockname().unwrap();
    let (ctx, mut crx) = unbounded_channel();
    let (client, _) =
        create_datagram_endpoint(move || Rec::new(ctx), addr("127.0.0.1:0"), None, &opts)
            .await
            .unwrap();
    assert_eq!(next(&mut crx).await, Ev::Made);
    client
        .sendto("to-dead", Some(dead_addr("127.0.0.1")))
        .unwrap();
    client.sendto("again", Some(server_addr)).unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let Ev::Dgram(data, _) = next(&mut srx).await else {
        panic!("expected a datagram")
    };
    assert_eq!(&data[..], b"again");
    let Ev::Dgram(data, from) = next(&mut crx).await else {
        panic!("expected the reply")
    };
    assert_eq!((&data[..], from), (&b"re:again"[..], server_addr));
    assert!(!client.is_closing());
    client.abort();
    server.close();
    assert_eq!(next(&mut crx).await, Ev::Lost(None));
}

/// T44: zero-length datagrams are delivered both ways.
#[tokio::test]
async fn t44_zero_length_datagrams_are_delivered() {
    let opts = DatagramOptions::new();
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec::replying(stx, b""),
        addr("127.0.0.1:0"),
        None,
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let (ctx, mut crx) = unbounded_channel();
    let (client, _) =
        create_datagram_endpoint(move || Rec::new(ctx), addr("127.0.0.1:0"), None, &opts)
            .await
            .unwrap();
    assert_eq!(next(&mut crx).await, Ev::Made);
    client.sendto(Bytes::new(), server.sockname()).unwrap();
    client.sendto("abc", server.sockname()).unwrap();
    assert_eq!(
        next(&mut srx).await,
        Ev::Dgram(Bytes::new(), client.sockname().unwrap())
    );
    assert_eq!(
        next(&mut srx).await,
        Ev::Dgram(Bytes::from_static(b"abc"), client.sockname().unwrap())
    );
    // The server echoed both, the empty one included.
    assert_eq!(
        next(&mut crx).await,
        Ev::Dgram(Bytes::new(), server.sockname().unwrap())
    );
    assert_eq!(
        next(&mut crx).await,
        Ev::Dgram(Bytes::from_static(b"abc"), server.sockname().unwrap())
    );
    // Vec<u8>, String and &'static [u8] payloads are accepted too.
    client.sendto(vec![1u8, 2], server.sockname()).unwrap();
    client.sendto(String::from("s"), server.sockname()).unwrap();
    assert!(matches!(next(&mut srx).await, Ev::Dgram(d, _) if d[..] == [1, 2]));
    assert!(matches!(next(&mut srx).await, Ev::Dgram(d, _) if d[..] == b"s"[..]));
    // Borrowed bytes (asyncio's bytearray/memoryview) go through sendto_slice.
    let frame = [9u8, 8, 7];
    client.sendto_slice(&frame[1..], server.sockname()).unwrap();
    client.sendto_slice(&[], server.sockname()).unwrap();
    assert!(matches!(next(&mut srx).await, Ev::Dgram(d, _) if d[..] == [8, 7]));
    assert!(matches!(next(&mut srx).await, Ev::Dgram(d, _) if d.is_empty()));
    client.close();
    server.close();
}

/// T44: a connected endpoint rejects datagrams to another address.
#[tokio::test]
async fn t44_connected_endpoint_rejects_other_address() {
    let dead = dead_addr("127.0.0.1");
    let (tx, _rx) = unbounded_channel();
    let (t, _) = create_datagram_endpoint(
        move || Rec::new(tx),
        None,
        Some(dead),
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    let err = t.sendto("x", addr("127.0.0.1:1")).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)));
    assert!(
        err.to_string()
            .contains(&format!("invalid address: must be None or {dead}")),
        "{err}"
    );
    // The remote address itself is fine.
    t.sendto("x", Some(dead)).unwrap();
    t.abort();
}

/// T45: argument validation.
#[tokio::test]
async fn t45_argument_validation() {
    let (tx, _rx) = unbounded_channel();
    let err = create_datagram_endpoint(move || Rec::new(tx), None, None, &DatagramOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");

    // Options together with a given socket name the offending options.
    let mut opts = DatagramOptions::new();
    opts.reuse_port(true);
    let (tx, _rx) = unbounded_channel();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = create_datagram_endpoint_from_std(move || Rec::new(tx), sock, &opts).unwrap_err();
    assert!(err.to_string().contains("reuse_port"), "{err}");

    // A stream socket is not a datagram socket.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = refused_as_udp(listener.into());
    assert!(err.to_string().contains("UDP socket was expected"), "{err}");

    // Nor is a Unix datagram socket a UDP one.
    let (unix, _peer) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let err = refused_as_udp(unix.into());
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("UDP socket was expected"), "{err}");
}

/// The error `create_datagram_endpoint_from_std` gives for `fd` wrapped as
/// a `UdpSocket` (the test hands it only sockets that are not UDP).
fn refused_as_udp(fd: std::os::fd::OwnedFd) -> Error {
    let (tx, _rx) = unbounded_channel();
    create_datagram_endpoint_from_std(
        move || Rec::new(tx),
        std::net::UdpSocket::from(fd),
        &DatagramOptions::new(),
    )
    .unwrap_err()
}

/// T45: `allow_broadcast` with `remote_addr` does not connect, yet
/// `sendto(data, None)` goes to `remote_addr`.
#[tokio::test]
async fn t45_allow_broadcast_does_not_connect() {
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec::new(stx),
        addr("127.0.0.1:0"),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let mut opts = DatagramOptions::new();
    opts.allow_broadcast(true);
    let (tx, _rx) = unbounded_channel();
    let (t, _) = create_datagram_endpoint(
        move || Rec::new(tx),
        addr("127.0.0.1:0"),
        server.sockname(),
        &opts,
    )
    .await
    .unwrap();
    assert_eq!(t.peername(), None);
    assert_eq!(t.remote_addr(), server.sockname());
    t.sendto("hi", None).unwrap();
    let Ev::Dgram(data, from) = next(&mut srx).await else {
        panic!("expected a datagram")
    };
    assert_eq!((&data[..], Some(from)), (&b"hi"[..], t.sockname()));
    t.close();
    server.close();
}

/// T45: `sendto` after `close()` is dropped without an error.
#[tokio::test]
async fn t45_sendto_after_close_is_dropped() {
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec::new(stx),
        addr("127.0.0.1:0"),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let (tx, mut rx) = unbounded_channel();
    let (t, _) = create_datagram_endpoint(
        move || Rec::new(tx),
        None,
        server.sockname(),
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    t.sendto("before", None).unwrap();
    t.close();
    for _ in 0..10 {
        t.sendto("after", None).unwrap();
    }
    assert_eq!(next(&mut rx).await, Ev::Made);
    assert_eq!(next(&mut rx).await, Ev::Lost(None));
    // The datagram queued before close() was still sent; none after it.
    let Ev::Dgram(data, _) = next(&mut srx).await else {
        panic!("expected a datagram")
    };
    assert_eq!(&data[..], b"before");
    quiet(&mut srx).await;
    server.close();
}

/// Contract 5: no `datagram_received` while paused; everything queued in the
/// kernel arrives after `resume_reading`.
#[tokio::test]
async fn pause_and_resume_reading() {
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec {
            pause_on_made: true,
            ..Rec::new(stx)
        },
        addr("127.0.0.1:0"),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    assert!(!server.is_reading());
    server.pause_reading(); // idempotent
    let raw = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for msg in [&b"1"[..], b"2", b"3"] {
        raw.send_to(msg, server.sockname().unwrap()).await.unwrap();
    }
    quiet(&mut srx).await;
    server.resume_reading();
    server.resume_reading();
    assert!(server.is_reading());
    for msg in [&b"1"[..], b"2", b"3"] {
        let Ev::Dgram(data, _) = next(&mut srx).await else {
            panic!("expected a datagram")
        };
        assert_eq!(&data[..], msg);
    }
    server.close();
    assert!(!server.is_reading());
    assert_eq!(next(&mut srx).await, Ev::Lost(None));
}

/// A panic in a callback ends that endpoint only, with `connection_lost(Some(..))`.
#[tokio::test]
async fn panic_in_callback_ends_the_endpoint() {
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec {
            panic_on_data: true,
            ..Rec::new(stx)
        },
        addr("127.0.0.1:0"),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let raw = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    raw.send_to(b"x", server.sockname().unwrap()).await.unwrap();
    let Ev::Lost(Some(text)) = next(&mut srx).await else {
        panic!("expected connection_lost with an error")
    };
    assert!(text.contains("boom in datagram_received"), "{text}");
    assert!(server.is_closing());
    // Sends after the end are dropped, not errors.
    assert!(server.sendto("x", Some(raw.local_addr().unwrap())).is_ok());
}

/// Many datagrams queued from another task all arrive, in order, and the
/// buffer size is exact throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_datagrams_from_another_task() {
    let (stx, mut srx) = unbounded_channel();
    let (server, _) = create_datagram_endpoint(
        move || Rec::new(stx),
        addr("127.0.0.1:0"),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let (tx, _rx) = unbounded_channel();
    let (client, _) = create_datagram_endpoint(
        move || Rec::new(tx),
        None,
        server.sockname(),
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    let sender = client.clone();
    tokio::spawn(async move {
        for i in 0u32..200 {
            sender.sendto(i.to_be_bytes().to_vec(), None).unwrap();
            if i % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
    })
    .await
    .unwrap();
    let mut got = 0u32;
    while got < 200 {
        let Ev::Dgram(data, _) = next(&mut srx).await else {
            panic!("expected a datagram")
        };
        assert_eq!(u32::from_be_bytes(data[..].try_into().unwrap()), got);
        got += 1;
    }
    assert_eq!(client.get_write_buffer_size(), 0);
    client.close();
    server.close();
}

/// Contract 7: a send the kernel refuses at once (an IPv6 destination on an
/// IPv4 socket) goes to `error_received`, after `sendto` returned, and the
/// endpoint keeps working.
#[tokio::test]
async fn send_error_goes_to_error_received_and_endpoint_stays_open() {
    let opts = DatagramOptions::new();
    let (stx, mut srx) = unbounded_channel();
    let (server, _) =
        create_datagram_endpoint(move || Rec::new(stx), addr("127.0.0.1:0"), None, &opts)
            .await
            .unwrap();
    assert_eq!(next(&mut srx).await, Ev::Made);
    let (tx, mut rx) = unbounded_channel();
    let (t, _) = create_datagram_endpoint(move || Rec::new(tx), addr("127.0.0.1:0"), None, &opts)
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, Ev::Made);
    t.sendto("wrong family", addr("[::1]:9")).unwrap();
    assert!(matches!(next(&mut rx).await, Ev::Err(_)));
    assert!(!t.is_closing());
    t.sendto("fine", server.sockname()).unwrap();
    let Ev::Dgram(data, _) = next(&mut srx).await else {
        panic!("expected a datagram")
    };
    assert_eq!(&data[..], b"fine");
    t.close();
    assert_eq!(next(&mut rx).await, Ev::Lost(None));
    server.close();
}

/// `reuse_port` lets two endpoints bind one address; without it the second
/// bind fails with `AddrInUse` and the error names the address.
#[tokio::test]
async fn reuse_port_and_address_in_use() {
    let mut shared = DatagramOptions::new();
    shared.reuse_port(true);
    let (tx, _rx) = unbounded_channel();
    let (first, _) =
        create_datagram_endpoint(move || Rec::new(tx), addr("127.0.0.1:0"), None, &shared)
            .await
            .unwrap();
    let taken = first.sockname().unwrap();
    let (tx, _rx) = unbounded_channel();
    let (second, _) = create_datagram_endpoint(move || Rec::new(tx), Some(taken), None, &shared)
        .await
        .unwrap();
    assert_eq!(second.sockname(), Some(taken));

    let (tx, _rx) = unbounded_channel();
    let err = create_datagram_endpoint(
        move || Rec::new(tx),
        Some(taken),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AddrInUse), "{err}");
    assert!(err.to_string().contains(&taken.to_string()), "{err}");
    first.close();
    second.close();
}
