//! Rooms: named members and fan-out of their messages, in one process or,
//! with the `redis` feature, across every process on one Redis.
//!
//! Any server built on aioproto can use this, not only chat: a member joins a
//! [`Room`] with a unique name and an [`EventSink`], gets a [`Member`] handle
//! to publish with, and receives [`RoomEvent`]s (another member joined, left,
//! or published a message) through its sink. Publishing and leaving are
//! synchronous and never block, so a protocol's `data_received` publishes
//! directly; the sink is called synchronously too, so a protocol plugs its
//! [`Transport::write`](crate::Transport::write) in and keeps its own
//! write-buffer limit as the per-member backlog bound.
//!
//! # Design overview
//!
//! ```text
//!  Member::publish ──► local fan-out: every other local member's sink, on this thread
//!        │
//!        └─► outbound queue (bounded) ──► publisher task ──► PUBLISH P:{room}:events
//!                                                                     │
//!  other servers' members ◄── their subscriber task ◄─────────────────┘
//!                             (skips frames tagged with its own server id)
//!
//!  link task: connect · heartbeat (ZADD P:{room}:servers) · reap expired servers ·
//!             presence refresh (HGETALL P:{room}:members) · reconnect with backoff
//! ```
//!
//! * **Local room** ([`Room::local`], always compiled, no feature needed):
//!   in-process fan-out. `publish` calls every other member's sink before it
//!   returns.
//! * **Redis room** (`Room::connect_redis`, feature `redis`): the same, plus
//!   one Redis pub/sub channel per room for messages and presence events,
//!   each frame tagged with the origin server's id so no server delivers its
//!   own messages twice (its members got them locally, at once).
//!
//! # Ordering
//!
//! Messages from one member reach every other member in the order they were
//! published, on this server and on every other (one queue, one connection,
//! one channel, one subscriber task per server). A member's join reaches each
//! member before its first message, and its last message before its leave.
//! There is no order between different senders. A member that leaves may
//! still receive an event fanned out concurrently from another thread.
//!
//! # Many threads
//!
//! A room may have members on many threads at once, such as every worker of
//! a server with [`ServerOptions::workers`](crate::ServerOptions::workers).
//! Publishing takes no lock another publisher takes: each [`Member`] keeps
//! its own copy of the fan-out list, checked against the membership's
//! generation with one atomic load, and the room's lock is taken only to
//! refresh it after a join or a leave. The counters are striped per thread.
//! Fan-out calls each other member's sink on the publisher's thread; a
//! transport's `write` locks only that connection's buffer and wakes its
//! driver on its own worker. A Redis room adds one short lock per message:
//! the outbound queue's.
//!
//! # Slow members and slow Redis
//!
//! A sink must not block: fan-out calls sinks one after another. Give each
//! member a sink that accounts its own backlog: a transport with a write
//! buffer hard limit (the chat server's 1 MiB rule aborts that client only),
//! or the bounded [`channel`], which drops and counts events for a consumer
//! that falls behind ([`Subscription::lagged`]). Nobody else waits.
//!
//! Publishing to Redis goes through a bounded queue (default 16384 messages,
//! `RedisOptions::queue_capacity`) drained by one task in pipelined batches.
//! When the queue is full the message still reaches local members, but not
//! the other servers, and [`RoomStats::dropped`] counts it. Joins and leaves
//! are never dropped while the link is up.
//!
//! # Presence and names
//!
//! Names are unique across the whole room: [`Room::join`] fails with
//! [`RoomError::NameTaken`] if any member on any server holds the name. In a
//! Redis room the name is reserved by an atomic Lua script against a hash
//! `P:{room}:members` (member → server id). Each server renews its deadline in
//! a sorted set `P:{room}:servers` (server id scored by deadline, on Redis's
//! clock) every heartbeat. A server that stops (crash, kill, partition) is
//! reaped by the first live server's heartbeat after its deadline: its names
//! are freed and an *expired* event is published for each, so the others
//! announce [`LeaveReason::Expired`]. With the defaults (heartbeat 1 s, TTL
//! 5 s) that happens at most 6 s after the last heartbeat.
//!
//! [`Room::members`] lists the whole room, sorted, from memory: local members
//! plus a cache of remote ones, kept current by the channel's join and leave
//! events and corrected by a snapshot of the hash every refresh interval
//! (default 5 s): a member the snapshot lists is added at once; one it misses
//! is dropped only when the next snapshot misses it too, so a leave event
//! still in flight wins with its true reason. No Redis round trip is made per
//! listing.
//!
//! # Faults
//!
//! * **Redis goes away.** Each server notices (a failed request, a closed
//!   subscription, or a heartbeat or ping over the command timeout), tells its
//!   local members that every remote member left ([`LeaveReason::Unreachable`]),
//!   and carries on as a local room: local delivery, joins and leaves work.
//!   Messages published meanwhile reach local members only; **cross-server
//!   messages during an outage are lost, never duplicated**: a message in a
//!   failed pipeline is not retried, and messages are not queued while the
//!   link is down. The link reconnects with capped exponential backoff
//!   (100 ms doubling to 2 s, ±20 % jitter); [`RoomStats::reconnects`] counts
//!   the successes.
//! * **Redis returns.** The server re-subscribes, re-registers its heartbeat,
//!   claims every local member's name again, and reads the presence, so the
//!   room re-forms (listing and cross-server delivery) within the reconnect
//!   backoff cap plus a few round trips: under 3 s with the defaults. Names
//!   are reserved only locally during an outage, so two servers may admit the
//!   same name meanwhile; on re-form the first claim wins and the other
//!   member receives [`RoomEvent::Evicted`] and is removed (others see it
//!   leave with [`LeaveReason::Evicted`]).
//! * **A server is killed.** Its members expire as described above; the
//!   others announce them as left within 10 s.
//! * **A server is slow to heartbeat** (blocked longer than the TTL). Others
//!   reap it; its next heartbeat notices and claims its members again, which
//!   the others announce as joins.
//!
//! Malformed frames on the channel (or non-UTF-8 entries in the hash) are
//! skipped and counted ([`RoomStats::malformed`]); nothing from Redis or a
//! peer can panic the room.
//!
//! # Which task runs a sink
//!
//! Local messages, joins and leaves: the member's own task, inside
//! `publish`, `join` or `leave`. Remote messages and presence events: the
//! room's subscriber task. Presence changes the link itself finds (a refresh,
//! a lost link, an eviction): the link task. The tasks are spawned on the
//! runtime that called `Room::connect_redis`.
//!
//! # Examples
//!
//! A local room with two members:
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use aioproto::pubsub::{Room, RoomEvent};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), aioproto::pubsub::RoomError> {
//! let room = Room::local("lobby");
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let alice = room.join("alice", move |event: &RoomEvent| {
//!     log.lock().unwrap().push(event.clone());
//! }).await?;
//! let bob = room.join("bob", |_: &RoomEvent| {}).await?;
//!
//! bob.publish("hi alice");
//! let names: Vec<String> = room.members().iter().map(|n| n.to_string()).collect();
//! assert_eq!(names, ["alice", "bob"]);
//! drop(bob);
//!
//! let seen = seen.lock().unwrap();
//! assert_eq!(seen[0], RoomEvent::Joined { member: "bob".into() });
//! assert!(matches!(&seen[1], RoomEvent::Message { from, payload } if &**from == "bob" && payload == "hi alice"));
//! assert!(matches!(&seen[2], RoomEvent::Left { member, .. } if &**member == "bob"));
//! # drop(alice);
//! # Ok(()) }
//! ```
//!
//! The same room across processes (feature `redis`): start this on several
//! machines against one Redis.
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # async fn run() -> Result<(), aioproto::pubsub::RoomError> {
//! use aioproto::pubsub::{RedisOptions, Room, channel};
//!
//! let room = Room::connect_redis("lobby", &RedisOptions::new("redis://10.0.0.5:6379")).await?;
//! let (sink, mut events) = channel(1024);
//! let me = room.join("alice", sink).await?;
//! me.publish("hello, everyone on every server");
//! while let Some(event) = events.recv().await {
//!     println!("{event:?}");
//! }
//! room.close().await;
//! # Ok(()) }
//! ```
//!
//! # Cancel safety
//!
//! [`Room::join`] admits nobody if dropped early; [`Room::close`] and
//! [`Subscription::recv`] are cancel safe as documented on each.

mod error;
mod event;
mod local;
mod presence;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_link;
#[cfg(feature = "redis")]
mod redis_queue;
#[cfg(feature = "redis")]
mod redis_scripts;
mod room;
mod stats;
#[cfg(feature = "redis")]
mod wire;

#[cfg(test)]
mod tests;

// Public interface
pub use error::RoomError;
pub use event::{ChannelSink, EventSink, LeaveReason, RoomEvent, Subscription, channel};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisOptions;
pub use room::{MAX_NAME_LEN, Member, Room};
pub use stats::RoomStats;
