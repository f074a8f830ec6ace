//! What a member receives ([`RoomEvent`]) and where it goes ([`EventSink`],
//! or the [`channel`] pair for async consumers).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;

/// Something that happened in a room, as seen by one member.
///
/// A member never receives events about itself, except [`RoomEvent::Evicted`]:
/// its own messages, its own join and its own leave go to everyone else.
/// Cloning is cheap (reference-counted name and payload).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomEvent {
    /// Another member joined the room (on this server or another one).
    Joined {
        /// The member's name.
        member: Arc<str>,
    },
    /// Another member left the room.
    Left {
        /// The member's name.
        member: Arc<str>,
        /// Why it left.
        reason: LeaveReason,
    },
    /// Another member published a message.
    Message {
        /// Who published it.
        from: Arc<str>,
        /// The bytes it published, shared with every other recipient.
        payload: Bytes,
    },
    /// This member was removed from the room because its name turned out to
    /// be held on another server (possible only for a member that joined while
    /// the Redis backplane was unreachable; see the
    /// [module docs](super#faults)). Nothing more is delivered to it, and its
    /// [`Member`](super::Member) handle no longer publishes.
    Evicted,
}

/// Why a member left a room; see [`RoomEvent::Left`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeaveReason {
    /// It left on purpose: [`Member::leave`](super::Member::leave), its
    /// handle was dropped, or its server closed the room.
    Left,
    /// Its server stopped renewing its presence (it crashed or lost Redis for
    /// longer than the presence TTL), so its name expired.
    Expired,
    /// This server lost its link to Redis, so the member, on another server, is
    /// out of reach until the room re-forms.
    Unreachable,
    /// Its name turned out to be held on another server when the room re-formed.
    Evicted,
}

/// Where a member's events go: called synchronously, once per event.
///
/// Implemented for every `Fn(&RoomEvent) + Send + Sync + 'static` closure, so a
/// protocol plugs its transport in directly:
///
/// ```
/// # use aioproto::pubsub::RoomEvent;
/// # fn sink_for(transport: aioproto::Transport) -> impl aioproto::pubsub::EventSink {
/// move |event: &RoomEvent| {
///     if let RoomEvent::Message { from, payload } = event {
///         transport.write(format!("{from}: {}", String::from_utf8_lossy(payload)));
///     }
/// }
/// # }
/// ```
///
/// # Caveats
///
/// The sink runs on whichever task caused the event: the publishing member's
/// task for local messages, joins and leaves, the backplane's subscriber task
/// for events from other servers, the backplane's link task for presence
/// changes it detects. It may run on several threads at once (events from
/// different senders), so it must be `Sync`; events from one sender arrive in
/// the order they were sent. **It must not block**: every other member waiting
/// behind the same sender waits for it. Write into something that accounts its
/// own backlog, such as [`Transport::write`](crate::Transport::write) with a
/// hard limit, or the bounded [`channel`]. A panic in a sink is caught and
/// logged; the others still get the event.
pub trait EventSink: Send + Sync + 'static {
    /// Delivers one event. Must not block.
    fn deliver(&self, event: &RoomEvent);
}

impl<F> EventSink for F
where
    F: Fn(&RoomEvent) + Send + Sync + 'static,
{
    fn deliver(&self, event: &RoomEvent) {
        self(event)
    }
}

/// A bounded queue of events for a member that consumes them from a task.
///
/// Returns the [`ChannelSink`] to pass to [`Room::join`](super::Room::join)
/// and the [`Subscription`] to receive from. At most `capacity` events wait;
/// when the queue is full, new events for this member are dropped and counted
/// ([`Subscription::lagged`]) so a slow consumer never slows the room down.
///
/// # Panics
///
/// If `capacity` is 0.
///
/// # Examples
///
/// ```
/// use aioproto::pubsub::{Room, RoomEvent, channel};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), aioproto::pubsub::RoomError> {
/// let room = Room::local("lobby");
/// let (sink, mut events) = channel(64);
/// let _alice = room.join("alice", sink).await?;
/// let bob = room.join("bob", |_: &RoomEvent| {}).await?;
/// bob.publish("hi");
/// assert_eq!(events.recv().await, Some(RoomEvent::Joined { member: "bob".into() }));
/// assert!(matches!(events.recv().await, Some(RoomEvent::Message { .. })));
/// # Ok(()) }
/// ```
pub fn channel(capacity: usize) -> (ChannelSink, Subscription) {
    let (tx, rx) = mpsc::channel(capacity);
    let lagged = Arc::new(AtomicU64::new(0));
    (
        ChannelSink {
            tx,
            lagged: lagged.clone(),
        },
        Subscription { rx, lagged },
    )
}

/// The sending half of [`channel`]: an [`EventSink`] that never blocks.
pub struct ChannelSink {
    tx: mpsc::Sender<RoomEvent>,
    lagged: Arc<AtomicU64>,
}

impl EventSink for ChannelSink {
    fn deliver(&self, event: &RoomEvent) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(event.clone()) {
            self.lagged.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for ChannelSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSink")
            .field("capacity", &self.tx.max_capacity())
            .field("lagged", &self.lagged.load(Ordering::Relaxed))
            .finish()
    }
}

/// The receiving half of [`channel`].
///
/// Dropping it makes the sink discard further events; the member stays in the
/// room until its [`Member`](super::Member) handle goes.
pub struct Subscription {
    rx: mpsc::Receiver<RoomEvent>,
    lagged: Arc<AtomicU64>,
}

impl Subscription {
    /// Waits for the next event.
    ///
    /// Returns `None` once the sink has been dropped and every queued event
    /// was received. The room drops a member's sink shortly after the member
    /// left and its [`Member`](super::Member) handle is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no event is
    /// lost.
    pub async fn recv(&mut self) -> Option<RoomEvent> {
        self.rx.recv().await
    }

    /// Takes the next event if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Option<RoomEvent> {
        self.rx.try_recv().ok()
    }

    /// How many events were dropped because the queue was full.
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// How many events are waiting.
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("queued", &self.rx.len())
            .field("lagged", &self.lagged.load(Ordering::Relaxed))
            .finish()
    }
}
