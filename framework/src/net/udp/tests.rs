use std::net::SocketAddr;

use super::driver::MAX_PASSES_BEFORE_YIELD;
use super::*;

#[derive(Debug)]
struct Quiet;
impl DatagramProtocol for Quiet {}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().unwrap())
}

#[tokio::test]
async fn connected_endpoint_rejects_other_addresses() {
    let (t, _) =
        create_datagram_endpoint(|| Quiet, None, addr("127.0.0.1:9"), &DatagramOptions::new())
            .await
            .unwrap();
    let err = t.sendto("x", addr("127.0.0.1:1")).unwrap_err();
    assert!(
        err.to_string().contains("must be None or 127.0.0.1:9"),
        "{err}"
    );
    assert!(t.sendto("x", addr("127.0.0.1:9")).is_ok());
    assert_eq!(t.peername(), addr("127.0.0.1:9"));
    t.abort();
}

#[tokio::test]
async fn unconnected_endpoint_needs_an_address() {
    let (t, _) =
        create_datagram_endpoint(|| Quiet, addr("127.0.0.1:0"), None, &DatagramOptions::new())
            .await
            .unwrap();
    assert!(matches!(
        t.sendto("x", None),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(t.peername(), None);
    t.close();
    assert!(t.is_closing());
    // After close: dropped silently, no error.
    for _ in 0..6 {
        assert!(t.sendto("x", t.sockname()).is_ok());
    }
}

#[tokio::test]
async fn argument_validation() {
    let options = DatagramOptions::new();
    let err = create_datagram_endpoint(|| Quiet, None, None, &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("address family"), "{err}");
    let err = create_datagram_endpoint(|| Quiet, addr("127.0.0.1:0"), addr("[::1]:9"), &options)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("different address families"),
        "{err}"
    );

    let mut opts = DatagramOptions::new();
    opts.reuse_port(true).allow_broadcast(true);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = create_datagram_endpoint_from_std(|| Quiet, sock, &opts).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("reuse_port") && text.contains("allow_broadcast"),
        "{text}"
    );
}

#[tokio::test]
async fn limits_follow_asyncio() {
    let (t, _) =
        create_datagram_endpoint(|| Quiet, addr("127.0.0.1:0"), None, &DatagramOptions::new())
            .await
            .unwrap();
    assert_eq!(t.get_write_buffer_limits(), (16384, 65536));
    assert!(t.set_write_buffer_limits(Some(1), Some(2)).is_err());
    t.set_write_buffer_limits(None, Some(10)).unwrap();
    assert_eq!(t.get_write_buffer_limits(), (10, 40));
    assert_eq!(t.get_write_buffer_size(), 0);
    t.abort();
}

#[derive(Debug)]
struct PanicOnMade(std::sync::mpsc::Sender<Option<String>>);
impl DatagramProtocol for PanicOnMade {
    fn connection_made(&mut self, _: &DatagramTransport) {
        panic!("made went wrong");
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = self.0.send(exc.map(|e| e.to_string()));
    }
}

#[tokio::test]
async fn panic_in_connection_made_is_an_error_after_connection_lost() {
    let (tx, rx) = std::sync::mpsc::channel();
    let err = create_datagram_endpoint(
        move || PanicOnMade(tx),
        addr("127.0.0.1:0"),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap_err();
    assert!(err.is_panic(), "{err}");
    // connection_lost already ran, with the same error.
    let lost = rx.try_recv().unwrap().unwrap();
    assert!(lost.contains("made went wrong"), "{lost}");
}

/// Counts datagrams into a shared counter.
struct Count(Arc<std::sync::atomic::AtomicUsize>);

impl DatagramProtocol for Count {
    fn datagram_received(&mut self, _: Bytes, _: SocketAddr) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Bounded work per poll: with more datagrams already queued in the kernel
/// than the driver takes in one go, another task on the same single-threaded
/// runtime runs before the driver has drained them. Without the yield it would
/// see every datagram delivered first: `try_recv` never returns Pending while
/// data is queued.
#[tokio::test(flavor = "current_thread")]
async fn a_full_socket_does_not_keep_other_tasks_from_running() {
    use std::sync::atomic::Ordering::Relaxed;
    const QUEUED: usize = 3 * MAX_PASSES_BEFORE_YIELD;
    let limit = std::time::Duration::from_secs(5);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = socket.local_addr().unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = count.clone();
    let (transport, _) =
        create_datagram_endpoint_from_std(move || Count(counter), socket, &DatagramOptions::new())
            .unwrap();
    let wait_for = |n: usize| {
        let count = count.clone();
        tokio::time::timeout(limit, async move {
            while count.load(Relaxed) < n {
                tokio::task::yield_now().await;
            }
        })
    };
    // One datagram first, so the driver is parked on a socket tokio knows is live.
    sender.send_to(b"x", to).unwrap();
    wait_for(1).await.expect("the first datagram arrives");

    for _ in 0..QUEUED {
        sender.send_to(b"x", to).unwrap();
    }
    // yield_now runs this task again only after the I/O driver was polled, so
    // the endpoint's driver wakes and runs first; it must yield part-way.
    let seen = tokio::spawn({
        let count = count.clone();
        async move {
            tokio::task::yield_now().await;
            count.load(Relaxed)
        }
    });
    let seen = tokio::time::timeout(limit, seen).await.unwrap().unwrap();
    assert!(
        seen > 1 && seen <= 1 + MAX_PASSES_BEFORE_YIELD,
        "the other task ran after {seen} datagrams"
    );
    wait_for(1 + QUEUED)
        .await
        .expect("every queued datagram is delivered in the end");
    transport.close();
}
