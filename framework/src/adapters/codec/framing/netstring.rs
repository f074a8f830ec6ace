//! [`NetstringCodec`]: djb's netstrings, `<length>:<bytes>,` (Twisted's `NetstringReceiver`).

use std::fmt::Write as _;
use std::io;

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::reserve_for;
use crate::error::Error;

/// Why a [`NetstringCodec`] gave up.
///
/// Every decoding error is decided by the first byte that breaks the format,
/// so it is the same however the input was split; the connection should be
/// closed (a [`CodecProtocol`](crate::CodecProtocol) does so). It converts
/// into [`Error::Other`] (or [`Error::Io`]).
///
/// # Examples
///
/// ```
/// use aioproto::{NetstringCodec, NetstringError};
/// use tokio_util::codec::Decoder;
///
/// let mut buf = bytes::BytesMut::from(&b"12x"[..]);
/// let err = NetstringCodec::new().decode(&mut buf).unwrap_err();
/// assert!(matches!(err, NetstringError::BadLength));
/// assert_eq!(err.to_string(), "netstring length is not a decimal number");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetstringError {
    /// The length is empty or holds a byte other than a digit before its `:`.
    #[error("netstring length is not a decimal number")]
    BadLength,

    /// The length has a leading zero (only `0:,` may start with `0`).
    #[error("netstring length has a leading zero")]
    LeadingZero,

    /// The announced length is over the limit; found while reading the
    /// length, before any of the body is buffered.
    #[error("netstring is longer than {max} bytes")]
    TooLong {
        /// The codec's limit.
        max: usize,
    },

    /// The byte after the body is not `,`.
    #[error("netstring does not end with a comma")]
    MissingComma,

    /// The stream ended inside a netstring.
    #[error("netstring cut short by end of stream")]
    Truncated,

    /// An I/O error from the stream being decoded.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<NetstringError> for Error {
    fn from(err: NetstringError) -> Self {
        match err {
            NetstringError::Io(e) => Error::from(e),
            other => Error::other(other),
        }
    }
}

/// Netstrings: each frame is its length in decimal, `:`, the bytes, and `,`;
/// `b"5:hello,"` carries `hello`. Twisted's `NetstringReceiver` as a
/// tokio-util codec, for [`CodecProtocol`](crate::CodecProtocol) or `Framed`.
///
/// Decoding is strict, as the [spec](https://cr.yp.to/proto/netstrings.txt)
/// says: no leading zeros, nothing but digits before the `:`, and a `,` after
/// the body. A length over the limit (default
/// [`DEFAULT_MAX_LENGTH`](Self::DEFAULT_MAX_LENGTH), Twisted's `MAX_LENGTH`)
/// is refused as soon as its digits arrive, before any of the body is
/// buffered. Frames come out as [`Bytes`]; `Bytes` and `&[u8]` go in.
///
/// # Examples
///
/// ```
/// use aioproto::NetstringCodec;
/// use bytes::{Bytes, BytesMut};
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = NetstringCodec::new();
/// let mut wire = BytesMut::new();
/// codec.encode(&b"hello"[..], &mut wire)?;
/// codec.encode(Bytes::new(), &mut wire)?;
/// assert_eq!(&wire[..], b"5:hello,0:,");
///
/// assert_eq!(codec.decode(&mut wire)?, Some(Bytes::from("hello")));
/// assert_eq!(codec.decode(&mut wire)?, Some(Bytes::new()));
/// assert_eq!(codec.decode(&mut wire)?, None);
/// # Ok::<(), aioproto::NetstringError>(())
/// ```
///
/// A server that echoes each netstring back:
///
/// ```
/// use aioproto::{CodecProtocol, FrameHandler, FrameSink, NetstringCodec, ServerOptions, create_server};
/// use bytes::Bytes;
///
/// struct Echo;
///
/// impl FrameHandler<NetstringCodec> for Echo {
///     fn frame_received(&mut self, frame: Bytes, sink: &mut FrameSink<'_, NetstringCodec>)
///         -> aioproto::Result<()>
///     {
///         sink.send(frame)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let server = create_server(|| CodecProtocol::new(NetstringCodec::new(), Echo), "127.0.0.1", 0,
///     &ServerOptions::new()).await?;
///
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// let mut client = tokio::net::TcpStream::connect(server.local_addrs()[0]).await?;
/// client.write_all(b"3:abc,").await?;
/// let mut reply = [0u8; 6];
/// client.read_exact(&mut reply).await?;
/// assert_eq!(&reply, b"3:abc,");
/// server.close();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NetstringCodec {
    max_length: usize,
    /// The length of the body being waited for, once its prefix is consumed.
    body: Option<usize>,
}

impl Default for NetstringCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl NetstringCodec {
    /// Twisted's `NetstringReceiver.MAX_LENGTH`: 99,999 bytes.
    pub const DEFAULT_MAX_LENGTH: usize = 99_999;

    /// A codec accepting netstrings of up to
    /// [`DEFAULT_MAX_LENGTH`](Self::DEFAULT_MAX_LENGTH) bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::NetstringCodec::new().max_length(), 99_999);
    /// ```
    pub fn new() -> Self {
        NetstringCodec {
            max_length: Self::DEFAULT_MAX_LENGTH,
            body: None,
        }
    }

    /// Sets the longest body accepted when decoding and allowed when encoding.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{NetstringCodec, NetstringError};
    /// use tokio_util::codec::Decoder;
    ///
    /// let mut codec = NetstringCodec::new().with_max_length(9);
    /// let mut buf = bytes::BytesMut::from(&b"10"[..]); // no body yet: refused already
    /// assert!(matches!(codec.decode(&mut buf), Err(NetstringError::TooLong { max: 9 })));
    /// ```
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// The longest body accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::NetstringCodec::new().with_max_length(5).max_length(), 5);
    /// ```
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Reads `<digits>:` at the start of `src`: `Ok(None)` until the colon is in.
    fn length(&self, src: &[u8]) -> Result<Option<(usize, usize)>, NetstringError> {
        let mut n: usize = 0;
        for (i, &b) in src.iter().enumerate() {
            match b {
                b':' if i == 0 => return Err(NetstringError::BadLength),
                b':' => return Ok(Some((n, i + 1))),
                b'0'..=b'9' if i == 1 && src[0] == b'0' => {
                    return Err(NetstringError::LeadingZero);
                }
                b'0'..=b'9' => {
                    n = n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(usize::from(b - b'0')))
                        .filter(|&n| n <= self.max_length)
                        .ok_or(NetstringError::TooLong {
                            max: self.max_length,
                        })?;
                }
                _ => return Err(NetstringError::BadLength),
            }
        }
        Ok(None)
    }
}

impl Decoder for NetstringCodec {
    type Item = Bytes;
    type Error = NetstringError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, NetstringError> {
        let len = match self.body {
            Some(len) => len,
            None => match self.length(src)? {
                None => return Ok(None),
                Some((len, prefix)) => {
                    src.advance(prefix);
                    self.body = Some(len);
                    len
                }
            },
        };
        // The body and its comma.
        if src.len() <= len {
            reserve_for(src, len.saturating_add(1));
            return Ok(None);
        }
        if src[len] != b',' {
            return Err(NetstringError::MissingComma);
        }
        let frame = src.split_to(len).freeze();
        src.advance(1);
        self.body = None;
        Ok(Some(frame))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, NetstringError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() && self.body.is_none() => Ok(None),
            None => Err(NetstringError::Truncated),
        }
    }
}

impl Encoder<&[u8]> for NetstringCodec {
    type Error = NetstringError;

    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), NetstringError> {
        if item.len() > self.max_length {
            return Err(NetstringError::TooLong {
                max: self.max_length,
            });
        }
        dst.reserve(item.len() + 22);
        // Writing to a BytesMut cannot fail.
        let _ = write!(dst, "{}:", item.len());
        dst.extend_from_slice(item);
        dst.extend_from_slice(b",");
        Ok(())
    }
}

impl Encoder<Bytes> for NetstringCodec {
    type Error = NetstringError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), NetstringError> {
        self.encode(&item[..], dst)
    }
}
