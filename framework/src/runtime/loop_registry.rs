//! One event loop per tokio runtime: what [`get_running_loop`] finds when no
//! [`EventLoop`](crate::EventLoop) code is running on the thread.
//!
//! asyncio has one loop per thread; the tokio equivalent is one loop per
//! runtime. A loop made by `EventLoop::new` is registered under its own
//! runtime's id. Any other runtime (a `#[tokio::main]`) gets a loop the first
//! time something asks for it; that loop is driven by the runtime and lives
//! until the runtime shuts down: a sentinel task spawned on the runtime owns
//! it, and the runtime dropping that task on shutdown retires the loop.
//!
//! [`get_running_loop`]: crate::get_running_loop

use std::cell::RefCell;
use std::sync::{Arc, Mutex, Weak};

use tokio::runtime::{Handle as RtHandle, Id as RuntimeId};

use crate::runtime::event_loop::EventLoopBuilder;
use crate::runtime::event_loop_impl::LoopShared;
use crate::util::lock;

/// Every registered loop, by runtime. Weak: a loop lives as long as its owner
/// (the user's `EventLoop`, or the sentinel task of a runtime-driven loop).
static LOOPS: Mutex<Vec<(RuntimeId, Weak<LoopShared>)>> = Mutex::new(Vec::new());

thread_local! {
    /// The last lookup on this thread, to skip the global lock.
    static LAST: RefCell<Option<(RuntimeId, Weak<LoopShared>)>> = const { RefCell::new(None) };
}

fn live(weak: &Weak<LoopShared>) -> Option<Arc<LoopShared>> {
    weak.upgrade().filter(|lp| !lp.is_closed())
}

fn remember(id: RuntimeId, lp: &Arc<LoopShared>) {
    let _ = LAST.try_with(|c| *c.borrow_mut() = Some((id, Arc::downgrade(lp))));
}

/// Registers `lp` as the loop of the runtime `handle` belongs to.
pub(crate) fn register(handle: &RtHandle, lp: &Arc<LoopShared>) {
    let id = handle.id();
    let mut loops = lock(&LOOPS);
    loops.retain(|(rid, w)| *rid != id && w.strong_count() > 0);
    loops.push((id, Arc::downgrade(lp)));
}

/// Forgets `lp` (it was closed); the runtime's next lookup makes a new loop.
pub(crate) fn unregister(lp: &Arc<LoopShared>) {
    let target = Arc::downgrade(lp);
    lock(&LOOPS).retain(|(_, w)| !w.ptr_eq(&target) && w.strong_count() > 0);
}

/// The loop of the tokio runtime this thread is in, made on first use; `None`
/// outside any runtime.
pub(crate) fn loop_of_current_runtime() -> Option<Arc<LoopShared>> {
    let handle = RtHandle::try_current().ok()?;
    Some(loop_of(&handle))
}

/// The loop of the runtime `handle` belongs to, made on first use.
pub(crate) fn loop_of(handle: &RtHandle) -> Arc<LoopShared> {
    let id = handle.id();
    let cached = LAST
        .try_with(|c| {
            c.borrow()
                .as_ref()
                .filter(|(rid, _)| *rid == id)
                .and_then(|(_, w)| live(w))
        })
        .ok()
        .flatten();
    if let Some(lp) = cached {
        return lp;
    }
    let made = {
        let mut loops = lock(&LOOPS);
        if let Some(lp) = loops
            .iter()
            .find(|(rid, _)| *rid == id)
            .and_then(|(_, w)| live(w))
        {
            drop(loops);
            remember(id, &lp);
            return lp;
        }
        let b = EventLoopBuilder::default();
        let lp = LoopShared::new(handle.clone(), None, b.debug_default(), b.slow_default());
        loops.retain(|(rid, w)| *rid != id && w.strong_count() > 0);
        loops.push((id, Arc::downgrade(&lp)));
        lp
    };
    // Spawned with the lock released: on a runtime that is shutting down the
    // task is dropped at once, and its guard takes the lock.
    let keep = Sentinel(made.clone());
    handle.spawn(async move {
        let _keep = keep;
        std::future::pending::<()>().await
    });
    remember(id, &made);
    made
}

/// Owns a runtime-driven loop for as long as the runtime runs; the runtime
/// drops it on shutdown, which retires the loop.
struct Sentinel(Arc<LoopShared>);

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.0.retire();
        unregister(&self.0);
    }
}
