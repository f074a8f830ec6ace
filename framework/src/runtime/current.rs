//! What runs on this thread right now: the loop entered (by
//! `run_until_complete`, a loop's callbacks and its tasks) and the task whose
//! body is being polled.
//!
//! Both live in one thread-local so that a task's poll, which makes both
//! current, costs one thread-local access on the way in and one on the way out
//! instead of two each.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::runtime::event_loop_impl::LoopShared;
use crate::runtime::task::TaskShared;

struct Current {
    lp: Option<Arc<LoopShared>>,
    task: Option<Arc<TaskShared>>,
}

thread_local! {
    /// `ManuallyDrop` because nothing is left in it to drop when a thread
    /// exits: only the guards below put handles in, and each takes its own
    /// out again when it drops, so at exit (no guard alive) both are `None`.
    /// A thread-local without drop glue has no destructor to register and no
    /// liveness check on each access, and stays readable while other
    /// thread-locals' destructors run.
    static CURRENT: ManuallyDrop<RefCell<Current>> =
        const { ManuallyDrop::new(RefCell::new(Current { lp: None, task: None })) };
}

/// The loop entered on this thread by [`EnterGuard`] or [`PollGuard`], if any.
pub(crate) fn entered_loop() -> Option<Arc<LoopShared>> {
    CURRENT.with(|c| c.borrow().lp.clone())
}

/// The task whose body is being polled on this thread, if any.
pub(crate) fn current_task() -> Option<Arc<TaskShared>> {
    CURRENT.with(|c| c.borrow().task.clone())
}

/// Runs `f` on the current task without cloning its handle; `None` outside a task.
pub(crate) fn with_current_task<R>(f: impl FnOnce(&TaskShared) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow().task.as_deref().map(f))
}

/// Makes a loop current on this thread until dropped.
pub(crate) struct EnterGuard {
    prev: Option<Arc<LoopShared>>,
}

impl EnterGuard {
    pub(crate) fn enter(lp: Arc<LoopShared>) -> EnterGuard {
        let prev = CURRENT.with(|c| c.borrow_mut().lp.replace(lp));
        EnterGuard { prev }
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // Dropped outside the borrow: the last handle of a loop may run code
        // that asks for the current loop.
        let ours = CURRENT.with(|c| std::mem::replace(&mut c.borrow_mut().lp, prev));
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
        CURRENT.with(|c| {
            let mut cur = c.borrow_mut();
            let prev_task = cur.task.replace(task);
            let (prev_loop, slow) = match lp {
                None => (None, None),
                Some(lp) => match &cur.lp {
                    Some(current) if std::ptr::eq(Arc::as_ptr(current), lp.as_ptr()) => {
                        (None, current.slow_threshold())
                    }
                    _ => match lp.upgrade() {
                        Some(lp) => {
                            let slow = lp.slow_threshold();
                            (Some(cur.lp.replace(lp)), slow)
                        }
                        None => (None, None),
                    },
                },
            };
            (
                PollGuard {
                    prev_task,
                    prev_loop,
                },
                slow,
            )
        })
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        let prev_task = self.prev_task.take();
        let prev_loop = self.prev_loop.take();
        // What was ours is dropped after the borrow ends (see `EnterGuard`).
        let ours = CURRENT.with(|c| {
            let mut cur = c.borrow_mut();
            let task = std::mem::replace(&mut cur.task, prev_task);
            let lp = prev_loop.map(|prev| std::mem::replace(&mut cur.lp, prev));
            (task, lp)
        });
        drop(ours);
    }
}
