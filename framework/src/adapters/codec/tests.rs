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
