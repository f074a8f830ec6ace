//! Protocols whose callbacks are `async`: [`AsyncProtocol`] and the
//! [`AsyncAdapter`] that runs one on any transport.
//!
//! A sync [`Protocol`] must not block, so a handler that has to await
//! something per message (a database call per line, a request to another
//! service) is written as an [`AsyncProtocol`] instead. [`AsyncAdapter`] turns
//! it into a [`Protocol`] that [`create_server`](crate::create_server),
//! [`create_connection`](crate::create_connection) and
//! [`testing::TestConnection`](crate::testing::TestConnection) accept.
//!
//! # How it runs
//!
//! The adapter spawns one tokio task per connection that owns the protocol
//! and awaits its callbacks one at a time, in order. Each time data arrives
//! the adapter pauses the transport's reading and resumes it only after
//! `data_received` has returned, so:
//!
//! - callbacks never overlap and run in the order the events happened;
//! - at most one received chunk waits in memory, whatever the peer sends
//!   (the rest stays in the kernel, and TCP flow control slows the peer).
//!
//! The lifecycle is the sync protocol's: `connection_made` first,
//! `connection_lost` exactly once and last. A panic in a callback ends the
//! connection; `connection_lost` then gets [`Error::CallbackPanicked`].
//! `eof_received` returning false (the default) closes the transport.
//!
//! Caveats: [`create_connection`](crate::create_connection) returns once the
//! task is started, possibly before the async `connection_made` finished.
//! Do not call [`Transport::pause_reading`] yourself from an async protocol:
//! the adapter resumes reading after each `data_received`.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::transport::Transport;
use crate::transport::protocol::{BaseProtocol, Protocol};
use crate::util::CatchUnwind;

/// A stream protocol with `async` callbacks.
///
/// Every callback has a no-op default. They run on the adapter's task, one at
/// a time, in order.
///
/// A sync [`Protocol`] must not block, so a handler that has to await
/// something per message (a database call per line, a request to another
/// service) is written as an [`AsyncProtocol`] instead. [`AsyncAdapter`] turns
/// it into a [`Protocol`] that [`create_server`](crate::create_server),
/// [`create_connection`](crate::create_connection) and
/// [`testing::TestConnection`](crate::testing::TestConnection) accept.
///
/// # How it runs
///
/// The adapter spawns one tokio task per connection that owns the protocol
/// and awaits its callbacks one at a time, in order. Each time data arrives
/// the adapter pauses the transport's reading and resumes it only after
/// `data_received` has returned, so:
///
/// - callbacks never overlap and run in the order the events happened;
/// - at most one received chunk waits in memory, whatever the peer sends
/// (the rest stays in the kernel, and TCP flow control slows the peer).
///
/// The lifecycle is the sync protocol's: `connection_made` first,
/// `connection_lost` exactly once and last. A panic in a callback ends the
/// connection; `connection_lost` then gets [`Error::CallbackPanicked`].
/// `eof_received` returning false (the default) closes the transport.
///
/// Caveats: [`create_connection`](crate::create_connection) returns once the
/// task is started, possibly before the async `connection_made` finished.
/// Do not call [`Transport::pause_reading`] yourself from an async protocol:
/// the adapter resumes reading after each `data_received`.
///
/// # Examples
///
/// A line protocol that awaits a (simulated) lookup per line:
///
/// ```
/// use aioproto::{AsyncAdapter, AsyncProtocol, ServerOptions, Transport, create_server};
/// use bytes::Bytes;
///
/// #[derive(Default)]
/// struct Lookup {
///     transport: Option<Transport>,
/// }
///
/// #[async_trait::async_trait]
/// impl AsyncProtocol for Lookup {
///     async fn connection_made(&mut self, transport: &Transport) {
///         self.transport = Some(transport.clone());
///     }
///     async fn data_received(&mut self, data: Bytes) {
///         tokio::time::sleep(std::time::Duration::from_millis(1)).await; // the "database"
///         self.transport.as_ref().unwrap().write(data);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let server = create_server(|| AsyncAdapter::new(Lookup::default()), "127.0.0.1", 0,
///     &ServerOptions::new()).await?;
/// server.close();
/// # Ok(()) }
/// ```
#[async_trait]
pub trait AsyncProtocol: Send + 'static {
    /// The connection is established; keep a clone of `transport` to write.
    async fn connection_made(&mut self, transport: &Transport) {
        let _ = transport;
    }

    /// A chunk of data arrived. Reading is paused until this returns.
    async fn data_received(&mut self, data: Bytes) {
        let _ = data;
    }

    /// The peer sent EOF. Return true to keep the write side open (TCP, Unix);
    /// false (the default) closes the transport.
    async fn eof_received(&mut self) -> bool {
        false
    }

    /// The write buffer went over the high-water mark.
    async fn pause_writing(&mut self) {}

    /// The write buffer drained to the low-water mark.
    async fn resume_writing(&mut self) {}

    /// The connection ended: `None` for a clean close. Called once, last.
    async fn connection_lost(&mut self, exc: Option<Error>) {
        let _ = exc;
    }
}

enum Event {
    Data(Bytes),
    Eof,
    Pause,
    Resume,
    Lost(Option<Error>),
}

enum Stage<P> {
    /// Not connected yet; holds the protocol.
    Idle(P),
    /// The task runs the protocol; events go down the channel.
    Running(mpsc::UnboundedSender<Event>, Transport),
    /// `connection_lost` was passed on.
    Done,
}

/// Runs an [`AsyncProtocol`] as a [`Protocol`]: use `|| AsyncAdapter::new(MyProtocol::new())`
/// as the factory of `create_server` or `create_connection`.
///
/// # Panics
///
/// `connection_made` spawns a tokio task, so the connection must run inside a
/// tokio runtime (every aioproto transport does).
///
/// # Examples
///
/// See [`AsyncProtocol`].
pub struct AsyncAdapter<P> {
    stage: Stage<P>,
}

impl<P: AsyncProtocol> AsyncAdapter<P> {
    /// Wraps `protocol`; it moves to its own task once connected.
    pub fn new(protocol: P) -> Self {
        AsyncAdapter {
            stage: Stage::Idle(protocol),
        }
    }

    fn send(&self, event: Event) {
        if let Stage::Running(tx, _) = &self.stage {
            // The task only stops after `Lost`, which is sent last.
            let _ = tx.send(event);
        }
    }
}

impl<P: AsyncProtocol> BaseProtocol for AsyncAdapter<P> {
    fn connection_made(&mut self, transport: &Transport) {
        let Stage::Idle(protocol) = std::mem::replace(&mut self.stage, Stage::Done) else {
            tracing::error!("AsyncAdapter connected twice");
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.stage = Stage::Running(tx, transport.clone());
        tokio::spawn(run(protocol, transport.clone(), rx));
    }

    fn connection_lost(&mut self, exc: Option<Error>) {
        self.send(Event::Lost(exc));
        self.stage = Stage::Done;
    }

    fn pause_writing(&mut self) {
        self.send(Event::Pause);
    }

    fn resume_writing(&mut self) {
        self.send(Event::Resume);
    }
}

impl<P: AsyncProtocol> Protocol for AsyncAdapter<P> {
    fn data_received(&mut self, data: Bytes) {
        if let Stage::Running(_, transport) = &self.stage {
            // No more data until the async callback has handled this chunk.
            transport.pause_reading();
        }
        self.send(Event::Data(data));
    }

    fn eof_received(&mut self) -> bool {
        self.send(Event::Eof);
        // Keep the write side open until the async callback has decided.
        match &self.stage {
            Stage::Running(_, transport) => transport.can_write_eof(),
            _ => false,
        }
    }
}

impl<P> fmt::Debug for AsyncAdapter<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Idle(_) => "idle",
            Stage::Running(..) => "running",
            Stage::Done => "done",
        };
        f.debug_struct("AsyncAdapter")
            .field("stage", &stage)
            .finish()
    }
}

/// Awaits one callback, turning a panic into [`Error::CallbackPanicked`].
async fn guarded<T>(
    callback: &'static str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Error> {
    CatchUnwind::new(callback, fut).await.inspect_err(|err| {
        tracing::error!(error = %err, "Fatal error: protocol.{callback}() call failed.");
    })
}

/// The per-connection task: runs the callbacks in order.
async fn run<P: AsyncProtocol>(
    mut protocol: P,
    transport: Transport,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    let mut failure = guarded("connection_made", protocol.connection_made(&transport))
        .await
        .err();
    if failure.is_some() {
        transport.abort();
    }
    while let Some(event) = events.recv().await {
        let outcome = match event {
            Event::Lost(exc) => {
                let exc = failure.take().or(exc);
                let _ = guarded("connection_lost", protocol.connection_lost(exc)).await;
                return;
            }
            // After a panic only connection_lost is still delivered.
            _ if failure.is_some() => continue,
            Event::Data(data) => {
                let outcome = guarded("data_received", protocol.data_received(data)).await;
                transport.resume_reading();
                outcome
            }
            Event::Eof => match guarded("eof_received", protocol.eof_received()).await {
                Ok(true) => Ok(()),
                Ok(false) => {
                    transport.close();
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Event::Pause => guarded("pause_writing", protocol.pause_writing()).await,
            Event::Resume => guarded("resume_writing", protocol.resume_writing()).await,
        };
        if let Err(e) = outcome {
            failure = Some(e);
            transport.abort();
        }
    }
}

#[cfg(test)]
mod tests;
