//! Driver tests without sockets: a [`StreamIo`] whose write side is an
//! in-memory sink with a controllable capacity (so "the kernel buffer is full"
//! is exact), and whose read side is a tokio duplex pipe.

use std::io::IoSlice;
use std::sync::{Arc, Mutex};
use std::task::Waker;

use bytes::Bytes;
use tokio::io::{AsyncWriteExt, DuplexStream};

use super::*;
use crate::error::Error;
use crate::net::tcp::tcp_io;
use crate::transport::dispatch::IntoHandler;
use crate::transport::io::poll_read_into_slice;
use crate::transport::protocol::{BaseProtocol, Protocol};
use crate::transport::start::{ConnectionConfig, MadeOn, Settings, start_connection};
use crate::transport::{Capabilities, ExtraInfo, SocketOptions};
use tokio::net::TcpStream;

/// The write side: everything the driver wrote, how, and how much more fits.
#[derive(Default)]
struct Sink {
    data: Vec<u8>,
    /// Slices handed to each `poll_write_vectored` call that wrote something.
    calls: Vec<usize>,
    /// Bytes the "kernel" still accepts.
    room: usize,
    eof: bool,
    waker: Option<Waker>,
}

#[derive(Clone, Default)]
struct SinkHandle(Arc<Mutex<Sink>>);

impl SinkHandle {
    fn with_room(room: usize) -> Self {
        let h = SinkHandle::default();
        h.0.lock().unwrap().room = room;
        h
    }
    /// Lets `n` more bytes in, like a peer reading.
    fn grant(&self, n: usize) {
        let waker = {
            let mut s = self.0.lock().unwrap();
            s.room += n;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
    fn data(&self) -> Vec<u8> {
        self.0.lock().unwrap().data.clone()
    }
    fn calls(&self) -> Vec<usize> {
        self.0.lock().unwrap().calls.clone()
    }
    fn eof(&self) -> bool {
        self.0.lock().unwrap().eof
    }
}

struct MemIo {
    reader: DuplexStream,
    sink: SinkHandle,
}

impl StreamIo for MemIo {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        tokio_util::io::poll_read_buf(Pin::new(&mut self.reader), cx, buf)
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        poll_read_into_slice(&mut self.reader, cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.sink.0.lock().unwrap();
        if s.room == 0 {
            s.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut written = 0;
        for b in bufs {
            let n = b.len().min(s.room - written);
            s.data.extend_from_slice(&b[..n]);
            written += n;
            if written == s.room {
                break;
            }
        }
        s.room -= written;
        s.calls.push(bufs.len());
        Poll::Ready(Ok(written))
    }

    fn poll_write_eof(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.sink.0.lock().unwrap().eof = true;
        Poll::Ready(Ok(()))
    }
}

type DataHook = Box<dyn FnMut(&Transport, &Bytes) + Send>;

/// Records callbacks; hooks let a test act inside them.
struct Rec {
    events: Arc<Mutex<Vec<String>>>,
    on_made: Box<dyn FnMut(&Transport) + Send>,
    on_data: DataHook,
    transport: Option<Transport>,
}

impl BaseProtocol for Rec {
    fn connection_made(&mut self, t: &Transport) {
        self.events.lock().unwrap().push("cm".into());
        self.transport = Some(t.clone());
        (self.on_made)(t);
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.events.lock().unwrap().push(format!("cl({exc:?})"));
    }
    fn pause_writing(&mut self) {
        self.events.lock().unwrap().push("pw".into());
    }
    fn resume_writing(&mut self) {
        self.events.lock().unwrap().push("rw".into());
    }
}

impl Protocol for Rec {
    fn data_received(&mut self, data: Bytes) {
        self.events
            .lock()
            .unwrap()
            .push(format!("dr({})", String::from_utf8_lossy(&data)));
        let t = self.transport.clone().unwrap();
        (self.on_data)(&t, &data);
    }
    fn eof_received(&mut self) -> bool {
        self.events.lock().unwrap().push("eof".into());
        false
    }
}

struct Harness {
    transport: Transport,
    events: Arc<Mutex<Vec<String>>>,
    sink: SinkHandle,
    peer: DuplexStream,
}

impl Harness {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
    /// Runs other tasks (the driver) until `pred` holds; bounded.
    async fn until(&self, what: &str, pred: impl Fn(&Harness) -> bool) {
        for _ in 0..10_000 {
            if pred(self) {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("never reached: {what}; events {:?}", self.events());
    }
}

/// Starts a driver over [`MemIo`] with `room` bytes of "kernel" space.
fn start(
    room: usize,
    on_made: impl FnMut(&Transport) + Send + 'static,
    on_data: impl FnMut(&Transport, &Bytes) + Send + 'static,
) -> Harness {
    start_with(Settings::default(), room, on_made, on_data)
}

/// [`start`] with the settings the options would give.
fn start_with(
    settings: Settings,
    room: usize,
    on_made: impl FnMut(&Transport) + Send + 'static,
    on_data: impl FnMut(&Transport, &Bytes) + Send + 'static,
) -> Harness {
    let (reader, peer) = tokio::io::duplex(64 * 1024);
    let sink = SinkHandle::with_room(room);
    let events = Arc::new(Mutex::new(Vec::new()));
    let protocol = Rec {
        events: events.clone(),
        on_made: Box::new(on_made),
        on_data: Box::new(on_data),
        transport: None,
    };
    let (_, handler) = protocol.into_handler();
    let transport = Transport::new(ExtraInfo::new(Capabilities::SOCKET), None);
    let io = MemIo {
        reader,
        sink: sink.clone(),
    };
    let transport = start_connection(
        io,
        handler,
        transport,
        ConnectionConfig::new(MadeOn::Caller).with_settings(settings),
    )
    .unwrap();
    Harness {
        transport,
        events,
        sink,
        peer,
    }
}

/// Writes made in one callback leave in one vectored write.
#[tokio::test]
async fn writes_in_one_callback_are_one_vectored_write() {
    let h = start(
        usize::MAX,
        |t| {
            t.write("a");
            t.write("bb");
            t.writelines(["ccc", "dddd"]);
        },
        |_, _| {},
    );
    h.until("flushed", |h| h.sink.data().len() == 10).await;
    assert_eq!(h.sink.data(), b"abbcccdddd");
    // The short chunks joined in the buffer (`ChunkQueue`): one slice.
    assert_eq!(h.sink.calls(), [1], "one call");
}

/// Writes from another task made before the driver runs are batched too.
#[tokio::test(flavor = "current_thread")]
async fn writes_from_another_task_are_batched() {
    let h = start(usize::MAX, |_| {}, |_, _| {});
    // The driver has not run yet on this current-thread runtime.
    for chunk in ["1", "2", "3"] {
        h.transport.write(chunk);
    }
    h.until("flushed", |h| h.sink.data().len() == 3).await;
    assert_eq!(h.sink.calls(), [1]);
}

/// Whole reads queued behind each other stay apart (no copy) and leave in
/// one vectored write, a slice each.
#[tokio::test(flavor = "current_thread")]
async fn queued_whole_reads_are_one_vectored_write() {
    let h = start(usize::MAX, |_| {}, |_, _| {});
    let whole = crate::util::KEEP_FROM;
    for byte in [b'1', b'2', b'3'] {
        h.transport.write(vec![byte; whole]);
    }
    h.until("flushed", |h| h.sink.data().len() == 3 * whole)
        .await;
    assert_eq!(h.sink.calls(), [3]);
    assert!(h.sink.data()[..whole].iter().all(|&b| b == b'1'));
    assert!(h.sink.data()[2 * whole..].iter().all(|&b| b == b'3'));
}

/// Contract 4 divergence check: `pause_writing` comes right after the
/// callback that crossed the mark and after the flush attempt, before any
/// other callback; `resume_writing` once drained to low. A buffer equal to
/// high does not pause.
#[tokio::test]
async fn pause_after_the_crossing_callback_resume_at_low() {
    let mut h = start(
        0,
        |t| {
            t.set_write_buffer_limits(Some(8), Some(2)).unwrap();
            t.write("12345678"); // == high: no pause
        },
        |t, _| t.write("9"), // > high
    );
    h.until("made", |h| h.events() == ["cm"]).await;
    assert_eq!(h.transport.get_write_buffer_size(), 8);
    h.peer.write_all(b"x").await.unwrap();
    h.until("paused", |h| h.events().len() == 3).await;
    assert_eq!(h.events(), ["cm", "dr(x)", "pw"]);
    h.sink.grant(6);
    h.until("partly drained", |h| h.sink.data().len() == 6)
        .await;
    assert_eq!(h.transport.get_write_buffer_size(), 3);
    assert_eq!(h.events(), ["cm", "dr(x)", "pw"], "3 > low: still paused");
    h.sink.grant(1);
    h.until("resumed", |h| h.events().len() == 4).await;
    assert_eq!(h.events(), ["cm", "dr(x)", "pw", "rw"]);
    assert_eq!(h.transport.get_write_buffer_size(), 2);
}

/// While a `sendfile()` falls back, the protocol hears no resume, so no flow
/// step runs another pass: a `drain()` waiter must be woken by the pass that
/// takes the buffer to its low mark, or nothing wakes it. When the transfer
/// ends, the protocol hears the resume it missed.
#[tokio::test]
async fn a_drain_waiter_wakes_in_the_pass_that_drains_the_buffer() {
    let h = start(
        0,
        |t| t.set_write_buffer_limits(Some(8), Some(2)).unwrap(),
        |_, _| {},
    );
    h.until("made", |h| h.events() == ["cm"]).await;
    h.transport.write("0123456789abcdef"); // over high: paused
    h.until("paused", |h| h.events() == ["cm", "pw"]).await;
    h.transport.update(|state| {
        *state.transfer_slot() = Some(crate::transport::sendfile::Transfer::fallback_for_test())
    });
    let transport = h.transport.clone();
    let drained = tokio::spawn(async move { transport.drain().await });
    tokio::task::yield_now().await;
    assert!(!drained.is_finished(), "the buffer is still full");
    h.sink.grant(16); // all of it goes out in one pass
    h.until("drain() woken", |_| drained.is_finished()).await;
    drained.await.unwrap().unwrap();
    assert_eq!(h.events(), ["cm", "pw"], "the resume is held back");
    h.transport.update(|state| *state.transfer_slot() = None);
    h.until("resumed", |h| h.events() == ["cm", "pw", "rw"])
        .await;
}

/// `close()` waits for the buffer to drain; `connection_lost(None)` follows.
#[tokio::test]
async fn close_waits_for_the_flush() {
    let h = start(4, |_| {}, |_, _| {});
    h.transport.write("0123456789");
    h.transport.close();
    h.until("partial", |h| h.sink.data().len() == 4).await;
    assert_eq!(h.events(), ["cm"]);
    h.sink.grant(6);
    h.until("lost", |h| h.events().len() == 2).await;
    assert_eq!(h.sink.data(), b"0123456789");
    assert_eq!(h.events(), ["cm", "cl(None)"]);
}

/// `abort()` drops the buffer: nothing more is written.
#[tokio::test]
async fn abort_drops_the_buffer() {
    let h = start(4, |_| {}, |_, _| {});
    h.transport.write("0123456789");
    h.until("partial", |h| h.sink.data().len() == 4).await;
    h.transport.abort();
    h.until("lost", |h| h.events().len() == 2).await;
    h.sink.grant(100);
    tokio::task::yield_now().await;
    assert_eq!(h.sink.data(), b"0123");
    assert_eq!(h.events(), ["cm", "cl(None)"]);
    assert_eq!(h.transport.get_write_buffer_size(), 0);
}

/// `write_eof()` half-closes only after the buffer drained.
#[tokio::test]
async fn write_eof_after_the_flush() {
    let h = start(2, |_| {}, |_, _| {});
    h.transport.write("abcd");
    h.transport.write_eof().unwrap();
    h.until("partial", |h| h.sink.data().len() == 2).await;
    assert!(!h.sink.eof(), "no EOF while data is pending");
    h.sink.grant(2);
    h.until("eof", |h| h.sink.eof()).await;
    assert_eq!(h.sink.data(), b"abcd");
    assert!(!h.transport.is_closing());
}

/// Reading: data is delivered, `pause_reading` holds it, the peer's EOF
/// runs `eof_received` and (returning false) closes.
#[tokio::test]
async fn read_pause_resume_and_eof() {
    let mut h = start(usize::MAX, |t| t.pause_reading(), |_, _| {});
    h.peer.write_all(b"held").await.unwrap();
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(h.events(), ["cm"], "paused in connection_made");
    h.transport.resume_reading();
    h.until("dr", |h| h.events().len() == 2).await;
    assert_eq!(h.events()[1], "dr(held)");
    h.peer.shutdown().await.unwrap();
    h.until("lost", |h| h.events().len() == 4).await;
    assert_eq!(h.events(), ["cm", "dr(held)", "eof", "cl(None)"]);
}

/// The hard limit aborts with `WriteBufferFull` when a write takes the
/// buffer over it while the sink is full.
#[tokio::test]
async fn hard_limit_aborts() {
    let h = start(0, |t| t.set_write_buffer_hard_limit(Some(10)), |_, _| {});
    h.until("made", |h| h.events() == ["cm"]).await;
    h.transport.write("0123456789");
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(h.events(), ["cm"], "at the limit is fine");
    h.transport.write("!");
    h.until("lost", |h| h.events().len() == 2).await;
    assert!(
        h.events()[1].contains("WriteBufferFull"),
        "{:?}",
        h.events()
    );
}

/// Contract 11: TCP_NODELAY is on for every aioproto TCP connection, and
/// `set_keepalive`/`set_nodelay` reach the real socket (checked through a
/// duplicate of its descriptor).
#[tokio::test]
async fn socket_options_reach_the_socket() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    let std = accepted.into_std().unwrap();
    let observer = socket2::Socket::from(std.try_clone().unwrap());
    let stream = TcpStream::from_std(std).unwrap();

    let wanted = SocketOptions {
        nodelay: true,
        keepalive: false,
    };
    let (io, extra, options) = tcp_io(stream, wanted);
    assert!(observer.tcp_nodelay().unwrap(), "nodelay on by default");
    assert_eq!(
        options,
        SocketOptions {
            nodelay: true,
            keepalive: false
        }
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let (_, handler) = Rec {
        events: events.clone(),
        on_made: Box::new(|_| {}),
        on_data: Box::new(|_, _| {}),
        transport: None,
    }
    .into_handler();
    let transport = start_connection(
        io,
        handler,
        Transport::new(extra, Some(options)),
        ConnectionConfig::new(MadeOn::Caller),
    )
    .unwrap();
    transport.set_keepalive(true);
    transport.set_nodelay(false);
    for _ in 0..1000 {
        if observer.keepalive().unwrap() && !observer.tcp_nodelay().unwrap() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(observer.keepalive().unwrap(), "SO_KEEPALIVE applied");
    assert!(!observer.tcp_nodelay().unwrap(), "TCP_NODELAY cleared");
    assert_eq!(transport.keepalive(), Some(true));
    transport.close();
    drop(client);
}

/// Lets the driver run for a while: used to show that something does *not*
/// happen (on the current-thread runtime the driver gets every turn).
async fn let_run() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

/// An echo with marks 8/2 over a "kernel" that takes nothing yet, holding
/// reading on backpressure (`hold`) or not.
fn small_echo(hold: bool) -> Harness {
    start_with(
        Settings {
            pause_reading_on_backpressure: hold,
            ..Settings::default()
        },
        0,
        |t| t.set_write_buffer_limits(Some(8), Some(2)).unwrap(),
        |t, data| t.write(data.clone()),
    )
}

/// With the hold, a read whose echo takes the buffer over the high mark
/// stops reading (`pause_writing` still comes); draining to the low mark
/// reads again, and `is_reading()` never showed the hold.
#[tokio::test]
async fn backpressure_holds_reading_until_the_low_mark() {
    let mut h = small_echo(true);
    h.peer.write_all(b"0123456789").await.unwrap();
    h.until("paused", |h| h.events().contains(&"pw".to_owned()))
        .await;
    h.peer.write_all(b"more").await.unwrap();
    let_run().await;
    assert_eq!(h.events(), ["cm", "dr(0123456789)", "pw"], "held");
    assert!(
        h.transport.is_reading(),
        "is_reading shows the user's pause only"
    );
    assert!(h.transport.lock().is_reading_held());
    h.sink.grant(7);
    h.until("drained to 3", |h| h.transport.get_write_buffer_size() == 3)
        .await;
    let_run().await;
    assert_eq!(h.events().len(), 3, "3 > low: still held");
    h.sink.grant(1);
    h.until("read again", |h| h.events().len() == 5).await;
    assert_eq!(h.events()[3..], ["rw", "dr(more)"]);
}

/// The hold ending at the low mark leaves a user's `pause_reading()` alone.
#[tokio::test]
async fn the_hold_ending_does_not_undo_a_user_pause() {
    let mut h = small_echo(true);
    h.peer.write_all(b"0123456789").await.unwrap();
    h.until("paused", |h| h.events().len() == 3).await;
    h.transport.pause_reading();
    h.peer.write_all(b"more").await.unwrap();
    h.sink.grant(10);
    h.until("resumed", |h| h.events().len() == 4).await;
    let_run().await;
    assert_eq!(h.events(), ["cm", "dr(0123456789)", "pw", "rw"]);
    assert!(!h.transport.is_reading());
    assert!(!h.transport.lock().is_reading_held());
    h.transport.resume_reading();
    h.until("read", |h| h.events().len() == 5).await;
    assert_eq!(h.events()[4], "dr(more)");
}

/// A user's `resume_reading()` while the buffer is over the mark reads
/// nothing until it has drained to the low mark.
#[tokio::test]
async fn resume_reading_while_held_waits_for_the_low_mark() {
    let mut h = small_echo(true);
    h.peer.write_all(b"0123456789").await.unwrap();
    h.until("paused", |h| h.events().len() == 3).await;
    h.transport.pause_reading();
    h.transport.resume_reading();
    h.peer.write_all(b"more").await.unwrap();
    let_run().await;
    assert_eq!(h.events().len(), 3, "still held");
    h.sink.grant(8);
    h.until("read", |h| h.events().len() == 5).await;
    assert_eq!(h.events()[3..], ["rw", "dr(more)"]);
}

/// Without the hold (pipes, the test connection, the opt-out), reading goes
/// on and the buffer grows past the mark, as in asyncio.
#[tokio::test]
async fn without_the_hold_reading_goes_on() {
    let mut h = small_echo(false);
    h.peer.write_all(b"0123456789").await.unwrap();
    h.until("paused", |h| h.events().len() == 3).await;
    h.peer.write_all(b"more").await.unwrap();
    h.until("read", |h| h.events().len() == 4).await;
    assert_eq!(h.events()[3], "dr(more)");
    assert_eq!(h.transport.get_write_buffer_size(), 14);
}

/// Most of an idle connection's memory is its tokio task, whose cell
/// (header 32 B, scheduler and task id 16 B, the stage's tag 8 B, the driver,
/// trailer 48 B) is 128-byte aligned and so grows in 128-byte steps: the
/// driver must stay within the 256-byte cell (see DESIGN.md's idle RSS table).
/// A field that must grow it belongs behind a `Box` if few connections use it.
#[test]
fn driver_fits_a_256_byte_task_cell() {
    let boxed = std::mem::size_of::<StreamDriver>();
    let tcp = std::mem::size_of::<StreamDriver<crate::transport::io::AsyncIo<TcpStream>>>();
    for (what, size) in [("boxed io", boxed), ("TCP", tcp)] {
        assert!(
            size <= 152,
            "StreamDriver ({what}) is {size} bytes: its task cell is past 256 B"
        );
    }
}

/// The shared state is the other large part of each connection: the fields
/// few connections use stay in `State`'s boxed rare part.
#[test]
fn stream_state_stays_small() {
    let size = std::mem::size_of::<State>();
    assert!(size <= 128, "State is {size} bytes");
}
