//! [`RoomStats`]: cheap counters, read as one snapshot.
//!
//! Members publish from many threads at once (every worker of a server), so
//! each counter is striped: a thread adds to its own cache-line-sized slot
//! and a snapshot sums the slots. No two threads fight over one cache line
//! to count a message.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A snapshot of a room's counters; see [`Room::stats`](super::Room::stats).
///
/// Counters only grow, from the room's creation. Each is read on its own
/// (relaxed atomics), so two counters in one snapshot may be a few events
/// apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RoomStats {
    /// Messages published by this server's members.
    pub published: u64,
    /// Events handed to this server's member sinks (messages, joins, leaves).
    pub delivered: u64,
    /// Messages of this server's members that did not go to Redis: the
    /// outbound queue was full, or the link was down (see the
    /// [module docs](super#faults)). Local delivery of them happened.
    pub dropped: u64,
    /// Messages from members on other servers, received through Redis.
    pub received: u64,
    /// Channel messages that could not be decoded and were skipped.
    pub malformed: u64,
    /// Times the Redis link was re-established after it was lost.
    pub reconnects: u64,
    /// Local members removed because their name was held on another server.
    pub evicted: u64,
    /// Members on this server now.
    pub local_members: usize,
    /// Members on other servers, as this server knows them now.
    pub remote_members: usize,
    /// Whether the Redis link is up (always false for a local room).
    pub connected: bool,
}

/// How many slots a [`Striped`] counter has.
const STRIPES: usize = 16;

/// One slot, alone on its cache line (128 bytes: two lines on x86, whose
/// prefetcher pulls pairs; one on most others).
#[derive(Default)]
#[repr(align(128))]
struct Slot(AtomicU64);

/// A counter spread over [`STRIPES`] slots; each thread adds to its own.
#[derive(Default)]
pub(crate) struct Striped([Slot; STRIPES]);

/// This thread's slot: threads take slots in turn as they first count.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

impl Striped {
    fn add(&self, n: u64) {
        self.0[stripe()].0.fetch_add(n, Ordering::Relaxed);
    }

    /// The sum of the slots.
    pub(crate) fn get(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

impl fmt::Debug for Striped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// The live counters behind [`RoomStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: Striped,
    pub(crate) delivered: Striped,
    pub(crate) dropped: Striped,
    pub(crate) received: Striped,
    pub(crate) malformed: Striped,
    pub(crate) reconnects: Striped,
    pub(crate) evicted: Striped,
}

impl Counters {
    pub(crate) fn add(counter: &Striped, n: u64) {
        if n > 0 {
            counter.add(n);
        }
    }

    /// The counter part of a snapshot; the caller fills in the gauges.
    pub(crate) fn snapshot(&self) -> RoomStats {
        let get = Striped::get;
        RoomStats {
            published: get(&self.published),
            delivered: get(&self.delivered),
            dropped: get(&self.dropped),
            received: get(&self.received),
            malformed: get(&self.malformed),
            reconnects: get(&self.reconnects),
            evicted: get(&self.evicted),
            ..RoomStats::default()
        }
    }
}
