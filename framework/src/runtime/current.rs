//! What runs on this thread right now: the loop entered (by
//! `run_until_complete`, a loop's callbacks and its tasks) and the task whose
//! body is being polled.
//!
//! A task's poll makes both current; the thread-locals are kept cheap enough
//! (no drop glue, no borrow flag) that each access inlines to a swap.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::runtime::event_loop_impl::LoopShared;
use crate::runtime::task::TaskShared;

thread_local! {
    /// `ManuallyDrop` because nothing is left in them to drop when a thread
    /// exits: only the guards below put handles in, and each takes its own
    /// out again when it drops, so at exit (no guard alive) both are `None`.
    /// A thread-local without drop glue has no destructor to register and no
    /// liveness check on each access, and stays readable while other
    /// thread-locals' destructors run. `Cell`s, not `RefCell`s: every access
    /// swaps a value in or out, so there is no borrow flag to keep.
    static CURRENT_LOOP: ManuallyDrop<Cell<Option<Arc<LoopShared>>>> =
        const { ManuallyDrop::new(Cell::new(None)) };
    static CURRENT_TASK: ManuallyDrop<Cell<Option<Arc<TaskShared>>>> =
        const { ManuallyDrop::new(Cell::new(None)) };
}

/// A clone of what `cell` holds, leaving it in place.
fn peek<T: ?Sized>(cell: &Cell<Option<Arc<T>>>) -> Option<Arc<T>> {
    let held = cell.take();
    let copy = held.clone();
    cell.set(held);
    copy
}

/// The loop entered on this thread by [`EnterGuard`] or [`PollGuard`], if any.
pub(crate) fn entered_loop() -> Option<Arc<LoopShared>> {
    CURRENT_LOOP.with(|c| peek(c))
}

/// The task whose body is being polled on this thread, if any.
pub(crate) fn current_task() -> Option<Arc<TaskShared>> {
    CURRENT_TASK.with(|c| peek(c))
}

/// Runs `f` on the current task without cloning its handle; `None` outside a
/// task. While `f` runs the task is taken out of the thread-local, so `f`
/// must not ask for the current task (it would see none).
pub(crate) fn with_current_task<R>(f: impl FnOnce(&TaskShared) -> R) -> Option<R> {
    CURRENT_TASK.with(|c| {
        let task = c.take()?;
        let result = f(&*task);
        c.set(Some(task));
        Some(result)
    })
}

/// Makes a loop current on this thread until dropped.
pub(crate) struct EnterGuard {
    prev: Option<Arc<LoopShared>>,
}

impl EnterGuard {
    pub(crate) fn enter(lp: Arc<LoopShared>) -> EnterGuard {
        let prev = CURRENT_LOOP.with(|c| c.replace(Some(lp)));
        EnterGuard { prev }
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // Dropped once out of the thread-local: the last handle of a loop may
        // run code that asks for the current loop.
        let ours = CURRENT_LOOP.with(|c| c.replace(prev));
        drop(ours);
    }
}

/// Makes a task, and the loop it runs on, current for one poll of its body.
///
/// | `prev_loop` | meaning |
/// |---|---|
/// | `None` | the task's loop was already current (the usual case: a loop's tasks run inside its `run_until_complete`), or it has no live loop: nothing to restore |
/// | `Some(prev)` | this poll entered the task's loop; `prev` (maybe `None`) is put back on drop |
pub(crate) struct PollGuard {
    prev_task: Option<Arc<TaskShared>>,
    prev_loop: Option<Option<Arc<LoopShared>>>,
}

impl PollGuard {
    /// Enters `task` and its loop `lp` (if it has one); also gives that loop's
    /// slow-callback threshold (debug mode).
    pub(crate) fn enter(
        task: Arc<TaskShared>,
        lp: Option<&Weak<LoopShared>>,
    ) -> (PollGuard, Option<Duration>) {
        let prev_task = CURRENT_TASK.with(|c| c.replace(Some(task)));
        let (prev_loop, slow) = match lp {
            None => (None, None),
            Some(lp) => CURRENT_LOOP.with(|c| {
                let current = c.take();
                match current {
                    Some(current) if std::ptr::eq(Arc::as_ptr(&current), lp.as_ptr()) => {
                        let slow = current.slow_threshold();
                        c.set(Some(current));
                        (None, slow)
                    }
                    current => match lp.upgrade() {
                        Some(lp) => {
                            let slow = lp.slow_threshold();
                            c.set(Some(lp));
                            (Some(current), slow)
                        }
                        None => {
                            c.set(current);
                            (None, None)
                        }
                    },
                }
            }),
        };
        (
            PollGuard {
                prev_task,
                prev_loop,
            },
            slow,
        )
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        let prev_task = self.prev_task.take();
        let prev_loop = self.prev_loop.take();
        // What was ours is dropped after it is out of the thread-locals (see
        // `EnterGuard`).
        let task = CURRENT_TASK.with(|c| c.replace(prev_task));
        let lp = prev_loop.map(|prev| CURRENT_LOOP.with(|c| c.replace(prev)));
        drop((task, lp));
    }
}
