//! Async protocols over TCP: order under pipelined input, bounded buffering.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aioproto::{
    AsyncAdapter, AsyncProtocol, ServerOptions, Transport, create_server, open_connection,
};
use bytes::Bytes;

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

/// Echoes each chunk after an await; records the largest chunk it was handed.
struct SlowEcho {
    transport: Option<Transport>,
    largest: Arc<AtomicUsize>,
    calls: usize,
}

#[async_trait::async_trait]
impl AsyncProtocol for SlowEcho {
    async fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    async fn data_received(&mut self, data: Bytes) {
        self.largest.fetch_max(data.len(), Ordering::Relaxed);
        self.calls += 1;
        if self.calls.is_multiple_of(8) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        } else {
            tokio::task::yield_now().await;
        }
        self.transport.as_ref().unwrap().write(data);
    }
    async fn eof_received(&mut self) -> bool {
        self.transport.as_ref().unwrap().write("bye\n");
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_lines_come_back_in_order() {
    let largest = Arc::new(AtomicUsize::new(0));
    let seen = largest.clone();
    let server = create_server(
        move || {
            AsyncAdapter::new(SlowEcho {
                transport: None,
                largest: seen.clone(),
                calls: 0,
            })
        },
        "127.0.0.1",
        0,
        &ServerOptions::new(),
    )
    .await
    .unwrap();
    let port = server.local_addrs()[0].port();
    let (r, w) = open_connection("127.0.0.1", port).await.unwrap();
    let lines: Vec<String> = (0..20_000).map(|i| format!("request {i}\n")).collect();
    // Everything at once: the server must keep order while awaiting per chunk.
    w.write(lines.concat());
    w.write_eof().unwrap();
    for line in &lines {
        assert_eq!(bounded(r.readline()).await.unwrap(), line.as_bytes());
    }
    assert_eq!(bounded(r.readline()).await.unwrap(), "bye\n");
    assert_eq!(bounded(r.read_all()).await.unwrap(), "");
    // One read's worth at a time, never the whole 250 KB backlog.
    assert!(largest.load(Ordering::Relaxed) <= 64 * 1024);
    server.close();
}
