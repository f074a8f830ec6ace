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
