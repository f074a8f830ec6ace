//! [`Room`] and [`Member`]: joining, publishing, leaving, listing.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

use super::error::RoomError;
use super::event::{EventSink, LeaveReason, RoomEvent};
use super::local::{LocalMembers, MemberCore, Snapshot, SnapshotCache, fan_out};
#[cfg(feature = "redis")]
use super::presence::Change;
use super::presence::RemotePresence;
#[cfg(feature = "redis")]
use super::redis::{Backplane, Claim};
use super::stats::{Counters, RoomStats};

/// The longest member name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A room: named members, each with a sink, and messages fanned out to all
/// the others.
///
/// `Room` is a cheap handle (`Clone`, `Send`, `Sync`; an `Arc` inside); every
/// clone is the same room. A room is either local to this process
/// ([`Room::local`]) or spans every process connected to the same Redis with
/// the same room name (`Room::connect_redis`, feature `redis`); the API is the same. See the
/// [module docs](super) for the model, ordering and faults.
///
/// # Dropping
///
/// The room lives while any `Room` clone or [`Member`] exists. When the last
/// one goes, a Redis room's background tasks stop at once **without telling
/// Redis**, exactly as if the process had died: its members' names expire
/// after the presence TTL and the other servers then announce them as left.
/// Call [`Room::close`] first for a graceful exit.
#[derive(Clone)]
pub struct Room {
    pub(crate) shared: Arc<Shared>,
}

/// A member's handle: publish with it; drop it (or call [`Member::leave`]) to
/// leave.
///
/// Every method is synchronous and never blocks, so a protocol callback such
/// as `data_received` can publish directly.
#[must_use = "dropping a Member leaves the room at once"]
pub struct Member {
    room: Room,
    core: Arc<MemberCore>,
    /// This member's copy of the fan-out list: publishing reads it without
    /// the room's lock while the membership is unchanged. The room reaches it
    /// weakly (through the member's core) to empty it on a change.
    cache: Arc<Mutex<SnapshotCache>>,
}

/// The state every handle shares.
pub(crate) struct Shared {
    pub(crate) name: Arc<str>,
    state: Mutex<State>,
    /// Serialises presence changes that are announced from async contexts
    /// (joins, remote joins and leaves, snapshots, evictions), so the order in
    /// which members hear about one name matches the order of the changes.
    /// Never taken by a sink call path that could wait on itself: it is held
    /// only by async code that then calls sinks, never by sync code.
    pub(crate) presence_order: tokio::sync::Mutex<()>,
    pub(crate) counters: Counters,
    /// The local membership's generation (see [`SnapshotCache`]); the same
    /// counter `State::local` bumps under the lock.
    generation: Arc<AtomicU64>,
    next_id: AtomicU64,
    #[cfg(feature = "redis")]
    pub(crate) backplane: Option<Arc<Backplane>>,
}

pub(crate) struct State {
    pub(crate) local: LocalMembers,
    pub(crate) remote: RemotePresence,
    closed: bool,
}

/// Checks a member name: 1 to [`MAX_NAME_LEN`] bytes.
pub(crate) fn validate_name(name: &str) -> Result<(), RoomError> {
    if name.is_empty() {
        return Err(RoomError::InvalidName("empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(RoomError::InvalidName("longer than 256 bytes"));
    }
    Ok(())
}

impl Shared {
    pub(crate) fn new(
        name: &str,
        #[cfg(feature = "redis")] backplane: Option<Arc<Backplane>>,
    ) -> Self {
        let local = LocalMembers::default();
        let generation = local.generation().clone();
        Shared {
            name: name.into(),
            state: Mutex::new(State {
                local,
                remote: RemotePresence::default(),
                closed: false,
            }),
            generation,
            presence_order: tokio::sync::Mutex::new(()),
            counters: Counters::default(),
            next_id: AtomicU64::new(1),
            #[cfg(feature = "redis")]
            backplane,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // No sink runs under this lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The local members to deliver to, or `None` once the room is closed.
    pub(crate) fn snapshot(&self) -> Option<Snapshot> {
        let mut st = self.lock();
        (!st.closed).then(|| st.local.snapshot())
    }

    /// The local members to deliver to, from `cache` while the membership is
    /// unchanged (one atomic load, no lock), else refreshed under the lock.
    /// `None` once the room is closed.
    fn cached_snapshot<'c>(&self, cache: &'c mut SnapshotCache) -> Option<&'c Snapshot> {
        let now = self.generation.load(Ordering::Acquire);
        if cache.generation != now || cache.snapshot.is_none() {
            let mut st = self.lock();
            // Read under the lock: every bump happens under it.
            cache.generation = self.generation.load(Ordering::Relaxed);
            cache.snapshot = (!st.closed).then(|| st.local.snapshot());
        }
        cache.snapshot.as_ref()
    }

    /// Fans `event` out and counts the deliveries.
    pub(crate) fn deliver(
        &self,
        members: &[Arc<MemberCore>],
        except: Option<u64>,
        event: &RoomEvent,
    ) {
        let n = fan_out(members, except, event);
        Counters::add(&self.counters.delivered, n);
    }

    /// Announces remote presence changes to every local member.
    #[cfg(feature = "redis")]
    pub(crate) fn announce(&self, members: &[Arc<MemberCore>], changes: Vec<Change>) {
        for change in changes {
            let event = match change {
                Change::Joined(member) => RoomEvent::Joined { member },
                Change::Left(member, reason) => RoomEvent::Left { member, reason },
            };
            self.deliver(members, None, &event);
        }
    }

    /// Takes `member` out of the room and tells the others (once).
    fn leave(&self, member: &MemberCore) {
        if !member.kill() {
            return; // already left or evicted
        }
        let snapshot = {
            let mut st = self.lock();
            if !st.local.remove(member) {
                return;
            }
            // Hold the name until the release is queued, so a re-join's claim
            // cannot reach Redis before it.
            st.local.reserve(member.name.clone());
            (!st.closed).then(|| st.local.snapshot())
        };
        if let Some(snapshot) = snapshot {
            let event = RoomEvent::Left {
                member: member.name.clone(),
                reason: LeaveReason::Left,
            };
            self.deliver(&snapshot, None, &event);
        }
        #[cfg(feature = "redis")]
        if let Some(backplane) = &self.backplane {
            backplane.release(member.name.clone());
        }
        self.lock().local.unreserve(&member.name);
    }

    /// Removes the local member called `name` because another server holds
    /// the name. The caller holds `presence_order`.
    #[cfg(feature = "redis")]
    pub(crate) fn evict(&self, name: &str) {
        let (member, snapshot) = {
            let mut st = self.lock();
            let Some(member) = st.local.remove_name(name) else {
                return;
            };
            (member, st.local.snapshot())
        };
        if !member.kill() {
            return;
        }
        tracing::warn!(room = %self.name, member = name, "name held on another server; member evicted");
        Counters::add(&self.counters.evicted, 1);
        member.deliver_unchecked(&RoomEvent::Evicted);
        let event = RoomEvent::Left {
            member: member.name.clone(),
            reason: LeaveReason::Evicted,
        };
        self.deliver(&snapshot, None, &event);
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// Drops a join's reservation unless the join completed.
struct Reservation<'a> {
    shared: &'a Shared,
    name: Arc<str>,
    armed: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.lock().local.unreserve(&self.name);
        }
    }
}

impl Room {
    /// A room local to this process: members in this process only, no I/O.
    ///
    /// `name` is only used in logs and `Debug` output.
    ///
    /// # Examples
    ///
    /// ```
    /// let room = aioproto::pubsub::Room::local("lobby");
    /// assert!(room.members().is_empty());
    /// ```
    pub fn local(name: &str) -> Room {
        Room {
            shared: Arc::new(Shared::new(
                name,
                #[cfg(feature = "redis")]
                None,
            )),
        }
    }

    /// The room's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Joins the room as `name`, delivering this member's events to `sink`.
    ///
    /// The name must be unique in the whole room: across every server of a
    /// Redis room. Once this returns, every other member has been told
    /// ([`RoomEvent::Joined`]; the local ones before this returns), and the
    /// new member receives everything published after. It never receives its
    /// own messages or its own join.
    ///
    /// A local room answers at once. A Redis room reserves the name with an
    /// atomic script (one round trip through the outbound queue). If the link
    /// is down or Redis does not answer within the command timeout, the
    /// member is admitted locally and its name is reserved in Redis when the
    /// room re-forms; should another server hold it by then, this member gets
    /// [`RoomEvent::Evicted`] (see the [module docs](super#faults)).
    ///
    /// # Errors
    ///
    /// [`RoomError::NameTaken`] if a member of the room holds `name`;
    /// [`RoomError::InvalidName`] if it is empty or longer than
    /// [`MAX_NAME_LEN`] bytes; [`RoomError::Closed`] after [`Room::close`].
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before it completes, the member is not
    /// admitted and its sink is dropped. In a Redis room the name may already
    /// be reserved in Redis; the next presence refresh releases it.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::pubsub::{Room, RoomEvent};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let room = Room::local("lobby");
    /// let _alice = room.join("alice", |_: &RoomEvent| {}).await.unwrap();
    /// let again = room.join("alice", |_: &RoomEvent| {}).await;
    /// assert!(again.unwrap_err().is_name_taken());
    /// # }
    /// ```
    pub async fn join(&self, name: &str, sink: impl EventSink) -> Result<Member, RoomError> {
        validate_name(name)?;
        let shared = &*self.shared;
        let name: Arc<str> = name.into();
        {
            let mut st = shared.lock();
            if st.closed {
                return Err(RoomError::Closed);
            }
            if !st.local.is_free(&name) || st.remote.contains(&name) {
                return Err(RoomError::NameTaken);
            }
            st.local.reserve(name.clone());
        }
        let mut reservation = Reservation {
            shared,
            name: name.clone(),
            armed: true,
        };
        #[cfg(feature = "redis")]
        if let Some(backplane) = &shared.backplane
            && backplane.claim(name.clone()).await == Claim::Taken
        {
            return Err(RoomError::NameTaken);
        }
        let _order = shared.presence_order.lock().await;
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let cache = Arc::new(Mutex::new(SnapshotCache::default()));
        let core = Arc::new(MemberCore::new(
            id,
            name.clone(),
            Box::new(sink),
            Arc::downgrade(&cache),
        ));
        let (snapshot, stale) = {
            let mut st = shared.lock();
            if st.closed {
                drop(st);
                return Err(RoomError::Closed);
            }
            let stale = st.remote.take_over(&name);
            st.local.insert(core.clone());
            reservation.armed = false;
            (st.local.snapshot(), stale)
        };
        if stale {
            let event = RoomEvent::Left {
                member: name.clone(),
                reason: LeaveReason::Left,
            };
            shared.deliver(&snapshot, Some(id), &event);
        }
        shared.deliver(&snapshot, Some(id), &RoomEvent::Joined { member: name });
        Ok(Member {
            room: self.clone(),
            core,
            cache,
        })
    }

    /// Every member of the room, sorted: this server's and, for a Redis room,
    /// the others' as this server knows them.
    ///
    /// Served from memory: the remote part is a cache kept current by the
    /// channel's join and leave events and corrected by a periodic snapshot
    /// of the presence hash, so it may trail the truth by the time an event
    /// takes to arrive. While the Redis link is down it lists local members
    /// only.
    pub fn members(&self) -> Vec<Arc<str>> {
        let st = self.shared.lock();
        let mut names: Vec<Arc<str>> = st.local.names().chain(st.remote.names()).cloned().collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether `name` is a member, here or (as far as this server knows) on
    /// another server.
    pub fn contains(&self, name: &str) -> bool {
        let st = self.shared.lock();
        st.local.contains(name) || st.remote.contains(name)
    }

    /// A snapshot of the room's counters and gauges; cheap (a few atomic
    /// loads and one short lock).
    pub fn stats(&self) -> RoomStats {
        let mut stats = self.shared.counters.snapshot();
        {
            let st = self.shared.lock();
            stats.local_members = st.local.len();
            stats.remote_members = st.remote.len();
        }
        stats.connected = self.is_connected();
        stats
    }

    /// Whether the Redis link is up; always false for a local room.
    pub fn is_connected(&self) -> bool {
        #[cfg(feature = "redis")]
        if let Some(backplane) = &self.shared.backplane {
            return backplane.is_connected();
        }
        false
    }

    /// Closes the room: no more joins, publishes or deliveries.
    ///
    /// A Redis room first removes this server's members and its heartbeat
    /// from Redis (the other servers announce them as [`LeaveReason::Left`]
    /// at once), waiting at most the command timeout, then stops its tasks.
    /// Members' handles stay valid but inert. Idempotent.
    ///
    /// # Cancel safety
    ///
    /// The room is closed as soon as this is first polled. If the future is
    /// dropped before Redis answered, the background tasks keep running until
    /// the last handle goes, and the names expire as after a crash.
    pub async fn close(&self) {
        {
            let mut st = self.shared.lock();
            if st.closed {
                return;
            }
            st.closed = true;
            // Publishers' cached snapshots must see the close.
            st.local.invalidate();
        }
        #[cfg(feature = "redis")]
        if let Some(backplane) = &self.shared.backplane {
            backplane.close().await;
        }
    }

    /// Whether [`Room::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

impl fmt::Debug for Room {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Room")
            .field("name", &self.shared.name)
            .field("local_members", &st.local.len())
            .field("remote_members", &st.remote.len())
            .field("closed", &st.closed)
            .finish_non_exhaustive()
    }
}

impl Member {
    /// This member's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The room this member is in.
    pub fn room(&self) -> &Room {
        &self.room
    }

    /// Publishes `payload` to every other member of the room.
    ///
    /// Local members get it before this returns, through their sinks, on this
    /// thread; members on other servers get it through Redis. The message to
    /// Redis goes through a bounded queue drained by a task, so a slow Redis
    /// never slows this call; when the queue is full or the link is down the
    /// message is not sent to Redis and [`RoomStats::dropped`] counts it.
    /// Messages from one member reach every other member in the order they
    /// were published.
    ///
    /// Returns false, and sends nothing, if the member is no longer in the
    /// room (it left or was evicted, or the room was closed).
    ///
    /// Takes no lock that other publishers take: while the membership is
    /// unchanged, the fan-out list comes from this member's own copy,
    /// checked with one atomic load; the room's lock is taken only to
    /// refresh it after a join or a leave. Fan-out to a local member is a
    /// call to its sink (for a transport, a write into that connection's
    /// buffer under that connection's own lock). A Redis room also queues
    /// the message for Redis (one short lock on the room's outbound queue).
    pub fn publish(&self, payload: impl Into<Bytes>) -> bool {
        if !self.core.is_alive() {
            return false;
        }
        let shared = &*self.room.shared;
        // A sink that publishes through this same member while its event is
        // being delivered (or a second thread publishing as this member)
        // finds the cache busy and takes the room's snapshot instead.
        let mut cache_guard = self.cache.try_lock().ok();
        let owned;
        let snapshot = match cache_guard.as_deref_mut() {
            Some(cache) => shared.cached_snapshot(cache),
            None => {
                owned = shared.snapshot();
                owned.as_ref()
            }
        };
        let Some(snapshot) = snapshot else {
            return false;
        };
        let payload = payload.into();
        Counters::add(&shared.counters.published, 1);
        #[cfg(feature = "redis")]
        if let Some(backplane) = &shared.backplane {
            backplane.publish(&shared.counters, self.core.name.clone(), payload.clone());
        }
        let event = RoomEvent::Message {
            from: self.core.name.clone(),
            payload,
        };
        shared.deliver(snapshot, Some(self.core.id), &event);
        true
    }

    /// Whether this member is still in the room.
    pub fn is_joined(&self) -> bool {
        self.core.is_alive() && !self.room.shared.is_closed()
    }

    /// Leaves the room: the other members get [`RoomEvent::Left`] with
    /// [`LeaveReason::Left`]. Same as dropping the handle.
    pub fn leave(self) {
        drop(self);
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.room.shared.leave(&self.core);
    }
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("room", &self.room.shared.name)
            .field("name", &self.core.name)
            .field("joined", &self.core.is_alive())
            .finish()
    }
}

#[cfg(feature = "redis")]
impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(backplane) = &self.backplane {
            backplane.abort();
        }
    }
}
