//! Bounded work per poll, end to end: a UDP flood and a TCP echo client on one
//! single-threaded loop. The flood must not stop the TCP round trips.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use aioproto::{DatagramOptions, DatagramProtocol, create_datagram_endpoint};
use bytes::Bytes;
use support::*;

struct Count(Arc<AtomicUsize>);

impl DatagramProtocol for Count {
    fn datagram_received(&mut self, _: Bytes, _: SocketAddr) {
        self.0.fetch_add(1, Relaxed);
    }
}

/// Two threads flood a UDP endpoint while a TCP client on the same
/// current-thread loop makes 200 echo round trips, each of which must finish
/// within 2 s. The flood is bounded in time and stops when the client is done.
#[tokio::test(flavor = "current_thread")]
async fn tcp_round_trips_go_on_during_a_udp_flood() {
    init_tracing();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let (udp, _) = create_datagram_endpoint(
        move || Count(counter),
        Some("127.0.0.1:0".parse().unwrap()),
        None,
        &DatagramOptions::new(),
    )
    .await
    .unwrap();
    let target = udp.sockname().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let deadline = std::time::Instant::now() + Duration::from_secs(20);
                let payload = [0u8; 512];
                while !stop.load(Relaxed) && std::time::Instant::now() < deadline {
                    let _ = socket.send_to(&payload, target);
                }
            })
        })
        .collect();
    // The flood is under way before the first round trip.
    with_timeout(async {
        while received.load(Relaxed) < 1000 {
            tokio::task::yield_now().await;
        }
    })
    .await;

    let (server, addr) = echo_server().await;
    let mut client = raw_connect(addr).await;
    for i in 0..200u32 {
        let message = format!("round trip {i:>5}");
        let echoed = with_timeout_of(Duration::from_secs(2), async {
            raw_write(&mut client, message.as_bytes()).await;
            read_exact(&mut client, message.len()).await
        })
        .await;
        assert_eq!(echoed, message.as_bytes());
    }
    let during = received.load(Relaxed);
    stop.store(true, Relaxed);
    for flooder in flooders {
        flooder.join().unwrap();
    }
    assert!(
        during > 1000,
        "the flood was delivered meanwhile ({during})"
    );
    udp.close();
    server.close();
}
