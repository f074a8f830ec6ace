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

    /// Bytes that arrived in raw mode (see [`FrameSink::set_raw_mode`]), as
    /// Twisted's `rawDataReceived`: the bytes left undecoded when raw mode
    /// began come first, then everything the peer sends until the handler
    /// goes back with `set_raw_mode(false)`.
    ///
    /// # Errors
    ///
    /// An error closes the connection. The default is an error: a handler
    /// that turns raw mode on must implement this.
    fn raw_data_received(&mut self, data: Bytes, sink: &mut FrameSink<'_, C>) -> Result<()> {
        let _ = (data, sink);
        Err(Error::invalid_state(
            "raw mode is on but the handler does not implement raw_data_received",
        ))
    }

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
    raw: &'a mut bool,
    read_buf: &'a mut BytesMut,
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

    /// Switches between frames and raw bytes, like Twisted's
    /// `LineReceiver.setRawMode()` / `setLineMode()`.
    ///
    /// With raw mode on, decoding stops right after the current callback:
    /// the bytes already received and not yet decoded go to
    /// [`FrameHandler::raw_data_received`] first, with nothing lost, then
    /// every later chunk as it arrives. Turned off (from
    /// `raw_data_received`), later bytes are decoded into frames again.
    ///
    /// # Examples
    ///
    /// A header line, then a raw body of the length it announced:
    ///
    /// ```
    /// use aioproto::{Bytes, FrameHandler, FrameSink, LinesCodec, Result};
    ///
    /// #[derive(Default)]
    /// struct Upload { left: usize, body: Vec<u8> }
    ///
    /// impl FrameHandler<LinesCodec> for Upload {
    ///     fn frame_received(&mut self, line: String, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
    ///         self.left = line.trim().parse().unwrap_or(0);
    ///         sink.set_raw_mode(true);
    ///         Ok(())
    ///     }
    ///     fn raw_data_received(&mut self, data: Bytes, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
    ///         let take = data.len().min(self.left - self.body.len());
    ///         self.body.extend_from_slice(&data[..take]);
    ///         if self.body.len() == self.left {
    ///             sink.send(format!("got {} bytes", self.body.len()))?;
    ///             sink.set_raw_mode(false);
    ///             sink.unread(&data[take..]); // the next header line, if it came along
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// ```
    pub fn set_raw_mode(&mut self, on: bool) {
        *self.raw = on;
    }

    /// Whether raw mode is on.
    pub fn is_raw_mode(&self) -> bool {
        *self.raw
    }

    /// Puts `data` back in front of the bytes still to be decoded, for a raw
    /// handler that took only part of a chunk before `set_raw_mode(false)`
    /// (Twisted's `setLineMode(extra)`): nothing the peer sent is lost.
    pub fn unread(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut joined = BytesMut::with_capacity(data.len() + self.read_buf.len());
        joined.extend_from_slice(data);
        joined.extend_from_slice(self.read_buf);
        *self.read_buf = joined;
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
    /// Bytes go to `raw_data_received` instead of the decoder.
    raw: bool,
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
            raw: false,
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
        while self.error.is_none() && !self.raw {
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
                raw: &mut self.raw,
                read_buf: &mut self.read_buf,
            };
            if let Err(e) = self.handler.frame_received(frame, &mut sink) {
                self.fail(e);
            }
            if self.raw && !self.read_buf.is_empty() {
                // Raw mode began: what is left undecoded is raw bytes now.
                let rest = self.read_buf.split().freeze();
                self.deliver_raw(rest);
            }
        }
    }

    /// Hands `data` to the handler in raw mode; it may switch back, and then
    /// what it did not take stays for the decoder.
    fn deliver_raw(&mut self, data: Bytes) {
        let Some(transport) = self.transport.clone() else {
            return;
        };
        let mut sink = FrameSink {
            codec: &mut self.codec,
            transport: &transport,
            buf: &mut self.write_buf,
            raw: &mut self.raw,
            read_buf: &mut self.read_buf,
        };
        if let Err(e) = self.handler.raw_data_received(data, &mut sink) {
            self.fail(e);
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
            raw: &mut self.raw,
            read_buf: &mut self.read_buf,
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
        if self.raw {
            // Zero-copy: the chunk goes to the handler as it came; what it
            // gives back after leaving raw mode is decoded.
            self.deliver_raw(data);
            if !self.raw {
                self.deliver(false);
            }
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
            raw: &mut self.raw,
            read_buf: &mut self.read_buf,
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
