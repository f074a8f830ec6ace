//! Framed protocols: [`CodecProtocol`] runs a tokio-util [`Decoder`] /
//! [`Encoder`] over a transport and hands whole frames to a [`FrameHandler`].
//!
//! The protocol buffers what arrives, decodes as many frames as it can after
//! each chunk, and calls [`FrameHandler::frame_received`] for each. Replies go
//! through a [`FrameSink`], which encodes them and writes them to the
//! transport. At EOF the decoder's `decode_eof` gets the last bytes.
//!
//! A decoder error, or an error returned by the handler, closes the
//! connection (replies already written are flushed first) and the handler's
//! `connection_lost` gets that error.
//!
//! Any tokio-util codec works: [`LinesCodec`](tokio_util::codec::LinesCodec),
//! [`LengthDelimitedCodec`](tokio_util::codec::LengthDelimitedCodec),
//! [`AnyDelimiterCodec`](tokio_util::codec::AnyDelimiterCodec),
//! [`BytesCodec`](tokio_util::codec::BytesCodec) or your own. The only
//! requirement is that [`Error`] converts from the codec's error type;
//! `io::Error` and tokio-util's codec errors already do, and for your own error
//! type add `impl From<MyError> for aioproto::Error`.

use std::fmt;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{AnyDelimiterCodecError, Decoder, Encoder, LinesCodecError};

use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::transport::protocol::{BaseProtocol, Protocol};

/// What a [`CodecProtocol`] calls: whole frames instead of byte chunks.
///
/// # Examples
///
/// An upper-casing line server:
///
/// ```
/// use aioproto::{CodecProtocol, FrameHandler, FrameSink, ServerOptions, create_server};
/// use tokio_util::codec::LinesCodec;
///
/// struct Upper;
///
/// impl FrameHandler<LinesCodec> for Upper {
///     fn frame_received(&mut self, line: String, sink: &mut FrameSink<'_, LinesCodec>)
///         -> aioproto::Result<()>
///     {
///         sink.send(line.to_uppercase())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let server = create_server(|| CodecProtocol::new(LinesCodec::new(), Upper), "127.0.0.1", 0,
///     &ServerOptions::new()).await?;
/// server.close();
/// # Ok(()) }
/// ```
pub trait FrameHandler<C: Decoder>: Send + 'static {
    /// The connection is established. The sink can send a greeting.
    ///
    /// # Errors
    ///
    /// An error closes the connection; `connection_lost` gets it.
    fn connection_made(&mut self, sink: &mut FrameSink<'_, C>) -> Result<()> {
        let _ = sink;
        Ok(())
    }

    /// One whole frame arrived.
    ///
    /// # Errors
    ///
    /// An error closes the connection; `connection_lost` gets it.
    fn frame_received(&mut self, frame: C::Item, sink: &mut FrameSink<'_, C>) -> Result<()>;

    /// The peer sent EOF, after the last frames were delivered. Return true to
    /// keep the write side open (TCP, Unix); false (the default) closes.
    fn eof_received(&mut self, sink: &mut FrameSink<'_, C>) -> bool {
        let _ = sink;
        false
    }

    /// The connection ended: `None` for a clean close, else the decoder's,
    /// handler's or transport's error.
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = exc;
    }
}

/// Encodes replies and writes them to the transport.
pub struct FrameSink<'a, C> {
    codec: &'a mut C,
    transport: &'a Transport,
    buf: &'a mut BytesMut,
}

impl<C> FrameSink<'_, C> {
    /// Encodes `item` and queues it on the transport.
    ///
    /// # Errors
    ///
    /// The encoder's error (the transport is left as it is).
    pub fn send<I>(&mut self, item: I) -> Result<()>
    where
        C: Encoder<I>,
        Error: From<<C as Encoder<I>>::Error>,
    {
        self.codec.encode(item, self.buf)?;
        self.transport.write(self.buf.split().freeze());
        Ok(())
    }

    /// The connection's transport, e.g. to keep a clone or to close.
    pub fn transport(&self) -> &Transport {
        self.transport
    }
}

impl<C> fmt::Debug for FrameSink<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameSink")
            .field("transport", self.transport)
            .finish_non_exhaustive()
    }
}

/// A [`Protocol`] that decodes frames with a codec and hands them to a
/// [`FrameHandler`].
///
/// The protocol buffers what arrives, decodes as many frames as it can after
/// each chunk, and calls [`FrameHandler::frame_received`] for each. Replies go
/// through a [`FrameSink`], which encodes them and writes them to the
/// transport. At EOF the decoder's `decode_eof` gets the last bytes.
///
/// A decoder error, or an error returned by the handler, closes the
/// connection (replies already written are flushed first) and the handler's
/// `connection_lost` gets that error.
///
/// Any tokio-util codec works: [`LinesCodec`](tokio_util::codec::LinesCodec),
/// [`LengthDelimitedCodec`](tokio_util::codec::LengthDelimitedCodec),
/// [`AnyDelimiterCodec`](tokio_util::codec::AnyDelimiterCodec),
/// [`BytesCodec`](tokio_util::codec::BytesCodec) or your own. The only
/// requirement is that [`Error`] converts from the codec's error type;
/// `io::Error` and tokio-util's codec errors already do, and for your own error
/// type add `impl From<MyError> for aioproto::Error`.
///
/// # Examples
///
/// See [`FrameHandler`].
pub struct CodecProtocol<C, H> {
    codec: C,
    handler: H,
    transport: Option<Transport>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    error: Option<Error>,
}

impl<C, H> CodecProtocol<C, H>
where
    C: Decoder + Send + 'static,
    Error: From<C::Error>,
    H: FrameHandler<C>,
{
    /// Runs `handler` over frames decoded by `codec`.
    pub fn new(codec: C, handler: H) -> Self {
        CodecProtocol {
            codec,
            handler,
            transport: None,
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
            error: None,
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Records the first error and closes the connection.
    fn fail(&mut self, err: Error) {
        tracing::debug!(error = %err, "framed connection failed");
        if self.error.is_none() {
            self.error = Some(err);
        }
        if let Some(t) = &self.transport {
            t.close();
        }
    }

    /// Decodes and delivers every complete frame; `eof` uses `decode_eof`.
    fn deliver(&mut self, eof: bool) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        while self.error.is_none() {
            let decoded = if eof {
                self.codec.decode_eof(&mut self.read_buf)
            } else {
                self.codec.decode(&mut self.read_buf)
            };
            let frame = match decoded {
                Ok(Some(frame)) => frame,
                Ok(None) => return,
                Err(e) => return self.fail(Error::from(e)),
            };
            let mut sink = FrameSink {
                codec: &mut self.codec,
                transport: &transport,
                buf: &mut self.write_buf,
            };
            if let Err(e) = self.handler.frame_received(frame, &mut sink) {
                self.fail(e);
            }
        }
    }
}

impl<C, H> BaseProtocol for CodecProtocol<C, H>
where
    C: Decoder + Send + 'static,
    Error: From<C::Error>,
    H: FrameHandler<C>,
{
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
        let mut sink = FrameSink {
            codec: &mut self.codec,
            transport,
            buf: &mut self.write_buf,
        };
        if let Err(e) = self.handler.connection_made(&mut sink) {
            self.fail(e);
        }
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        let exc = self.error.take().or(exc);
        self.handler.connection_lost(exc);
    }
}

impl<C, H> Protocol for CodecProtocol<C, H>
where
    C: Decoder + Send + 'static,
    Error: From<C::Error>,
    H: FrameHandler<C>,
{
    fn data_received(&mut self, data: Bytes) {
        if self.error.is_some() {
            return;
        }
        self.read_buf.extend_from_slice(&data);
        self.deliver(false);
    }

    fn eof_received(&mut self) -> bool {
        if self.error.is_some() {
            return false;
        }
        self.deliver(true);
        if self.error.is_some() {
            return false;
        }
        let Some(transport) = self.transport.clone() else {
            return false;
        };
        let mut sink = FrameSink {
            codec: &mut self.codec,
            transport: &transport,
            buf: &mut self.write_buf,
        };
        self.handler.eof_received(&mut sink)
    }
}

impl<C, H> fmt::Debug for CodecProtocol<C, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecProtocol")
            .field("buffered", &self.read_buf.len())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl From<LinesCodecError> for Error {
    fn from(err: LinesCodecError) -> Self {
        match err {
            LinesCodecError::Io(e) => Error::from(e),
            other => Error::other(other),
        }
    }
}

impl From<AnyDelimiterCodecError> for Error {
    fn from(err: AnyDelimiterCodecError) -> Self {
        match err {
            AnyDelimiterCodecError::Io(e) => Error::from(e),
            other => Error::other(other),
        }
    }
}

pub(crate) mod framing;

#[cfg(test)]
mod tests;
