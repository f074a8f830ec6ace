//! The asyncio-style runtime beside the transports: the event loop, futures,
//! tasks and what combines them (gather, wait, timeouts, task groups), and the
//! synchronisation primitives and queue.
//!
//! Depends on `error` and `util` only; nothing here knows about sockets.

pub(crate) mod barrier;
pub(crate) mod event_loop;
pub(crate) mod event_loop_impl;
pub(crate) mod future;
pub(crate) mod gather;
pub(crate) mod ordered_queue;
pub(crate) mod queue;
pub(crate) mod sync;
pub(crate) mod task;
pub(crate) mod task_group;
#[cfg(test)]
pub(crate) mod test_util;
pub(crate) mod timeout;
pub(crate) mod wait;
