//! The link task: connects to Redis, keeps the heartbeat, reconciles
//! presence, runs the subscriber and publisher tasks, and when anything fails
//! tears the session down, falls back to a local room, and reconnects with
//! capped exponential backoff.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::{AsyncConnectionConfig, RedisError, Value};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};

use super::event::{LeaveReason, RoomEvent};
use super::redis::{Backplane, random_u64};
use super::redis_queue::{Op, run_publisher};
use super::room::Shared;
use super::stats::Counters;
use super::wire::{self, Kind};

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkError {
    #[error("{0}")]
    Redis(#[from] RedisError),
    #[error("timed out")]
    Timeout,
    #[error("subscription closed by the server")]
    SubscriptionEnded,
    #[error("unexpected reply: {0}")]
    Protocol(&'static str),
    #[error("room dropped")]
    RoomGone,
}

async fn bounded<T, E: Into<LinkError>>(
    limit: Duration,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T, LinkError> {
    match timeout(limit, fut).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(LinkError::Timeout),
    }
}

/// One connected period: the command connection, the subscription's sink
/// (for pings), and the subscriber and publisher tasks (aborted on drop).
pub(crate) struct Session {
    cmd: MultiplexedConnection,
    sub: PubSubSink,
    tasks: JoinSet<Result<(), LinkError>>,
}

/// Connects, subscribes, registers this server and reconciles presence.
///
/// The subscription starts before the presence snapshot is read, so no
/// event falls between the two.
pub(crate) async fn establish(
    backplane: &Arc<Backplane>,
    room: &Weak<Shared>,
) -> Result<Session, LinkError> {
    let options = &backplane.options;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(options.connect_timeout))
        .set_response_timeout(Some(options.command_timeout));
    let mut cmd = backplane
        .client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let pubsub = bounded(options.connect_timeout, backplane.client.get_async_pubsub()).await?;
    let (mut sub, stream) = pubsub.split();
    bounded(
        options.command_timeout,
        sub.subscribe(&backplane.keys.channel),
    )
    .await?;
    for script in backplane.scripts.all() {
        script.load_async(&mut cmd).await?;
    }
    heartbeat(backplane, &mut cmd, true).await?;
    backplane.queue.set_accepting(true);
    let mut tasks = JoinSet::new();
    tasks.spawn(run_publisher(backplane.clone(), cmd.clone()));
    tasks.spawn(run_subscriber(room.clone(), backplane.clone(), stream));
    let mut session = Session { cmd, sub, tasks };
    reconcile(backplane, room, &mut session.cmd).await?;
    backplane.set_connected(true);
    Ok(session)
}

/// Runs heartbeats and refreshes until the session fails, then reconnects,
/// forever (until the room is dropped or closed, which aborts this task).
pub(crate) async fn run_link(room: Weak<Shared>, backplane: Arc<Backplane>, session: Session) {
    let mut session = Some(session);
    let options = backplane.options.clone();
    loop {
        if let Some(s) = session.take() {
            let err = run_session(&backplane, &room, s).await;
            if room.strong_count() == 0 {
                return;
            }
            tracing::warn!(room = %backplane.keys.channel, error = %err,
                "redis link lost; serving local members only until it returns");
            link_down(&backplane, &room).await;
        }
        let mut backoff = options.reconnect_min;
        loop {
            // ±20 % jitter, so servers that lost Redis together do not retry in step.
            let jitter = 0.8 + (random_u64() % 401) as f64 / 1000.0;
            tokio::time::sleep(backoff.mul_f64(jitter)).await;
            if room.strong_count() == 0 {
                return;
            }
            match establish(&backplane, &room).await {
                Ok(s) => {
                    if let Some(shared) = room.upgrade() {
                        Counters::add(&shared.counters.reconnects, 1);
                    }
                    tracing::info!(room = %backplane.keys.channel, "redis link re-established; room re-formed");
                    session = Some(s);
                    break;
                }
                Err(err) => {
                    tracing::debug!(error = %err, ?backoff, "redis reconnect failed");
                    link_down(&backplane, &room).await;
                    backoff = (backoff * 2).min(options.reconnect_max);
                }
            }
        }
    }
}

async fn run_session(backplane: &Arc<Backplane>, room: &Weak<Shared>, s: Session) -> LinkError {
    let Session {
        mut cmd,
        mut sub,
        mut tasks,
    } = s;
    let options = &backplane.options;
    let start = Instant::now();
    let mut beat = interval_at(
        start + options.heartbeat_interval,
        options.heartbeat_interval,
    );
    beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut refresh = interval_at(start + options.refresh_interval, options.refresh_interval);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let result = tokio::select! {
            ended = tasks.join_next() => {
                return match ended {
                    Some(Ok(Err(err))) => err,
                    Some(Ok(Ok(()))) | None => LinkError::RoomGone,
                    Some(Err(_)) => LinkError::Protocol("a link task panicked"),
                };
            }
            _ = beat.tick() => beat_once(backplane, room, &mut cmd, &mut sub).await,
            _ = refresh.tick() => async {
                heartbeat(backplane, &mut cmd, true).await?;
                reconcile(backplane, room, &mut cmd).await
            }.await,
        };
        if let Err(err) = result {
            return err;
        }
    }
}

async fn beat_once(
    backplane: &Arc<Backplane>,
    room: &Weak<Shared>,
    cmd: &mut MultiplexedConnection,
    sub: &mut PubSubSink,
) -> Result<(), LinkError> {
    let was_alive = heartbeat(backplane, cmd, false).await?;
    // The subscription connection is otherwise silent; a ping proves it alive.
    bounded(backplane.options.command_timeout, sub.ping::<Value>()).await?;
    if !was_alive {
        tracing::warn!(server = %backplane.server_id, "this server's presence had expired; claiming its members again");
        reconcile(backplane, room, cmd).await?;
    }
    Ok(())
}

/// Renews this server's deadline and reaps expired servers. Returns whether
/// this server was still alive in Redis before the call.
async fn heartbeat(
    backplane: &Backplane,
    cmd: &mut MultiplexedConnection,
    full: bool,
) -> Result<bool, LinkError> {
    let options = &backplane.options;
    let keys = &backplane.keys;
    let alive: i64 = backplane
        .scripts
        .heartbeat
        .key(&keys.members)
        .key(&keys.servers)
        .key(&keys.channel)
        .arg(&*backplane.server_id)
        .arg(options.presence_ttl.as_millis() as u64)
        .arg(if full { "1" } else { "0" })
        .arg((options.presence_ttl * 4).as_millis() as u64)
        .invoke_async(cmd)
        .await?;
    Ok(alive == 1)
}

/// One consistent read of the presence: the hash (name → server; entries
/// that are not UTF-8 are skipped and counted) and the servers that still
/// have a heartbeat entry.
struct Presence {
    members: Vec<(Arc<str>, Arc<str>)>,
    servers: HashSet<Arc<str>>,
}

async fn presence_snapshot(
    backplane: &Backplane,
    cmd: &mut MultiplexedConnection,
    counters: &Counters,
) -> Result<Presence, LinkError> {
    type Raw = (Vec<(Vec<u8>, Vec<u8>)>, Vec<Vec<u8>>);
    let (raw, servers): Raw = redis::pipe()
        .atomic()
        .cmd("HGETALL")
        .arg(&backplane.keys.members)
        .cmd("ZRANGE")
        .arg(&backplane.keys.servers)
        .arg(0)
        .arg(-1)
        .query_async(cmd)
        .await?;
    let mut members = Vec::with_capacity(raw.len());
    for (name, owner) in raw {
        match (String::from_utf8(name), String::from_utf8(owner)) {
            (Ok(name), Ok(owner)) => members.push((name.into(), owner.into())),
            _ => Counters::add(&counters.malformed, 1),
        }
    }
    let servers = servers
        .into_iter()
        .filter_map(|s| String::from_utf8(s).ok().map(Arc::from))
        .collect();
    Ok(Presence { members, servers })
}

/// Makes Redis and this server agree: claims local members Redis does not
/// list as ours (evicting those another server holds), releases entries of
/// ours that are no longer members, and merges the other servers' members
/// into the presence cache.
async fn reconcile(
    backplane: &Arc<Backplane>,
    room: &Weak<Shared>,
    cmd: &mut MultiplexedConnection,
) -> Result<(), LinkError> {
    let shared = room.upgrade().ok_or(LinkError::RoomGone)?;
    let since = shared.lock().remote.seq();
    let Presence {
        members: snapshot,
        servers,
    } = presence_snapshot(backplane, cmd, &shared.counters).await?;
    let me = &backplane.server_id;
    let (to_claim, to_release) = {
        let st = shared.lock();
        let held = st.local.held();
        let ours: HashSet<&Arc<str>> = snapshot
            .iter()
            .filter(|(_, owner)| owner == me)
            .map(|(name, _)| name)
            .collect();
        let to_claim: Vec<Arc<str>> = st
            .local
            .names()
            .filter(|name| !ours.contains(name))
            .cloned()
            .collect();
        let to_release: Vec<Arc<str>> = ours
            .into_iter()
            .filter(|name| !held.contains(*name))
            .cloned()
            .collect();
        (to_claim, to_release)
    };
    if !to_release.is_empty() {
        let _ = backplane
            .queue
            .push_control(Op::Release { names: to_release });
    }
    let mut taken = Vec::new();
    if !to_claim.is_empty() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let op = Op::Claim {
            names: to_claim,
            reply: Some(tx),
        };
        if !backplane.queue.push_control(op) {
            return Err(LinkError::Protocol("queue shut while reconciling"));
        }
        taken = match timeout(backplane.options.command_timeout, rx).await {
            Ok(Ok(taken)) => taken,
            Ok(Err(_)) => return Err(LinkError::Protocol("claim got no reply")),
            Err(_) => return Err(LinkError::Timeout),
        };
    }
    let _order = shared.presence_order.lock().await;
    for name in &taken {
        shared.evict(name);
    }
    let (members, changes) = {
        let mut st = shared.lock();
        let remote: BTreeMap<Arc<str>, Arc<str>> = snapshot
            .into_iter()
            .filter(|(name, owner)| owner != me && !st.local.contains(name))
            .collect();
        // A member gone with its server's heartbeat was reaped: expired.
        let changes = st
            .remote
            .apply_snapshot(&remote, since, |owner| servers.contains(owner));
        (st.local.snapshot(), changes)
    };
    shared.announce(&members, changes);
    Ok(())
}

/// The link is gone: shut the queue and forget the other servers' members,
/// telling local members they are unreachable.
async fn link_down(backplane: &Backplane, room: &Weak<Shared>) {
    backplane.set_connected(false);
    let discarded = backplane.queue.set_accepting(false);
    let Some(shared) = room.upgrade() else {
        return;
    };
    Counters::add(&shared.counters.dropped, discarded as u64);
    let _order = shared.presence_order.lock().await;
    let (members, gone) = {
        let mut st = shared.lock();
        (st.local.snapshot(), st.remote.clear())
    };
    for member in gone {
        let event = RoomEvent::Left {
            member,
            reason: LeaveReason::Unreachable,
        };
        shared.deliver(&members, None, &event);
    }
}

/// Delivers the channel's frames to local members until the subscription ends.
async fn run_subscriber(
    room: Weak<Shared>,
    backplane: Arc<Backplane>,
    mut stream: PubSubStream,
) -> Result<(), LinkError> {
    while let Some(msg) = stream.next().await {
        let Some(shared) = room.upgrade() else {
            return Ok(());
        };
        let Some(frame) = wire::decode(msg.get_payload_bytes()) else {
            Counters::add(&shared.counters.malformed, 1);
            tracing::debug!(
                channel = msg.get_channel_name(),
                "malformed room frame skipped"
            );
            continue;
        };
        if frame.origin == &*backplane.server_id {
            continue; // ours: delivered locally when it happened
        }
        let name: Arc<str> = frame.name.into();
        match frame.kind {
            Kind::Message => {
                Counters::add(&shared.counters.received, 1);
                let Some(members) = shared.snapshot() else {
                    continue;
                };
                let event = RoomEvent::Message {
                    from: name,
                    payload: Bytes::copy_from_slice(frame.payload),
                };
                shared.deliver(&members, None, &event);
            }
            kind => {
                let origin: Arc<str> = frame.origin.into();
                let _order = shared.presence_order.lock().await;
                let (members, changes) = {
                    let mut st = shared.lock();
                    let changes = match kind {
                        // A name we hold locally: a conflict from an outage,
                        // settled by the next reconcile.
                        Kind::Joined if st.local.contains(&name) => Vec::new(),
                        Kind::Joined => st.remote.joined(name, origin),
                        Kind::Left => st
                            .remote
                            .left(name, &origin, LeaveReason::Left)
                            .into_iter()
                            .collect(),
                        _ => st
                            .remote
                            .left(name, &origin, LeaveReason::Expired)
                            .into_iter()
                            .collect(),
                    };
                    (st.local.snapshot(), changes)
                };
                shared.announce(&members, changes);
            }
        }
    }
    Err(LinkError::SubscriptionEnded)
}
