//! asyncio's `Barrier`, `LifoQueue` and `PriorityQueue`.
//!
//! | asyncio | aioproto | built on |
//! |---|---|---|
//! | `Barrier` | [`Barrier`] | a state machine under a `std` mutex + `tokio::sync::Notify`, as asyncio's over a `Condition` |
//! | `LifoQueue` | [`LifoQueue`] | [`Queue`](crate::Queue), popping the newest item |
//! | `PriorityQueue` | [`PriorityQueue`] | [`Queue`](crate::Queue), with a binary min-heap as `heapq` |
//!
//! Every waiting method is a cancellation point, as in the rest of the crate.

mod barrier;
mod queues;

pub use barrier::{Barrier, BrokenBarrierError};
pub use queues::{LifoQueue, PriorityQueue};

#[cfg(test)]
mod tests;
