use std::sync::{Arc, Mutex};

use tokio_util::codec::{LengthDelimitedCodec, LinesCodec};

use super::*;
use crate::testing::TestConnection;

#[derive(Default)]
struct Upper {
    lost: Arc<Mutex<Option<Option<String>>>>,
}

impl FrameHandler<LinesCodec> for Upper {
    fn connection_made(&mut self, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
        sink.send("hello")
    }
    fn frame_received(&mut self, line: String, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
        if line == "fail" {
            return Err(Error::invalid_argument("handler says no"));
        }
        sink.send(line.to_uppercase())
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        *self.lost.lock().unwrap() = Some(exc.map(|e| e.to_string()));
    }
}

#[tokio::test]
async fn lines_round_trip_across_chunks_and_at_eof() {
    let lost = Arc::new(Mutex::new(None));
    let (conn, _) = TestConnection::start(CodecProtocol::new(
        LinesCodec::new(),
        Upper { lost: lost.clone() },
    ));
    conn.feed("ab");
    conn.feed("c\r\nde");
    conn.feed("f\nlast");
    conn.feed_eof();
    conn.wait_closed().await;
    assert_eq!(conn.written(), "hello\nABC\nDEF\nLAST\n");
    assert_eq!(*lost.lock().unwrap(), Some(None));
}

#[tokio::test]
async fn decoder_error_ends_the_connection_with_it() {
    let lost = Arc::new(Mutex::new(None));
    let (conn, _) = TestConnection::start(CodecProtocol::new(
        LinesCodec::new_with_max_length(8),
        Upper { lost: lost.clone() },
    ));
    conn.feed("ok\nthis line is far too long\nnever\n");
    conn.wait_closed().await;
    assert_eq!(conn.written(), "hello\nOK\n");
    let text = lost.lock().unwrap().clone().unwrap().unwrap();
    assert!(text.contains("max line length"), "{text}");
}

#[tokio::test]
async fn handler_error_ends_the_connection_with_it() {
    let lost = Arc::new(Mutex::new(None));
    let (conn, _) = TestConnection::start(CodecProtocol::new(
        LinesCodec::new(),
        Upper { lost: lost.clone() },
    ));
    conn.feed("a\nfail\nb\n");
    conn.wait_closed().await;
    assert_eq!(conn.written(), "hello\nA\n");
    let text = lost.lock().unwrap().clone().unwrap().unwrap();
    assert!(text.contains("handler says no"), "{text}");
}

struct Sum;

impl FrameHandler<LengthDelimitedCodec> for Sum {
    fn frame_received(
        &mut self,
        frame: BytesMut,
        sink: &mut FrameSink<'_, LengthDelimitedCodec>,
    ) -> Result<()> {
        let total: u64 = frame.iter().map(|&b| u64::from(b)).sum();
        sink.send(Bytes::from(total.to_string()))
    }
}

#[tokio::test]
async fn length_delimited_round_trip_and_oversized_frame() {
    let (conn, _) = TestConnection::start(CodecProtocol::new(LengthDelimitedCodec::new(), Sum));
    let mut input = Vec::new();
    for frame in [&[1u8, 2, 3][..], &[10u8; 10][..]] {
        input.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        input.extend_from_slice(frame);
    }
    // Split inside the second header.
    conn.feed(input[..9].to_vec());
    conn.feed(input[9..].to_vec());
    conn.settle().await;
    let mut expected = Vec::new();
    for reply in ["6", "100"] {
        expected.extend_from_slice(&(reply.len() as u32).to_be_bytes());
        expected.extend_from_slice(reply.as_bytes());
    }
    assert_eq!(conn.written(), expected);
    // A header announcing 1 GiB is over the codec's 8 MiB default.
    conn.feed((1u32 << 30).to_be_bytes().to_vec());
    conn.wait_closed().await;
}

/// A header line announcing a body length, then the raw body.
#[derive(Default)]
struct Upload {
    left: usize,
    body: Vec<u8>,
    headers: Vec<String>,
}

impl FrameHandler<LinesCodec> for Upload {
    fn frame_received(&mut self, line: String, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
        self.left = line.trim().parse().unwrap_or(0);
        self.headers.push(line);
        self.body.clear();
        sink.set_raw_mode(true);
        Ok(())
    }
    fn raw_data_received(
        &mut self,
        data: Bytes,
        sink: &mut FrameSink<'_, LinesCodec>,
    ) -> Result<()> {
        let take = data.len().min(self.left - self.body.len());
        self.body.extend_from_slice(&data[..take]);
        if self.body.len() == self.left {
            sink.send(format!("got {}", String::from_utf8_lossy(&self.body)))?;
            sink.set_raw_mode(false);
            sink.unread(&data[take..]);
        }
        Ok(())
    }
}

/// Raw mode (Twisted's setRawMode/setLineMode): bytes buffered with the
/// header go raw, nothing is lost across the switches, however the input is
/// chunked.
#[tokio::test]
async fn raw_mode_switches_without_losing_bytes() {
    let input = b"5\nhello3\nabc";
    for split in 1..input.len() {
        let (conn, protocol) =
            TestConnection::start(CodecProtocol::new(LinesCodec::new(), Upload::default()));
        conn.feed(Bytes::copy_from_slice(&input[..split]));
        conn.feed(Bytes::copy_from_slice(&input[split..]));
        conn.settle().await;
        assert_eq!(
            &conn.written()[..],
            b"got hello\ngot abc\n",
            "split at {split}"
        );
        let p = protocol.lock().unwrap();
        assert_eq!(p.handler().headers, ["5", "3"], "split at {split}");
    }
}

/// A handler that turns raw mode on without implementing raw_data_received
/// ends the connection with a clear error rather than dropping bytes.
#[tokio::test]
async fn raw_mode_without_a_raw_handler_is_an_error() {
    struct Careless;
    impl FrameHandler<LinesCodec> for Careless {
        fn frame_received(
            &mut self,
            _: String,
            sink: &mut FrameSink<'_, LinesCodec>,
        ) -> Result<()> {
            sink.set_raw_mode(true);
            Ok(())
        }
    }
    let (conn, _) = TestConnection::start(CodecProtocol::new(LinesCodec::new(), Careless));
    conn.feed("go raw\nbytes");
    conn.settle().await;
    assert!(conn.is_closed());
}

/// A protocol that does nothing itself; wrapped in a `Recorder` it logs what
/// a switch hands it.
struct Raw;
impl BaseProtocol for Raw {}
impl Protocol for Raw {}

/// Hands the connection to a recorded raw protocol after the line `UPGRADE`;
/// says `OK` first through the codec.
struct Upgrader {
    next: Option<(crate::testing::Recorder<Raw>, crate::testing::EventLog)>,
    lines: Vec<String>,
    lost: Arc<Mutex<Option<Option<String>>>>,
}

impl Upgrader {
    fn new() -> (Self, crate::testing::EventLog) {
        let (recorder, log) = crate::testing::Recorder::new(Raw);
        let upgrader = Upgrader {
            next: Some((recorder, log.clone())),
            lines: Vec::new(),
            lost: Arc::default(),
        };
        (upgrader, log)
    }
}

impl FrameHandler<LinesCodec> for Upgrader {
    fn frame_received(&mut self, line: String, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
        self.lines.push(line.clone());
        if line == "UPGRADE" {
            sink.send("OK")?;
            if let Some((next, _)) = self.next.take() {
                sink.switch_protocol(next);
            }
        }
        Ok(())
    }
    fn eof_received(&mut self, _: &mut FrameSink<'_, LinesCodec>) -> bool {
        panic!("the handler must not hear of an EOF after the switch");
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        *self.lost.lock().unwrap() = Some(exc.map(|e| e.to_string()));
    }
}

/// Every split of `hi\nUPGRADE\n<raw>`: the raw bytes reach the new
/// protocol exactly, after its connection_made, then EOF and
/// connection_lost; the handler sees only the lines before the switch.
#[tokio::test]
async fn switch_protocol_hands_over_buffered_bytes_in_order() {
    use crate::testing::Event;
    let input = b"hi\nUPGRADE\nraw\nbytes\xff\x00 stay raw";
    for split in 0..=input.len() {
        let (upgrader, log) = Upgrader::new();
        let lost = upgrader.lost.clone();
        let (conn, protocol) =
            TestConnection::start(CodecProtocol::new(LinesCodec::new(), upgrader));
        conn.feed(Bytes::copy_from_slice(&input[..split]));
        conn.feed(Bytes::copy_from_slice(&input[split..]));
        conn.feed_eof();
        conn.wait_closed().await;
        assert_eq!(&log.data()[..], &input[11..], "split at {split}");
        let events = log.events();
        assert_eq!(
            events.first(),
            Some(&Event::ConnectionMade),
            "split at {split}"
        );
        assert_eq!(
            &events[events.len() - 2..],
            [Event::EofReceived, Event::ConnectionLost(None)],
            "split at {split}"
        );
        log.check_order().unwrap();
        assert_eq!(conn.written(), "OK\n");
        assert_eq!(protocol.lock().unwrap().handler().lines, ["hi", "UPGRADE"]);
        assert_eq!(
            *lost.lock().unwrap(),
            None,
            "the handler's connection_lost ran"
        );
    }
}

/// The switching line is the last one, decoded at EOF: the new protocol is
/// introduced and hears of the EOF.
#[tokio::test]
async fn switch_protocol_on_the_frame_decoded_at_eof() {
    use crate::testing::Event;
    let (upgrader, log) = Upgrader::new();
    let (conn, _) = TestConnection::start(CodecProtocol::new(LinesCodec::new(), upgrader));
    conn.feed("UPGRADE");
    conn.feed_eof();
    conn.wait_closed().await;
    assert_eq!(
        log.events(),
        [
            Event::ConnectionMade,
            Event::EofReceived,
            Event::ConnectionLost(None)
        ]
    );
}

/// Switches to the protocol it holds on the first line, then returns
/// `outcome` from that callback.
struct SwitchTo<P, M> {
    next: Option<P>,
    outcome: fn() -> Result<()>,
    marker: std::marker::PhantomData<fn() -> M>,
}

impl<P, M> SwitchTo<P, M> {
    fn new(next: P) -> Self {
        SwitchTo {
            next: Some(next),
            outcome: || Ok(()),
            marker: std::marker::PhantomData,
        }
    }
}

impl<P: IntoHandler<M>, M: 'static> FrameHandler<LinesCodec> for SwitchTo<P, M> {
    fn frame_received(&mut self, _: String, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
        if let Some(next) = self.next.take() {
            sink.switch_protocol(next);
        }
        (self.outcome)()
    }
}

/// A handler error in the switching callback wins: no switch (the new
/// protocol hears nothing, not even the bytes after the line), and the
/// connection closes.
#[tokio::test]
async fn switch_protocol_dropped_when_the_handler_fails() {
    let (recorder, log) = crate::testing::Recorder::new(Raw);
    let failing = SwitchTo {
        outcome: || Err(Error::invalid_argument("no upgrade for you")),
        ..SwitchTo::new(recorder)
    };
    let (conn, _) = TestConnection::start(CodecProtocol::new(LinesCodec::new(), failing));
    conn.feed("UPGRADE\nmore");
    conn.wait_closed().await;
    assert!(log.events().is_empty(), "{:?}", log.events());
}

/// A panic in the new protocol's first data_received ends the connection,
/// and that protocol's connection_lost gets the error.
#[tokio::test]
async fn switch_protocol_to_a_failing_protocol_ends_with_its_error() {
    struct Fragile(Arc<Mutex<Option<Option<String>>>>);
    impl BaseProtocol for Fragile {
        fn connection_lost(&mut self, exc: Option<Error>) {
            *self.0.lock().unwrap() = Some(exc.map(|e| e.to_string()));
        }
    }
    impl Protocol for Fragile {
        fn data_received(&mut self, _: Bytes) {
            panic!("cannot take these bytes");
        }
    }
    let lost = Arc::new(Mutex::new(None));
    let (conn, _) = TestConnection::start(CodecProtocol::new(
        LinesCodec::new(),
        SwitchTo::new(Fragile(lost.clone())),
    ));
    conn.feed("UPGRADE\nboom");
    conn.wait_closed().await;
    let text = lost.lock().unwrap().clone().expect("connection_lost ran");
    assert!(text.unwrap_or_default().contains("cannot take these bytes"));
}

/// A BufferedProtocol gets the buffered bytes copied into its own buffer,
/// however small that is.
#[tokio::test]
async fn switch_protocol_to_a_buffered_protocol() {
    use crate::transport::protocol::BufferedProtocol;
    struct Tiny {
        buf: [u8; 3],
        got: Arc<Mutex<Vec<u8>>>,
    }
    impl BaseProtocol for Tiny {}
    impl BufferedProtocol for Tiny {
        fn get_buffer(&mut self, _: usize) -> &mut [u8] {
            &mut self.buf
        }
        fn buffer_updated(&mut self, n: usize) {
            self.got.lock().unwrap().extend_from_slice(&self.buf[..n]);
        }
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let tiny = Tiny {
        buf: [0; 3],
        got: got.clone(),
    };
    let (conn, _) =
        TestConnection::start(CodecProtocol::new(LinesCodec::new(), SwitchTo::new(tiny)));
    conn.feed("UPGRADE\nabcdefgh");
    conn.feed("ij");
    conn.settle().await;
    assert_eq!(&got.lock().unwrap()[..], b"abcdefghij");
    conn.transport().close();
    conn.wait_closed().await;
}
