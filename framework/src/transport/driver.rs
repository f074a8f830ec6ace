//! The stream driver: one task per connection that owns the socket and the protocol.
//!
//! The driver is a hand-written future. Each poll makes passes (`StreamDriver::step`),
//! each of named sub-steps:
//!
//! 1. `locked_pass`, under the transport's lock: `apply_commands` (abort,
//!    protocol switch, socket options, the hard limit), `flush` (one
//!    vectored write), and the backpressure hold on reading (over the
//!    high-water mark: hold; at the low mark: release);
//! 2. `flow_step`: tell the protocol to pause or resume writing if the buffer
//!    crossed a mark;
//! 3. `close_step`: end the connection (or hand it over, for `start_tls`) once
//!    closing and flushed;
//! 4. `io_step`: half-close once flushed, and read once for the protocol;
//!
//! Without the core's `attention` flag (the handles only wrote, under the
//! high-water mark), a pass is the fast one: the flush and the read only, the
//! other steps being known to have nothing to do (see
//! [`handle`](crate::transport::handle)'s fast pass).
//!
//! The locked part arms the driver's wake-up (`Core::arm_wake`) before the
//! pass reads, so a pass that finds nothing to do returns `Pending` with no
//! second lock: one lock per pass.
//!
//! A pass whose locked part left nothing to write and nothing for the full
//! pass is followed, while nobody else takes the lock, by quiet passes: a
//! read only, with no lock at all (`Transport::untouched_since_pass`). So an
//! idle connection woken by its peer's next request reads it without
//! locking.
//!
//! A read that fills less than it asked for drained the socket, and tokio
//! cleared its readiness (`ReadSide::Drained`): the next read is a
//! readiness check (`StreamIo::poll_read_ready`), not a read that would
//! only hear `Pending`. When the next pass would be a quiet one, that check
//! is made at once, in the pass that read (`next_pass_would_wait`), so a
//! request that fits one read costs one pass.
//!
//! What `data_received` writes while nothing is queued does not go through
//! the buffer: the driver keeps it in its thread's reply slot for the
//! callback's length and writes it itself when the callback returns, with
//! no lock when nobody else took it meanwhile (see
//! [`replies`]). Such a write does not mark the state touched, and while
//! the state is as a quiet pass left it the write takes no lock either, so
//! the pass after the callback stays quiet too: an echo request takes no
//! lock, no queue and no locked pass. A reply that had to be queued (the
//! socket took only part of it, or the state was touched meanwhile) makes
//! the next pass lock, as any queued write does.
//!
//! Before it stops (or yields), a poll records what moved for the time limits and polls their one timer (see
//! [`timeouts`](crate::transport::timeouts)); a limit reached calls
//! `timeout_reached` and, unless the protocol handles it, ends the
//! connection with [`Error::Timeout`]. A poll makes at most
//! `MAX_PASSES_PER_POLL` passes, then yields, so a busy connection cannot
//! starve the others on its thread. Handles wake it only when they change
//! something after that lock, and never from the driver's own thread while it
//! polls (`Transport::driving_here`), so writes made inside a callback cost no
//! wake-up.
//!
//! Reads go into one buffer per thread, shared by every driver on the thread:
//! each read's bytes are cut off it as the `Bytes` handed to `data_received`,
//! and the buffer takes its memory back in place once they are all dropped. A
//! connection holds no read buffer at all, busy or idle: a poll takes the
//! thread's buffer at its first read and gives it back when it returns, one
//! hand-over however many reads it makes.
//!
//! A server's byte counters get one relaxed `fetch_add` per read and per
//! flush that moved bytes, not one per callback or per chunk.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::net::server::stats::Counters;
use crate::transport::dispatch::Handler;
use crate::transport::io::StreamIo;
use crate::transport::replies;
use crate::transport::sendfile;
use crate::transport::socket_options::apply_socket_options;
use crate::transport::start::{ConnectionConfig, Ending, MadeOn, OnFinish, Settings};
use crate::transport::state::Ended;
use crate::transport::timeouts::{Moved, Timeouts};
use crate::transport::write_buffer::{FlowEvent, WriteBuffer, with_io_slices};
use crate::transport::{State, Transport};

/// How much one read asks for.
pub(crate) const READ_SIZE: usize = 64 * 1024;
// A queue keeps a chunk as it came from this length on: a whole read, whose
// share of the thread's read buffer (two reads) is at most twice its size.
const _: () = assert!(crate::util::KEEP_FROM == READ_SIZE);
/// Passes one poll may make before it yields to the other tasks on its thread.
/// This bound holds for every io, including the plain TCP and Unix sockets,
/// whose reads and writes try first and ask tokio's cooperative budget only
/// when they would block (see [`SocketIo`](crate::transport::io::SocketIo)).
const MAX_PASSES_PER_POLL: usize = 64;

thread_local! {
    /// The thread's read buffer; see the module docs. A poll takes it out
    /// (as a [`HeldBuffer`]) and puts it back; no other driver on the
    /// thread can poll meanwhile, so none looks for it. A
    /// const-initialised `Cell` costs no lazy-init check or borrow flag.
    static READ_BUFFER: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// The thread's read buffer while one driver's poll holds it: taken out
/// of [`READ_BUFFER`] at the poll's first read and put back when the poll
/// ends, so a poll that reads more than once (a 100 KiB request is two
/// reads) looks it up once: about 30 instructions less per such request.
struct HeldBuffer(Option<BytesMut>);

impl HeldBuffer {
    /// The buffer, taken from the thread on first use (`try_with`: a read
    /// during the thread's teardown gets a buffer of its own rather than a
    /// panic).
    #[inline]
    fn get(&mut self) -> &mut BytesMut {
        self.0.get_or_insert_with(|| {
            READ_BUFFER
                .try_with(Cell::take)
                .ok()
                .flatten()
                .unwrap_or_default()
        })
    }

    /// Gives the buffer back to the thread, for the next poll. (A method
    /// called once, not a `Drop`: its drop glue was a call of its own,
    /// about 30 instructions a poll. A panic out of a poll, which no
    /// callback can cause, would only drop the buffer.)
    #[inline]
    fn put_back(self) {
        if let Some(buf) = self.0 {
            let _ = READ_BUFFER.try_with(|slot| slot.set(Some(buf)));
        }
    }
}

/// Reads once from `io` into the thread's read buffer and cuts off what
/// arrived (empty at EOF).
#[inline]
fn read_shared<I: StreamIo>(
    io: &mut I,
    cx: &mut Context<'_>,
    held: &mut HeldBuffer,
) -> Poll<io::Result<Bytes>> {
    let buf = held.get();
    // Everything read is cut off, so the buffer is empty here and its
    // capacity is what this read may fill: at least `READ_SIZE`, as with a
    // buffer per connection. Room for two reads means one `reserve` per
    // `READ_SIZE` or more of data, not one per read; it takes the whole
    // allocation back in place when every `Bytes` cut from it was dropped.
    if buf.capacity() < READ_SIZE {
        buf.reserve(2 * READ_SIZE);
    }
    match io.poll_read_buf(cx, buf) {
        Poll::Ready(Ok(n)) => Poll::Ready(Ok(buf.split_to(n).freeze())),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// What a driver hands back when the transport is detached for `start_tls`.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) struct Detached {
    pub(crate) io: Box<dyn StreamIo>,
    pub(crate) handler: Handler,
    pub(crate) reading_paused: bool,
    /// The old driver's end-of-connection hook (a server's connection count),
    /// for the driver that takes the stream over.
    pub(crate) on_finish: Option<OnFinish>,
    /// The connection's settings, which the upgraded connection keeps.
    pub(crate) settings: Settings,
}

/// The future that runs one stream connection. See the module docs.
///
/// Its size is most of an idle connection's memory: tokio's task cell grows
/// in 128-byte steps around it (see DESIGN.md's idle RSS table). So what a
/// connection rarely has is boxed (`timeouts`, the shutdown deadline), and of
/// its [`ConnectionConfig`] it keeps only what it reads after the start; the
/// [`Settings`] a `start_tls` upgrade takes on are put back together from
/// those parts.
///
/// Generic over its io: a plain TCP connection runs its socket inline, with
/// no box and no dyn calls; every other stream is a `Box<dyn StreamIo>`.
#[must_use = "a driver does nothing unless spawned"]
pub(crate) struct StreamDriver<I = Box<dyn StreamIo>> {
    io: Option<I>,
    handler: Handler,
    transport: Transport,
    /// Who calls `connection_made` (checked at the top of every poll).
    made_on: MadeOn,
    /// A server's counters, for the bytes this connection moves.
    counters: Option<Arc<Counters>>,
    /// The bound on the io's graceful-close work (TLS close_notify).
    close_limit: CloseLimit,
    /// Run once after `connection_lost`; handed on with the stream by a detach.
    on_finish: Option<OnFinish>,
    /// Where the read side is: open, drained by the last read, or ended.
    read_side: ReadSide,
    /// Our EOF went out.
    eof_sent: bool,
    /// Something was written since the stream's last completed `poll_flush`
    /// (never set for an io whose `poll_flush` has nothing to do).
    needs_flush: bool,
    /// The io's `holds_written_bytes`, asked once.
    io_holds_written: bool,
    /// `drain()` waiters a pass found to wake, outside the lock.
    drained: Vec<Waker>,
    /// The time limits; `None` without any (boxed: most connections have none).
    timeouts: Option<Box<Timeouts>>,
    /// What moved since the timeouts last heard of it.
    moved: Moved,
    /// What the last locked pass left behind (one byte, for the size
    /// above: three flags in one).
    left: Left,
}

/// What a driver's last locked pass left behind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Left {
    /// Bytes not yet written, in the buffer or the io.
    Unwritten,
    /// Everything written, but the next pass locks (there is work for the
    /// full pass).
    Written,
    /// Everything written and nothing to do but read (`reading`: if the
    /// protocol wanted data): the next pass may be the quiet one, if nobody
    /// took the lock since (see `step`).
    OnlyReading { reading: bool },
}

/// Where a driver's read side is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadSide {
    /// The next read goes straight to the io.
    Open,
    /// The last read filled less than it asked for, so the socket is
    /// drained: the next read first asks the io whether it is readable
    /// (see [`StreamIo::poll_read_ready`]), which is cheaper than a read
    /// that hears `Pending`.
    Drained,
    /// The peer sent EOF: nothing more is read.
    Eof,
}

/// How long the io's graceful close (TLS close_notify) may take: one field
/// for the limit and its timer, 16 bytes with `Duration`'s niche, where an
/// `Option` of each took 24 (see [`StreamDriver`] on why bytes count here).
enum CloseLimit {
    /// No limit (plain sockets have no closing work).
    None,
    /// This long, from when the close starts.
    Within(Duration),
    /// The close started; its deadline.
    Until(Pin<Box<tokio::time::Sleep>>),
}

/// What one step of the driver decided.
enum Step {
    /// Something happened; loop again.
    Progress,
    /// Nothing to do until woken.
    Idle,
    /// The connection is over, with this outcome.
    Finish(Option<Error>),
}

/// What the locked part of a pass found, for the rest of the pass.
#[derive(Clone, Copy)]
struct Pass {
    /// The full pass (the core's `attention`); without it `flow` is `None`
    /// and `closing`, `eof_requested` and `detaching` are false.
    full: bool,
    /// A pause/resume the protocol must hear of.
    flow: Option<FlowEvent>,
    /// The protocol wants data and may get it.
    reading: bool,
    closing: bool,
    eof_requested: bool,
    detaching: bool,
    /// Nothing is left to write, in the buffer or in the io.
    flushed: bool,
}

impl Pass {
    /// A pass with nothing to do but (perhaps) read.
    fn quiet(reading: bool) -> Self {
        Pass {
            full: false,
            flow: None,
            reading,
            closing: false,
            eof_requested: false,
            detaching: false,
            flushed: true,
        }
    }

    /// It wrote everything and leaves nothing for the next pass but a read
    /// (the core's `attention` aside, which the caller checks).
    fn leaves_only_reading(&self) -> bool {
        self.flushed
            && self.flow.is_none()
            && !self.closing
            && !self.eof_requested
            && !self.detaching
    }
}

/// Takes the commands handles queued: abort, a protocol switch, socket
/// options, and the hard limit's verdict.
fn apply_commands(state: &mut State, handler: &mut Handler, io: &dyn StreamIo) -> Result<(), Step> {
    // The switch first: a protocol queued before an abort is the one that
    // hears `connection_lost` (as asyncio's `set_protocol` then `abort`).
    if let Some(next) = state.take_next_handler() {
        *handler = next;
    }
    if state.core().is_aborting() {
        return Err(Step::Finish(None));
    }
    // The io is asked for its socket only when an option changed (a dyn call).
    if let Some(options) = state.take_changed_socket_options()
        && let Some(fd) = io.socket()
    {
        apply_socket_options(&fd, options);
    }
    if let Some(limit) = state.over_hard_limit() {
        tracing::debug!(limit, "write buffer over its hard limit; aborting");
        return Err(Step::Finish(Some(Error::WriteBufferFull { limit })));
    }
    Ok(())
}

/// Writes the buffer until it is empty or the io would block: one vectored
/// write per call, and no slice array for a lone chunk (the echo case).
/// Returns how many bytes were written.
fn flush<I: StreamIo>(
    buffer: &mut WriteBuffer,
    io: &mut I,
    cx: &mut Context<'_>,
) -> Result<usize, Step> {
    let mut wrote = 0;
    while !buffer.is_empty() {
        let written = buffer.with_io_slices(|slices| io.poll_write_vectored(cx, slices));
        match written {
            Poll::Ready(Ok(0)) => return Err(Step::Finish(Some(io::ErrorKind::WriteZero.into()))),
            Poll::Ready(Ok(n)) => {
                buffer.consume(n);
                wrote += n;
            }
            Poll::Ready(Err(e)) => return Err(Step::Finish(Some(e.into()))),
            Poll::Pending => break,
        }
    }
    Ok(wrote)
}

/// `n` bytes went out (a flush, a `sendfile()` step, the replies): for the
/// time limits and the server's byte counters. A free function, so the
/// locked pass can call it while it holds the state.
#[inline]
fn count_written(moved: &mut Moved, counters: Option<&Counters>, n: usize) {
    if n > 0 {
        moved.wrote = true;
        if let Some(counters) = counters {
            counters.add_written(n);
        }
    }
}

/// Writes the replies a `data_received` callback left in the slot (see
/// [`replies`]), in one write and with no lock if nobody took the lock
/// since the last locked pass; what did not go out goes to the front of
/// the buffer, for the next pass (which then locks). Returns the bytes
/// written.
fn send_replies<I: StreamIo>(
    io: &mut I,
    cx: &mut Context<'_>,
    transport: &Transport,
    chunks: &[Bytes],
    len: usize,
) -> usize {
    let mut sent = 0;
    // Touched: another writer, a close or a `start_tls` came in meanwhile;
    // the full pass that follows sends the replies in their place.
    if transport.untouched_since_pass() {
        let written = with_io_slices(chunks, |slices| io.poll_write_vectored(cx, slices));
        // Would block, or failed: the flush waits for the stream, or meets
        // the error itself.
        if let Poll::Ready(Ok(n)) = written {
            sent = n;
        }
    }
    if sent < len {
        transport.lock().requeue_front(chunks, sent);
    }
    sent
}

impl<I: StreamIo> StreamDriver<I> {
    pub(crate) fn new(
        io: I,
        handler: Handler,
        transport: Transport,
        config: ConnectionConfig,
    ) -> Self {
        let ConnectionConfig {
            made_on,
            shutdown_timeout,
            on_finish,
            settings,
            // Taken by `start_connection` before the driver exists.
            upgrade_of: _,
            reading_paused: _,
        } = config;
        let timeouts = Timeouts::new(settings.timeouts).map(Box::new);
        let io_holds_written = io.holds_written_bytes();
        StreamDriver {
            io: Some(io),
            handler,
            transport,
            made_on,
            counters: settings.counters,
            close_limit: shutdown_timeout.map_or(CloseLimit::None, CloseLimit::Within),
            on_finish,
            read_side: ReadSide::Open,
            eof_sent: false,
            needs_flush: false,
            io_holds_written,
            drained: Vec::new(),
            timeouts,
            moved: Moved::default(),
            left: Left::Written,
        }
    }

    fn read_eof(&self) -> bool {
        self.read_side == ReadSide::Eof
    }

    /// The passes of one poll (at most `MAX_PASSES_PER_POLL`), with the
    /// thread's read buffer in `held` from the first read on.
    #[inline(always)]
    fn passes(&mut self, cx: &mut Context<'_>, held: &mut HeldBuffer) -> Poll<()> {
        for _ in 0..MAX_PASSES_PER_POLL {
            match self.step(cx, held) {
                Step::Progress => continue,
                Step::Finish(outcome) => {
                    self.finish(outcome);
                    return Poll::Ready(());
                }
                Step::Idle => {
                    // Time limits are looked at only when the pass found nothing
                    // to do, and only when there are any: the common case pays
                    // one `is_some`.
                    if self.timeouts.is_some() {
                        match self.check_timeouts(cx) {
                            Some(Step::Progress) => continue,
                            Some(Step::Finish(outcome)) => {
                                self.finish(outcome);
                                return Poll::Ready(());
                            }
                            Some(Step::Idle) | None => {}
                        }
                    }
                    // The pass armed the wake-up under its lock: a change
                    // since then has woken us (or will), so nothing is lost.
                    return Poll::Pending;
                }
            }
        }
        // Busy for a whole budget (a peer that keeps sending, a protocol that
        // keeps writing): let the other tasks on this thread run, then go on.
        // A busy connection can still be stalled on one side (reading on, the
        // peer not reading), so the limits are checked here too.
        if self.timeouts.is_some()
            && let Some(Step::Finish(outcome)) = self.check_timeouts(cx)
        {
            self.finish(outcome);
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One pass: the locked part (commands, flush), then flow control, the
    /// close steps and a read, each of which may end the pass.
    ///
    /// Or the quiet pass, a read and nothing else, without the lock: when
    /// the last locked pass left nothing to write and nothing for the full
    /// pass, and nobody has taken the lock since, the state is as that pass
    /// saw it (see [`Transport::untouched_since_pass`]), its wake-up is
    /// still armed, and a read is all a pass would do. This is the pass a
    /// peer's next request wakes an idle connection for.
    fn step(&mut self, cx: &mut Context<'_>, held: &mut HeldBuffer) -> Step {
        if let Left::OnlyReading { reading } = self.left
            && self.transport.untouched_since_pass()
        {
            // The peer's EOF may have come since without the lock (an
            // `eof_received` that kept the connection open).
            let pass = Pass::quiet(reading && !self.read_eof());
            return self.io_step(cx, &pass, held);
        }
        let pass = match self.locked_pass(cx) {
            Ok(pass) => pass,
            Err(finish) => return *finish,
        };
        // A fast pass found no drain waiter, flow event, close or detach:
        // only the io step can have work (see `locked_pass`).
        if pass.full {
            // Woken outside the lock; the vector keeps its allocation for next time.
            if !self.drained.is_empty() {
                self.drained.drain(..).for_each(Waker::wake);
            }
            if let Some(event) = pass.flow {
                return self.flow_step(event);
            }
            if let Some(step) = self.close_step(cx, pass.closing, pass.detaching, pass.flushed) {
                return step;
            }
        }
        self.io_step(cx, &pass, held)
    }

    /// Under one lock: takes the handles' commands, flushes the buffer, and
    /// reads what the rest of the pass needs. The writes are non-blocking and
    /// short, and no user code runs here.
    ///
    /// Without the core's `attention` (the common case: the handles only
    /// wrote, under the high-water mark) the pass is the fast one: every step
    /// but the flush and the read is known to have nothing to do, and is
    /// skipped (see [`handle`](crate::transport::handle)'s fast pass).
    fn locked_pass(&mut self, cx: &mut Context<'_>) -> Result<Pass, Box<Step>> {
        let mut state = self.transport.lock_for_pass();
        let core = state.core_mut();
        core.begin_pass();
        let full = core.take_attention();
        let io = self.io.as_mut().expect("driver polled after finishing");
        if full {
            apply_commands(&mut state, &mut self.handler, &*io).map_err(Box::new)?;
        }
        let mut written = flush(state.core_mut().buffer_mut(), io, cx).map_err(Box::new)?;
        if written > 0 {
            self.needs_flush = self.io_holds_written;
        }
        let mut flushed = state.core().buffer().is_empty();
        if self.needs_flush && flushed {
            match io.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return Err(Box::new(Step::Finish(Some(e.into())))),
                Poll::Pending => {}
            }
        }
        let mut flow = None;
        if full {
            state.update_read_hold();
            // A zero-copy `sendfile()` goes once everything before it went.
            if flushed && !self.needs_flush && state.has_native_transfer() {
                written += sendfile::drive(&mut state, io, cx)
                    .map_err(|e| Box::new(Step::Finish(Some(e))))?
                    as usize;
                flushed = !state.has_native_transfer();
            }
            // Before the drain waiters: the buffer's pause follows its marks
            // here, so a buffer back at its low mark wakes them in this
            // pass. No later pass may come to do it: while a `sendfile()`
            // falls back, the resume is held back from the protocol, and
            // the flow step that would run another pass does not run.
            flow = state.flow_event();
            state.drain_waiters_to_wake(&mut self.drained);
        }
        count_written(&mut self.moved, self.counters.as_deref(), written);
        // From here on a handle's change wakes us: a pass that then finds
        // nothing to do stops without taking the lock again.
        state.core_mut().arm_wake(cx.waker());
        let reading =
            self.transport.extra().caps.readable && state.wants_data() && !self.read_eof();
        let mut pass = Pass {
            full,
            flow: None,
            reading,
            closing: false,
            eof_requested: false,
            detaching: false,
            flushed: flushed && !self.needs_flush,
        };
        if full {
            pass.flow = flow;
            pass.closing = state.core().is_closing();
            pass.eof_requested = state.eof_requested();
            pass.detaching = state.detaching();
            if state.stays_unusual() {
                state.core_mut().mark_attention();
            }
        }
        self.left = if !pass.flushed {
            Left::Unwritten
        } else if pass.leaves_only_reading() && !state.core().needs_attention() {
            if state.replies_need_no_lock() {
                self.transport.mark_quiet(&state);
            }
            Left::OnlyReading { reading }
        } else {
            Left::Written
        };
        Ok(pass)
    }

    /// Tells the protocol to pause or resume writing, outside the lock: it may
    /// call the transport.
    fn flow_step(&mut self, event: FlowEvent) -> Step {
        let outcome = match event {
            FlowEvent::Pause => self.handler.base().pause_writing(),
            FlowEvent::Resume => self.handler.base().resume_writing(),
        };
        match outcome {
            Ok(()) => Step::Progress,
            Err(e) => Step::Finish(Some(e)),
        }
    }

    /// Detach and close wait for the buffer to drain, then end the pass.
    fn close_step(
        &mut self,
        cx: &mut Context<'_>,
        closing: bool,
        detaching: bool,
        flushed: bool,
    ) -> Option<Step> {
        if !flushed {
            return None;
        }
        if detaching {
            return Some(Step::Finish(None));
        }
        if closing {
            return Some(match self.poll_graceful_close(cx) {
                Poll::Ready(outcome) => Step::Finish(outcome),
                Poll::Pending => Step::Idle,
            });
        }
        None
    }

    /// The half-close once flushed, the peer's end of a write-only stream, and
    /// one read.
    #[inline(always)]
    fn io_step(&mut self, cx: &mut Context<'_>, pass: &Pass, held: &mut HeldBuffer) -> Step {
        let io = self.io.as_mut().expect("driver polled after finishing");
        let mut progressed = false;
        if pass.eof_requested && pass.flushed && !self.eof_sent {
            match io.poll_write_eof(cx) {
                Poll::Ready(Ok(())) => {
                    self.eof_sent = true;
                    progressed = true;
                }
                Poll::Ready(Err(e)) => return Step::Finish(Some(e.into())),
                Poll::Pending => {}
            }
        }
        // A write-only stream has no reads to report the peer's end: watch for it.
        if !self.transport.extra().caps.readable
            && pass.flushed
            && io.poll_peer_closed(cx).is_ready()
        {
            tracing::debug!("pipe closed by peer");
            return Step::Finish(None);
        }
        if pass.reading {
            match self.poll_read(cx, held) {
                Poll::Ready(Ok(n)) => {
                    progressed = true;
                    self.moved.read = true;
                    if let (Some(counters), 1..) = (&self.counters, n) {
                        counters.add_read(n);
                    }
                    if self.next_pass_would_wait(cx) {
                        return Step::Idle;
                    }
                }
                Poll::Ready(Err(e)) => return Step::Finish(Some(e)),
                Poll::Pending => {}
            }
        }
        if progressed {
            Step::Progress
        } else {
            Step::Idle
        }
    }

    /// After a read and its callback: whether the next pass would be the
    /// quiet one (nothing touched the state since the last locked pass,
    /// which left only reading) and its read would only hear that the
    /// drained socket is not readable. That check is made here instead,
    /// registering for the wake-up as the pass would, so an echo request
    /// costs one pass, not two.
    #[inline(always)]
    fn next_pass_would_wait(&mut self, cx: &mut Context<'_>) -> bool {
        self.read_side == ReadSide::Drained
            && self.left == (Left::OnlyReading { reading: true })
            && self.transport.untouched_since_pass()
            && self.still_drained(cx)
    }

    /// Drained by the last read: a readiness check instead of a read that
    /// would hear `Pending`; `true` if the socket is not readable yet (the
    /// wake-up is registered). Open again either way: the wake-up after a
    /// `Pending` is the peer's bytes, which the read then goes straight to.
    #[inline(always)]
    fn still_drained(&mut self, cx: &mut Context<'_>) -> bool {
        if self.read_side != ReadSide::Drained {
            return false;
        }
        self.read_side = ReadSide::Open;
        let io = self.io.as_mut().expect("driver polled after finishing");
        io.poll_read_ready(cx).is_pending()
    }

    /// Reads once and delivers the result to the protocol; returns how many
    /// bytes were read (0: the peer's EOF).
    fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        held: &mut HeldBuffer,
    ) -> Poll<Result<usize, Error>> {
        if self.still_drained(cx) {
            return Poll::Pending;
        }
        let io = self.io.as_mut().expect("driver polled after finishing");
        let n = match &self.handler {
            Handler::Stream(_) | Handler::Alone(_) => match read_shared(io, cx, held) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Ready(Ok(data)) if data.is_empty() => 0,
                Poll::Ready(Ok(data)) => {
                    let n = data.len();
                    if n < READ_SIZE {
                        self.read_side = ReadSide::Drained;
                    }
                    // The callback's replies leave from here, without the
                    // buffer (see `replies`), on a stream that writes
                    // straight to the kernel.
                    let collecting = !self.io_holds_written && replies::open();
                    let outcome = self.handler.data_received(data);
                    let sent = if collecting {
                        let transport = &self.transport;
                        replies::close(|chunks, len| send_replies(io, cx, transport, chunks, len))
                    } else {
                        0
                    };
                    count_written(&mut self.moved, self.counters.as_deref(), sent);
                    outcome?;
                    n
                }
            },
            Handler::Buffered(_) => {
                let mut read = |slice: &mut [u8]| match io.poll_read_slice(cx, slice) {
                    Poll::Ready(outcome) => Some(outcome),
                    Poll::Pending => None,
                };
                match self.handler.read_into(&mut read)? {
                    None => return Poll::Pending,
                    Some(Err(e)) => return Poll::Ready(Err(e.into())),
                    Some(Ok(n)) => n,
                }
            }
            Handler::Finished => return Poll::Pending,
        };
        if n == 0 {
            self.on_eof()?;
        }
        Poll::Ready(Ok(n))
    }

    /// The peer half-closed: ask the protocol whether to keep our side open.
    fn on_eof(&mut self) -> Result<(), Error> {
        self.read_side = ReadSide::Eof;
        let keep_open = self.handler.base().eof_received()?;
        if !(keep_open && self.transport.extra().caps.eof_keeps_open) {
            if keep_open {
                tracing::warn!(
                    "returning true from eof_received() has no effect on this transport"
                );
            }
            self.transport.close();
        }
        Ok(())
    }

    /// Tells the time limits what moved since they last looked, then polls
    /// their timer: `None` while no limit is reached; otherwise the protocol
    /// is asked, and the step says whether the connection goes on
    /// (`Progress`: the callback may have written) or ends.
    fn check_timeouts(&mut self, cx: &mut Context<'_>) -> Option<Step> {
        let timeouts = self.timeouts.as_mut()?;
        timeouts.record(
            std::mem::take(&mut self.moved),
            self.left == Left::Unwritten,
            self.read_side == ReadSide::Eof,
        );
        let Poll::Ready(kind) = timeouts.poll_reached(cx) else {
            return None;
        };
        tracing::debug!(%kind, "time limit reached");
        Some(match self.handler.base().timeout_reached(kind) {
            Ok(true) => {
                if let Some(timeouts) = &mut self.timeouts {
                    timeouts.restart(kind);
                }
                Step::Progress
            }
            Ok(false) => Step::Finish(Some(Error::Timeout(kind.message()))),
            Err(e) => Step::Finish(Some(e)),
        })
    }

    /// The stream's own closing work, bounded by the shutdown timeout.
    fn poll_graceful_close(&mut self, cx: &mut Context<'_>) -> Poll<Option<Error>> {
        if let CloseLimit::Within(timeout) = self.close_limit {
            self.close_limit = CloseLimit::Until(Box::pin(tokio::time::sleep(timeout)));
        }
        let io = self.io.as_mut().expect("driver polled after finishing");
        if let Poll::Ready(outcome) = io.poll_close(cx) {
            return Poll::Ready(outcome.err().map(Error::from));
        }
        let expired = match &mut self.close_limit {
            CloseLimit::Until(deadline) => deadline.as_mut().poll(cx).is_ready(),
            CloseLimit::None | CloseLimit::Within(_) => false,
        };
        if expired {
            Poll::Ready(Some(Error::Timeout("SSL shutdown timed out")))
        } else {
            Poll::Pending
        }
    }

    /// Ends the connection: closes the stream, then calls `connection_lost` once;
    /// or, when a detach was asked for and nothing failed, hands the stream over.
    pub(crate) fn finish(&mut self, outcome: Option<Error>) {
        let Ended {
            detach_tx,
            reading_paused,
            pause_reading_on_backpressure,
            drained,
            next_handler,
        } = self.transport.lock().end(outcome.is_none());
        if let Some(next) = next_handler {
            self.handler = next;
        }
        let io = self.io.take();
        let handler = std::mem::replace(&mut self.handler, Handler::Finished);
        let handler = match (io, detach_tx) {
            (Some(io), Some(tx)) => match tx.send(Detached {
                io: io.into_boxed(),
                handler,
                reading_paused,
                on_finish: self.on_finish.take(),
                settings: Settings {
                    pause_reading_on_backpressure,
                    timeouts: self
                        .timeouts
                        .as_ref()
                        .map(|t| t.config())
                        .unwrap_or_default(),
                    counters: self.counters.take(),
                },
            }) {
                Ok(()) => None,
                // Nobody took the stream: it is closed now, so the protocol hears of it.
                Err(detached) => {
                    self.on_finish = detached.on_finish;
                    Some((detached.handler, Some(Error::Closed("transport"))))
                }
            },
            _ => Some((handler, outcome)),
        };
        let mut ending = Ending::Clean;
        if let Some((handler, outcome)) = handler {
            if let Some(err) = &outcome {
                tracing::debug!(error = %err, "connection lost");
            }
            ending = Ending::of(outcome.as_ref());
            handler.base().connection_lost(outcome);
        }
        if let Some(on_finish) = self.on_finish.take() {
            on_finish(ending);
        }
        // Last, so a waiter that wakes finds `connection_lost` has run.
        drained.into_iter().for_each(Waker::wake);
    }
}

impl<I: StreamIo> Future for StreamDriver<I> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let _driving = this.transport.driving_here();
        if this.made_on == MadeOn::Driver
            && let Err(e) = {
                this.made_on = MadeOn::Already;
                this.handler.base().connection_made(&this.transport)
            }
        {
            this.finish(Some(e));
            return Poll::Ready(());
        }
        let mut held = HeldBuffer(None);
        let polled = this.passes(cx, &mut held);
        held.put_back();
        polled
    }
}

/// Waits until `transport`'s driver stops reading and flushes its buffer, then
/// takes its stream and protocol back (for `start_tls`). The old transport is
/// closed afterwards, without `connection_lost`.
///
/// # Errors
///
/// [`Error::Closed`] if the connection ended before the detach.
///
/// The request is made when this is called, not when the future is first
/// polled: a protocol can call it inside `data_received` and spawn the future,
/// and the driver reads nothing more once that callback returns.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) fn detach(
    transport: &Transport,
) -> impl Future<Output = Result<Detached, Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let closed = !transport.update(|state| state.request_detach(tx));
    async move {
        if closed {
            return Err(Error::Closed("transport"));
        }
        rx.await.map_err(|_| Error::Closed("transport"))
    }
}

#[cfg(test)]
mod tests;
