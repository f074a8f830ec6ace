//! What a relay knows: its members (the transports it drives), its flows (the
//! directions bytes move in) and how each ended. Every transition is one
//! method here, run under the relay's lock by the members' protocols.
//!
//! A member is one transport: a socket both reads one flow and writes the
//! other; a pipe or a subprocess stream is the source or the sink of one flow.
//!
//! | flow state | entered by | left by |
//! |---|---|---|
//! | open, sink writable | start (sink under its high mark), resume | the sink going over its high mark |
//! | open, `sink_full` (source paused) | a write that leaves the sink not writable, `pause_writing` | `resume_writing`, or the sink's drain waker |
//! | `done` | the source's EOF (passed on with `write_eof`), the source or the sink lost | (final) |
//!
//! | member state | entered by | left by |
//! |---|---|---|
//! | live | start | `connection_lost`, or closing before the relay started |
//! | `lost` | `connection_lost` (the relay counts it once) | (final) |
//!
//! The relay ends when every member is lost. Every flow done closes every
//! member (flushing); a member lost with an error aborts the others.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Wake, Waker};

use bytes::Bytes;
use tokio::sync::watch;

use crate::error::Error;
use crate::transport::Transport;
use crate::util::lock;

use super::handle::{RelayOutcome, RelayStats};

/// Run after a member's `connection_lost`, outside the relay's lock: tells
/// the member's previous owner (a subprocess) that the transport ended.
pub(crate) type LostHook = Box<dyn FnOnce(Option<Error>) + Send>;

/// One transport of the relay.
pub(crate) struct Member {
    pub(crate) transport: Transport,
    /// The flow this transport is read for.
    pub(crate) source_of: Option<usize>,
    /// The flow this transport is written by.
    pub(crate) sink_of: Option<usize>,
    pub(crate) on_lost: Option<LostHook>,
    lost: bool,
}

impl Member {
    pub(crate) fn new(transport: Transport, on_lost: Option<LostHook>) -> Self {
        Member {
            transport,
            source_of: None,
            sink_of: None,
            on_lost,
            lost: false,
        }
    }
}

/// One direction: bytes read from `source` are written to `sink`.
struct Flow {
    source: usize,
    sink: usize,
    bytes: u64,
    /// The source's reading is paused because the sink is over its high mark.
    sink_full: bool,
    /// The flow carries nothing more (EOF passed on, or an end is gone).
    done: bool,
    /// Wakes the relay when the sink can take more (from its drain waiters).
    waker: Waker,
}

/// The relay's state behind its lock.
struct RelayState {
    members: Vec<Member>,
    flows: Vec<Flow>,
    /// The first error of a member, reported in the outcome.
    error: Option<Error>,
    pauses: u64,
    peak_write_buffer: usize,
}

/// What every member's protocol, the flows' wakers and the handles share.
pub(crate) struct Shared {
    state: Mutex<RelayState>,
    finished: watch::Sender<Option<RelayOutcome>>,
}

/// Wakes one flow of the relay when its sink drained below the high mark.
struct FlowWaker {
    relay: Weak<Shared>,
    flow: usize,
}

impl Wake for FlowWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(relay) = self.relay.upgrade() {
            relay.sink_drained(self.flow);
        }
    }
}

impl Shared {
    /// A relay over `members` with one flow per `(source, sink)` pair of
    /// member indices. Nothing runs until [`start`](Self::start).
    pub(crate) fn new(mut members: Vec<Member>, flows: &[(usize, usize)]) -> Arc<Self> {
        for (index, &(source, sink)) in flows.iter().enumerate() {
            members[source].source_of = Some(index);
            members[sink].sink_of = Some(index);
        }
        Arc::new_cyclic(|relay: &Weak<Shared>| {
            let flows = flows
                .iter()
                .enumerate()
                .map(|(index, &(source, sink))| Flow {
                    source,
                    sink,
                    bytes: 0,
                    sink_full: false,
                    done: false,
                    waker: Waker::from(Arc::new(FlowWaker {
                        relay: relay.clone(),
                        flow: index,
                    })),
                })
                .collect();
            Shared {
                state: Mutex::new(RelayState {
                    members,
                    flows,
                    error: None,
                    pauses: 0,
                    peak_write_buffer: 0,
                }),
                finished: watch::Sender::new(None),
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, RelayState> {
        lock(&self.state)
    }

    /// The members' transports, in member order.
    pub(crate) fn transports(&self) -> Vec<Transport> {
        self.lock()
            .members
            .iter()
            .map(|m| m.transport.clone())
            .collect()
    }

    /// Starts every flow: reading resumes on each source whose sink can take
    /// more.
    pub(crate) fn start(&self) {
        let mut guard = self.lock();
        let state = &mut *guard;
        for flow in &mut state.flows {
            let sink = &state.members[flow.sink].transport;
            if sink
                .poll_drain(&mut Context::from_waker(&flow.waker))
                .is_pending()
            {
                flow.sink_full = true;
                state.pauses += 1;
            } else {
                state.members[flow.source].transport.resume_reading();
            }
        }
    }

    /// Bytes read from `member`: written to its flow's sink; the source is
    /// paused at once if that took the sink over its high mark, so the sink
    /// never holds more than its high mark plus one read.
    pub(crate) fn forward(&self, member: usize, data: Bytes) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(index) = state.members[member].source_of else {
            tracing::debug!(
                member,
                "bytes from a transport the relay does not read; dropped"
            );
            return;
        };
        let flow = &mut state.flows[index];
        if flow.done {
            return;
        }
        flow.bytes += data.len() as u64;
        let sink = &state.members[flow.sink].transport;
        sink.write(data);
        if !flow.sink_full
            && sink
                .poll_drain(&mut Context::from_waker(&flow.waker))
                .is_pending()
        {
            flow.sink_full = true;
            state.pauses += 1;
            // Only a write that takes the sink over its mark can set a peak;
            // looking only then keeps the common path to two locks.
            state.peak_write_buffer = state.peak_write_buffer.max(sink.get_write_buffer_size());
            state.members[flow.source].transport.pause_reading();
        }
    }

    /// The sink `member` went over its high mark (`pause_writing`).
    pub(crate) fn sink_paused(&self, member: usize) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(index) = state.members[member].sink_of else {
            return;
        };
        let flow = &mut state.flows[index];
        if !flow.sink_full && !flow.done {
            flow.sink_full = true;
            state.pauses += 1;
            state.members[flow.source].transport.pause_reading();
        }
    }

    /// The sink `member` drained to its low mark (`resume_writing`).
    pub(crate) fn sink_resumed(&self, member: usize) {
        let mut state = self.lock();
        if let Some(index) = state.members[member].sink_of {
            state.resume_flow(index);
        }
    }

    /// The drain waker of `index` fired: the sink is writable or closed.
    fn sink_drained(&self, index: usize) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let flow = &state.flows[index];
        if !flow.sink_full || flow.done {
            return;
        }
        // A wake-up may be older than the last pause: ask again, which
        // re-registers the waker if the sink is still full.
        let sink = &state.members[flow.sink].transport;
        if sink
            .poll_drain(&mut Context::from_waker(&flow.waker))
            .is_ready()
        {
            state.resume_flow(index);
        }
    }

    /// The source `member` reached EOF. Returns whether the transport stays
    /// open (it still carries the other flow).
    pub(crate) fn source_eof(&self, member: usize) -> bool {
        let mut state = self.lock();
        let Some(index) = state.members[member].source_of else {
            return false;
        };
        state.end_flow_at_source(index);
        // A transport that closes at EOF anyway (TLS: the peer's close_notify
        // ends it) then ends the other direction as a clean loss does.
        let source = &state.members[member];
        let keep_open = source.transport.extra().caps.eof_keeps_open
            && source.sink_of.is_some_and(|other| !state.flows[other].done);
        state.close_if_all_done();
        keep_open
    }

    /// `connection_lost` of `member`: ends its flows and, once every member
    /// is lost, the relay.
    pub(crate) fn member_lost(&self, member: usize, exc: Option<Error>) {
        let (hook, all_lost) = {
            let mut guard = self.lock();
            let state = &mut *guard;
            if std::mem::replace(&mut state.members[member].lost, true) {
                return;
            }
            match &exc {
                Some(err) => {
                    tracing::debug!(member, error = %err, "relay member failed; aborting the others");
                    state.error.get_or_insert_with(|| err.clone());
                    state.flows.iter_mut().for_each(|f| f.done = true);
                    for other in &state.members {
                        other.transport.abort();
                    }
                }
                None => {
                    if let Some(index) = state.members[member].source_of {
                        state.end_flow_at_source(index);
                    }
                    if let Some(index) = state.members[member].sink_of
                        && !std::mem::replace(&mut state.flows[index].done, true)
                    {
                        // Nowhere to put the source's bytes any more.
                        state.members[state.flows[index].source].transport.close();
                    }
                    state.close_if_all_done();
                }
            }
            (
                state.members[member].on_lost.take(),
                state.members.iter().all(|m| m.lost),
            )
        };
        if let Some(hook) = hook {
            hook(exc);
        }
        if all_lost {
            self.finish();
        }
    }

    /// Closes every member (flushing) or aborts every member.
    pub(crate) fn shut(&self, abort: bool) {
        for transport in self.transports() {
            if abort {
                transport.abort();
            } else {
                transport.close();
            }
        }
    }

    pub(crate) fn stats(&self) -> RelayStats {
        let state = self.lock();
        let bytes = |i: usize| state.flows.get(i).map_or(0, |f| f.bytes);
        RelayStats {
            a_to_b: bytes(0),
            b_to_a: bytes(1),
            backpressure_pauses: state.pauses,
            peak_write_buffer: state.peak_write_buffer,
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<RelayOutcome>> {
        self.finished.subscribe()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished.borrow().is_some()
    }

    /// Ends a relay that never started (a transport was already closing):
    /// the members keep their own protocols, so no hook is owed.
    pub(crate) fn finish_unstarted(&self, error: Error) {
        {
            let mut state = self.lock();
            state.error = Some(error);
            for member in &mut state.members {
                member.lost = true;
                member.on_lost = None;
            }
            state.flows.iter_mut().for_each(|f| f.done = true);
        }
        self.finish();
    }

    fn finish(&self) {
        let stats = self.stats();
        let error = self.lock().error.clone();
        self.finished
            .send_replace(Some(RelayOutcome { stats, error }));
    }
}

impl RelayState {
    /// Resumes the source of flow `index` if the relay paused it.
    fn resume_flow(&mut self, index: usize) {
        let flow = &mut self.flows[index];
        if std::mem::replace(&mut flow.sink_full, false) && !flow.done {
            self.members[flow.source].transport.resume_reading();
        }
    }

    /// The source of flow `index` ended cleanly: EOF goes on to the sink as a
    /// half-close; a sink that cannot half-close is closed (after flushing).
    fn end_flow_at_source(&mut self, index: usize) {
        let flow = &mut self.flows[index];
        if std::mem::replace(&mut flow.done, true) {
            return;
        }
        let sink = &self.members[flow.sink].transport;
        if !sink.can_write_eof() || sink.write_eof().is_err() {
            sink.close();
        }
    }

    /// Once nothing flows any more, every member closes (flushing first).
    fn close_if_all_done(&self) {
        if self.flows.iter().all(|f| f.done) {
            for member in self.members.iter().filter(|m| !m.lost) {
                member.transport.close();
            }
        }
    }
}
