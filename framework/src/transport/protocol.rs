//! The protocol traits: the callbacks a transport makes into user code.
//!
//! As in asyncio, a protocol is a plain object whose methods the framework calls
//! when something happens on its connection. Every callback is synchronous,
//! takes `&mut self` and has a no-op default, so a protocol implements only
//! what it needs. All callbacks of one connection run on that connection's
//! driver task, one at a time, never concurrently.
//!
//! Call order for a stream transport:
//!
//! ```text
//! connection_made -> (data_received | buffer_updated)* -> [eof_received] -> connection_lost
//!                 \-> pause_writing / resume_writing, strictly alternating, anywhere in between
//!                 \-> timeout_reached, anywhere in between (only with a time limit set)
//! ```

use bytes::Bytes;

use crate::Error;
use crate::transport::Transport;
use crate::transport::timeouts::TimeoutKind;

/// Callbacks shared by every stream protocol: the connection's start and end, and
/// write flow control.
///
/// `connection_lost` is called exactly once, last, and never from inside the
/// user's own `close()`/`abort()` call. `None` means a clean close.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Error, Transport};
///
/// struct Logger;
///
/// impl BaseProtocol for Logger {
///     fn connection_made(&mut self, transport: &Transport) {
///         println!("connected to {:?}", transport.peername());
///     }
///     fn connection_lost(&mut self, exc: Option<Error>) {
///         println!("lost: {exc:?}");
///     }
/// }
/// ```
pub trait BaseProtocol: Send + 'static {
    /// Called once when the connection is established (after the TLS handshake, if any).
    ///
    /// Keep a clone of `transport` to write later.
    fn connection_made(&mut self, transport: &Transport) {
        let _ = transport;
    }

    /// Called once when the connection is closed: `None` for a clean close,
    /// `Some(err)` when it failed (reset, panic in a callback, TLS error, …).
    fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = exc;
    }

    /// The transport's write buffer went over the high-water mark.
    ///
    /// aioproto calls this right after the callback (or the batch of writes from
    /// other tasks) that crossed the mark, before any other callback of this
    /// protocol. Stop producing data until [`resume_writing`](Self::resume_writing).
    fn pause_writing(&mut self) {}

    /// The write buffer drained to the low-water mark or below.
    fn resume_writing(&mut self) {}

    /// The connection reached one of its time limits (see
    /// [`TimeoutKind`]); return `true` to keep it open.
    ///
    /// The limits are set on the options:
    /// [`ServerOptions::idle_timeout`](crate::ServerOptions::idle_timeout) and
    /// its siblings, and the same on [`ConnectOptions`](crate::ConnectOptions).
    /// By default (`false`) the connection is aborted: the write buffer is
    /// dropped and `connection_lost` gets an
    /// [`Error::Timeout`] naming the limit (a server
    /// counts it in [`ServerStats::timed_out`](crate::ServerStats::timed_out)).
    /// Returning `true` keeps the connection, and that limit counts again
    /// from now: a protocol can send a keep-alive, or close gracefully with
    /// a goodbye (`transport.write(..)`, `transport.close()`, `true`).
    ///
    /// Called on the driver task, like every callback, never while another
    /// callback of this protocol runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{BaseProtocol, TimeoutKind, Transport};
    ///
    /// struct Pinger(Option<Transport>);
    ///
    /// impl BaseProtocol for Pinger {
    ///     fn connection_made(&mut self, transport: &Transport) {
    ///         self.0 = Some(transport.clone());
    ///     }
    ///     fn timeout_reached(&mut self, kind: TimeoutKind) -> bool {
    ///         match (kind, &self.0) {
    ///             // Quiet for the idle timeout: ping, and stay open.
    ///             (TimeoutKind::Idle, Some(t)) => {
    ///                 t.write("PING\r\n");
    ///                 true
    ///             }
    ///             // Anything else (a peer that stopped reading): abort.
    ///             _ => false,
    ///         }
    ///     }
    /// }
    /// ```
    fn timeout_reached(&mut self, kind: TimeoutKind) -> bool {
        let _ = kind;
        false
    }
}

/// A stream protocol that receives data as [`Bytes`], like asyncio's `Protocol`.
///
/// # Examples
///
/// An echo protocol:
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, Transport};
/// use bytes::Bytes;
///
/// #[derive(Default)]
/// struct Echo(Option<Transport>);
///
/// impl BaseProtocol for Echo {
///     fn connection_made(&mut self, transport: &Transport) {
///         self.0 = Some(transport.clone());
///     }
/// }
///
/// impl Protocol for Echo {
///     fn data_received(&mut self, data: Bytes) {
///         if let Some(t) = &self.0 {
///             t.write(data);
///         }
///     }
/// }
/// ```
pub trait Protocol: BaseProtocol {
    /// Called with each chunk of received data. Chunk boundaries carry no meaning.
    ///
    /// `data` is a zero-copy view of the read buffer, which the connections
    /// on the thread share, and it keeps that whole buffer (128 KiB) alive
    /// while it lives. Writing it, or using it in the callback, costs
    /// nothing more; a small piece kept for long (a partial line, a message
    /// waiting for its peer) should be copied, with `Bytes::copy_from_slice`
    /// or into a `BytesMut` of your own, so that a peer sending a byte at a
    /// time cannot make each byte hold a read buffer. The write buffer and
    /// the streams reader copy what they keep that way themselves.
    fn data_received(&mut self, data: Bytes) {
        let _ = data;
    }

    /// The peer sent EOF (half-closed its write side).
    ///
    /// Return `true` to keep the connection open for writing (TCP and Unix
    /// sockets; TLS ignores it), `false` (the default) to close it.
    fn eof_received(&mut self) -> bool {
        false
    }
}

/// A stream protocol that supplies its own receive buffer, like asyncio's
/// `BufferedProtocol`: the transport reads straight into it, with no copy.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, BufferedProtocol};
///
/// struct Collect {
///     buf: Vec<u8>,
///     got: Vec<u8>,
/// }
///
/// impl BaseProtocol for Collect {}
///
/// impl BufferedProtocol for Collect {
///     fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
///         self.buf.resize(4096, 0);
///         &mut self.buf
///     }
///     fn buffer_updated(&mut self, nbytes: usize) {
///         self.got.extend_from_slice(&self.buf[..nbytes]);
///     }
/// }
/// ```
pub trait BufferedProtocol: BaseProtocol {
    /// Returns the buffer the next read goes into. `size_hint` is the size the
    /// transport would like (0 when it has no preference).
    ///
    /// An empty buffer is a fatal error: the connection ends with
    /// `connection_lost(Some(InvalidState))`.
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8];

    /// `nbytes` bytes were written to the start of the buffer from the last
    /// [`get_buffer`](Self::get_buffer).
    fn buffer_updated(&mut self, nbytes: usize);

    /// The peer sent EOF; same meaning as [`Protocol::eof_received`].
    fn eof_received(&mut self) -> bool {
        false
    }
}
