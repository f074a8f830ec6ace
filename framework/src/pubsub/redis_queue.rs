//! The outbound queue: every write this server makes to Redis on behalf of
//! its members (messages, name claims, releases), in one order, drained by
//! the publisher task as pipelined batches on one connection.
//!
//! One queue for everything keeps a member's join before its messages and
//! its messages before its leave on every other server. Messages are
//! droppable (at most `capacity` wait); claims and releases are always
//! accepted while the link is up, so presence never goes missing because of
//! chat traffic.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use redis::Value;
use redis::aio::MultiplexedConnection;
use tokio::sync::{Notify, oneshot};

use super::redis::Backplane;
use super::redis_link::LinkError;
use super::wire::{self, Kind};

/// Most operations sent in one pipeline.
const MAX_BATCH: usize = 1024;

/// One write to Redis.
pub(crate) enum Op {
    /// `PUBLISH` a member's message.
    Message { from: Arc<str>, payload: Bytes },
    /// Reserve names; the reply lists the ones held elsewhere.
    Claim {
        names: Vec<Arc<str>>,
        reply: Option<oneshot::Sender<Vec<Arc<str>>>>,
    },
    /// Free names this server holds and announce the leaves.
    Release { names: Vec<Arc<str>> },
    /// Free everything this server holds and drop its heartbeat.
    Unregister { reply: oneshot::Sender<()> },
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Message { from, payload } => write!(f, "Message({from}, {} bytes)", payload.len()),
            Op::Claim { names, .. } => write!(f, "Claim({names:?})"),
            Op::Release { names } => write!(f, "Release({names:?})"),
            Op::Unregister { .. } => f.write_str("Unregister"),
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    ops: VecDeque<Op>,
    /// How many of `ops` are messages.
    messages: usize,
    /// False while the link is down: everything is refused.
    accepting: bool,
}

/// A multi-producer queue with one consumer (the publisher task).
#[derive(Debug)]
pub(crate) struct OutQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    capacity: usize,
}

impl OutQueue {
    pub(crate) fn new(capacity: usize) -> Self {
        OutQueue {
            inner: Mutex::new(Inner::default()),
            notify: Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message; false if it was refused (full or link down).
    pub(crate) fn push_message(&self, from: Arc<str>, payload: Bytes) -> bool {
        {
            let mut inner = self.lock();
            if !inner.accepting || inner.messages >= self.capacity {
                return false;
            }
            inner.ops.push_back(Op::Message { from, payload });
            inner.messages += 1;
        }
        self.notify.notify_one();
        true
    }

    /// Queues a presence operation; false (and `op` dropped, so any reply
    /// channel closes) if the link is down.
    pub(crate) fn push_control(&self, op: Op) -> bool {
        {
            let mut inner = self.lock();
            if !inner.accepting {
                return false;
            }
            inner.ops.push_back(op);
        }
        self.notify.notify_one();
        true
    }

    /// Opens or shuts the queue. Shutting it discards what waits and returns
    /// how many messages that was.
    pub(crate) fn set_accepting(&self, on: bool) -> usize {
        let discarded = {
            let mut inner = self.lock();
            inner.accepting = on;
            if on {
                return 0;
            }
            inner.messages = 0;
            std::mem::take(&mut inner.ops)
        };
        // Dropped outside the lock: closing a reply channel wakes its waiter.
        discarded
            .iter()
            .filter(|op| matches!(op, Op::Message { .. }))
            .count()
    }

    /// Waits until something is queued, then moves up to `max` operations into `out`.
    ///
    /// Cancel safe: nothing is taken until the future completes.
    async fn next_batch(&self, max: usize, out: &mut Vec<Op>) {
        loop {
            {
                let mut inner = self.lock();
                if !inner.ops.is_empty() {
                    let n = inner.ops.len().min(max);
                    out.extend(inner.ops.drain(..n));
                    let messages = out
                        .iter()
                        .filter(|op| matches!(op, Op::Message { .. }))
                        .count();
                    inner.messages -= messages;
                    return;
                }
            }
            // `notify_one` stores a permit when nobody waits, so a push between
            // the check above and this await is not missed.
            self.notify.notified().await;
        }
    }
}

fn add_script(
    pipe: &mut redis::Pipeline,
    backplane: &Backplane,
    script: &redis::Script,
    args: &[&[u8]],
) {
    let keys = &backplane.keys;
    let cmd = pipe
        .cmd("EVALSHA")
        .arg(script.get_hash())
        .arg(3)
        .arg(&keys.members)
        .arg(&keys.servers)
        .arg(&keys.channel);
    for arg in args {
        cmd.arg(*arg);
    }
}

/// Parses a claim script's reply: the names held elsewhere.
pub(crate) fn parse_taken(value: Value) -> Option<Vec<Arc<str>>> {
    match value {
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|item| match item {
                    Value::BulkString(bytes) => String::from_utf8(bytes).ok().map(Arc::from),
                    _ => None,
                })
                .collect(),
        ),
        Value::Nil => Some(Vec::new()),
        _ => None,
    }
}

/// Drains the queue into Redis until a request fails.
///
/// A failed pipeline ends the task (the link is then torn down and rebuilt);
/// its operations are not retried, so a message is delivered at most once.
pub(crate) async fn run_publisher(
    backplane: Arc<Backplane>,
    mut con: MultiplexedConnection,
) -> Result<(), LinkError> {
    let me = backplane.server_id.clone();
    let ttl_ms = backplane.options.presence_ttl.as_millis().to_string();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        backplane.queue.next_batch(MAX_BATCH, &mut batch).await;
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for op in &batch {
            match op {
                Op::Message { from, payload } => {
                    let frame = wire::encode(Kind::Message, &me, from, payload);
                    pipe.cmd("PUBLISH").arg(&backplane.keys.channel).arg(frame);
                }
                Op::Claim { names, .. } => {
                    let mut args: Vec<&[u8]> = vec![me.as_bytes(), ttl_ms.as_bytes()];
                    args.extend(names.iter().map(|n| n.as_bytes()));
                    add_script(&mut pipe, &backplane, &backplane.scripts.claim, &args);
                }
                Op::Release { names } => {
                    let mut args: Vec<&[u8]> = vec![me.as_bytes()];
                    args.extend(names.iter().map(|n| n.as_bytes()));
                    add_script(&mut pipe, &backplane, &backplane.scripts.release, &args);
                }
                Op::Unregister { .. } => {
                    add_script(
                        &mut pipe,
                        &backplane,
                        &backplane.scripts.unregister,
                        &[me.as_bytes()],
                    );
                }
            }
        }
        let replies: Vec<Value> = pipe.query_async(&mut con).await?;
        for (op, reply) in batch.drain(..).zip(replies) {
            if let Value::ServerError(err) = &reply {
                tracing::warn!(error = ?err, op = ?op, "redis refused a room operation");
            }
            match op {
                Op::Claim {
                    reply: Some(tx), ..
                } => {
                    // An unreadable reply closes the channel: the join falls back
                    // to local admission and the next refresh settles it.
                    if let Some(taken) = parse_taken(reply) {
                        let _ = tx.send(taken);
                    }
                }
                Op::Unregister { reply: tx } => {
                    let _ = tx.send(());
                }
                _ => {}
            }
        }
        batch.clear();
    }
}
