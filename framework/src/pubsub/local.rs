//! This server's members: the name index, the copy-on-write snapshot that
//! fan-out iterates without holding the room's lock, and fan-out itself.
//!
//! Every change to the membership bumps a generation counter that lives
//! outside the room's lock, so a publisher that keeps its own copy of the
//! snapshot ([`SnapshotCache`]) checks it with one atomic load and takes the
//! lock only when the membership changed: publishing takes no lock shared
//! with other publishers. A change also empties every member's copy (the
//! member list is reachable from the room, the copies weakly from it), so a
//! member that stops publishing does not keep an old list, and the sinks of
//! members who left in it, alive.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::event::{EventSink, RoomEvent};

/// One local member: its name, its sink, and whether it is still in the room.
pub(crate) struct MemberCore {
    pub(crate) id: u64,
    pub(crate) name: Arc<str>,
    sink: Box<dyn EventSink>,
    alive: AtomicBool,
    /// The member handle's snapshot copy, emptied when the membership changes.
    cache: Weak<Mutex<SnapshotCache>>,
}

impl MemberCore {
    pub(crate) fn new(
        id: u64,
        name: Arc<str>,
        sink: Box<dyn EventSink>,
        cache: Weak<Mutex<SnapshotCache>>,
    ) -> Self {
        MemberCore {
            id,
            name,
            sink,
            alive: AtomicBool::new(true),
            cache,
        }
    }

    /// Empties this member's snapshot copy, unless it is in use right now
    /// (then its next publish sees the new generation and refreshes it).
    fn clear_cache(&self) {
        if let Some(cache) = self.cache.upgrade()
            && let Ok(mut cache) = cache.try_lock()
        {
            cache.snapshot = None;
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Marks the member gone; true if it was alive (so exactly one caller
    /// performs the leave).
    pub(crate) fn kill(&self) -> bool {
        self.alive.swap(false, Ordering::AcqRel)
    }

    /// Calls the sink, catching a panic so the other members still get the event.
    pub(crate) fn deliver_unchecked(&self, event: &RoomEvent) {
        if catch_unwind(AssertUnwindSafe(|| self.sink.deliver(event))).is_err() {
            tracing::error!(member = %self.name, "a room event sink panicked; event skipped");
        }
    }
}

impl fmt::Debug for MemberCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemberCore")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("alive", &self.is_alive())
            .finish_non_exhaustive()
    }
}

/// The snapshot fan-out iterates: every member at the time it was taken.
pub(crate) type Snapshot = Arc<[Arc<MemberCore>]>;

/// Delivers `event` to every live member of `members` but `except`; returns
/// how many sinks were called.
///
/// A member that left after the snapshot was taken is skipped by its `alive`
/// flag; one that leaves while this runs on another thread may still get this
/// one event.
pub(crate) fn fan_out(members: &[Arc<MemberCore>], except: Option<u64>, event: &RoomEvent) -> u64 {
    let mut n = 0;
    for member in members {
        if Some(member.id) == except || !member.is_alive() {
            continue;
        }
        member.deliver_unchecked(event);
        n += 1;
    }
    n
}

/// Name → member, plus names reserved by a join or leave in progress.
#[derive(Debug, Default)]
pub(crate) struct LocalMembers {
    by_name: BTreeMap<Arc<str>, Arc<MemberCore>>,
    /// Names held without a member: a join awaiting Redis, or a leave that
    /// has not yet queued its release (so a re-join cannot overtake it).
    reserved: HashSet<Arc<str>>,
    /// `None` after a change; rebuilt on the next fan-out.
    snapshot: Option<Snapshot>,
    /// Bumped on every change (and when the room closes); read without the
    /// room's lock by [`SnapshotCache`]s.
    generation: Arc<AtomicU64>,
}

/// A publisher's own copy of the fan-out snapshot, with the generation it
/// was taken at.
#[derive(Debug, Default)]
pub(crate) struct SnapshotCache {
    pub(crate) generation: u64,
    /// `None`: not taken yet, or the room is closed.
    pub(crate) snapshot: Option<Snapshot>,
}

impl LocalMembers {
    /// Whether `name` is neither a member nor reserved.
    pub(crate) fn is_free(&self, name: &str) -> bool {
        !self.by_name.contains_key(name) && !self.reserved.contains(name)
    }

    /// Whether `name` is a member here (reservations excluded).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    pub(crate) fn reserve(&mut self, name: Arc<str>) {
        self.reserved.insert(name);
    }

    pub(crate) fn unreserve(&mut self, name: &str) {
        self.reserved.remove(name);
    }

    /// Drops the snapshot, bumps the generation and empties the members'
    /// copies: the membership changed (or the room closed).
    pub(crate) fn invalidate(&mut self) {
        self.snapshot = None;
        self.generation.fetch_add(1, Ordering::Release);
        for member in self.by_name.values() {
            member.clear_cache();
        }
    }

    /// The generation counter, for readers outside the lock.
    pub(crate) fn generation(&self) -> &Arc<AtomicU64> {
        &self.generation
    }

    /// Adds a member (and drops its reservation).
    pub(crate) fn insert(&mut self, member: Arc<MemberCore>) {
        self.reserved.remove(&member.name);
        self.by_name.insert(member.name.clone(), member);
        self.invalidate();
    }

    /// Removes `member` if it is the one holding its name.
    pub(crate) fn remove(&mut self, member: &MemberCore) -> bool {
        match self.by_name.get(&member.name) {
            Some(current) if current.id == member.id => {
                self.by_name.remove(&member.name);
                member.clear_cache();
                self.invalidate();
                true
            }
            _ => false,
        }
    }

    /// Removes the member called `name`, if any.
    #[cfg(feature = "redis")]
    pub(crate) fn remove_name(&mut self, name: &str) -> Option<Arc<MemberCore>> {
        let member = self.by_name.remove(name)?;
        member.clear_cache();
        self.invalidate();
        Some(member)
    }

    /// The members now, for fan-out outside the lock.
    pub(crate) fn snapshot(&mut self) -> Snapshot {
        self.snapshot
            .get_or_insert_with(|| self.by_name.values().cloned().collect())
            .clone()
    }

    /// Member names, sorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &Arc<str>> {
        self.by_name.keys()
    }

    /// Member names and reserved names: everything this server holds.
    #[cfg(feature = "redis")]
    pub(crate) fn held(&self) -> HashSet<Arc<str>> {
        self.by_name
            .keys()
            .chain(self.reserved.iter())
            .cloned()
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}
