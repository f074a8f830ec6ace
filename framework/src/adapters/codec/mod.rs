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
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{AnyDelimiterCodecError, Decoder, Encoder, LinesCodecError};

use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::transport::dispatch::{Handler, IntoHandler};
use crate::transport::protocol::{BaseProtocol, Protocol};
use crate::transport::timeouts::TimeoutKind;

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
    switch: &'a mut Option<Handler>,
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

    /// Hands the connection over to another protocol once the current
    /// callback returns, without losing a byte: the way out of a line
    /// protocol after `STARTTLS`, an HTTP `Upgrade` or a `CONNECT` line, as
    /// Twisted's protocol-switching patterns do.
    ///
    /// When the callback that called this returns (with `Ok`), in this order:
    ///
    /// 1. the new protocol's `connection_made` runs with the same transport.
    ///    Unlike [`Transport::set_protocol`] (asyncio's, which leaves the
    ///    wiring to the caller), a switch from a codec always introduces the
    ///    transport: the new protocol never saw the connection start;
    /// 2. the bytes this codec received and had not decoded yet (what came
    ///    after the current frame in the same read, plus anything given back
    ///    with [`unread`](Self::unread)) go to its `data_received` (or into
    ///    its buffers, for a [`BufferedProtocol`](crate::BufferedProtocol)),
    ///    in order, in one call;
    /// 3. every later byte from the socket, the peer's EOF, the flow-control
    ///    and time-limit callbacks and `connection_lost` go to the new
    ///    protocol; the handler hears nothing more (not even
    ///    `connection_lost`).
    ///
    /// If the peer's EOF is what delivered the switching frame (the last
    /// frame, decoded at EOF), the new protocol's `eof_received` follows its
    /// `data_received` at once and decides whether the write side stays open.
    ///
    /// A handler error returned from the same callback wins: the switch is
    /// dropped and the connection closes with that error. Called twice in one
    /// callback, the last protocol is the one switched to. A panic or error in
    /// the new protocol's `connection_made` or first `data_received` ends the
    /// connection, and its `connection_lost` gets the error.
    ///
    /// Returns the shared reference to the new protocol, as
    /// [`Transport::set_protocol`] does.
    ///
    /// # Examples
    ///
    /// A line protocol that hands the connection to a raw byte counter after
    /// the line `UPGRADE`:
    ///
    /// ```
    /// use aioproto::{BaseProtocol, Bytes, FrameHandler, FrameSink, LinesCodec, Protocol, Result};
    ///
    /// struct Handshake;
    ///
    /// impl FrameHandler<LinesCodec> for Handshake {
    ///     fn frame_received(&mut self, line: String, sink: &mut FrameSink<'_, LinesCodec>) -> Result<()> {
    ///         if line == "UPGRADE" {
    ///             sink.send("OK")?; // still encoded by the codec: it is written first
    ///             sink.switch_protocol(Counter::default());
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// #[derive(Default)]
    /// struct Counter { bytes: usize }
    /// impl BaseProtocol for Counter {}
    /// impl Protocol for Counter {
    ///     fn data_received(&mut self, data: Bytes) {
    ///         self.bytes += data.len(); // the bytes after "UPGRADE\n" come first
    ///     }
    /// }
    /// ```
    pub fn switch_protocol<P, M>(&mut self, protocol: P) -> Arc<Mutex<P>>
    where
        P: IntoHandler<M>,
    {
        let (shared, handler) = protocol.into_handler();
        *self.switch = Some(handler);
        shared
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
    /// A protocol the handler asked to switch to, taken after its callback.
    switch: Option<Handler>,
    /// The protocol the connection was handed to. The driver calls it
    /// directly from its next pass on; until then (an abort, a panic, queued
    /// before the driver took it) this protocol passes every callback on.
    switched: Option<Handler>,
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
            switch: None,
            switched: None,
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

    /// The handler and a sink over this protocol's codec and buffers.
    fn parts<'a>(&'a mut self, transport: &'a Transport) -> (&'a mut H, FrameSink<'a, C>) {
        let sink = FrameSink {
            codec: &mut self.codec,
            transport,
            buf: &mut self.write_buf,
            raw: &mut self.raw,
            read_buf: &mut self.read_buf,
            switch: &mut self.switch,
        };
        (&mut self.handler, sink)
    }

    /// Runs one handler callback; an error it returns closes the
    /// connection; a switch it asked for happens right after it. Returns
    /// whether the connection was handed over.
    fn call(
        &mut self,
        transport: &Transport,
        callback: impl FnOnce(&mut H, &mut FrameSink<'_, C>) -> Result<()>,
    ) -> bool {
        let (handler, mut sink) = self.parts(transport);
        if let Err(e) = callback(handler, &mut sink) {
            self.fail(e);
        }
        self.hand_over(transport)
    }

    /// Performs a switch the handler asked for (see
    /// [`FrameSink::switch_protocol`]): the driver takes the new protocol
    /// after this callback; it is introduced and gets the undecoded bytes now,
    /// before the driver reads again.
    fn hand_over(&mut self, transport: &Transport) -> bool {
        let Some(next) = self.switch.take() else {
            return false;
        };
        if self.error.is_some() {
            return false;
        }
        let (for_driver, next) = next.shared();
        if !transport.set_handler(for_driver) {
            // The connection already ended (an abort from another task):
            // this handler heard `connection_lost`, the new protocol never starts.
            return false;
        }
        let rest = self.read_buf.split().freeze();
        let mut introduced = next.base().connection_made(transport);
        if introduced.is_ok() && !rest.is_empty() {
            introduced = next.deliver(rest);
        }
        self.switched = Some(next);
        if let Err(e) = introduced {
            // The driver keeps this protocol, which passes the error on to
            // the new one in `connection_lost`.
            transport.cancel_handler();
            self.error = Some(e);
            transport.abort();
        }
        true
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
        while self.error.is_none() && !self.raw && self.switched.is_none() {
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
            if self.call(&transport, |h, sink| h.frame_received(frame, sink)) {
                return;
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
        self.call(&transport, |h, sink| h.raw_data_received(data, sink));
    }

    /// Runs a callback on the protocol the connection was handed to, if it
    /// was and the driver still calls this one; an error ends the connection.
    fn forward<R>(&mut self, callback: impl FnOnce(&Handler) -> Result<R>) -> Option<R> {
        let next = self.switched.as_ref()?;
        match callback(next) {
            Ok(r) => Some(r),
            Err(e) => {
                self.error.get_or_insert(e);
                if let Some(t) = &self.transport {
                    t.abort();
                }
                None
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
        self.call(transport, |h, sink| h.connection_made(sink));
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        let exc = self.error.take().or(exc);
        match self.switched.take() {
            Some(next) => next.base().connection_lost(exc),
            None => self.handler.connection_lost(exc),
        }
    }

    fn pause_writing(&mut self) {
        self.forward(|next| next.base().pause_writing());
    }

    fn resume_writing(&mut self) {
        self.forward(|next| next.base().resume_writing());
    }

    fn timeout_reached(&mut self, kind: TimeoutKind) -> bool {
        if self.switched.is_some() {
            return self
                .forward(|next| next.base().timeout_reached(kind))
                .unwrap_or(false);
        }
        false
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
        if self.switched.is_some() {
            self.forward(|next| next.deliver(data));
            return;
        }
        if self.raw {
            // Zero-copy: the chunk goes to the handler as it came; what it
            // gives back after leaving raw mode is decoded.
            self.deliver_raw(data);
            if !self.raw && self.switched.is_none() {
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
        if self.switched.is_none() {
            self.deliver(true);
        }
        if self.error.is_some() {
            return false;
        }
        if self.switched.is_some() {
            // Handed over before or by the last frame: the new protocol hears
            // of the EOF after the bytes it was given.
            return self
                .forward(|next| next.base().eof_received())
                .unwrap_or(false);
        }
        let Some(transport) = self.transport.clone() else {
            return false;
        };
        let (handler, mut sink) = self.parts(&transport);
        handler.eof_received(&mut sink)
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
