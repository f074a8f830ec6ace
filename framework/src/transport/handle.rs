//! The handle core every transport kind shares: stream transports
//! ([`Transport`](crate::Transport)) and datagram endpoints
//! ([`DatagramTransport`](crate::DatagramTransport)) are each a thin wrapper
//! around a [`Handle`] of their own state, and their common methods (close,
//! abort, is_closing, pause/resume/is_reading, buffer limits, extra info) are
//! written once, here.
//!
//! # The shared state machine
//!
//! [`Core`] holds what both kinds have: the write buffer, where the transport
//! is in its life, the reading pause, the driver's wake-up and the count of
//! dropped writes. Its fields are private; the handles and the drivers change
//! them only through the named transitions below.
//!
//! | `life` | reading_paused | meaning | next |
//! |---|---|---|---|
//! | `Open` | false | reading and writing | `Closing`, `Aborting`, `Closed` |
//! | `Open` | true | `pause_reading()` in force; writes go on | as above |
//! | `Closing` | any | `close()`: no more reads, flush, then end | `Aborting`, `Closed` |
//! | `Aborting` | any | `abort()`: drop the buffer, end now | `Closed` |
//! | `Closed` | any | the driver ended; `connection_lost` ran or is running | (final) |
//!
//! A transition never goes back up the table: `close()` after `abort()` or
//! after the end does nothing, and so does `abort()` after the end.
//!
//! # Waking the driver
//!
//! `dirty` says a handle changed something the driver must look at; `parked`
//! says `waker` will wake the driver. A datagram driver parks when it has
//! nothing to do and looks at `dirty` first. A stream driver arms its wake-up
//! in the one locked part of every pass ([`arm_wake`](Core::arm_wake)), before
//! it reads, so it can stop without locking again: a handle that changes
//! something after that lock wakes it.
//!
//! A change made on the thread where the transport's own driver is polling
//! (inside one of its callbacks, or by the driver itself) never wakes it: the
//! driver runs another pass after every callback. [`Handle::driver_running_here`]
//! tells, from a thread-local slot the stream driver sets for the length of
//! its poll ([`DrivingHere`]), so writes inside a callback cost no wake-up.
//! The waker stays stored across polls; `parked` says when it is valid.
//!
//! Every lock a handle takes marks the shared state touched (an atomic
//! beside the mutex, [`PassMark`]; the one exception is a `write` that keeps
//! its chunk in the driver's reply slot and so changes nothing here, see
//! [`Handle::lock_unmarked`]); the driver's pass takes it with
//! [`Handle::lock_for_pass`], which clears the mark. While nothing touched
//! it, a stream driver may skip the lock for a pass that only reads (see
//! [`Handle::untouched_since_pass`]): the waker its last pass armed is still
//! armed, and whatever could change its view of the state went through the
//! lock, and so marked it. A pass that leaves nothing for a reply to wait
//! behind marks the state quiet, and while it stays so a write inside
//! `data_received` skips the lock too ([`Handle::quiet_since_pass`]).
//!
//! # The fast pass
//!
//! `attention` says a stream driver's next pass must run every step, not
//! only the flush and the read. Every handle command sets it (each goes
//! through [`Handle::update`]: abort, close, a protocol switch, socket
//! options, limits, the hard limit, write-eof, a detach, a `sendfile()`
//! job), and so do a `drain()` waiter and a write that crosses the
//! high-water mark or the hard limit. A plain write and a pause or resume of
//! reading do not: the fast pass flushes and reads as the full one does. The
//! driver takes the flag at the start of a pass and, after a full pass, sets
//! it again while something stays unusual (see `State::stays_unusual`).
//!
//! | `attention` | the pass runs |
//! |---|---|
//! | false | flush, poll_flush, arm the wake-up, read |
//! | true | also the commands, the hard limit, the read hold, sendfile, `drain()` waiters, flow events, close, detach and write-eof |

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use crate::error::Result;
use crate::transport::ExtraInfo;
use crate::transport::write_buffer::{FlowEvent, Limits, WriteBuffer};
use crate::util::lock;

/// Writes after close are dropped silently; from this many on, each is logged.
const WARN_DROPPED_WRITES_FROM: u16 = 5;

/// Where a transport is in its life; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Life {
    Open,
    Closing,
    Aborting,
    Closed,
}

/// The state every transport kind has; see the [module docs](self).
pub(crate) struct Core {
    buffer: WriteBuffer,
    life: Life,
    reading_paused: bool,
    dirty: bool,
    parked: bool,
    waker: Option<Waker>,
    /// The next stream driver pass must run every step; see the module docs.
    attention: bool,
    /// `u16` (saturating) keeps `Core` at its size with `attention`: a word
    /// more measured 187 B more RSS per idle connection (see DESIGN.md).
    dropped_writes: u16,
    /// The protocol heard `pause_writing` and no `resume_writing` since. The
    /// buffer's own pause follows the water marks; this follows what the
    /// protocol was told, which differs while its flow events are held back
    /// (a `sendfile()` fallback's chunks, see [`flow_event`](Core::flow_event)).
    protocol_paused: bool,
}

/// What a stuck connection's `Debug` should show: the life, the user's
/// pause and the driver's wake-up flags (the buffer is shown by the handle).
impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("life", &self.life)
            .field("reading_paused", &self.reading_paused)
            .field("dirty", &self.dirty)
            .field("parked", &self.parked)
            .field("attention", &self.attention)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// An open transport with the default water marks for `default_high`.
    pub(crate) fn new(default_high: usize) -> Self {
        let limits = Limits::new(None, None, default_high).expect("default limits are valid");
        Core {
            buffer: WriteBuffer::new(limits),
            life: Life::Open,
            reading_paused: false,
            dirty: false,
            parked: false,
            waker: None,
            // The first pass looks at everything the start-up set.
            attention: true,
            dropped_writes: 0,
            protocol_paused: false,
        }
    }

    // --- Life ---

    /// `close()`: stop reading, flush, then end. No effect once aborting or ended.
    #[inline]
    pub(crate) fn close(&mut self) {
        self.life = self.life.max(Life::Closing);
        self.attention = true;
    }

    /// `abort()`: drop the buffer and end now. No effect once ended.
    #[inline]
    pub(crate) fn abort(&mut self) {
        self.life = self.life.max(Life::Aborting);
        self.attention = true;
    }

    /// The driver ended: the buffer is dropped and the driver's waker with it.
    #[inline]
    pub(crate) fn mark_closed(&mut self) {
        self.life = Life::Closed;
        self.buffer.clear();
        self.waker = None;
        self.parked = false;
    }

    /// `close()` or `abort()` was called, or the transport ended.
    #[inline]
    pub(crate) fn is_closing(&self) -> bool {
        !matches!(self.life, Life::Open)
    }

    /// `abort()` was called (and the driver has not ended yet).
    #[inline]
    pub(crate) fn is_aborting(&self) -> bool {
        matches!(self.life, Life::Aborting)
    }

    /// The driver has ended.
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        matches!(self.life, Life::Closed)
    }

    // --- Reading ---

    #[inline]
    pub(crate) fn set_reading_paused(&mut self, paused: bool) {
        self.reading_paused = paused;
    }

    #[inline]
    pub(crate) fn is_reading_paused(&self) -> bool {
        self.reading_paused
    }

    /// Not paused and still open: data may be delivered.
    #[inline]
    pub(crate) fn is_reading(&self) -> bool {
        !self.reading_paused && matches!(self.life, Life::Open)
    }

    // --- The write buffer ---

    #[inline]
    pub(crate) fn buffer(&self) -> &WriteBuffer {
        &self.buffer
    }

    #[inline]
    pub(crate) fn buffer_mut(&mut self) -> &mut WriteBuffer {
        &mut self.buffer
    }

    /// A pause/resume the protocol must hear of; none once ended, and none
    /// while `held_back` (asyncio lends a transport that sends a file by the
    /// fallback to a protocol of its own, so the user's hears nothing of
    /// the transfer's chunks). The buffer's pause follows the marks all the
    /// same; the first event after the hold tells the protocol where the
    /// buffer is then, so a protocol paused before the transfer is resumed
    /// once after it, and one that never was hears nothing.
    #[inline]
    pub(crate) fn flow_event(&mut self, held_back: bool) -> Option<FlowEvent> {
        self.buffer.follow_marks();
        let paused = self.buffer.is_paused();
        if self.is_closed() || held_back || paused == self.protocol_paused {
            return None;
        }
        self.protocol_paused = paused;
        Some(if paused {
            FlowEvent::Pause
        } else {
            FlowEvent::Resume
        })
    }

    /// Counts a write dropped because the transport is closing; the fifth and
    /// later ones are logged (asyncio's "socket.send() raised exception").
    pub(crate) fn drop_write(&mut self, what: &str) {
        self.dropped_writes = self.dropped_writes.saturating_add(1);
        if self.dropped_writes >= WARN_DROPPED_WRITES_FROM {
            tracing::warn!(
                "socket.send() raised exception: {what}() on a closed transport; data dropped"
            );
        }
    }

    // --- The fast pass ---

    /// Something other than a plain write changed: the driver's next pass
    /// runs every step.
    #[inline]
    pub(crate) fn mark_attention(&mut self) {
        self.attention = true;
    }

    /// The driver starts a pass: whether it must run every step.
    #[inline]
    pub(crate) fn take_attention(&mut self) -> bool {
        std::mem::take(&mut self.attention)
    }

    /// The next pass must run every step.
    #[inline]
    pub(crate) fn needs_attention(&self) -> bool {
        self.attention
    }

    // --- Waking the driver ---

    /// A handle changed something: returns the waker of a parked driver,
    /// which is no longer parked once woken. `by_own_driver` says the change
    /// was made on the thread where this transport's driver is polling: it
    /// needs no wake-up, since it runs another pass after every callback.
    #[inline]
    pub(crate) fn mark_dirty(&mut self, by_own_driver: bool) -> Option<Waker> {
        self.dirty = true;
        if by_own_driver {
            None
        } else {
            self.wake_parked_driver()
        }
    }

    /// The waker of a parked driver, without marking the state dirty.
    #[inline]
    pub(crate) fn wake_parked_driver(&mut self) -> Option<Waker> {
        if std::mem::take(&mut self.parked) {
            self.waker.clone()
        } else {
            None
        }
    }

    /// The driver starts a pass: what handles changed so far is now seen.
    #[inline]
    pub(crate) fn begin_pass(&mut self) {
        self.dirty = false;
        self.parked = false;
    }

    /// The driver is parked and nothing has changed since (the in-memory test
    /// transport uses it to tell when a connection has settled).
    #[inline]
    pub(crate) fn is_parked(&self) -> bool {
        self.parked && !self.dirty
    }

    /// A stream driver's pass, under its lock: from now on a handle's change
    /// wakes the driver with `waker`, so a pass that ends with nothing to do
    /// can return `Pending` without locking again.
    #[inline]
    pub(crate) fn arm_wake(&mut self, waker: &Waker) {
        self.dirty = false;
        match &self.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
        self.parked = true;
    }

    /// The driver wants to wait: parks it with `waker` unless a handle changed
    /// something since its pass began (then it must look again: `false`).
    #[inline]
    pub(crate) fn park(&mut self, waker: &Waker) -> bool {
        if self.dirty {
            return false;
        }
        match &self.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => self.waker = Some(waker.clone()),
        }
        self.parked = true;
        true
    }
}

thread_local! {
    /// The address of the shared state whose stream driver is polling on this
    /// thread; 0 when none is. Only compared, never dereferenced.
    static DRIVING: Cell<usize> = const { Cell::new(0) };
}

/// Marks the driver of a handle as polling on this thread until dropped (and
/// restores what was there before, so it also holds if polls ever nest).
pub(crate) struct DrivingHere {
    before: usize,
}

impl Drop for DrivingHere {
    #[inline]
    fn drop(&mut self) {
        DRIVING.with(|slot| slot.set(self.before));
    }
}

/// What happened to a transport's state since its stream driver's last
/// locked pass, as one atomic beside the mutex.
///
/// | mark | meaning | set by |
/// |---|---|---|
/// | `Touched` | someone took the lock since; the driver's next pass locks | every lock but the two below |
/// | `Untouched` | nobody did: the state is as the pass left it | the pass, as it locks ([`Handle::lock_for_pass`]) |
/// | `Quiet` | as `Untouched`, and that pass left nothing a reply must wait behind: a write inside `data_received` may go to the reply slot without the lock | the pass, at its end ([`Handle::mark_quiet`]) |
///
/// A write that keeps its chunk in the slot under the lock
/// ([`Handle::lock_unmarked`]) leaves the mark as it is.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum PassMark {
    Touched,
    Untouched,
    Quiet,
}

/// What a transport kind keeps beside the [`Core`].
pub(crate) trait KindState: Send + 'static {
    fn core(&self) -> &Core;
    fn core_mut(&mut self) -> &mut Core;
}

/// A handle to one transport of state `S`: an `Arc` to the state and the
/// connection's fixed facts. Cloning is an `Arc` increment.
pub(crate) struct Handle<S> {
    inner: Arc<Shared<S>>,
}

struct Shared<S> {
    /// One short-lived lock, never held while user code runs.
    state: Mutex<S>,
    /// What happened to the state since the stream driver's last pass (see
    /// [`PassMark`]).
    mark: AtomicU8,
    extra: ExtraInfo,
}

impl<S> Clone for Handle<S> {
    fn clone(&self) -> Self {
        Handle {
            inner: self.inner.clone(),
        }
    }
}

impl<S: KindState> Handle<S> {
    pub(crate) fn new(state: S, extra: ExtraInfo) -> Self {
        Handle {
            inner: Arc::new(Shared {
                state: Mutex::new(state),
                mark: AtomicU8::new(PassMark::Touched as u8),
                extra,
            }),
        }
    }

    /// The state, for a handle (or the driver outside its pass): the lock
    /// is marked as touched, since whoever takes it may change the state.
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        let state = self.lock_unmarked();
        self.mark_touched();
        state
    }

    /// The state, not yet marked touched: for a write that may change
    /// nothing (see [`replies`](crate::transport::replies)). The
    /// caller marks it with [`mark_touched`](Self::mark_touched), still
    /// under the lock, before it changes anything.
    #[inline]
    pub(crate) fn lock_unmarked(&self) -> MutexGuard<'_, S> {
        // Never held across user code: poisoning could only come from a bug
        // here, and the state is consistent field by field.
        lock(&self.inner.state)
    }

    /// Marks the state touched; only under the lock, so its release orders
    /// the mark before the change.
    #[inline]
    pub(crate) fn mark_touched(&self) {
        self.inner
            .mark
            .store(PassMark::Touched as u8, Ordering::Relaxed);
    }

    /// The state, for the stream driver's pass: what was touched so far,
    /// the pass sees.
    #[inline]
    pub(crate) fn lock_for_pass(&self) -> MutexGuard<'_, S> {
        let state = lock(&self.inner.state);
        self.inner
            .mark
            .store(PassMark::Untouched as u8, Ordering::Relaxed);
        state
    }

    /// Marks the state, untouched since the pass that holds `_state`, as
    /// one a reply may skip the lock for (see
    /// [`quiet_since_pass`](Self::quiet_since_pass)). Only from the stream
    /// driver's pass, under its lock: the next lock anyone takes marks the
    /// state touched again.
    #[inline]
    pub(crate) fn mark_quiet(&self, _state: &MutexGuard<'_, S>) {
        self.inner
            .mark
            .store(PassMark::Quiet as u8, Ordering::Relaxed);
    }

    /// Nobody took the lock since the driver's last pass did: the state is
    /// as that pass left it, so a driver that found nothing to write then
    /// may read without locking (the quiet pass; see
    /// [`driver`](crate::transport::driver)).
    ///
    /// No change is missed: a change made elsewhere after that pass wakes
    /// the driver it armed (tokio's wake orders the change before the poll
    /// that follows), and one made on the driver's own thread, inside a
    /// callback, comes before the driver's next look in program order.
    #[inline]
    pub(crate) fn untouched_since_pass(&self) -> bool {
        self.inner.mark.load(Ordering::Acquire) != PassMark::Touched as u8
    }

    /// Untouched since a pass that left the state ready for replies without
    /// the lock ([`mark_quiet`](Self::mark_quiet)): a write from inside the
    /// driver's own `data_received` may go to the reply slot without
    /// locking (see [`replies`](crate::transport::replies)).
    ///
    /// Every writer that could come first has marked it touched: another
    /// thread's write, close or abort marks it under the lock, and one that
    /// happened before this write is seen here (the mark is one atomic, and
    /// only this, the driver's thread, ever clears it).
    #[inline]
    pub(crate) fn quiet_since_pass(&self) -> bool {
        self.inner.mark.load(Ordering::Acquire) == PassMark::Quiet as u8
    }

    /// The shared state's address, which names this transport on this thread.
    #[inline]
    fn address(&self) -> usize {
        Arc::as_ptr(&self.inner).addr()
    }

    /// For the length of a driver's poll: changes made on this thread are its own.
    #[inline]
    pub(crate) fn driving_here(&self) -> DrivingHere {
        DrivingHere {
            before: DRIVING.with(|slot| slot.replace(self.address())),
        }
    }

    /// This transport's driver is polling on this thread now (we are inside
    /// one of its callbacks, or the driver itself): a change needs no wake-up.
    #[inline]
    pub(crate) fn driver_running_here(&self) -> bool {
        DRIVING.with(|slot| slot.get() == self.address())
    }

    /// Applies `change` under the lock, marks the state dirty (and for the
    /// driver's full pass: see the module docs) and wakes a parked driver.
    #[inline]
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut S) -> R) -> R {
        let by_own_driver = self.driver_running_here();
        let (out, waker) = {
            let mut state = self.lock();
            let out = change(&mut state);
            let core = state.core_mut();
            core.mark_attention();
            (out, core.mark_dirty(by_own_driver))
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        out
    }

    pub(crate) fn close(&self) {
        self.update(|state| state.core_mut().close());
    }

    pub(crate) fn abort(&self) {
        self.update(|state| state.core_mut().abort());
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.lock().core().is_closing()
    }

    pub(crate) fn set_reading_paused(&self, paused: bool) {
        self.update(|state| state.core_mut().set_reading_paused(paused));
    }

    pub(crate) fn is_reading(&self) -> bool {
        self.inner.extra.caps.readable && self.lock().core().is_reading()
    }

    pub(crate) fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<()> {
        let limits = Limits::new(high, low, self.inner.extra.caps.default_high_water)?;
        self.update(|state| state.core_mut().buffer_mut().set_limits(limits));
        Ok(())
    }

    pub(crate) fn get_write_buffer_limits(&self) -> (usize, usize) {
        let limits = self.lock().core().buffer().limits();
        (limits.low, limits.high)
    }

    pub(crate) fn get_write_buffer_size(&self) -> usize {
        self.lock().core().buffer().len()
    }

    pub(crate) fn extra(&self) -> &ExtraInfo {
        &self.inner.extra
    }

    pub(crate) fn peername(&self) -> Option<SocketAddr> {
        self.inner.extra.peername
    }

    pub(crate) fn sockname(&self) -> Option<SocketAddr> {
        self.inner.extra.sockname
    }

    pub(crate) fn same_as(&self, other: &Handle<S>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
