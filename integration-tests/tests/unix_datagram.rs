//! Unix datagram endpoints (`create_unix_datagram_endpoint` and
//! `create_unix_datagram_endpoint_from_std`): echo round trip, `sendto` a
//! path, an unnamed sender, a missing path, socket-file handling, sockets
//! made elsewhere, and the flow control the datagram transport documents.

mod support;

use std::io::ErrorKind;
use std::path::Path;

use aioproto::{
    DatagramOptions, Error, UnixDatagramAddr, UnixDatagramTransport, create_unix_datagram_endpoint,
    create_unix_datagram_endpoint_from_std,
};
use bytes::Bytes;
use support::TempDir;
use support::datagram::{Ev, Rec, next};
use tokio::sync::mpsc::UnboundedReceiver;

type Events = UnboundedReceiver<Ev<UnixDatagramAddr>>;

async fn endpoint(
    echo: bool,
    local: Option<&Path>,
    remote: Option<&Path>,
    options: &DatagramOptions,
) -> aioproto::Result<(UnixDatagramTransport, Events)> {
    let (rec, mut rx) = Rec::<UnixDatagramAddr>::new(echo);
    let (t, _) = create_unix_datagram_endpoint(move || rec, local, remote, options).await?;
    assert_eq!(next(&mut rx).await, Ev::Made);
    Ok((t, rx))
}

/// [`endpoint`] for a socket made elsewhere.
fn endpoint_from_std(
    echo: bool,
    socket: std::os::unix::net::UnixDatagram,
    options: &DatagramOptions,
) -> aioproto::Result<(UnixDatagramTransport, Events)> {
    let (rec, rx) = Rec::<UnixDatagramAddr>::new(echo);
    let (t, _) = create_unix_datagram_endpoint_from_std(move || rec, socket, options)?;
    Ok((t, rx))
}

/// Closes `t` and waits for its `connection_lost(None)`.
async fn close(t: &UnixDatagramTransport, rx: &mut Events) {
    t.close();
    loop {
        match next(rx).await {
            Ev::Lost(outcome) => return assert_eq!(outcome, None),
            Ev::Dgram(..) | Ev::Resumed => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn echo_round_trip_between_bound_paths() {
    let dir = TempDir::new("dgram-echo");
    let (server_path, client_path) = (dir.path("server.sock"), dir.path("client.sock"));
    let options = DatagramOptions::new();
    let (server, mut server_rx) = endpoint(true, Some(&server_path), None, &options)
        .await
        .unwrap();
    let (client, mut client_rx) = endpoint(false, Some(&client_path), Some(&server_path), &options)
        .await
        .unwrap();
    assert_eq!(
        server.sockname(),
        Some(UnixDatagramAddr::from(&server_path))
    );
    assert_eq!(server.peername(), None);
    assert_eq!(
        client.sockname(),
        Some(UnixDatagramAddr::from(&client_path))
    );
    assert_eq!(
        client.peername(),
        Some(UnixDatagramAddr::from(&server_path))
    );
    assert_eq!(
        client.extra().sock_path.as_deref(),
        Some(client_path.as_path())
    );
    assert_eq!(
        client.extra().peer_path.as_deref(),
        Some(server_path.as_path())
    );

    for msg in ["ping", "", "pong \0 with a NUL"] {
        client.sendto(msg, None).unwrap();
        assert_eq!(
            next(&mut server_rx).await,
            Ev::Dgram(Bytes::from(msg), UnixDatagramAddr::from(&client_path))
        );
        assert_eq!(
            next(&mut client_rx).await,
            Ev::Dgram(Bytes::from(msg), UnixDatagramAddr::from(&server_path))
        );
    }
    // A connected endpoint sends to its remote path only.
    let err = client
        .sendto("x", Some(dir.path("elsewhere.sock").into()))
        .unwrap_err();
    assert!(err.to_string().contains("must be None or"), "{err}");

    close(&client, &mut client_rx).await;
    close(&server, &mut server_rx).await;
    assert!(!server_path.exists() && !client_path.exists());
}

/// An unconnected endpoint sends to any path with `sendto`, and needs one.
#[tokio::test]
async fn sendto_a_path_from_an_unconnected_endpoint() {
    let dir = TempDir::new("dgram-sendto");
    let (a_path, b_path) = (dir.path("a.sock"), dir.path("b.sock"));
    let options = DatagramOptions::new();
    let (a, mut a_rx) = endpoint(false, Some(&a_path), None, &options)
        .await
        .unwrap();
    let (b, mut b_rx) = endpoint(false, Some(&b_path), None, &options)
        .await
        .unwrap();
    assert!(matches!(
        a.sendto("x", None),
        Err(Error::InvalidArgument(_))
    ));
    a.sendto("to b", Some(b_path.clone().into())).unwrap();
    a.sendto_slice(b"again", Some(UnixDatagramAddr::from(b_path.as_path())))
        .unwrap();
    for msg in ["to b", "again"] {
        assert_eq!(
            next(&mut b_rx).await,
            Ev::Dgram(Bytes::from(msg), UnixDatagramAddr::from(&a_path))
        );
    }
    b.sendto("to a", Some(a_path.as_path().into())).unwrap();
    assert_eq!(
        next(&mut a_rx).await,
        Ev::Dgram("to a".into(), UnixDatagramAddr::from(&b_path))
    );
    // A path nobody is bound to: the send fails on the driver task, and the
    // endpoint stays open.
    a.sendto("lost", Some(dir.path("nobody.sock").into()))
        .unwrap();
    assert_eq!(next(&mut a_rx).await, Ev::Err(ErrorKind::NotFound));
    b.sendto("still here", Some(a_path.clone().into())).unwrap();
    assert_eq!(
        next(&mut a_rx).await,
        Ev::Dgram("still here".into(), UnixDatagramAddr::from(&b_path))
    );
    close(&a, &mut a_rx).await;
    close(&b, &mut b_rx).await;
}

/// A client with only a remote path is unnamed: the server sees
/// `Unnamed` and cannot answer it.
#[tokio::test]
async fn an_unnamed_sender_is_reported_and_cannot_be_answered() {
    let dir = TempDir::new("dgram-unnamed");
    let server_path = dir.path("server.sock");
    let options = DatagramOptions::new();
    let (server, mut server_rx) = endpoint(false, Some(&server_path), None, &options)
        .await
        .unwrap();
    let (client, mut client_rx) = endpoint(false, None, Some(&server_path), &options)
        .await
        .unwrap();
    assert_eq!(client.sockname(), None);
    client.sendto("who am I", None).unwrap();
    assert_eq!(
        next(&mut server_rx).await,
        Ev::Dgram("who am I".into(), UnixDatagramAddr::Unnamed)
    );
    let err = server
        .sendto("reply", Some(UnixDatagramAddr::Unnamed))
        .unwrap_err();
    assert!(err.to_string().contains("unnamed"), "{err}");

    // Neither path: an unnamed socket that can still send to paths.
    let (loose, mut loose_rx) = endpoint(false, None, None, &options).await.unwrap();
    loose
        .sendto("from nowhere", Some(server_path.clone().into()))
        .unwrap();
    assert_eq!(
        next(&mut server_rx).await,
        Ev::Dgram("from nowhere".into(), UnixDatagramAddr::Unnamed)
    );
    close(&loose, &mut loose_rx).await;
    close(&client, &mut client_rx).await;
    close(&server, &mut server_rx).await;
}

/// Connecting to a path with no socket fails with the path in the text, and
/// the file this endpoint had bound is removed again.
#[tokio::test]
async fn a_missing_remote_path_is_an_error_naming_it() {
    let dir = TempDir::new("dgram-missing");
    let (local, missing) = (dir.path("local.sock"), dir.path("missing.sock"));
    let err = endpoint(false, Some(&local), Some(&missing), &DatagramOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.io_kind(), Some(ErrorKind::NotFound), "{err}");
    assert!(err.to_string().contains("missing.sock"), "{err}");
    assert!(!local.exists(), "the bound file was left behind");

    // A socket file nobody holds refuses the connection.
    let stale = dir.path("stale.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap());
    let err = endpoint(false, None, Some(&stale), &DatagramOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.io_kind(), Some(ErrorKind::ConnectionRefused), "{err}");
}

/// Socket files: a stale one is replaced, another kind of file is refused
/// and left alone, the endpoint removes its own file at the end, and
/// `cleanup_socket(false)` keeps it.
#[tokio::test]
async fn socket_files_are_handled_like_unix_servers() {
    let dir = TempDir::new("dgram-files");
    let path = dir.path("ep.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&path).unwrap());
    let (t, mut rx) = endpoint(false, Some(&path), None, &DatagramOptions::new())
        .await
        .unwrap();
    assert!(path.exists());
    close(&t, &mut rx).await;
    assert!(!path.exists(), "removed when the endpoint ended");

    let mut keep = DatagramOptions::new();
    keep.cleanup_socket(false);
    let (t, mut rx) = endpoint(false, Some(&path), None, &keep).await.unwrap();
    close(&t, &mut rx).await;
    assert!(path.exists(), "kept with cleanup_socket(false)");

    let regular = dir.path("regular");
    std::fs::write(&regular, b"data").unwrap();
    let err = endpoint(false, Some(&regular), None, &DatagramOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.io_kind(), Some(ErrorKind::AddrInUse), "{err}");
    assert!(err.to_string().contains("already in use"), "{err}");
    assert_eq!(std::fs::read(&regular).unwrap(), b"data");

    // A file that replaced the endpoint's own is not removed.
    let (t, mut rx) = endpoint(false, Some(&path), None, &DatagramOptions::new())
        .await
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"mine").unwrap();
    close(&t, &mut rx).await;
    assert_eq!(std::fs::read(&path).unwrap(), b"mine");
}

/// The UDP options have no meaning here and are refused.
#[tokio::test]
async fn udp_options_are_refused() {
    let mut options = DatagramOptions::new();
    options.reuse_port(true).allow_broadcast(true);
    let err = endpoint(false, None, None, &options).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("reuse_port") && text.contains("allow_broadcast"),
        "{text}"
    );
}

/// Sends `count` datagrams (`datagram(i)`) to a receiver that is not
/// reading, with the sender's high-water mark at `high`; checks that
/// `pause_writing` came, then lets the receiver drain and checks that
/// `resume_writing` came and the buffer emptied. Returns the buffer's size
/// after the sends and the datagrams received, in order.
async fn flood_a_paused_receiver(
    name: &str,
    high: usize,
    count: usize,
    datagram: impl Fn(usize) -> Vec<u8>,
) -> (usize, Vec<Bytes>) {
    let dir = TempDir::new(name);
    let server_path = dir.path("server.sock");
    let options = DatagramOptions::new();
    let (server, mut server_rx) = endpoint(false, Some(&server_path), None, &options)
        .await
        .unwrap();
    server.pause_reading();
    let (client, mut client_rx) = endpoint(false, None, Some(&server_path), &options)
        .await
        .unwrap();
    assert_eq!(client.get_write_buffer_limits(), (16384, 65536));
    client.set_write_buffer_limits(Some(high), None).unwrap();
    for i in 0..count {
        client.sendto(datagram(i), None).unwrap();
    }
    let queued = client.get_write_buffer_size();
    assert_eq!(next(&mut client_rx).await, Ev::Paused);

    server.resume_reading();
    let mut received = Vec::with_capacity(count);
    for i in 0..count {
        match next(&mut server_rx).await {
            Ev::Dgram(data, UnixDatagramAddr::Unnamed) => received.push(data),
            other => panic!("datagram {i}: {other:?}"),
        }
    }
    assert_eq!(next(&mut client_rx).await, Ev::Resumed);
    assert_eq!(client.get_write_buffer_size(), 0);
    close(&client, &mut client_rx).await;
    close(&server, &mut server_rx).await;
    (queued, received)
}

/// Unix datagram sockets, unlike UDP, make the sender wait when the
/// receiver's queue is full: the datagrams wait in the transport's buffer,
/// `pause_writing` comes over the high-water mark, `resume_writing` when the
/// receiver drains, and every datagram arrives once, in order.
#[tokio::test]
async fn a_full_receiver_pauses_the_sender_then_everything_arrives() {
    const COUNT: usize = 400;
    const SIZE: usize = 4096;
    let (queued, received) = flood_a_paused_receiver("dgram-flow", 4 * SIZE, COUNT, |i| {
        let mut datagram = vec![0u8; SIZE];
        datagram[..8].copy_from_slice(&(i as u64).to_be_bytes());
        datagram
    })
    .await;
    assert!(queued > 4 * SIZE, "the kernel took everything");
    for (i, data) in received.iter().enumerate() {
        assert_eq!(data.len(), SIZE);
        assert_eq!(u64::from_be_bytes(data[..8].try_into().unwrap()), i as u64);
    }
}

/// Empty datagrams count 8 bytes each in the send buffer, as asyncio's do:
/// a flood of them behind a full receiver still brings `pause_writing`,
/// and every one arrives.
#[tokio::test]
async fn empty_datagrams_count_towards_the_high_water_mark() {
    let (queued, received) = flood_a_paused_receiver("dgram-empty", 64, 200, |_| Vec::new()).await;
    assert!(queued > 64, "the kernel took them all: {queued}");
    assert_eq!(queued % 8, 0, "8 bytes a datagram, nothing else");
    assert!(received.iter().all(Bytes::is_empty));
}

/// Linux's abstract namespace: a name, no file; the sender's name is
/// reported and can be answered.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn abstract_names_are_reported_and_answered() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("dgram-abstract");
    let server_path = dir.path("server.sock");
    let name = format!("aioproto-it-{}-abstract", std::process::id());
    let with_nul = [b"\0".as_slice(), name.as_bytes()].concat();
    let client_name = Path::new(std::ffi::OsStr::from_bytes(&with_nul));
    let options = DatagramOptions::new();
    let (server, mut server_rx) = endpoint(true, Some(&server_path), None, &options)
        .await
        .unwrap();
    let (client, mut client_rx) = endpoint(false, Some(client_name), Some(&server_path), &options)
        .await
        .unwrap();
    let me = UnixDatagramAddr::Abstract(name.into_bytes());
    assert_eq!(client.sockname(), Some(me.clone()));
    client.sendto("hi", None).unwrap();
    assert_eq!(next(&mut server_rx).await, Ev::Dgram("hi".into(), me));
    assert_eq!(
        next(&mut client_rx).await,
        Ev::Dgram("hi".into(), UnixDatagramAddr::from(&server_path))
    );
    close(&client, &mut client_rx).await;
    close(&server, &mut server_rx).await;
}

/// A bound socket made elsewhere serves as one the endpoint bound, except
/// that its file stays: it is the caller's.
#[tokio::test]
async fn a_bound_std_socket_serves_and_its_file_stays() {
    let dir = TempDir::new("dgram-std-bound");
    let (server_path, client_path) = (dir.path("server.sock"), dir.path("client.sock"));
    let socket = std::os::unix::net::UnixDatagram::bind(&server_path).unwrap();
    let (server, mut server_rx) = endpoint_from_std(true, socket, &DatagramOptions::new()).unwrap();
    assert_eq!(next(&mut server_rx).await, Ev::Made);
    assert_eq!(
        server.sockname(),
        Some(UnixDatagramAddr::from(&server_path))
    );
    assert_eq!(server.peername(), None);
    let (client, mut client_rx) = endpoint(
        false,
        Some(&client_path),
        Some(&server_path),
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    client.sendto("ping", None).unwrap();
    assert_eq!(
        next(&mut server_rx).await,
        Ev::Dgram("ping".into(), UnixDatagramAddr::from(&client_path))
    );
    assert_eq!(
        next(&mut client_rx).await,
        Ev::Dgram("ping".into(), UnixDatagramAddr::from(&server_path))
    );
    close(&server, &mut server_rx).await;
    close(&client, &mut client_rx).await;
    assert!(server_path.exists(), "the caller's socket file was removed");
    assert!(!client_path.exists());
}

/// One half of a `socketpair()` is connected to an unnamed peer:
/// `sendto(data, None)` reaches it, another address is refused, and what
/// the peer sends arrives from `Unnamed`.
#[tokio::test]
async fn a_socketpair_half_talks_to_its_unnamed_peer() {
    let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let (t, mut rx) = endpoint_from_std(false, ours, &DatagramOptions::new()).unwrap();
    assert_eq!(next(&mut rx).await, Ev::Made);
    theirs.set_nonblocking(true).unwrap();
    let theirs = tokio::net::UnixDatagram::from_std(theirs).unwrap();

    t.sendto("to the peer", None).unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(support::TIMEOUT, theirs.recv(&mut buf))
        .await
        .expect("the peer got nothing")
        .unwrap();
    assert_eq!(&buf[..n], b"to the peer");
    let err = t
        .sendto("x", Some(UnixDatagramAddr::from("/elsewhere.sock")))
        .unwrap_err();
    assert!(err.to_string().contains("must be None or"), "{err}");

    theirs.send(b"back").await.unwrap();
    assert_eq!(
        next(&mut rx).await,
        Ev::Dgram("back".into(), UnixDatagramAddr::Unnamed)
    );
    close(&t, &mut rx).await;
}

/// A socket made elsewhere takes no socket options, and must be a Unix
/// datagram socket: the error says what is wrong and no callback runs.
#[tokio::test]
async fn a_std_socket_refuses_options_and_other_kinds() {
    use std::os::fd::OwnedFd;
    use std::os::unix::net::{UnixDatagram, UnixStream};

    let mut options = DatagramOptions::new();
    options.cleanup_socket(false);
    let (socket, _peer) = UnixDatagram::pair().unwrap();
    let err = endpoint_from_std(false, socket, &options).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("cleanup_socket"), "{err}");

    let (stream, _peer) = UnixStream::pair().unwrap();
    let not_datagram = UnixDatagram::from(OwnedFd::from(stream));
    let err = endpoint_from_std(false, not_datagram, &DatagramOptions::new()).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert!(
        err.to_string()
            .contains("Unix datagram socket was expected"),
        "{err}"
    );

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let not_unix = UnixDatagram::from(OwnedFd::from(udp));
    let (rec, mut rx) = Rec::<UnixDatagramAddr>::new(false);
    let err =
        create_unix_datagram_endpoint_from_std(move || rec, not_unix, &DatagramOptions::new())
            .unwrap_err();
    assert!(
        err.to_string()
            .contains("Unix datagram socket was expected"),
        "{err}"
    );
    assert!(rx.try_recv().is_err(), "a callback ran");
}
