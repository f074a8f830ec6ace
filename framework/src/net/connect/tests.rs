use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn interleave_alternates_families() {
    let addrs = vec![
        addr("[::1]:1"),
        addr("[::2]:1"),
        addr("127.0.0.1:1"),
        addr("127.0.0.2:1"),
    ];
    let out = interleave_families(addrs.clone(), 1);
    assert_eq!(out, vec![addrs[0], addrs[2], addrs[1], addrs[3]]);
    let out = interleave_families(addrs.clone(), 2);
    assert_eq!(out, vec![addrs[0], addrs[1], addrs[2], addrs[3]]);
    assert_eq!(interleave_families(addrs.clone(), 0), addrs);
}

#[test]
fn identical_errors_collapse() {
    let same = vec![Error::Closed("x"), Error::Closed("x")];
    assert!(matches!(aggregate(same), Error::Closed("x")));
    let different = vec![Error::Closed("x"), Error::Closed("y")];
    assert!(matches!(aggregate(different), Error::MultipleErrors(v) if v.len() == 2));
}

/// A port with nothing listening on it.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A listener whose accept queue is full: connects to it hang (SYNs dropped).
fn black_hole() -> (socket2::Socket, std::net::TcpStream, SocketAddr) {
    let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    l.bind(&addr("127.0.0.1:0").into()).unwrap();
    l.listen(0).unwrap();
    let a = l.local_addr().unwrap().as_socket().unwrap();
    let filler = std::net::TcpStream::connect(a).unwrap();
    (l, filler, a)
}

/// T23: two addresses failing with different messages give
/// `MultipleErrors` with one error per address, in order; identical ones
/// collapse to the first (over real sockets, without a resolver). Each
/// message names its address, as asyncio's "Connect call failed (addr)" does,
/// so only failures of the same address are identical.
#[tokio::test]
async fn t23_errors_from_several_addresses_are_aggregated() {
    let refused = addr(&format!("127.0.0.1:{}", closed_port()));
    let err = connect_any(vec![refused, refused], &ConnectOptions::new())
        .await
        .unwrap_err();
    assert_eq!(
        err.io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "identical messages collapse: {err}"
    );
    assert!(err.to_string().contains(&refused.to_string()), "{err}");

    // An IPv6 target with an IPv4 local address fails to bind: a different error.
    let mut options = ConnectOptions::new();
    options.local_addr(addr("127.0.0.1:0"));
    let v6 = addr(&format!("[::1]:{}", closed_port()));
    let err = connect_any(vec![refused, v6], &options).await.unwrap_err();
    match &err {
        Error::MultipleErrors(errors) => {
            assert_eq!(errors.len(), 2);
            assert_eq!(
                errors[0].io_kind(),
                Some(std::io::ErrorKind::ConnectionRefused)
            );
            assert!(
                errors[1].to_string().contains("127.0.0.1:0"),
                "{}",
                errors[1]
            );
        }
        other => panic!("expected MultipleErrors, got {other:?}"),
    }
    assert!(
        err.to_string().starts_with("multiple exceptions: "),
        "{err}"
    );
}

/// Happy Eyeballs: with a delay, a first address that hangs does not block
/// the second; without it, addresses are tried one after another.
#[tokio::test]
async fn happy_eyeballs_starts_the_next_address_after_the_delay() {
    let (_l, _filler, hole) = black_hole();
    let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_addr = live.local_addr().unwrap();

    let sequential = tokio::time::timeout(
        Duration::from_millis(300),
        connect_any(vec![hole, live_addr], &ConnectOptions::new()),
    )
    .await;
    assert!(sequential.is_err(), "one at a time waits on the black hole");

    let mut options = ConnectOptions::new();
    options.happy_eyeballs_delay(Duration::from_millis(50));
    let started = std::time::Instant::now();
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        connect_any(vec![hole, live_addr], &options),
    )
    .await
    .expect("happy eyeballs does not wait for the black hole")
    .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), live_addr);
    assert!(started.elapsed() >= Duration::from_millis(45));
}

/// Happy Eyeballs: a failure starts the next address at once, without
/// waiting for the delay.
#[tokio::test]
async fn happy_eyeballs_failure_starts_the_next_at_once() {
    let refused = addr(&format!("127.0.0.1:{}", closed_port()));
    let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let live_addr = live.local_addr().unwrap();
    let mut options = ConnectOptions::new();
    options.happy_eyeballs_delay(Duration::from_secs(30));
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        connect_any(vec![refused, live_addr], &options),
    )
    .await
    .expect("no 30 s wait after a refusal")
    .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), live_addr);
}
