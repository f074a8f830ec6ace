//! Bounded memory over TLS: one client that sends and never reads keeps a
//! TLS echo server (the README's protocol, TLS on) small, and gets every byte
//! back once it reads.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aioproto::{BaseProtocol, Protocol, ServerOptions, ServerTls, Transport, create_server};
use bytes::Bytes;
use support::memory::{ChildServer, mib, read_stream, write_stream};
use support::pki::Pki;
use support::*;

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

/// Holds the test PKI's directory in child mode.
const CHILD: &str = "AIOPROTO_TLS_BOUNDED_ECHO_CHILD";
/// The TLS transport's default high-water mark.
const TLS_HIGH_WATER: usize = 512 * 1024;
const SIZE: usize = 512 << 20;
const RSS_LIMIT: u64 = 32 << 20;

/// Child mode: the README server with TLS on. Prints its port, then `HELD`
/// (test harness, not server code) once its one connection has more than
/// the high-water mark queued.
fn tls_echo_child(pki_dir: PathBuf) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let tls =
            ServerTls::from_pem(pki_dir.join("server.pem"), pki_dir.join("server.key")).unwrap();
        let mut options = ServerOptions::new();
        options.tls(tls);
        let server = create_server(Echo::default, "127.0.0.1", 0, &options)
            .await
            .unwrap();
        println!("PORT {}", server.local_addrs()[0].port());
        loop {
            if let Some(t) = server.connections().pop()
                && t.get_write_buffer_size() > TLS_HIGH_WATER
            {
                println!("HELD buffered={}", t.get_write_buffer_size());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // The parent kills us; this only guards against a lost parent.
        tokio::time::sleep(Duration::from_secs(300)).await;
    });
}

/// Issue 12's TLS target: a non-reading TLS client pushes 512 MiB at the
/// server in a child process (before the hold, 512 MiB took it to 512 MiB
/// RSS in 1.5 s). Once the connection is held, the client reads and gets
/// every byte back; the child's peak RSS stays under 32 MiB.
#[test]
fn a_non_reading_tls_client_keeps_the_echo_server_under_32_mib() {
    if let Some(dir) = std::env::var_os(CHILD) {
        tls_echo_child(dir.into());
        return;
    }
    init_tracing();
    let began = Instant::now();
    let pki = Pki::new();
    let child = Arc::new(ChildServer::spawn_with(
        "a_non_reading_tls_client_keeps_the_echo_server_under_32_mib",
        CHILD,
        pki.dir().to_str().unwrap(),
    ));
    let port: u16 = child.wait_for("PORT ", TIMEOUT).parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (rss_held, held) = runtime.block_on(async {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = with_timeout(pki.raw_connect(addr)).await;
        let (r, w) = tokio::io::split(stream);
        let writer = tokio::spawn(write_stream(w, 0, SIZE));
        let held = child
            .wait_for_async("HELD ", Duration::from_secs(120))
            .await;
        let rss_held = child.rss();
        let echoed = with_timeout_of(Duration::from_secs(120), read_stream(r, 0)).await;
        assert_eq!(echoed, SIZE, "every byte sent came back");
        with_timeout(writer).await.unwrap();
        (rss_held, held)
    });
    let peak = child.peak_rss();
    println!(
        "{SIZE} bytes echoed over TLS in {:.1?}; held: {held}; RSS when held {:.1} MiB, \
         peak {:.1} MiB",
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

/// The byte counters of a TLS server count plaintext: a client that sends
/// 1 MiB and reads it back leaves `bytes_read == bytes_written == 1 MiB`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_byte_counters_count_plaintext() {
    init_tracing();
    let pki = Pki::new();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let server = create_server(Echo::default, "127.0.0.1", 0, &options)
        .await
        .unwrap();
    let stream = with_timeout(pki.raw_connect(server.local_addrs()[0])).await;
    let (r, w) = tokio::io::split(stream);
    let size = 1 << 20;
    let writer = tokio::spawn(write_stream(w, 7, size));
    assert_eq!(with_timeout(read_stream(r, 7)).await, size);
    with_timeout(writer).await.unwrap();
    with_timeout(async {
        while server.stats().open > 0 {
            tokio::time::sleep(ms(5)).await;
        }
    })
    .await;
    let stats = server.stats();
    assert_eq!(
        (stats.bytes_read, stats.bytes_written),
        (size as u64, size as u64),
        "{stats}"
    );
    server.close();
}
