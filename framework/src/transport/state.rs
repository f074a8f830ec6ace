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
//! | `pause_reading_on_backpressure` | `start_connection`, from the options | before the driver starts | never |
//! | `reading_held` | the driver, when a pass leaves the buffer over the high-water mark (only with `pause_reading_on_backpressure`) | any | by the driver, once the buffer is at the low-water mark or below |
//! | `detached` | the driver's end, handing the stream to `start_tls` | life `Closed` | never |
//! | `asked_in_upgrade` | `close()`/`abort()` while `detached` and not yet `upgraded_to`; or a `close()` the detach overtook | `detached` | taken when `upgraded_to` is set, and applied to the new transport |
//! | `upgrade_waker` | the upgrade in flight, waiting for an abort | `detached` | taken by the `abort()` that wakes it |
//! | `transfer` | `sendfile()` (see [`sendfile`](crate::transport::sendfile)) | `Open`, no transfer yet | by the driver when its job ends, by the call when it returns or is dropped, and at the end |
//!
//! `next_handler`, `upgraded_to`, `asked_in_upgrade`, `upgrade_waker`,
//! `transfer`, the detach's channel and the `drain()` waiters live in one
//! boxed `Rare`, made on first use: most connections never use any of them,
//! and every connection's shared state is part of its memory.
//!
//! While `detach_requested`, the driver reads nothing more and ends the pass
//! that finds the buffer flushed by handing the stream to `start_tls`.
//!
//! # Two reasons not to read
//!
//! The driver reads only when [`wants_data`](State::wants_data): the core
//! says reading (open, and no `pause_reading()` in force), the backpressure
//! hold is off, no detach is under way and no file is being sent (the
//! transfer's own pause, also apart from the user's). The user's pause (the core's
//! `reading_paused`) and the hold (`reading_held`) are separate flags, so:
//!
//! * the hold ending at the low mark leaves a user's `pause_reading()` in force;
//! * a user's `resume_reading()` while the hold is on reads nothing until the
//!   buffer has drained to the low mark;
//! * [`Transport::is_reading`](crate::Transport::is_reading) reports the
//!   user's pause only, as in asyncio.
//!
//! | `reading_paused` (user) | `reading_held` (buffer) | driver reads |
//! |---|---|---|
//! | false | false | yes |
//! | true | false | no; `resume_reading()` reads again |
//! | false | true | no; draining to the low mark reads again |
//! | true | true | no; both must end |
//!
//! # An upgrade in flight
//!
//! Between the detach and the start of the upgraded transport (the TLS
//! handshake), the old handle is `Closed` and forwards nowhere yet. A
//! `close()` or `abort()` then is kept in `asked_in_upgrade`, and the
//! upgraded transport is closed or aborted as it starts, under the same lock
//! that sets `upgraded_to`, so no call falls between the two. An `abort()`
//! also wakes the upgrade (`upgrade_waker`), which stops its handshake
//! rather than wait for it: a server's `abort_clients` and the end of a
//! shutdown's grace period are not held up by a peer stalling its STARTTLS
//! handshake.

use std::task::{Context, Poll, Waker};

use tokio::sync::oneshot;

use crate::transport::Transport;
use crate::transport::dispatch::Handler;
use crate::transport::driver::Detached;
use crate::transport::handle::{Core, KindState};
use crate::transport::sendfile::Transfer;
use crate::transport::write_buffer::FlowEvent;
use crate::transport::{Capabilities, SocketOptions};

/// A stream transport's state; see the [module docs](self).
pub(crate) struct State {
    core: Core,
    eof_requested: bool,
    detach_requested: bool,
    /// Socket options as last set; `None` without a TCP socket.
    socket_options: Option<SocketOptions>,
    socket_options_changed: bool,
    /// What few connections ever use, boxed on first use; see [`Rare`].
    rare: Option<Box<Rare>>,
    /// Optional cap on the buffer; going over it aborts the connection.
    hard_limit: Option<usize>,
    /// Copied from the capabilities, so write checks need no second lookup.
    writable: bool,
    /// Reading stops while the write buffer is over its high-water mark.
    pause_reading_on_backpressure: bool,
    /// It is over the mark now (and has not drained to the low mark since).
    reading_held: bool,
    /// The stream went to `start_tls`; its upgraded transport may not exist yet.
    detached: bool,
}

/// The part of a stream's state that only a `start_tls`, a `set_protocol()`,
/// a `drain()` or a `sendfile()` uses. It sits behind one `Box`, made on
/// first use, because the shared state of every connection, idle or not, is
/// part of its memory: these fields are 112 of its bytes (see DESIGN.md's idle
/// RSS table). `None` means every field at its default.
#[derive(Default)]
struct Rare {
    /// Where a detached stream goes (`start_tls`).
    detach_tx: Option<oneshot::Sender<Detached>>,
    /// A protocol waiting to replace the current one.
    next_handler: Option<Handler>,
    /// Tasks waiting in `Transport::drain`; woken once the buffer is writable
    /// again or the connection ends.
    drain_waiters: Vec<Waker>,
    /// The transport this connection was upgraded to (`start_tls`): writes,
    /// `close()` and `abort()` on this handle go there.
    upgraded_to: Option<Transport>,
    /// `close()` or `abort()` asked for while the upgrade was in flight.
    asked_in_upgrade: Option<Asked>,
    /// The upgrade in flight, waiting for an abort to stop its handshake.
    upgrade_waker: Option<Waker>,
    /// A `sendfile()` in progress: reading stops and other writes are refused.
    transfer: Option<Transfer>,
}

/// Where a handle's `close()` or `abort()` goes after its own transport.
pub(crate) enum AskedNext {
    /// Nowhere.
    Done,
    /// To the transport `start_tls` upgraded this one to.
    Forward(Transport),
    /// To the upgrade in flight, waiting in
    /// [`poll_upgrade_aborted`](State::poll_upgrade_aborted): wake it.
    WakeUpgrade(Waker),
}

/// What a handle asked of a connection whose `start_tls` upgrade was in
/// flight; an abort outranks a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Asked {
    Close,
    Abort,
}

/// What the driver takes over when it ends the connection.
pub(crate) struct Ended {
    /// Where to hand the stream, for a detach that may go ahead.
    pub(crate) detach_tx: Option<oneshot::Sender<Detached>>,
    pub(crate) reading_paused: bool,
    /// The backpressure hold was on, for the transport a detach starts.
    pub(crate) pause_reading_on_backpressure: bool,
    /// `drain()` waiters, to wake once `connection_lost` has run.
    pub(crate) drained: Vec<Waker>,
    /// A protocol queued during the last pass (before an abort, say): it
    /// replaces the current one, so it is the one told of the end.
    pub(crate) next_handler: Option<Handler>,
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
            socket_options,
            socket_options_changed: false,
            rare: None,
            hard_limit: None,
            writable: caps.writable,
            pause_reading_on_backpressure: false,
            reading_held: false,
            detached: false,
        }
    }

    /// The rare fields, if any was ever used.
    #[inline]
    fn rare(&self) -> Option<&Rare> {
        self.rare.as_deref()
    }

    /// The rare fields, boxed now if none was used yet.
    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_default()
    }

    /// A pause/resume the protocol must hear of. While a `sendfile()` is in
    /// progress none is: the fallback's chunks are the transfer's business
    /// (see [`Core::flow_event`]), and the zero-copy path buffers nothing.
    #[inline]
    pub(crate) fn flow_event(&mut self) -> Option<FlowEvent> {
        let held_back = self.has_transfer();
        self.core.flow_event(held_back)
    }

    /// A `sendfile()` is in progress.
    #[inline]
    fn has_transfer(&self) -> bool {
        self.rare().is_some_and(|rare| rare.transfer.is_some())
    }

    /// Some task waits in `drain()`.
    #[inline]
    fn has_drain_waiters(&self) -> bool {
        self.rare()
            .is_some_and(|rare| !rare.drain_waiters.is_empty())
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
        if self.writes_open() {
            return true;
        }
        self.refuse_write(what)
    }

    /// The common case of [`accepts_writes`](Self::accepts_writes) in one
    /// test; any refusal is found and logged by `refuse_write`, so each
    /// condition here must also be one it checks.
    #[inline]
    fn writes_open(&self) -> bool {
        self.writable && !self.eof_requested && !self.core.is_closing() && !self.has_transfer()
    }

    /// The write [`accepts_writes`](Self::accepts_writes) turns away, logged.
    #[cold]
    #[inline(never)]
    fn refuse_write(&mut self, what: &str) -> bool {
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
        if self.has_transfer() {
            // Its bytes would land inside the file (asyncio raises RuntimeError).
            tracing::error!("cannot call {what}() while sendfile() is in progress; data dropped");
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
    /// `by_own_driver`: the write was made on the driver's own thread while
    /// it polls (see [`Core::mark_dirty`]).
    #[inline]
    pub(crate) fn after_write(&mut self, was_empty: bool, by_own_driver: bool) -> Option<Waker> {
        let buffer = self.core.buffer();
        let crossed_high = !buffer.is_paused() && buffer.len() > buffer.limits().high;
        let crossed = crossed_high || self.over_hard_limit().is_some();
        if crossed {
            // A pause or the hard limit's abort: the driver's full pass.
            self.core.mark_attention();
        }
        if was_empty || crossed {
            self.core.mark_dirty(by_own_driver)
        } else {
            None
        }
    }

    /// Where a write inside `data_received` goes (see
    /// [`replies`](crate::transport::replies)): to the thread's reply slot
    /// while nothing is queued that it would overtake and no
    /// detach for `start_tls` is under way (whose handshake must follow
    /// everything written before it), within the high-water mark and the
    /// hard limit; `Some(data)`: to the buffer.
    #[inline(always)]
    pub(crate) fn defer_write(&mut self, data: bytes::Bytes) -> Option<bytes::Bytes> {
        match self.reply_room() {
            Some(room) => crate::transport::replies::defer(data, room, self.core.buffer_mut()),
            None => Some(data),
        }
    }

    /// How much the reply slot may hold: `None` while something is queued
    /// that a reply would overtake, or a detach is under way; otherwise the
    /// high-water mark or the hard limit, the lower.
    #[inline(always)]
    fn reply_room(&self) -> Option<usize> {
        let buffer = self.core.buffer();
        if !buffer.is_empty() || self.detach_requested {
            return None;
        }
        let high = buffer.limits().high;
        Some(self.hard_limit.map_or(high, |hard| hard.min(high)))
    }

    /// Whether the state leaves a reply nothing to wait behind and nothing
    /// to check: writes accepted, nothing queued, no detach, no upgrade,
    /// and room for [`QUIET_ROOM`](crate::transport::replies::QUIET_ROOM)
    /// within the high-water mark and the hard limit. A pass that finds
    /// this marks the state quiet (see
    /// [`Handle::quiet_since_pass`](crate::transport::handle::Handle::quiet_since_pass)).
    pub(crate) fn replies_need_no_lock(&self) -> bool {
        self.writes_open()
            && self.upgraded_to().is_none()
            && self
                .reply_room()
                .is_some_and(|room| room >= crate::transport::replies::QUIET_ROOM)
    }

    /// Puts the replies the stream did not take at the front of the buffer
    /// (see [`replies`](crate::transport::replies)); the
    /// driver's next pass, a full one if a mark or the limit was crossed,
    /// sends it.
    pub(crate) fn requeue_front(&mut self, chunks: &[bytes::Bytes], sent: usize) {
        let buffer = self.core.buffer_mut();
        let was_empty = buffer.is_empty();
        buffer.push_front_unsent(chunks, sent);
        let _ = self.after_write(was_empty, true);
    }

    /// Queues `data`, the checks done; returns the driver's waker if the
    /// write needs it (see [`after_write`](Self::after_write)).
    #[inline]
    pub(crate) fn queue(&mut self, data: bytes::Bytes, by_own_driver: bool) -> Option<Waker> {
        let buffer = self.core.buffer_mut();
        let was_empty = buffer.is_empty();
        buffer.push(data);
        self.after_write(was_empty, by_own_driver)
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
        let waiters = &mut self.rare_mut().drain_waiters;
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
        // The full pass is the one that wakes them.
        self.core.mark_attention();
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

    // --- Life (handles) ---

    /// After the core took a `close()` or `abort()`: returns the transport an
    /// upgrade forwards to, for the caller to close or abort too. While an
    /// upgrade is in flight (detached, not forwarding yet), keeps the request
    /// for the upgraded transport.
    /// An abort also wakes the upgrade, whose handshake then stops.
    pub(crate) fn ask_in_upgrade(&mut self, asked: Asked) -> AskedNext {
        if let Some(next) = self.upgraded_to() {
            return AskedNext::Forward(next.clone());
        }
        if !self.detached {
            return AskedNext::Done;
        }
        let rare = self.rare_mut();
        rare.asked_in_upgrade = rare.asked_in_upgrade.max(Some(asked));
        match rare.upgrade_waker.take() {
            Some(waker) if asked == Asked::Abort => AskedNext::WakeUpgrade(waker),
            waker => {
                rare.upgrade_waker = waker;
                AskedNext::Done
            }
        }
    }

    /// For the upgrade in flight: ready once an `abort()` asked to end the
    /// connection (the handshake need not finish).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn poll_upgrade_aborted(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let rare = self.rare_mut();
        if rare.asked_in_upgrade == Some(Asked::Abort) {
            return Poll::Ready(());
        }
        match &rare.upgrade_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => rare.upgrade_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    // --- Steering (handles) ---

    /// Queues `handler` to take the callbacks from the next pass on. Refused
    /// (handed back) once the connection ended: nothing would call it. Queued
    /// before the end, it is the protocol that hears `connection_lost`.
    pub(crate) fn set_next_handler(&mut self, handler: Handler) -> Result<(), Handler> {
        if self.core.is_closed() {
            return Err(handler);
        }
        self.rare_mut().next_handler = Some(handler);
        Ok(())
    }

    /// Takes back a protocol queued by [`set_next_handler`](Self::set_next_handler)
    /// that the driver has not installed yet.
    pub(crate) fn cancel_next_handler(&mut self) -> Option<Handler> {
        self.rare.as_mut()?.next_handler.take()
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
        self.rare()?.upgraded_to.as_ref()
    }

    /// From now on this handle forwards to `next`; returns what was asked of
    /// the connection while the upgrade was in flight, for `next` to do.
    pub(crate) fn set_upgraded_to(&mut self, next: Transport) -> Option<Asked> {
        let rare = self.rare_mut();
        rare.upgraded_to = Some(next);
        rare.asked_in_upgrade.take()
    }

    /// Turns the backpressure hold on or off (from the connection's options).
    pub(crate) fn set_pause_reading_on_backpressure(&mut self, on: bool) {
        self.pause_reading_on_backpressure = on;
        self.reading_held &= on;
    }

    /// `start_tls` asks for the stream: false if the connection is closing or
    /// already being detached.
    pub(crate) fn request_detach(&mut self, tx: oneshot::Sender<Detached>) -> bool {
        if self.core.is_closing() || self.detach_requested {
            return false;
        }
        self.detach_requested = true;
        self.rare_mut().detach_tx = Some(tx);
        true
    }

    // --- The driver's side ---

    #[inline]
    pub(crate) fn take_next_handler(&mut self) -> Option<Handler> {
        self.rare.as_mut()?.next_handler.take()
    }

    /// Socket options a handle changed since the last pass.
    #[inline]
    pub(crate) fn take_changed_socket_options(&mut self) -> Option<SocketOptions> {
        std::mem::take(&mut self.socket_options_changed)
            .then_some(self.socket_options)
            .flatten()
    }

    /// The protocol may be given data: reading (no user pause), not held by
    /// backpressure, and not being detached. See the [module docs](self).
    #[inline]
    pub(crate) fn wants_data(&self) -> bool {
        self.core.is_reading()
            && !self.reading_held
            && !self.detach_requested
            && !self.has_transfer()
    }

    /// After a flush: holds reading once the buffer is over the high-water
    /// mark, releases it at the low mark (with `pause_reading_on_backpressure`).
    #[inline]
    pub(crate) fn update_read_hold(&mut self) {
        if !self.pause_reading_on_backpressure {
            return;
        }
        let buffer = self.core.buffer();
        let limits = buffer.limits();
        // Held: release at the low mark; not held: hold above the high mark.
        let hold = if self.reading_held {
            buffer.len() > limits.low
        } else {
            buffer.len() > limits.high
        };
        if hold != self.reading_held {
            self.set_read_hold(hold);
        }
    }

    #[cold]
    fn set_read_hold(&mut self, hold: bool) {
        self.reading_held = hold;
        let buffered = self.core.buffer().len();
        if hold {
            tracing::trace!(
                buffered,
                "write buffer over the high-water mark; reading held"
            );
        } else {
            tracing::trace!(buffered, "write buffer drained; reading resumed");
        }
    }

    /// Reading is held because the write buffer is over the high-water mark.
    pub(crate) fn is_reading_held(&self) -> bool {
        self.reading_held
    }

    /// The file transfer in progress, for `sendfile` and the driver.
    #[inline]
    pub(crate) fn transfer_slot(&mut self) -> &mut Option<Transfer> {
        &mut self.rare_mut().transfer
    }

    /// A zero-copy file transfer is queued or running: the driver must run
    /// it before the connection counts as flushed.
    #[inline]
    pub(crate) fn has_native_transfer(&self) -> bool {
        self.rare()
            .and_then(|rare| rare.transfer.as_ref())
            .is_some_and(Transfer::is_native)
    }

    #[inline]
    pub(crate) fn eof_requested(&self) -> bool {
        self.eof_requested
    }

    #[inline]
    pub(crate) fn detaching(&self) -> bool {
        self.detach_requested
    }

    /// After a full pass: something the fast pass does not look at is still
    /// under way, so the next pass must be a full one too (see
    /// [`handle`](crate::transport::handle)'s fast pass). The fast pass can
    /// skip the rest because a write that crosses the high-water mark or the
    /// hard limit, and every handle command, ask for a full pass themselves.
    pub(crate) fn stays_unusual(&self) -> bool {
        let buffer = self.core.buffer();
        self.core.is_closing()
            || self.eof_requested
            || self.detach_requested
            || self.has_transfer()
            || self.has_drain_waiters()
            || self.reading_held
            || buffer.is_paused()
            || buffer.len() > buffer.limits().high
            || self.over_hard_limit().is_some()
    }

    /// Moves the drain waiters to wake into `into`, if the buffer is writable again.
    #[inline]
    pub(crate) fn drain_waiters_to_wake(&mut self, into: &mut Vec<Waker>) {
        if self.has_drain_waiters() && (self.is_writable() || self.core.is_closed()) {
            into.append(&mut self.rare_mut().drain_waiters);
        }
    }

    /// The connection ends; `clean` says it ended without an error, so a
    /// requested detach may go ahead (an abort never hands the stream over).
    pub(crate) fn end(&mut self, clean: bool) -> Ended {
        // Asked before the life becomes `Closed`, which answers both.
        let aborting_or_failed = !clean || self.core.is_aborting();
        let closing = self.core.is_closing();
        self.core.mark_closed();
        let mut ended = Ended {
            detach_tx: None,
            reading_paused: self.core.is_reading_paused(),
            pause_reading_on_backpressure: self.pause_reading_on_backpressure,
            drained: Vec::new(),
            next_handler: None,
        };
        let Some(rare) = self.rare.as_deref_mut() else {
            return ended;
        };
        ended.detach_tx = rare.detach_tx.take().filter(|_| !aborting_or_failed);
        if ended.detach_tx.is_some() {
            self.detached = true;
            if closing {
                // A close() the detach overtook: the upgraded transport gets it.
                rare.asked_in_upgrade = Some(Asked::Close);
            }
        }
        // Drops a zero-copy job's answer channel: its caller hears of the end.
        rare.transfer = None;
        ended.drained = std::mem::take(&mut rare.drain_waiters);
        ended.next_handler = rare.next_handler.take();
        ended
    }
}

#[cfg(test)]
mod tests;
