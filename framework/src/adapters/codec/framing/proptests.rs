//! Property tests: the decoders never panic and do not care how their input
//! is chunked; encoded frames decode back to themselves.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use super::*;

/// What a decoder made of a whole stream: its frames, then how it ended
/// (`None` for a clean EOF, else the error's text).
type Outcome = (Vec<Bytes>, Option<String>);

/// Feeds `input` in pieces cut at `cuts`, decoding after each as a
/// `CodecProtocol` does, then at EOF.
fn feed<C>(mut codec: C, input: &[u8], cuts: &[usize]) -> Outcome
where
    C: Decoder<Item = Bytes>,
    C::Error: std::fmt::Display,
{
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    for cut in cuts {
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e.to_string())),
            }
        }
    }
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return (frames, None),
            Err(e) => return (frames, Some(e.to_string())),
        }
    }
}

/// Bytes that look like netstrings often enough to reach every state.
fn netstringish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        vec(any::<u8>(), 0..8),
        "[0-9]{1,3}:".prop_map(String::into_bytes),
        Just(b",".to_vec()),
        (0usize..20).prop_map(|n| format!("{n}:{},", "x".repeat(n)).into_bytes()),
    ];
    vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

/// Bytes that look like length-prefixed frames often enough.
fn prefixedish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        vec(any::<u8>(), 0..8),
        (0u8..20).prop_map(|n| [&[0, 0, 0, n][..], &vec![7; usize::from(n)]].concat()),
    ];
    vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

fn codecs() -> impl Strategy<Value = LengthPrefixedCodec> {
    prop_oneof![
        Just(LengthPrefixedCodec::int32()),
        Just(LengthPrefixedCodec::int16()),
        Just(LengthPrefixedCodec::int8()),
        (0usize..40).prop_map(|max| LengthPrefixedCodec::new().with_max_length(max)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn netstring_chunking_never_matters(
        input in prop_oneof![vec(any::<u8>(), 0..64), netstringish()],
        max in prop_oneof![Just(NetstringCodec::DEFAULT_MAX_LENGTH), 0usize..20],
        cuts in vec(any::<usize>(), 0..10),
    ) {
        let codec = NetstringCodec::new().with_max_length(max);
        let whole = feed(codec.clone(), &input, &[]);
        prop_assert_eq!(feed(codec, &input, &cuts), whole);
    }

    #[test]
    fn netstring_frames_round_trip(
        frames in vec(vec(any::<u8>(), 0..50), 0..6),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        let mut codec = NetstringCodec::new();
        let mut wire = BytesMut::new();
        for frame in &frames {
            codec.encode(&frame[..], &mut wire).unwrap();
        }
        let (decoded, end) = feed(codec, &wire, &cuts);
        prop_assert_eq!(end, None);
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn length_prefixed_chunking_never_matters(
        codec in codecs(),
        input in prop_oneof![vec(any::<u8>(), 0..64), prefixedish()],
        cuts in vec(any::<usize>(), 0..10),
    ) {
        let whole = feed(codec.clone(), &input, &[]);
        prop_assert_eq!(feed(codec, &input, &cuts), whole);
    }

    #[test]
    fn length_prefixed_frames_round_trip(
        mut codec in codecs(),
        frames in vec(vec(any::<u8>(), 0..50), 0..6),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        let mut wire = BytesMut::new();
        let mut sent = Vec::new();
        for frame in frames {
            if codec.encode(Bytes::from(frame.clone()), &mut wire).is_ok() {
                sent.push(frame);
            } else {
                prop_assert!(frame.len() > codec.max_length());
            }
        }
        let (decoded, end) = feed(codec, &wire, &cuts);
        prop_assert_eq!(end, None);
        prop_assert_eq!(decoded, sent);
    }
}
