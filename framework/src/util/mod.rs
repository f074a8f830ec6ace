//! Small helpers every layer uses: one poison-tolerant lock and one panic guard.
//!
//! The bottom layer: it names only `error`.

mod lock;
mod panic;

pub(crate) use lock::lock;
pub(crate) use panic::{CatchUnwind, catch_panic};
