//! [`LengthPrefixedCodec`]: a big-endian length, then that many bytes
//! (Twisted's `Int32StringReceiver`, `Int16StringReceiver`, `Int8StringReceiver`).

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::reserve_for;
use crate::error::Error;

/// Why a [`LengthPrefixedCodec`] gave up.
///
/// It converts into [`Error::Other`] (or
/// [`Error::Io`]), so a
/// [`CodecProtocol`](crate::CodecProtocol) closes the connection with it.
///
/// # Examples
///
/// ```
/// use aioproto::{LengthPrefixedCodec, LengthPrefixedError};
/// use tokio_util::codec::Decoder;
///
/// let mut buf = bytes::BytesMut::from(&[0u8, 1, 0, 0][..]); // announces 65,536 bytes
/// let mut codec = LengthPrefixedCodec::new().with_max_length(1000);
/// let err = codec.decode(&mut buf).unwrap_err();
/// assert!(matches!(err, LengthPrefixedError::TooLong { length: 65536, max: 1000 }));
/// assert_eq!(err.to_string(), "frame of 65536 bytes exceeds the limit of 1000");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LengthPrefixedError {
    /// The prefix announces more than the limit; found before any of the
    /// body is buffered. Twisted calls `lengthLimitExceeded` here.
    #[error("frame of {length} bytes exceeds the limit of {max}")]
    TooLong {
        /// The announced (or, when encoding, the given) length.
        length: u64,
        /// The codec's limit.
        max: usize,
    },

    /// The stream ended inside a frame.
    #[error("frame cut short by end of stream")]
    Truncated,

    /// An I/O error from the stream being decoded.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<LengthPrefixedError> for Error {
    fn from(err: LengthPrefixedError) -> Self {
        match err {
            LengthPrefixedError::Io(e) => Error::from(e),
            other => Error::other(other),
        }
    }
}

/// Frames prefixed by their length as a big-endian unsigned integer of 4
/// bytes (Twisted's `Int32StringReceiver`, the default), 2 or 1 bytes.
///
/// A prefix over the limit (default
/// [`DEFAULT_MAX_LENGTH`](Self::DEFAULT_MAX_LENGTH), Twisted's `MAX_LENGTH`)
/// is refused as soon as it arrives, before any of the body is buffered, and
/// encoding a frame over it is refused too, so both ends agree. Frames come
/// out as [`Bytes`]; `Bytes` and `&[u8]` go in.
///
/// Why not tokio-util's [`LengthDelimitedCodec`](tokio_util::codec::LengthDelimitedCodec)?
/// It can be set up the same way, but it reports an oversized frame as a
/// bare `io::Error`, reserves the whole announced length as soon as the
/// prefix arrives, and at EOF silently drops a frame whose prefix arrived but
/// whose body did not. This codec reports
/// [`TooLong`](LengthPrefixedError::TooLong) with the announced length and
/// [`Truncated`](LengthPrefixedError::Truncated) at EOF, grows its buffer as
/// the body arrives, and fits on a page.
///
/// # Examples
///
/// ```
/// use aioproto::LengthPrefixedCodec;
/// use bytes::{Bytes, BytesMut};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = LengthPrefixedCodec::new();
/// let mut wire = BytesMut::new();
/// codec.encode(&b"hi"[..], &mut wire)?;
/// assert_eq!(&wire[..], b"\0\0\0\x02hi");
/// assert_eq!(codec.decode(&mut wire)?, Some(Bytes::from("hi")));
///
/// let mut short = LengthPrefixedCodec::int8();
/// short.encode(&b"abc"[..], &mut wire)?;
/// assert_eq!(&wire[..], b"\x03abc");
/// # Ok::<(), aioproto::LengthPrefixedError>(())
/// ```
///
/// With a [`CodecProtocol`](crate::CodecProtocol):
///
/// ```
/// use aioproto::{CodecProtocol, FrameHandler, FrameSink, LengthPrefixedCodec};
/// use bytes::Bytes;
///
/// struct Reverse;
///
/// impl FrameHandler<LengthPrefixedCodec> for Reverse {
///     fn frame_received(&mut self, frame: Bytes, sink: &mut FrameSink<'_, LengthPrefixedCodec>)
///         -> aioproto::Result<()>
///     {
///         let reversed: Vec<u8> = frame.iter().rev().copied().collect();
///         sink.send(&reversed[..])
///     }
/// }
///
/// let _protocol = CodecProtocol::new(LengthPrefixedCodec::new(), Reverse);
/// ```
#[derive(Debug, Clone)]
pub struct LengthPrefixedCodec {
    prefix_len: usize,
    max_length: usize,
    /// The length of the body being waited for, once its prefix is consumed.
    body: Option<usize>,
}

impl Default for LengthPrefixedCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl LengthPrefixedCodec {
    /// Twisted's `IntNStringReceiver.MAX_LENGTH`: 99,999 bytes.
    pub const DEFAULT_MAX_LENGTH: usize = 99_999;

    fn with_prefix(prefix_len: usize) -> Self {
        LengthPrefixedCodec {
            prefix_len,
            max_length: Self::DEFAULT_MAX_LENGTH,
            body: None,
        }
        .with_max_length(Self::DEFAULT_MAX_LENGTH)
    }

    /// A 4-byte prefix (`Int32StringReceiver`); the same as [`int32`](Self::int32).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::LengthPrefixedCodec::new().prefix_len(), 4);
    /// ```
    pub fn new() -> Self {
        Self::int32()
    }

    /// A 4-byte prefix (`Int32StringReceiver`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::LengthPrefixedCodec::int32().max_length(), 99_999);
    /// ```
    pub fn int32() -> Self {
        Self::with_prefix(4)
    }

    /// A 2-byte prefix (`Int16StringReceiver`): frames of at most 65,535 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::LengthPrefixedCodec::int16().max_length(), 65_535);
    /// ```
    pub fn int16() -> Self {
        Self::with_prefix(2)
    }

    /// A 1-byte prefix (`Int8StringReceiver`): frames of at most 255 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::LengthPrefixedCodec::int8().prefix_len(), 1);
    /// ```
    pub fn int8() -> Self {
        Self::with_prefix(1)
    }

    /// Sets the longest frame accepted when decoding and allowed when
    /// encoding; it is capped at what the prefix can express.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::LengthPrefixedCodec;
    /// assert_eq!(LengthPrefixedCodec::new().with_max_length(10).max_length(), 10);
    /// assert_eq!(LengthPrefixedCodec::int8().with_max_length(1000).max_length(), 255);
    /// ```
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        let expressible = u64::MAX >> (64 - 8 * self.prefix_len);
        self.max_length = usize::try_from(expressible).map_or(max_length, |e| max_length.min(e));
        self
    }

    /// The longest frame accepted.
    ///
    /// # Examples
    ///
    /// See [`with_max_length`](Self::with_max_length).
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The size of the length prefix in bytes: 1, 2 or 4.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::LengthPrefixedCodec::int16().prefix_len(), 2);
    /// ```
    pub fn prefix_len(&self) -> usize {
        self.prefix_len
    }
}

impl Decoder for LengthPrefixedCodec {
    type Item = Bytes;
    type Error = LengthPrefixedError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, LengthPrefixedError> {
        let len = match self.body {
            Some(len) => len,
            None => {
                let Some(prefix) = src.get(..self.prefix_len) else {
                    return Ok(None);
                };
                let length = prefix.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
                let len = usize::try_from(length)
                    .ok()
                    .filter(|&len| len <= self.max_length)
                    .ok_or(LengthPrefixedError::TooLong {
                        length,
                        max: self.max_length,
                    })?;
                src.advance(self.prefix_len);
                self.body = Some(len);
                len
            }
        };
        if src.len() < len {
            reserve_for(src, len);
            return Ok(None);
        }
        self.body = None;
        Ok(Some(src.split_to(len).freeze()))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, LengthPrefixedError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() && self.body.is_none() => Ok(None),
            None => Err(LengthPrefixedError::Truncated),
        }
    }
}

impl Encoder<&[u8]> for LengthPrefixedCodec {
    type Error = LengthPrefixedError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), LengthPrefixedError> {
        if item.len() > self.max_length {
            return Err(LengthPrefixedError::TooLong {
                length: item.len() as u64,
                max: self.max_length,
            });
        }
        dst.reserve(self.prefix_len + item.len());
        dst.put_uint(item.len() as u64, self.prefix_len);
        dst.extend_from_slice(item);
        Ok(())
    }
}

impl Encoder<Bytes> for LengthPrefixedCodec {
    type Error = LengthPrefixedError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), LengthPrefixedError> {
        self.encode(&item[..], dst)
    }
}
