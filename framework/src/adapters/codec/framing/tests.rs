use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::*;
use crate::adapters::codec::{CodecProtocol, FrameHandler, FrameSink};
use crate::error::{Error, Result};
use crate::testing::TestConnection;

fn decode_all<C: Decoder<Item = Bytes>>(
    codec: &mut C,
    input: &[u8],
) -> (Vec<Bytes>, Option<C::Error>) {
    let mut buf = BytesMut::from(input);
    let mut frames = Vec::new();
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e)),
        }
    }
}

fn netstring_err(input: &[u8]) -> NetstringError {
    let mut buf = BytesMut::from(input);
    match NetstringCodec::new().decode(&mut buf) {
        Err(e) => e,
        other => panic!("{input:?} gave {other:?}"),
    }
}

#[test]
fn netstring_spec_examples() {
    let (frames, err) = decode_all(&mut NetstringCodec::new(), b"12:hello world!,0:,1:\0,");
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, [&b"hello world!"[..], b"", b"\0"]);
}

#[test]
fn netstring_rejects_malformed_lengths_before_the_body() {
    assert!(matches!(
        netstring_err(b"01:a,"),
        NetstringError::LeadingZero
    ));
    assert!(matches!(netstring_err(b"00"), NetstringError::LeadingZero));
    assert!(matches!(netstring_err(b":"), NetstringError::BadLength));
    assert!(matches!(netstring_err(b"-1:a,"), NetstringError::BadLength));
    assert!(matches!(netstring_err(b"1 :a,"), NetstringError::BadLength));
    assert!(matches!(
        netstring_err(b"100000"),
        NetstringError::TooLong { max: 99_999 }
    ));
    let huge = b"999999999999999999999999999999";
    let mut codec = NetstringCodec::new().with_max_length(usize::MAX);
    assert!(matches!(
        codec.decode(&mut BytesMut::from(&huge[..])),
        Err(NetstringError::TooLong { .. })
    ));
    assert!(matches!(
        netstring_err(b"3:abc;"),
        NetstringError::MissingComma
    ));
}

#[test]
fn netstring_waits_for_the_comma_and_keeps_the_rest() {
    let mut codec = NetstringCodec::new();
    let mut buf = BytesMut::from(&b"3:abc"[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(b",4:");
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Bytes::from("abc")));
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], b"");
    // The prefix is consumed: EOF now is a truncated netstring, not a clean end.
    assert!(matches!(
        codec.decode_eof(&mut buf),
        Err(NetstringError::Truncated)
    ));
    let (_, err) = decode_all(&mut NetstringCodec::new(), b"3:ab");
    assert!(matches!(err, Some(NetstringError::Truncated)));
}

#[test]
fn netstring_encoder_refuses_what_the_decoder_would() {
    let mut codec = NetstringCodec::new().with_max_length(3);
    let mut dst = BytesMut::new();
    assert!(codec.encode(&b"abc"[..], &mut dst).is_ok());
    assert!(matches!(
        codec.encode(&b"abcd"[..], &mut dst),
        Err(NetstringError::TooLong { max: 3 })
    ));
    assert_eq!(&dst[..], b"3:abc,");
}

#[test]
fn netstring_reserves_in_bounded_steps() {
    let mut codec = NetstringCodec::new().with_max_length(usize::MAX);
    let mut buf = BytesMut::from(&b"1000000000:"[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    assert!(
        buf.capacity() <= 2 * super::MAX_RESERVE_AHEAD,
        "{}",
        buf.capacity()
    );
}

#[test]
fn length_prefixed_widths_round_trip() {
    for mut codec in [
        LengthPrefixedCodec::new(),
        LengthPrefixedCodec::int16(),
        LengthPrefixedCodec::int8(),
    ] {
        let mut wire = BytesMut::new();
        for frame in [&b""[..], b"a", &[7; 255]] {
            codec.encode(frame, &mut wire).unwrap();
        }
        assert_eq!(wire.len(), 3 * codec.prefix_len() + 256);
        let (frames, err) = decode_all(&mut codec, &wire);
        assert!(err.is_none());
        assert_eq!(frames, [&b""[..], b"a", &[7; 255]]);
    }
}

#[test]
fn length_prefixed_refuses_long_frames_from_the_prefix() {
    let mut codec = LengthPrefixedCodec::new();
    let mut buf = BytesMut::from(&100_000u32.to_be_bytes()[..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(matches!(
        err,
        LengthPrefixedError::TooLong {
            length: 100_000,
            max: 99_999
        }
    ));
    let mut dst = BytesMut::new();
    let err = LengthPrefixedCodec::int8()
        .encode(&[0u8; 256][..], &mut dst)
        .unwrap_err();
    assert!(matches!(
        err,
        LengthPrefixedError::TooLong {
            length: 256,
            max: 255
        }
    ));
    assert!(dst.is_empty());
}

#[test]
fn length_prefixed_reports_a_body_cut_short_by_eof() {
    let mut codec = LengthPrefixedCodec::new();
    let mut buf = BytesMut::from(&[0u8, 0, 0, 5][..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
    assert!(matches!(
        codec.decode_eof(&mut buf),
        Err(LengthPrefixedError::Truncated)
    ));
    let (_, err) = decode_all(&mut LengthPrefixedCodec::new(), &[0, 0]);
    assert!(matches!(err, Some(LengthPrefixedError::Truncated)));
    assert_eq!(
        Error::from(LengthPrefixedError::Truncated).to_string(),
        "frame cut short by end of stream"
    );
}

struct Echo<C> {
    lost: Arc<Mutex<Option<Option<String>>>>,
    _codec: std::marker::PhantomData<fn() -> C>,
}

impl<C> Echo<C> {
    fn new() -> (Self, Arc<Mutex<Option<Option<String>>>>) {
        let lost = Arc::new(Mutex::new(None));
        let echo = Echo {
            lost: lost.clone(),
            _codec: std::marker::PhantomData,
        };
        (echo, lost)
    }
}

impl<C> FrameHandler<C> for Echo<C>
where
    C: Decoder<Item = Bytes> + Encoder<Bytes> + Send + 'static,
    Error: From<<C as Encoder<Bytes>>::Error>,
{
    fn frame_received(&mut self, frame: Bytes, sink: &mut FrameSink<'_, C>) -> Result<()> {
        sink.send(frame)
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        *self.lost.lock().unwrap() = Some(exc.map(|e| e.to_string()));
    }
}

#[tokio::test]
async fn codec_protocol_echoes_netstrings_fed_in_pieces() {
    let (echo, lost) = Echo::new();
    let (conn, _) = TestConnection::start(CodecProtocol::new(NetstringCodec::new(), echo));
    for piece in ["1", "1:hello", " world,", "0:,2:o", "k,"] {
        conn.feed(piece);
    }
    conn.feed_eof();
    tokio::time::timeout(std::time::Duration::from_secs(5), conn.wait_closed())
        .await
        .unwrap();
    assert_eq!(conn.written(), "11:hello world,0:,2:ok,");
    assert_eq!(*lost.lock().unwrap(), Some(None));
}

#[tokio::test]
async fn codec_protocol_closes_on_a_bad_netstring() {
    let (echo, lost) = Echo::new();
    let (conn, _) = TestConnection::start(CodecProtocol::new(NetstringCodec::new(), echo));
    conn.feed("2:ok,x:never,");
    tokio::time::timeout(std::time::Duration::from_secs(5), conn.wait_closed())
        .await
        .unwrap();
    assert_eq!(conn.written(), "2:ok,");
    let text = lost.lock().unwrap().clone().unwrap().unwrap();
    assert_eq!(text, "netstring length is not a decimal number");
}

#[tokio::test]
async fn codec_protocol_closes_on_a_truncated_int32_frame() {
    let (echo, lost) = Echo::new();
    let (conn, _) = TestConnection::start(CodecProtocol::new(LengthPrefixedCodec::new(), echo));
    conn.feed(b"\0\0\0\x02hi\0\0\0\x09abc".to_vec());
    conn.feed_eof();
    tokio::time::timeout(std::time::Duration::from_secs(5), conn.wait_closed())
        .await
        .unwrap();
    assert_eq!(conn.written(), &b"\0\0\0\x02hi"[..]);
    let text = lost.lock().unwrap().clone().unwrap().unwrap();
    assert_eq!(text, "frame cut short by end of stream");
}
