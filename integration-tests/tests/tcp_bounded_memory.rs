//! Bounded memory by default: a server stops reading a connection while its
//! write buffer is over the high-water mark, so an echo server stays small
//! against clients that send and never read, and every byte is still echoed
//! once they read. The opt-out restores asyncio's behaviour.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
use bytes::Bytes;
use support::memory::{ChildServer, answer_dumps, mib, read_stream, write_stream};
use support::*;
use tokio::net::TcpStream;

/// The README's 10-line echo server, as it is.
#[derive(Default)]
struct Echo(Option<Transport>);
impl BaseProtocol for Echo {
    fn connection_made(&mut self, t: &Transport) {
        self.0 = Some(t.clone());
    }
}
impl Protocol for Echo {
    fn data_received(&mut self, data: Bytes) {
        self.0.as_ref().unwrap().write(data);
    }
}

const CHILD: &str = "AIOPROTO_BOUNDED_ECHO_CHILD";
const CLIENTS: usize = 200;
/// 2 GiB in total.
const PER_CLIENT: usize = (2 << 30) / CLIENTS;
const HIGH_WATER: usize = 64 * 1024;
const RSS_LIMIT: u64 = 64 << 20;

/// Child mode: the README server on a runtime like `#[tokio::main]`'s. It
/// prints its port, then (test harness, not server code) `HELD` once every
/// client's connection has more than the high-water mark queued, that is,
/// once every one of them is held.
fn echo_child() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new())
            .await
            .unwrap();
        // Until the parent kills us: what each connection is doing, should
        // the parent find a client stalled.
        let described = server.clone();
        let dumps = tokio::spawn(answer_dumps(move || {
            let mut lines = vec![format!("{}", described.stats())];
            lines.extend(described.connections().iter().map(|t| format!("{t:?}")));
            lines
        }));
        println!("PORT {}", server.local_addrs()[0].port());
        loop {
            let connections = server.connections();
            let buffered: Vec<usize> = connections
                .iter()
                .map(Transport::get_write_buffer_size)
                .collect();
            if buffered.len() == CLIENTS && buffered.iter().all(|&b| b > HIGH_WATER) {
                let total: usize = buffered.iter().sum();
                let max = buffered.iter().max().unwrap();
                println!("HELD total={total} max={max}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = dumps.await;
    });
}

/// Issue 12's target: 200 clients that write and never read push 2 GiB
/// (10 MiB each) into the README's echo server, in a child process. Once
/// every connection is held, the clients start reading: each gets back
/// exactly the bytes it sent. The child's peak RSS (`VmHWM`) stays under
/// 64 MiB.
#[test]
fn non_reading_clients_keep_a_plain_echo_server_under_64_mib() {
    if std::env::var_os(CHILD).is_some() {
        echo_child();
        return;
    }
    init_tracing();
    let began = Instant::now();
    let child = Arc::new(ChildServer::spawn(
        "non_reading_clients_keep_a_plain_echo_server_under_64_mib",
        CHILD,
    ));
    let port: u16 = child.wait_for("PORT ", TIMEOUT).parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (rss_held, held) = runtime.block_on(async {
        let (start_reading, reading) = tokio::sync::watch::channel(false);
        let mut clients = Vec::with_capacity(CLIENTS);
        for client in 0..CLIENTS {
            let stream = with_timeout(connect_with_small_buffers(port)).await;
            let (r, w) = stream.into_split();
            let writer = tokio::spawn(write_stream(w, client, PER_CLIENT));
            let mut reading = reading.clone();
            let reader = tokio::spawn(async move {
                reading.wait_for(|go| *go).await.unwrap();
                read_stream(r, client).await
            });
            clients.push((writer, reader));
        }
        // Everyone writes, nobody reads: every connection ends up held.
        let held = child
            .wait_for_async("HELD ", Duration::from_secs(120))
            .await;
        let rss_held = child.rss();
        start_reading.send(true).unwrap();
        for (client, (writer, reader)) in clients.into_iter().enumerate() {
            // Both at once, so a reader that fails is reported as itself
            // rather than as the writer it leaves stalled.
            let both = async { tokio::try_join!(writer, reader) };
            let Ok(joined) = tokio::time::timeout(Duration::from_secs(120), both).await else {
                let dump = child.dump().join("\n");
                panic!("client {client} stalled for 120 s; the server's connections:\n{dump}");
            };
            let ((), echoed) = joined.unwrap();
            assert_eq!(echoed, PER_CLIENT, "client {client} got all it sent back");
        }
        (rss_held, held)
    });
    let peak = child.peak_rss();
    println!(
        "{CLIENTS} clients x {PER_CLIENT} bytes echoed in {:.1?}; held: {held}; \
         RSS when held {:.1} MiB, peak {:.1} MiB",
        began.elapsed(),
        mib(rss_held),
        mib(peak),
    );
    assert!(
        peak < RSS_LIMIT,
        "peak RSS {:.1} MiB over {} MiB",
        mib(peak),
        RSS_LIMIT >> 20
    );
}

/// A client whose socket buffers are fixed at 128 KiB each way.
///
/// Left to autotune on loopback, 200 clients' and the server's kernel
/// buffers hold about 7 MiB per connection: together past the kernel's TCP
/// memory pressure mark (`net.ipv4.tcp_mem`, about 1.1 GiB on a 24 GiB
/// machine), where it drops segments and backs retransmissions off for
/// tens of seconds, stalling clients for reasons that are not the server's.
/// Small client buffers keep the kernel's share low; the server's own
/// sockets keep their defaults.
async fn connect_with_small_buffers(port: u16) -> TcpStream {
    const BUFFER: u32 = 128 * 1024;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(BUFFER).unwrap();
    socket.set_recv_buffer_size(BUFFER).unwrap();
    socket
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
}

/// The server-side transport of the one connection `server` has.
async fn only_connection(server: &aioproto::Server) -> Transport {
    with_timeout(async {
        loop {
            if let Some(t) = server.connections().pop() {
                return t;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
}

/// Waits (bounded) until every connection of `server` is gone, then checks
/// that its byte counters saw `size` bytes each way.
async fn counted(server: &aioproto::Server, size: usize) {
    with_timeout(async {
        while server.stats().open > 0 {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
    let stats = server.stats();
    assert_eq!(stats.bytes_read, size as u64, "{stats}");
    assert_eq!(stats.bytes_written, size as u64, "{stats}");
}

/// Waits (bounded) until `t`'s write buffer holds more than `n` bytes.
async fn buffered_over(t: &Transport, n: usize) {
    with_timeout(async {
        while t.get_write_buffer_size() <= n {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
}

/// With `pause_reading_on_backpressure(false)` the server reads on while its
/// peer does not read: the echo piles up in the write buffer far past the
/// mark, as in asyncio. Every byte still arrives once the peer reads, and
/// the server's byte counters match what moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opting_out_lets_the_buffer_grow_past_the_mark() {
    init_tracing();
    let mut options = ServerOptions::new();
    options.pause_reading_on_backpressure(false);
    let server = create_server(Echo::default, "127.0.0.1", 0, &options)
        .await
        .unwrap();
    let stream = raw_connect(server.local_addrs()[0]).await;
    let (r, w) = stream.into_split();
    let size = 16 << 20;
    let writer = tokio::spawn(write_stream(w, 1, size));
    let transport = only_connection(&server).await;
    // Far more than the mark plus what one read adds: only a server that
    // reads on while over the mark gets here.
    buffered_over(&transport, 4 << 20).await;
    assert!(!format!("{transport:?}").contains("reading_held: true"));
    assert_eq!(with_timeout(read_stream(r, 1)).await, size);
    with_timeout(writer).await.unwrap();
    counted(&server, size).await;
    server.close();
}

/// By default the same client leaves the server holding at most the mark
/// plus one read, however much it pushes, and everything is echoed once the
/// client reads. The server's byte counters match what moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_buffer_stays_near_the_mark() {
    init_tracing();
    let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new())
        .await
        .unwrap();
    let stream = raw_connect(server.local_addrs()[0]).await;
    let (r, w) = stream.into_split();
    let size = 16 << 20;
    let writer = tokio::spawn(write_stream(w, 2, size));
    let transport = only_connection(&server).await;
    with_timeout(async {
        while !format!("{transport:?}").contains("reading_held: true") {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
    assert!(transport.get_write_buffer_size() > HIGH_WATER);
    assert!(
        transport.is_reading(),
        "is_reading shows the protocol's own pause only"
    );
    // Held: one read of at most 64 KiB took it over the mark.
    assert!(transport.get_write_buffer_size() <= HIGH_WATER + 64 * 1024);
    assert_eq!(with_timeout(read_stream(r, 2)).await, size);
    with_timeout(writer).await.unwrap();
    counted(&server, size).await;
    server.close();
}

/// A client protocol that queues a whole upload in `connection_made` and
/// counts what comes back.
struct Uploader {
    size: usize,
    got: Arc<std::sync::atomic::AtomicUsize>,
    done: Arc<tokio::sync::Notify>,
}
impl BaseProtocol for Uploader {
    fn connection_made(&mut self, t: &Transport) {
        t.write(vec![b'u'; self.size]);
    }
}
impl Protocol for Uploader {
    fn data_received(&mut self, data: Bytes) {
        use std::sync::atomic::Ordering::SeqCst;
        if self.got.fetch_add(data.len(), SeqCst) + data.len() >= self.size {
            self.done.notify_one();
        }
    }
}

/// Both ends aioproto with default options: a client that queues a 16 MiB
/// upload at once to an echo server gets it all back. This is why clients
/// have the hold off by default: with it on at both ends, each would wait
/// for the other to read, for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_queueing_a_large_upload_gets_its_echo() {
    init_tracing();
    let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new())
        .await
        .unwrap();
    let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = Arc::new(tokio::sync::Notify::new());
    let size = 16 << 20;
    let (transport, _) = aioproto::create_connection(
        {
            let (got, done) = (got.clone(), done.clone());
            move || Uploader { size, got, done }
        },
        "127.0.0.1",
        server.local_addrs()[0].port(),
        &aioproto::ConnectOptions::new(),
    )
    .await
    .unwrap();
    with_timeout(done.notified()).await;
    assert_eq!(got.load(std::sync::atomic::Ordering::SeqCst), size);
    transport.close();
    server.close();
}

/// A client can opt in: one that echoes what a server pushes at it, to a
/// server that does not read, holds near its mark too; everything comes back
/// once the server reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_can_opt_in() {
    init_tracing();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut options = aioproto::ConnectOptions::new();
    options.pause_reading_on_backpressure(true);
    let (transport, _) = aioproto::create_connection(Echo::default, "127.0.0.1", port, &options)
        .await
        .unwrap();
    let (peer, _) = with_timeout(listener.accept()).await.unwrap();
    let (r, w) = peer.into_split();
    let size = 16 << 20;
    let writer = tokio::spawn(write_stream(w, 3, size));
    with_timeout(async {
        while !format!("{transport:?}").contains("reading_held: true") {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
    assert!(transport.get_write_buffer_size() <= HIGH_WATER + 64 * 1024);
    assert_eq!(with_timeout(read_stream(r, 3)).await, size);
    with_timeout(writer).await.unwrap();
}
