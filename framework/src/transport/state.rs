//! The state of a stream transport: the shared [`Core`] plus what only
//! streams have (half-close, `start_tls` detach and forwarding, protocol
//! switch, socket options, the hard limit, `drain()` waiters).
//!
//! Fields are private; [`Transport`] and the driver change them through the
//! transitions below. The stream flags beside the core's life:
//!
//! | flag | set by | legal while | cleared |
//! |---|---|---|---|
//! | `eof_requested` | `write_eof()` | `Open` (a later `close()` makes it moot) | never: our EOF is sent once |
//! | `detach_requested` | `start_tls` | `Open`, not yet detaching | when the driver hands the stream over |
//! | `next_handler` | `set_protocol()` | any | taken by the driver's next pass |
//! | `socket_options_changed` | `set_nodelay()`/`set_keepalive()` | a TCP socket | taken by the driver's next pass |
//! | `upgraded_to` | the `start_tls` that succeeded | after the detach (life `Closed`) | never |
//!
//! While `detach_requested`, the driver reads nothing more and ends the pass
//! that finds the buffer flushed by handing the stream to `start_tls`.

use std::task::Waker;

use tokio::sync::oneshot;

use crate::transport::Transport;
use crate::transport::dispatch::Handler;
use crate::transport::driver::Detached;
use crate::transport::handle::{Core, KindState};
use crate::transport::{Capabilities, SocketOptions};

/// A stream transport's state; see the [module docs](self).
pub(crate) struct State {
    core: Core,
    eof_requested: bool,
    detach_requested: bool,
    /// Where a detached stream goes (`start_tls`).
    detach_tx: Option<oneshot::Sender<Detached>>,
    /// A protocol waiting to replace the current one.
    next_handler: Option<Handler>,
    /// Socket options as last set; `None` without a TCP socket.
    socket_options: Option<SocketOptions>,
    socket_options_changed: bool,
    /// Tasks waiting in `Transport::drain`; woken once the buffer is writable
    /// again or the connection ends.
    drain_waiters: Vec<Waker>,
    /// The transport this connection was upgraded to (`start_tls`): writes,
    /// `close()` and `abort()` on this handle go there.
    upgraded_to: Option<Transport>,
    /// Optional cap on the buffer; going over it aborts the connection.
    hard_limit: Option<usize>,
    /// Copied from the capabilities, so write checks need no second lookup.
    writable: bool,
}

/// What the driver takes over when it ends the connection.
pub(crate) struct Ended {
    /// Where to hand the stream, for a detach that may go ahead.
    pub(crate) detach_tx: Option<oneshot::Sender<Detached>>,
    pub(crate) reading_paused: bool,
    /// `drain()` waiters, to wake once `connection_lost` has run.
    pub(crate) drained: Vec<Waker>,
}

impl KindState for State {
    fn core(&self) -> &Core {
        &self.core
    }
    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

impl State {
    pub(crate) fn new(caps: Capabilities, socket_options: Option<SocketOptions>) -> Self {
        State {
            core: Core::new(caps.default_high_water),
            eof_requested: false,
            detach_requested: false,
            detach_tx: None,
            next_handler: None,
            socket_options,
            socket_options_changed: false,
            drain_waiters: Vec::new(),
            upgraded_to: None,
            hard_limit: None,
            writable: caps.writable,
        }
    }

    #[inline]
    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    #[inline]
    pub(crate) fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    // --- Writes (handles) ---

    /// Checks a write against the transport's state, logging dropped writes.
    #[inline]
    pub(crate) fn accepts_writes(&mut self, what: &str) -> bool {
        if !self.writable {
            tracing::error!("{what}() on a read-only transport; data dropped");
            return false;
        }
        if self.eof_requested && !self.core.is_closing() {
            tracing::error!("cannot call {what}() after write_eof(); data dropped");
            return false;
        }
        if self.core.is_closing() {
            self.core.drop_write(what);
            return false;
        }
        true
    }

    /// The driver's waker, if a write that just queued data needs the driver.
    ///
    /// An idle driver must flush a buffer that was empty. A driver that already
    /// has data queued flushes on its own once the socket drains, but a write
    /// that crossed the high-water mark or the hard limit needs it *now*:
    /// otherwise, with a peer that does not read, writes from other tasks would
    /// never cause `pause_writing` or the hard-limit abort. A driver running our
    /// caller's callback is not parked and looks at the buffer afterwards.
    #[inline]
    pub(crate) fn after_write(&mut self, was_empty: bool) -> Option<Waker> {
        let buffer = self.core.buffer();
        let crossed_high = !buffer.is_paused() && buffer.len() > buffer.limits().high;
        if was_empty || crossed_high || self.over_hard_limit().is_some() {
            self.core.mark_dirty()
        } else {
            None
        }
    }

    /// `write_eof()`: flush, then half-close (on a write-only transport, which
    /// has nothing left after EOF, that is `close()`).
    pub(crate) fn request_eof(&mut self, write_only: bool) {
        if !self.core.is_closing() {
            self.eof_requested = true;
            if write_only {
                self.core.close();
            }
        }
    }

    /// Not over the high-water mark and the protocol not paused: a writer may go on.
    #[inline]
    pub(crate) fn is_writable(&self) -> bool {
        let buffer = self.core.buffer();
        !buffer.is_paused() && buffer.len() <= buffer.limits().high
    }

    /// Registers a `drain()` waiter (once per task).
    pub(crate) fn add_drain_waiter(&mut self, waker: &Waker) {
        if !self.drain_waiters.iter().any(|w| w.will_wake(waker)) {
            self.drain_waiters.push(waker.clone());
        }
    }

    pub(crate) fn set_hard_limit(&mut self, limit: Option<usize>) {
        self.hard_limit = limit;
    }

    /// Whether the write buffer went over the hard limit.
    #[inline]
    pub(crate) fn over_hard_limit(&self) -> Option<usize> {
        self.hard_limit
            .filter(|&limit| self.core.buffer().len() > limit)
    }

    // --- Steering (handles) ---

    pub(crate) fn set_next_handler(&mut self, handler: Handler) {
        self.next_handler = Some(handler);
    }

    pub(crate) fn socket_options(&self) -> Option<SocketOptions> {
        self.socket_options
    }

    /// Changes the socket options, for the driver to apply; no effect without
    /// a TCP socket.
    pub(crate) fn change_socket_options(&mut self, change: impl FnOnce(&mut SocketOptions)) {
        if let Some(options) = &mut self.socket_options {
            change(options);
            self.socket_options_changed = true;
        }
    }

    /// Where this handle's calls go after a `start_tls`.
    #[inline]
    pub(crate) fn upgraded_to(&self) -> Option<&Transport> {
        self.upgraded_to.as_ref()
    }

    pub(crate) fn set_upgraded_to(&mut self, next: Transport) {
        self.upgraded_to = Some(next);
    }

    /// `start_tls` asks for the stream: false if the connection is closing or
    /// already being detached.
    pub(crate) fn request_detach(&mut self, tx: oneshot::Sender<Detached>) -> bool {
        if self.core.is_closing() || self.detach_requested {
            return false;
        }
        self.detach_requested = true;
        self.detach_tx = Some(tx);
        true
    }

    // --- The driver's side ---

    #[inline]
    pub(crate) fn take_next_handler(&mut self) -> Option<Handler> {
        self.next_handler.take()
    }

    /// Socket options a handle changed since the last pass.
    #[inline]
    pub(crate) fn take_changed_socket_options(&mut self) -> Option<SocketOptions> {
        std::mem::take(&mut self.socket_options_changed)
            .then_some(self.socket_options)
            .flatten()
    }

    /// The protocol may be given data: reading, and not being detached.
    #[inline]
    pub(crate) fn wants_data(&self) -> bool {
        self.core.is_reading() && !self.detach_requested
    }

    #[inline]
    pub(crate) fn eof_requested(&self) -> bool {
        self.eof_requested
    }

    #[inline]
    pub(crate) fn detaching(&self) -> bool {
        self.detach_requested
    }

    /// Moves the drain waiters to wake into `into`, if the buffer is writable again.
    #[inline]
    pub(crate) fn drain_waiters_to_wake(&mut self, into: &mut Vec<Waker>) {
        if !self.drain_waiters.is_empty() && (self.is_writable() || self.core.is_closed()) {
            into.append(&mut self.drain_waiters);
        }
    }

    /// The connection ends; `clean` says it ended without an error, so a
    /// requested detach may go ahead (an abort never hands the stream over).
    pub(crate) fn end(&mut self, clean: bool) -> Ended {
        let detach_tx = self
            .detach_tx
            .take()
            .filter(|_| clean && !self.core.is_aborting());
        self.core.mark_closed();
        Ended {
            detach_tx,
            reading_paused: self.core.is_reading_paused(),
            drained: std::mem::take(&mut self.drain_waiters),
        }
    }
}
