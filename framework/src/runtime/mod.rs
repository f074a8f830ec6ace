//! The asyncio-style runtime beside the transports: the event loop, futures,
//! tasks and what combines them (gather, wait, timeouts, task groups), and the
//! synchronisation primitives and queue.
//!
//! Depends on `error` and `util` only; nothing here knows about transports.
//! File descriptors appear only as `AsFd` (`add_reader`, `add_writer`).

pub(crate) mod barrier;
pub(crate) mod concurrent_future;
pub(crate) mod current;
pub(crate) mod event_loop;
pub(crate) mod event_loop_impl;
pub(crate) mod exception;
pub(crate) mod executor;
pub(crate) mod fd_watch;
pub(crate) mod future;
pub(crate) mod gather;
pub(crate) mod loop_registry;
pub(crate) mod ordered_queue;
pub(crate) mod queue;
pub(crate) mod runner;
pub(crate) mod signals;
pub(crate) mod sync;
pub(crate) mod task;
pub(crate) mod task_factory;
pub(crate) mod task_group;
pub(crate) mod task_output;
pub(crate) mod task_ref;
pub(crate) mod task_spawn;
#[cfg(test)]
pub(crate) mod test_util;
pub(crate) mod timeout;
pub(crate) mod wait;
