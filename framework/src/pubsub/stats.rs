//! [`RoomStats`]: cheap counters, read as one snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

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

/// The live counters behind [`RoomStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) evicted: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The counter part of a snapshot; the caller fills in the gauges.
    pub(crate) fn snapshot(&self) -> RoomStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
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
