//! Small helpers every layer uses: one poison-tolerant lock, one panic guard, and
//! the chunk queue that the write buffer and the streams reader keep bytes in.
//!
//! The bottom layer: it names only `error`.

mod chunk_queue;
mod lock;
mod panic;

pub(crate) use chunk_queue::{ChunkQueue, KEEP_FROM};
pub(crate) use lock::lock;
pub(crate) use panic::{CatchUnwind, catch_panic};
