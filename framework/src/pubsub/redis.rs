//! The Redis backplane: [`RedisOptions`], [`Room::connect_redis`], and the
//! [`Backplane`] the room's handles talk to. The link task lives in
//! `redis_link.rs`, the outbound queue in `redis_queue.rs`, the Lua scripts in
//! `redis_scripts.rs`.

use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use super::error::RoomError;
use super::redis_link::{LinkError, establish, run_link};
use super::redis_queue::{Op, OutQueue};
use super::redis_scripts::{Keys, Scripts};
use super::room::{MAX_NAME_LEN, Room, Shared};
use super::stats::Counters;

/// Options for [`Room::connect_redis`]: where Redis is, and the timing of
/// presence, reconnection and the outbound queue.
///
/// Setters take `&mut self` and return it, so they chain on a binding or a
/// temporary. The defaults keep every fault within the 10-second bounds in
/// the [module docs](super#faults).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use aioproto::pubsub::RedisOptions;
///
/// let mut options = RedisOptions::new("redis://127.0.0.1:6379");
/// options.heartbeat_interval(Duration::from_millis(200)).presence_ttl(Duration::from_secs(1));
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisOptions {
    pub(crate) url: String,
    pub(crate) key_prefix: String,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) presence_ttl: Duration,
    pub(crate) refresh_interval: Duration,
    pub(crate) reconnect_min: Duration,
    pub(crate) reconnect_max: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) queue_capacity: usize,
}

impl RedisOptions {
    /// Options for the Redis at `url` (`redis://[user:password@]host:port[/db]`),
    /// everything else at its default.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            key_prefix: "aioproto".to_owned(),
            heartbeat_interval: Duration::from_secs(1),
            presence_ttl: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(2),
            queue_capacity: 16 * 1024,
        }
    }

    /// Prefix of every key and channel name. Default `aioproto`.
    pub fn key_prefix(&mut self, prefix: impl Into<String>) -> &mut Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How often this server renews its presence and reaps servers whose
    /// presence expired. Default 1 s.
    pub fn heartbeat_interval(&mut self, interval: Duration) -> &mut Self {
        self.heartbeat_interval = interval;
        self
    }

    /// How long this server's presence lasts without a heartbeat; must be
    /// longer than the heartbeat interval. Default 5 s. A crashed server's
    /// members are announced as left at most `presence_ttl +
    /// heartbeat_interval` after its last heartbeat (6 s by default).
    pub fn presence_ttl(&mut self, ttl: Duration) -> &mut Self {
        self.presence_ttl = ttl;
        self
    }

    /// How often the presence cache is compared with Redis (and this server's
    /// own entries repaired). Default 5 s.
    pub fn refresh_interval(&mut self, interval: Duration) -> &mut Self {
        self.refresh_interval = interval;
        self
    }

    /// The reconnection backoff: the first retry after `min`, doubling up to
    /// `max` (each with ±20 % jitter). Defaults 100 ms and 2 s.
    pub fn reconnect_backoff(&mut self, min: Duration, max: Duration) -> &mut Self {
        self.reconnect_min = min;
        self.reconnect_max = max.max(min);
        self
    }

    /// How long connecting (TCP, handshake, subscribe) may take. Default 2 s.
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one request may take before the link is considered lost.
    /// Default 2 s.
    pub fn command_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.command_timeout = timeout;
        self
    }

    /// How many messages may wait for the Redis connection; beyond that new
    /// ones are dropped and counted. Joins and leaves are never dropped while
    /// the link is up. Default 16384.
    pub fn queue_capacity(&mut self, capacity: usize) -> &mut Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    fn check(&self) -> Result<(), RoomError> {
        if self.heartbeat_interval.is_zero() || self.presence_ttl <= self.heartbeat_interval {
            return Err(RoomError::InvalidOptions(
                "presence_ttl must be longer than a non-zero heartbeat_interval",
            ));
        }
        if self.refresh_interval.is_zero() || self.reconnect_min.is_zero() {
            return Err(RoomError::InvalidOptions(
                "refresh_interval and reconnect backoff must be non-zero",
            ));
        }
        Ok(())
    }

    /// The URL with any password replaced, for logs and `Debug`.
    fn redacted_url(&self) -> String {
        match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***@{}", &self.url[..scheme], &self.url[at + 1..])
            }
            _ => self.url.clone(),
        }
    }
}

impl fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &self.redacted_url())
            .field("key_prefix", &self.key_prefix)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("presence_ttl", &self.presence_ttl)
            .field("refresh_interval", &self.refresh_interval)
            .field("reconnect_min", &self.reconnect_min)
            .field("reconnect_max", &self.reconnect_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("queue_capacity", &self.queue_capacity)
            .finish()
    }
}

/// The outcome of reserving a name in Redis.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Reserved (or already ours).
    Claimed,
    /// Held by another live server.
    Taken,
    /// No answer (link down or timeout): admitted locally, settled on re-form.
    Unavailable,
}

/// What the room's handles and the link task share about the Redis side.
pub(crate) struct Backplane {
    pub(crate) server_id: Arc<str>,
    pub(crate) keys: Keys,
    pub(crate) options: RedisOptions,
    pub(crate) client: redis::Client,
    pub(crate) scripts: Scripts,
    pub(crate) queue: OutQueue,
    connected: AtomicBool,
    link_task: Mutex<Option<AbortHandle>>,
}

/// A random 64-bit number from the standard library's per-process seed.
pub(crate) fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// `host-pid-random`: unique per room instance, readable in `redis-cli`.
fn new_server_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}-{:016x}", std::process::id(), random_u64())
}

impl Backplane {
    pub(crate) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub(crate) fn set_connected(&self, on: bool) {
        self.connected.store(on, Ordering::Release);
    }

    /// Queues a message for the other servers; counts it as dropped if the
    /// queue is full or the link is down.
    pub(crate) fn publish(&self, counters: &Counters, from: Arc<str>, payload: Bytes) {
        if !self.queue.push_message(from, payload) {
            Counters::add(&counters.dropped, 1);
        }
    }

    /// Reserves `name` in Redis, in order with this server's other writes.
    pub(crate) async fn claim(&self, name: Arc<str>) -> Claim {
        let (tx, rx) = oneshot::channel();
        if !self.queue.push_control(Op::Claim {
            names: vec![name],
            reply: Some(tx),
        }) {
            return Claim::Unavailable;
        }
        match tokio::time::timeout(self.options.command_timeout, rx).await {
            Ok(Ok(taken)) if taken.is_empty() => Claim::Claimed,
            Ok(Ok(_)) => Claim::Taken,
            _ => Claim::Unavailable,
        }
    }

    /// Releases `name` in Redis (if this server holds it) and announces the leave.
    pub(crate) fn release(&self, name: Arc<str>) {
        // Dropped while the link is down: the re-form reconciles.
        let _ = self.queue.push_control(Op::Release { names: vec![name] });
    }

    /// Removes this server from Redis, then stops the link.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.queue.push_control(Op::Unregister { reply: tx }) {
            let _ = tokio::time::timeout(self.options.command_timeout, rx).await;
        }
        self.abort();
    }

    /// Stops the link task (and with it the subscriber and publisher) now.
    pub(crate) fn abort(&self) {
        self.set_connected(false);
        self.queue.set_accepting(false);
        let task = self
            .link_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

impl Room {
    /// Joins (or creates) the room `room` on the Redis at `options`' URL.
    ///
    /// Every process that connects to the same Redis with the same room name
    /// (and key prefix) shares one room: one pub/sub channel carries its
    /// messages and presence events, and a hash holds who is where. This
    /// connects twice (one connection for commands, one subscribed to the
    /// channel), registers this server's heartbeat, reads the presence, and
    /// starts the background tasks on the current tokio runtime. After that,
    /// losing Redis never fails the room: it keeps serving its local members
    /// and reconnects on its own (see the [module docs](super#faults)).
    ///
    /// # Errors
    ///
    /// [`RoomError::Redis`] if the URL is malformed or the first connection
    /// fails, [`RoomError::Timeout`] if Redis does not answer in time,
    /// [`RoomError::InvalidName`] for an empty room name or one longer than
    /// 256 bytes, [`RoomError::InvalidOptions`] for inconsistent timings.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before it completes, nothing is left running;
    /// a heartbeat already registered expires after the presence TTL.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use aioproto::pubsub::{RedisOptions, Room, RoomEvent};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), aioproto::pubsub::RoomError> {
    /// let room = Room::connect_redis("lobby", &RedisOptions::new("redis://127.0.0.1:6379")).await?;
    /// let alice = room.join("alice", |_: &RoomEvent| {}).await?;
    /// alice.publish("hello from this server");
    /// room.close().await;
    /// # Ok(()) }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub async fn connect_redis(room: &str, options: &RedisOptions) -> Result<Room, RoomError> {
        if room.is_empty() || room.len() > MAX_NAME_LEN {
            return Err(RoomError::InvalidName("room name must be 1 to 256 bytes"));
        }
        options.check()?;
        let client = redis::Client::open(options.url.as_str())?;
        let backplane = Arc::new(Backplane {
            server_id: new_server_id().into(),
            keys: Keys::new(&options.key_prefix, room),
            options: options.clone(),
            client,
            scripts: Scripts::new(),
            queue: OutQueue::new(options.queue_capacity),
            connected: AtomicBool::new(false),
            link_task: Mutex::new(None),
        });
        let shared = Arc::new(Shared::new(room, Some(backplane.clone())));
        let weak = Arc::downgrade(&shared);
        let limit = options.connect_timeout * 2 + options.command_timeout * 2;
        let session = match tokio::time::timeout(limit, establish(&backplane, &weak)).await {
            Ok(Ok(session)) => session,
            Ok(Err(LinkError::Redis(e))) => return Err(RoomError::Redis(e)),
            Ok(Err(_)) | Err(_) => return Err(RoomError::Timeout),
        };
        tracing::info!(room, server = %backplane.server_id, url = %options.redacted_url(), "room joined redis");
        let task = tokio::spawn(run_link(weak, backplane.clone(), session));
        *backplane
            .link_task
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
        Ok(Room { shared })
    }

    /// This server's id in Redis (`host-pid-random`), or `None` for a local room.
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn server_id(&self) -> Option<&str> {
        self.shared.backplane.as_ref().map(|b| &*b.server_id)
    }
}
