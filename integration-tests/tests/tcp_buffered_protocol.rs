//! `BufferedProtocol` over TCP and switching protocols mid-stream (spec cases
//! T15, T16).

mod support;

use std::sync::Arc;

use aioproto::{
    BaseProtocol, BufferedProtocol, ConnectOptions, Error, Protocol, Transport, create_connection,
    create_server,
};
use support::*;
use tokio::io::AsyncWriteExt;

/// T15: the server sends `12345678+` × 1024 and waits for one byte; the
/// client's BufferedProtocol reads through fresh 100-byte buffers and gets the
/// payload exactly. The client writes `1`, the server closes, and the client
/// gets `cl(None)`.
#[tokio::test]
async fn t15_buffered_protocol_receives_exact_bytes_through_small_buffers() {
    init_tracing();
    let payload = b"12345678+".repeat(1024);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = payload.clone();
    let peer = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(&sent).await.unwrap();
        let one = read_exact(&mut s, 1).await;
        assert_eq!(one, b"1");
    });

    let log = Log::new();
    let (client, protocol) = create_connection(
        || BufferedEvents::new(&log, 100),
        "127.0.0.1",
        port,
        &ConnectOptions::new(),
    )
    .await
    .unwrap();
    log.wait_data(payload.len()).await;
    assert!(log.data() == payload);
    assert!(
        log.count("dr") >= payload.len() / 100,
        "at most 100 bytes per call"
    );
    client.write("1");
    with_timeout(peer).await.unwrap();
    assert!(log.wait_lost().await.is_none());
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    assert!(protocol.lock().unwrap().transport.is_some());
}

/// A buffered protocol whose `get_buffer` misbehaves in a chosen way.
struct BadBuffer {
    log: Arc<Log>,
    mode: &'static str,
    buf: Vec<u8>,
}

impl BaseProtocol for BadBuffer {
    fn connection_made(&mut self, _: &Transport) {
        self.log.push("cm");
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.log.push(match exc {
            None => "cl(None)".to_owned(),
            Some(Error::CallbackPanicked { callback, .. }) => format!("cl(panic in {callback})"),
            Some(Error::InvalidState(m)) => format!("cl(invalid state: {m})"),
            Some(e) => format!("cl({e})"),
        });
    }
}

impl BufferedProtocol for BadBuffer {
    fn get_buffer(&mut self, _: usize) -> &mut [u8] {
        self.log.push("gb");
        match self.mode {
            "empty" => &mut [],
            "panic" => panic!("get_buffer exploded"),
            _ => {
                self.buf = vec![0; 16];
                &mut self.buf
            }
        }
    }
    fn buffer_updated(&mut self, _: usize) {
        self.log.push("bu");
        if self.mode == "panic_updated" {
            panic!("buffer_updated exploded");
        }
    }
}

/// T16: `get_buffer` returning an empty buffer, or panicking, and
/// `buffer_updated` panicking are all fatal; with the first two
/// `buffer_updated` is never called. The server goes on.
#[tokio::test]
async fn t16_get_buffer_errors_are_fatal() {
    init_tracing();
    for (mode, expected_end) in [
        (
            "empty",
            "cl(invalid state: get_buffer() returned an empty buffer)",
        ),
        ("panic", "cl(panic in get_buffer)"),
        ("panic_updated", "cl(panic in buffer_updated)"),
    ] {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let factory = move || {
            let log = Log::new();
            let _ = tx.send(log.clone());
            BadBuffer {
                log,
                mode,
                buf: Vec::new(),
            }
        };
        let server = create_server(factory, "127.0.0.1", 0, &aioproto::ServerOptions::new())
            .await
            .unwrap();
        let mut client = raw_connect(server.local_addrs()[0]).await;
        raw_write(&mut client, b"data").await;
        let log = next_log(&mut rx).await;
        log.wait_until("connection_lost", |l| {
            l.events().iter().any(|e| e.starts_with("cl("))
        })
        .await;
        let events = log.events();
        assert_eq!(events.last().unwrap(), expected_end, "{mode}: {events:?}");
        assert_eq!(
            events.iter().filter(|e| *e == "bu").count(),
            usize::from(mode == "panic_updated"),
            "{mode}: {events:?}"
        );
        // The server read nothing, so its close may be an RST instead of a FIN.
        assert_eq!(read_until_closed(&mut client).await.0, b"", "{mode}");
        // The server is unaffected.
        let _other = raw_connect(server.local_addrs()[0]).await;
        assert!(server.is_serving());
        server.close();
    }
}

/// A `Protocol` that, on the first chunk containing `switch`, hands the
/// connection to a `BufferedEvents` recording into `next`.
struct SwitchToBuffered {
    log: Arc<Log>,
    next: Arc<Log>,
    transport: Option<Transport>,
}

impl BaseProtocol for SwitchToBuffered {
    fn connection_made(&mut self, t: &Transport) {
        self.transport = Some(t.clone());
        self.log.push("cm");
    }
    fn connection_lost(&mut self, _: Option<Error>) {
        self.log.push("cl");
    }
}

impl Protocol for SwitchToBuffered {
    fn data_received(&mut self, data: bytes::Bytes) {
        self.log
            .push(format!("dr({})", String::from_utf8_lossy(&data)));
        if data.ends_with(b"switch") {
            let t = self.transport.clone().unwrap();
            let mut next = BufferedSwitchBack::new(&self.next, &self.log);
            next.inner.transport = Some(t.clone());
            t.set_protocol(next);
            t.write("switched");
        }
    }
}

/// A buffered protocol that switches back to the stream protocol on `back`.
struct BufferedSwitchBack {
    inner: BufferedEvents,
    back_log: Arc<Log>,
}

impl BufferedSwitchBack {
    fn new(log: &Arc<Log>, back_log: &Arc<Log>) -> Self {
        BufferedSwitchBack {
            inner: BufferedEvents::new(log, 4096),
            back_log: back_log.clone(),
        }
    }
}

impl BaseProtocol for BufferedSwitchBack {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.inner.connection_lost(exc);
    }
}

impl BufferedProtocol for BufferedSwitchBack {
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        self.inner.get_buffer(size_hint)
    }
    fn buffer_updated(&mut self, n: usize) {
        let got = self.inner.buf[..n].to_vec();
        self.inner.buffer_updated(n);
        if got.ends_with(b"back") {
            let t = self.inner.transport.clone().unwrap();
            t.set_protocol(Events {
                transport: Some(t.clone()),
                ..Events::new(&self.back_log)
            });
            t.write("back");
        }
    }
}

/// T16: `set_protocol` switches a Protocol to a BufferedProtocol
/// mid-stream (later data goes through `get_buffer`/`buffer_updated`), and
/// back again; the last protocol gets `connection_lost`.
#[tokio::test]
async fn t16_set_protocol_switches_both_ways() {
    init_tracing();
    let first = Log::new();
    let buffered = Log::new();
    let (f, b) = (first.clone(), buffered.clone());
    let server = create_server(
        move || SwitchToBuffered {
            log: f.clone(),
            next: b.clone(),
            transport: None,
        },
        "127.0.0.1",
        0,
        &aioproto::ServerOptions::new(),
    )
    .await
    .unwrap();
    let mut client = raw_connect(server.local_addrs()[0]).await;
    raw_write(&mut client, b"switch").await;
    assert_eq!(read_exact(&mut client, 8).await, b"switched");
    raw_write(&mut client, b"buffered-data").await;
    buffered.wait_data(13).await;
    raw_write(&mut client, b"back").await;
    assert_eq!(read_exact(&mut client, 4).await, b"back");
    raw_write(&mut client, b"stream-again").await;
    first.wait_data(12).await;
    drop(client);
    first.wait_lost().await;

    assert_eq!(buffered.data(), b"buffered-databack");
    assert_eq!(first.data(), b"stream-again");
    let events = first.events();
    assert_eq!(events[..2], ["cm", "dr(switch)"]);
    assert!(
        events.ends_with(&["dr".into(), "eof".into(), "cl(None)".into()]),
        "{events:?}"
    );
    assert_eq!(
        buffered.count("cm"),
        0,
        "set_protocol does not call connection_made"
    );
    assert_eq!(
        buffered.lost_count(),
        0,
        "only the current protocol is told"
    );
    server.close();
}
