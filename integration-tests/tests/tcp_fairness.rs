//! Contract 14 over real sockets: a connection whose peer never stops
//! sending cannot keep the other connections on its thread from being
//! served. Plain TCP reads try first and so never meet tokio's cooperative
//! budget while data is there; the driver's own bound on passes per poll is
//! what makes it yield.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server_from_std};
use bytes::Bytes;

/// Answers `ping` with `pong`; anything else is a flood it works on for a
/// quarter of a millisecond per read, long enough for the flooding peer to
/// keep a whole read's worth waiting at every pass.
#[derive(Default)]
struct Busy {
    transport: Option<Transport>,
}

impl BaseProtocol for Busy {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
}

impl Protocol for Busy {
    fn data_received(&mut self, data: Bytes) {
        if data.starts_with(b"ping") {
            if let Some(transport) = &self.transport {
                transport.write("pong");
            }
        } else {
            // Stands for the work a real protocol does per read.
            std::thread::sleep(Duration::from_micros(250));
        }
    }
}

/// A listener whose connections take 4 MiB before the peer must wait (the
/// accepted sockets inherit it): with the default ~96 KiB, every second read
/// comes back short and the driver stops at the readiness check anyway.
fn roomy_listener() -> std::net::TcpListener {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4 * 1024 * 1024).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(16).unwrap();
    socket.set_nonblocking(true).unwrap();
    socket.into()
}

/// Runs the server on its own current-thread runtime, so a driver that never
/// yields would starve this thread only, and the test's own waits (blocking
/// reads with a timeout) still end.
fn serve() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    let listener = roomy_listener();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let server =
                create_server_from_std(Busy::default, listener, &ServerOptions::new()).unwrap();
            tx.send(server.local_addrs()[0]).unwrap();
            let _ = server.serve_forever().await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("server up")
}

#[test]
fn a_peer_that_never_stops_sending_does_not_starve_its_neighbours() {
    let addr = serve();
    let stop = Arc::new(AtomicBool::new(false));
    let (flooding_tx, flooding) = mpsc::channel();
    let flood_stop = stop.clone();
    let flooder = std::thread::spawn(move || {
        let mut flood = TcpStream::connect(addr).unwrap();
        flood
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0usize;
        while !flood_stop.load(Ordering::Relaxed) {
            if flood.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
            // Past what the kernel's buffers hold: the server is reading it.
            if sent == 16 * 1024 * 1024 {
                let _ = flooding_tx.send(());
            }
        }
    });
    flooding
        .recv_timeout(Duration::from_secs(30))
        .expect("the flood is under way");

    let mut neighbour = TcpStream::connect(addr).unwrap();
    // tokio's current-thread scheduler looks for I/O events every 61 task
    // polls, and the flood's driver takes 64 passes per poll: the answer
    // takes a second or so. Without the bound it never comes.
    neighbour
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    neighbour.write_all(b"ping").unwrap();
    let mut answer = [0u8; 4];
    let answered = neighbour.read_exact(&mut answer);
    stop.store(true, Ordering::Relaxed);
    answered.expect("the neighbour is answered while the flood goes on");
    assert_eq!(&answer, b"pong");
    flooder.join().unwrap();
}
