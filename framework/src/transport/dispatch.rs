//! Type-erased protocol dispatch: how a driver calls a user's protocol.
//!
//! A protocol the user may hold lives in an `Arc<Mutex<P>>`: the driver locks it for the
//! length of one callback, and the user keeps a clone to look at the protocol's state from
//! outside (asyncio's `create_connection` returns the protocol object for the same reason).
//! A server's protocol, which only its driver ever holds, lives in a `Box<Mutex<P>>`
//! ([`Handler::Alone`]; a buffered one in the only `Arc` there is): the driver's `&mut`
//! reaches it without locking on every read, and the rare callbacks
//! (`connection_made`, `eof_received`, ...) lock as before.
//! Every call runs under the crate's one panic guard, so a panic becomes an [`Error`] that ends
//! that connection only.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::transport::protocol::{BufferedProtocol, Protocol};
use crate::transport::timeouts::TimeoutKind;
use crate::util::{catch_panic, lock};

/// Runs one protocol callback under the panic guard, logging a panic the way
/// asyncio logs a callback that raised.
///
/// The `Ok` arm is spelled out and the log is out of line: with
/// `inspect_err`, the `Ok` of every callback was built in a temporary and
/// copied out whole (the error's 64 bytes), about 15 instructions per
/// `data_received`.
#[inline]
pub(crate) fn guard<R>(callback: &'static str, f: impl FnOnce() -> R) -> Result<R> {
    match catch_panic(callback, f) {
        Ok(value) => Ok(value),
        Err(err) => Err(log_failed(callback, err)),
    }
}

/// Logs a callback's panic (see [`guard`]) and hands the error back.
#[cold]
#[inline(never)]
fn log_failed(callback: &'static str, err: Error) -> Error {
    tracing::error!(error = %err, "Fatal error: protocol.{callback}() call failed.");
    err
}

/// The callbacks every stream protocol has, object-safe.
pub trait DynBase: Send + Sync {
    fn connection_made(&self, transport: &Transport) -> Result<()>;
    fn connection_lost(&self, exc: Option<Error>);
    fn pause_writing(&self) -> Result<()>;
    fn resume_writing(&self) -> Result<()>;
    fn eof_received(&self) -> Result<bool>;
    fn timeout_reached(&self, kind: TimeoutKind) -> Result<bool>;
}

/// A `Protocol` behind its mutex.
pub trait DynProtocol: DynBase {
    fn data_received(&self, data: Bytes) -> Result<()>;
    /// `data_received` through the only reference there is
    /// ([`Handler::Alone`]): nobody else can lock the mutex, so the call
    /// skips it.
    fn data_received_alone(&mut self, data: Bytes) -> Result<()>;
}

/// A `BufferedProtocol` behind its mutex: `read` fills the protocol's own buffer.
pub trait DynBuffered: DynBase {
    /// Asks for a buffer, lets `read` fill it, then reports the bytes read.
    /// Returns what `read` returned; `Ok(None)` means the read would block.
    fn read_into(&self, read: &mut ReadFn<'_>) -> Result<Option<std::io::Result<usize>>>;
    /// `read_into` through the only reference there is (a server's
    /// connection): no lock.
    fn read_into_alone(&mut self, read: &mut ReadFn<'_>) -> Result<Option<std::io::Result<usize>>>;
}

/// What fills a buffered protocol's buffer: `None` if the read would block.
pub(crate) type ReadFn<'a> = dyn FnMut(&mut [u8]) -> Option<std::io::Result<usize>> + 'a;

/// Marker for [`IntoHandler`] on a [`Protocol`].
#[derive(Debug)]
pub enum StreamMarker {}
/// Marker for [`IntoHandler`] on a [`BufferedProtocol`].
#[derive(Debug)]
pub enum BufferedMarker {}

/// A buffered protocol shared with the user. A stream protocol needs no
/// such wrapper: the driver calls the user's own `Arc<Mutex<P>>` as an
/// `Arc<dyn DynProtocol>`, one allocation and one indirection less. (Both
/// kinds cannot implement the traits on `Mutex<P>`: a type may implement
/// both `Protocol` and `BufferedProtocol`.)
struct BufferedCell<P>(Arc<Mutex<P>>);

/// A buffered protocol only its driver holds (a server's connection).
struct LoneBuffered<P>(Mutex<P>);

/// The base callbacks for `$ty`: each locks the protocol `$protocol` names
/// and calls it, `eof_received` being `$trait_`'s.
macro_rules! impl_base {
    ($ty:ty, $trait_:ident, |$this:ident| $protocol:expr) => {
        impl<P: $trait_> DynBase for $ty {
            fn connection_made(&$this, transport: &Transport) -> Result<()> {
                guard("connection_made", || lock($protocol).connection_made(transport))
            }
            fn connection_lost(&$this, exc: Option<Error>) {
                let _ = guard("connection_lost", || lock($protocol).connection_lost(exc));
            }
            fn pause_writing(&$this) -> Result<()> {
                guard("pause_writing", || lock($protocol).pause_writing())
            }
            fn resume_writing(&$this) -> Result<()> {
                guard("resume_writing", || lock($protocol).resume_writing())
            }
            fn eof_received(&$this) -> Result<bool> {
                guard("eof_received", || $trait_::eof_received(&mut *lock($protocol)))
            }
            fn timeout_reached(&$this, kind: TimeoutKind) -> Result<bool> {
                guard("timeout_reached", || lock($protocol).timeout_reached(kind))
            }
        }
    };
}

impl_base!(Mutex<P>, Protocol, |self| self);
impl_base!(BufferedCell<P>, BufferedProtocol, |self| &self.0);
impl_base!(LoneBuffered<P>, BufferedProtocol, |self| &self.0);

impl<P: Protocol> DynProtocol for Mutex<P> {
    fn data_received(&self, data: Bytes) -> Result<()> {
        guard("data_received", || lock(self).data_received(data))
    }
    fn data_received_alone(&mut self, data: Bytes) -> Result<()> {
        // Past poisoning, as `lock` goes on past it.
        let protocol = self.get_mut().unwrap_or_else(PoisonError::into_inner);
        guard("data_received", || protocol.data_received(data))
    }
}

/// One buffered read: asks `protocol` for a buffer, lets `read` fill it,
/// then reports the bytes read.
fn fill<P: BufferedProtocol>(
    protocol: &mut P,
    read: &mut ReadFn<'_>,
) -> Result<Option<std::io::Result<usize>>> {
    let buf = guard("get_buffer", || protocol.get_buffer(0))?;
    if buf.is_empty() {
        let err = Error::invalid_state("get_buffer() returned an empty buffer");
        tracing::error!(error = %err, "Fatal error: protocol.get_buffer() call failed.");
        return Err(err);
    }
    let outcome = read(buf);
    if let Some(Ok(n @ 1..)) = outcome {
        guard("buffer_updated", || protocol.buffer_updated(n))?;
    }
    Ok(outcome)
}

impl<P: BufferedProtocol> DynBuffered for BufferedCell<P> {
    fn read_into(&self, read: &mut ReadFn<'_>) -> Result<Option<std::io::Result<usize>>> {
        fill(&mut *lock(&self.0), read)
    }
    fn read_into_alone(&mut self, read: &mut ReadFn<'_>) -> Result<Option<std::io::Result<usize>>> {
        // Only the driver holds this cell, but the user holds a clone of
        // the `Arc` inside it: lock.
        self.read_into(read)
    }
}

impl<P: BufferedProtocol> DynBuffered for LoneBuffered<P> {
    fn read_into(&self, read: &mut ReadFn<'_>) -> Result<Option<std::io::Result<usize>>> {
        fill(&mut *lock(&self.0), read)
    }
    fn read_into_alone(&mut self, read: &mut ReadFn<'_>) -> Result<Option<std::io::Result<usize>>> {
        fill(
            self.0.get_mut().unwrap_or_else(PoisonError::into_inner),
            read,
        )
    }
}

/// The protocol a driver calls, of either kind.
pub enum Handler {
    /// A [`Protocol`] the user shares: they hold a clone of its `Arc`.
    Stream(Arc<dyn DynProtocol>),
    /// A [`Protocol`] only the driver holds (a server's connection, whose
    /// protocol the user never sees): `data_received` takes no lock and
    /// there is no `Arc` to go through, about 25 instructions a read less
    /// (DESIGN.md, issue 13's round 13).
    Alone(Box<dyn DynProtocol>),
    /// A [`BufferedProtocol`]: the user's shared cell, or a server's
    /// protocol that only the driver holds, whose reads then take no lock
    /// (`Arc::get_mut`; see [`Handler::read_into`]).
    Buffered(Arc<dyn DynBuffered>),
    /// The protocol was handed on or has had its `connection_lost`.
    Finished,
}

impl Handler {
    pub(crate) fn base(&self) -> &dyn DynBase {
        match self {
            Handler::Stream(p) => &**p,
            Handler::Alone(p) => &**p,
            Handler::Buffered(p) => &**p,
            Handler::Finished => &Finished,
        }
    }

    /// A stream protocol's `data_received`, with no lock when it is
    /// [`Alone`](Handler::Alone); `Ok` for any other handler.
    #[inline]
    pub(crate) fn data_received(&mut self, data: Bytes) -> Result<()> {
        match self {
            Handler::Alone(p) => p.data_received_alone(data),
            Handler::Stream(p) => p.data_received(data),
            Handler::Buffered(_) | Handler::Finished => Ok(()),
        }
    }

    /// A buffered protocol's read (see [`DynBuffered::read_into`]), with no
    /// lock when the driver holds the only reference (a server's
    /// connection); `Ok(None)` (nothing read) for any other handler.
    pub(crate) fn read_into(
        &mut self,
        read: &mut ReadFn<'_>,
    ) -> Result<Option<std::io::Result<usize>>> {
        match self {
            Handler::Buffered(p) => match Arc::get_mut(p) {
                Some(alone) => alone.read_into_alone(read),
                None => p.read_into(read),
            },
            Handler::Stream(_) | Handler::Alone(_) | Handler::Finished => Ok(None),
        }
    }
}

impl Handler {
    /// Hands `data` to the protocol as one read would: a [`Protocol`] gets it
    /// in `data_received`; a [`BufferedProtocol`] gets it copied into its own
    /// buffers, as many `get_buffer`/`buffer_updated` rounds as it takes.
    pub(crate) fn deliver(&self, data: Bytes) -> Result<()> {
        match self {
            Handler::Stream(p) => p.data_received(data),
            Handler::Alone(p) => p.data_received(data),
            Handler::Buffered(p) => deliver_buffered(&**p, &data),
            Handler::Finished => Ok(()),
        }
    }

    /// Two handlers that call the same protocol: one for the driver, one kept
    /// by a protocol that hands the connection over and may still have to
    /// pass on callbacks the driver sent it before it took the new one.
    pub(crate) fn shared(self) -> (Handler, Handler) {
        match self {
            Handler::Stream(p) => (Handler::Stream(p.clone()), Handler::Stream(p)),
            Handler::Alone(p) => {
                let p: Arc<dyn DynProtocol> = Arc::from(p);
                (Handler::Stream(p.clone()), Handler::Stream(p))
            }
            Handler::Buffered(p) => (Handler::Buffered(p.clone()), Handler::Buffered(p)),
            Handler::Finished => (Handler::Finished, Handler::Finished),
        }
    }
}

/// [`Handler::deliver`] for a buffered protocol: `data` copied into its
/// buffers, as many `get_buffer`/`buffer_updated` rounds as it takes.
fn deliver_buffered(protocol: &dyn DynBuffered, data: &[u8]) -> Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let mut copy = |buf: &mut [u8]| {
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
            Some(Ok(n))
        };
        protocol.read_into(&mut copy)?;
    }
    Ok(())
}

/// Stands in for a protocol after it was handed on; every callback is a no-op.
struct Finished;

impl DynBase for Finished {
    fn connection_made(&self, _: &Transport) -> Result<()> {
        Ok(())
    }
    fn connection_lost(&self, _: Option<Error>) {}
    fn pause_writing(&self) -> Result<()> {
        Ok(())
    }
    fn resume_writing(&self) -> Result<()> {
        Ok(())
    }
    fn eof_received(&self) -> Result<bool> {
        Ok(false)
    }
    fn timeout_reached(&self, _: TimeoutKind) -> Result<bool> {
        Ok(false)
    }
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Handler::Stream(_) => "Handler::Stream",
            Handler::Alone(_) => "Handler::Alone",
            Handler::Buffered(_) => "Handler::Buffered",
            Handler::Finished => "Handler::Finished",
        })
    }
}

/// A protocol value that a transport can drive: any [`Protocol`] or
/// [`BufferedProtocol`].
///
/// `M` is a marker ([`StreamMarker`] or [`BufferedMarker`]) that lets one
/// generic function accept both kinds; it is inferred, never written. A type
/// that implements both traits must be wrapped to pick one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a protocol aioproto can drive",
    label = "`{Self}` implements neither `Protocol` nor `BufferedProtocol`",
    note = "implement `Protocol` or `BufferedProtocol` for `{Self}` (`BaseProtocol` alone is not enough)"
)]
pub trait IntoHandler<M>: Send + Sized + 'static {
    /// Wraps the protocol for a driver and returns the user's shared reference.
    #[doc(hidden)]
    fn into_handler(self) -> (Arc<Mutex<Self>>, Handler);

    /// Wraps the protocol for a driver that alone holds it (a server's
    /// connection): nobody gets a shared reference.
    #[doc(hidden)]
    fn into_lone_handler(self) -> Handler {
        self.into_handler().1
    }
}

impl<P: Protocol> IntoHandler<StreamMarker> for P {
    fn into_handler(self) -> (Arc<Mutex<Self>>, Handler) {
        let shared = Arc::new(Mutex::new(self));
        (shared.clone(), Handler::Stream(shared))
    }

    fn into_lone_handler(self) -> Handler {
        Handler::Alone(Box::new(Mutex::new(self)))
    }
}

impl<P: BufferedProtocol> IntoHandler<BufferedMarker> for P {
    fn into_handler(self) -> (Arc<Mutex<Self>>, Handler) {
        let shared = Arc::new(Mutex::new(self));
        (
            shared.clone(),
            Handler::Buffered(Arc::new(BufferedCell(shared))),
        )
    }

    fn into_lone_handler(self) -> Handler {
        Handler::Buffered(Arc::new(LoneBuffered(Mutex::new(self))))
    }
}

/// Makes one protocol per connection; implemented for every
/// `Fn() -> P + Send + Sync + 'static` closure.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a protocol factory",
    label = "expected a `Fn() -> P + Send + Sync + 'static`, where `P` implements `Protocol` or `BufferedProtocol`",
    note = "implement `Protocol` or `BufferedProtocol` for the type the factory returns"
)]
pub trait ProtocolFactory<M>: Send + Sync + 'static {
    /// The protocol type made.
    type Protocol: IntoHandler<M>;
    /// Makes a protocol for a new connection.
    fn make(&self) -> Self::Protocol;
}

impl<F, P, M> ProtocolFactory<M> for F
where
    F: Fn() -> P + Send + Sync + 'static,
    P: IntoHandler<M>,
{
    type Protocol = P;
    fn make(&self) -> P {
        self()
    }
}

#[cfg(test)]
mod tests;
