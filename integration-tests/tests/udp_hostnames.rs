//! `create_datagram_endpoint` with host names, resolved like asyncio:
//! `localhost` to bind and to connect, the family option, and errors that
//! name the host.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use aioproto::{AddressFamily, DatagramOptions, Error, create_datagram_endpoint};
use support::datagram::{Ev, Rec, next};
use support::with_timeout_of;

/// The family of `addr`, for the option.
fn family_of(addr: SocketAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::Ipv4
    } else {
        AddressFamily::Ipv6
    }
}

/// A server bound by name, a client connected by name: the echo comes back
/// from the server's address, and both ends are on loopback.
#[tokio::test]
async fn localhost_binds_and_connects_by_name() {
    let (server, mut server_rx) = Rec::<SocketAddr>::new(true);
    let (server_t, _) =
        create_datagram_endpoint(move || server, "localhost:0", None, &DatagramOptions::new())
            .await
            .unwrap();
    let bound = server_t.sockname().unwrap();
    assert!(bound.ip().is_loopback(), "{bound}");
    assert_ne!(bound.port(), 0);

    // localhost may resolve to both families; the server holds one of them.
    let mut options = DatagramOptions::new();
    options.family(family_of(bound));
    let (client, mut client_rx) = Rec::<SocketAddr>::new(false);
    let (client_t, _) =
        create_datagram_endpoint(move || client, None, ("localhost", bound.port()), &options)
            .await
            .unwrap();
    assert_eq!(client_t.peername(), Some(bound));
    assert_eq!(client_t.remote_addr(), Some(bound));
    assert_eq!(next(&mut server_rx).await, Ev::Made);
    assert_eq!(next(&mut client_rx).await, Ev::Made);

    client_t.sendto("hello by name", None).unwrap();
    let me = client_t.sockname().unwrap();
    assert_eq!(
        next(&mut server_rx).await,
        Ev::Dgram("hello by name".into(), me)
    );
    assert_eq!(
        next(&mut client_rx).await,
        Ev::Dgram("hello by name".into(), bound)
    );
    client_t.close();
    server_t.close();
    assert_eq!(next(&mut client_rx).await, Ev::Lost(None));
    assert_eq!(next(&mut server_rx).await, Ev::Lost(None));
}

/// Both sides named: the pair comes from one family, so the local address
/// is of the remote's family.
#[tokio::test]
async fn local_and_remote_names_pair_within_one_family() {
    let (server, _server_rx) = Rec::<SocketAddr>::new(true);
    let mut v4 = DatagramOptions::new();
    v4.family(AddressFamily::Ipv4);
    let (server_t, _) = create_datagram_endpoint(move || server, "localhost:0", None, &v4)
        .await
        .unwrap();
    let port = server_t.sockname().unwrap().port();
    let (client, mut client_rx) = Rec::<SocketAddr>::new(false);
    let remote = format!("localhost:{port}");
    let (client_t, _) = create_datagram_endpoint(move || client, "localhost:0", &remote, &v4)
        .await
        .unwrap();
    let local = client_t.sockname().unwrap();
    assert!(local.is_ipv4() && local.ip().is_loopback(), "{local}");
    assert_eq!(client_t.peername(), server_t.sockname());
    assert_eq!(next(&mut client_rx).await, Ev::Made);
    client_t.sendto("x", None).unwrap();
    assert_eq!(
        next(&mut client_rx).await,
        Ev::Dgram("x".into(), server_t.sockname().unwrap())
    );
    client_t.close();
    server_t.close();
}

/// A name that cannot resolve (`.invalid` never does, RFC 6761) is an I/O
/// error whose text names the host; no callback runs.
#[tokio::test]
async fn an_unresolvable_host_is_an_error_naming_it() {
    for (local, remote) in [
        ("no-such-host.invalid:0", None),
        ("127.0.0.1:0", Some("no-such-host.invalid:53")),
    ] {
        let (rec, mut rx) = Rec::<SocketAddr>::new(false);
        let options = DatagramOptions::new();
        let made = async {
            match remote {
                None => create_datagram_endpoint(move || rec, local, None, &options).await,
                Some(remote) => {
                    create_datagram_endpoint(move || rec, local, remote, &options).await
                }
            }
        };
        // The resolver may ask a DNS server before it gives up.
        let err = with_timeout_of(Duration::from_secs(60), made)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no-such-host.invalid"), "{text}");
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        assert!(rx.try_recv().is_err(), "no callback ran");
    }
}

/// Malformed `HOST:PORT` strings, a family nothing resolves to, and the
/// Unix-only option are refused before any socket exists.
#[tokio::test]
async fn bad_arguments_are_refused() {
    let options = DatagramOptions::new();
    for bad in ["localhost", "localhost:port", "localhost:65536", ":9"] {
        let (rec, _rx) = Rec::<SocketAddr>::new(false);
        let err = create_datagram_endpoint(move || rec, bad, None, &options)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{bad}: {err}");
    }
    let mut v6 = DatagramOptions::new();
    v6.family(AddressFamily::Ipv6);
    let (rec, _rx) = Rec::<SocketAddr>::new(false);
    let err = create_datagram_endpoint(move || rec, "127.0.0.1:0", None, &v6)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no Ipv6 address"), "{err}");

    let mut cleanup = DatagramOptions::new();
    cleanup.cleanup_socket(false);
    let (rec, _rx) = Rec::<SocketAddr>::new(false);
    let err = create_datagram_endpoint(move || rec, "127.0.0.1:0", None, &cleanup)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cleanup_socket"), "{err}");
}

/// A name whose first address cannot bind: the next pair is tried. Here the
/// port is taken on 127.0.0.1, so binding `localhost` with that port works
/// only where localhost also has ::1; where it has not, the error is the
/// bind's, naming the address.
#[tokio::test]
async fn a_pair_that_fails_to_bind_gives_way_to_the_next() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let v6_free = std::net::UdpSocket::bind(("::1", port)).is_ok();
    let resolves_v6 = tokio::net::lookup_host(("localhost", port))
        .await
        .unwrap()
        .any(|a| a.is_ipv6());
    let (rec, _rx) = Rec::<SocketAddr>::new(false);
    let made = create_datagram_endpoint(
        move || rec,
        ("localhost", port),
        None,
        &DatagramOptions::new(),
    )
    .await;
    match made {
        Ok((t, _)) => {
            assert!(v6_free && resolves_v6);
            assert!(t.sockname().unwrap().is_ipv6());
            t.close();
        }
        Err(err) => {
            assert!(!(v6_free && resolves_v6), "{err}");
            assert!(err.to_string().contains("bind"), "{err}");
        }
    }
}
