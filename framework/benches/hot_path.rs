//! Micro-benchmarks of the hot path through the public API: a write queued
//! and flushed by the real driver, and one chunk dispatched to a protocol
//! that echoes it, over the in-memory test connection (no sockets, so the
//! figure is the framework's own cost). `make bench` compares whole servers
//! against raw tokio; these help see which part a change moved.

use aioproto::testing::TestConnection;
use aioproto::{BaseProtocol, Bytes, Protocol, Transport};
use criterion::{Criterion, criterion_group, criterion_main};

/// Echoes every chunk back.
#[derive(Default)]
struct Echo(Option<Transport>);

impl BaseProtocol for Echo {
    fn connection_made(&mut self, t: &Transport) {
        self.0 = Some(t.clone());
    }
}
impl Protocol for Echo {
    fn data_received(&mut self, data: Bytes) {
        if let Some(t) = &self.0 {
            t.write(data);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime")
}

/// `Transport::write` of 1 KiB, then the driver's flush into the peer.
fn write_and_flush(c: &mut Criterion) {
    let rt = runtime();
    let (conn, _) = rt.block_on(async { TestConnection::start(Echo::default()) });
    let chunk = Bytes::from(vec![b'w'; 1024]);
    c.bench_function("write 1 KiB + flush", |b| {
        b.iter(|| {
            rt.block_on(async {
                conn.transport().write(chunk.clone());
                conn.settle().await;
                conn.take_written()
            })
        });
    });
}

/// One 1 KiB chunk read, dispatched to `data_received`, echoed and flushed.
fn dispatch_echo(c: &mut Criterion) {
    let rt = runtime();
    let (conn, _) = rt.block_on(async { TestConnection::start(Echo::default()) });
    let chunk = Bytes::from(vec![b'd'; 1024]);
    c.bench_function("dispatch 1 KiB + echo", |b| {
        b.iter(|| {
            rt.block_on(async {
                conn.feed(chunk.clone());
                conn.settle().await;
                conn.take_written()
            })
        });
    });
}

criterion_group!(benches, write_and_flush, dispatch_echo);
criterion_main!(benches);
