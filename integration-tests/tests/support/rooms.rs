//! Room helpers for the pub/sub tests: Redis options with short timings,
//! members with a bounded event channel, bounded waits on events and on
//! conditions, and a server on its own runtime that can be killed without
//! cleanup. Include with `#[path = "support/rooms.rs"] mod rooms;` next to
//! `support/redis.rs` (as `redis_server`) and `support/mod.rs`.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use aioproto::pubsub::{LeaveReason, Member, RedisOptions, Room, RoomEvent, Subscription, channel};

use crate::redis_server::RedisServer;
use crate::support::{with_timeout, with_timeout_of};

/// Starts a redis-server for this test, or returns from it (skipping) when
/// none is installed outside CI. (`#[macro_use] mod rooms;` brings it in.)
macro_rules! redis_or_skip {
    () => {
        match $crate::redis_server::RedisServer::start().await {
            Some(redis) => redis,
            None => return,
        }
    };
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Short presence timings so expiry tests take about a second.
pub fn fast(redis: &RedisServer) -> RedisOptions {
    let mut options = RedisOptions::new(redis.url());
    options
        .heartbeat_interval(ms(200))
        .presence_ttl(ms(1000))
        .refresh_interval(ms(1000))
        .reconnect_backoff(ms(50), ms(500));
    options
}

pub async fn server(options: &RedisOptions, room: &str) -> Room {
    with_timeout(Room::connect_redis(room, options))
        .await
        .expect("connect to redis")
}

/// A member and the events it receives.
pub struct Client {
    pub member: Member,
    pub events: Subscription,
}

pub async fn client(room: &Room, name: &str) -> Client {
    let (sink, events) = channel(8192);
    let member = with_timeout(room.join(name, sink)).await.expect("join");
    Client { member, events }
}

/// Polls `cond` every 20 ms until it holds; fails the test after `limit`.
pub async fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(ms(20)).await;
    }
}

/// Receives until an event matches `pred`; fails after `limit`.
pub async fn next_matching(
    events: &mut Subscription,
    limit: Duration,
    mut pred: impl FnMut(&RoomEvent) -> bool,
) -> RoomEvent {
    with_timeout_of(limit, async {
        loop {
            let event = events.recv().await.expect("subscription open");
            if pred(&event) {
                return event;
            }
        }
    })
    .await
}

/// The next message, skipping presence events.
pub async fn next_message(events: &mut Subscription) -> (String, String) {
    match next_matching(events, ms(5000), |e| matches!(e, RoomEvent::Message { .. })).await {
        RoomEvent::Message { from, payload } => (
            from.to_string(),
            String::from_utf8_lossy(&payload).into_owned(),
        ),
        _ => unreachable!(),
    }
}

pub fn names(list: &[&str]) -> Vec<Arc<str>> {
    let mut v: Vec<Arc<str>> = list.iter().map(|n| Arc::from(*n)).collect();
    v.sort();
    v
}

pub async fn all_list(rooms: &[&Room], expected: &[&str], limit: Duration) {
    let expected = names(expected);
    eventually(limit, "every server to list the whole room", || {
        rooms.iter().all(|r| r.members() == expected)
    })
    .await;
}

pub fn left(name: &str, reason: LeaveReason) -> impl FnMut(&RoomEvent) -> bool + '_ {
    move |e| matches!(e, RoomEvent::Left { member, reason: r } if &**member == name && *r == reason)
}

pub struct Doomed {
    runtime: tokio::runtime::Runtime,
    pub room: Room,
    members: Vec<Member>,
}

pub async fn doomed_server(options: &RedisOptions, room: &str, members: &[&str]) -> Doomed {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (options, room, members): (_, String, Vec<String>) = (
        options.clone(),
        room.to_owned(),
        members.iter().map(|m| m.to_string()).collect(),
    );
    let (room, members) = with_timeout(runtime.spawn(async move {
        let room = Room::connect_redis(&room, &options).await.unwrap();
        let mut handles = Vec::new();
        for name in members {
            handles.push(room.join(&name, |_: &RoomEvent| {}).await.unwrap());
        }
        (room, handles)
    }))
    .await
    .unwrap();
    Doomed {
        runtime,
        room,
        members,
    }
}

impl Doomed {
    /// Stops every task of this server at once, as a SIGKILL would: no leave,
    /// no unregister reaches Redis.
    pub fn crash(self) {
        self.runtime.shutdown_background();
        drop(self.members);
        drop(self.room);
    }
}
