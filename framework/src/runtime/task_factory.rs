//! Task factories (asyncio's `loop.set_task_factory`) and eager tasks
//! (`asyncio.eager_task_factory`, 3.12).

use std::fmt;
use std::sync::Arc;

use crate::runtime::event_loop::EventLoop;
use crate::runtime::task::TaskShared;
use crate::runtime::task_ref::TaskRef;

/// A loop's task factory: called for every task created on the loop, before
/// it starts (asyncio's `loop.set_task_factory(factory)`).
///
/// asyncio's factory builds the task object itself; a Rust task's type
/// depends on its body, so here the task is built by aioproto and the factory
/// is handed a [`NewTask`] to adjust: rename it, make it eager, or remember
/// it (a [`TaskRef`]). It runs synchronously inside `create_task`, on the
/// creating thread. A factory that panics is reported to the loop's exception
/// handler ("Exception in task factory") and the task starts unchanged.
///
/// Set with [`EventLoop::set_task_factory`]; every path that creates a task
/// on the loop uses it: [`create_task`](crate::create_task),
/// [`EventLoop::create_task`], [`TaskGroup::create_task`](crate::TaskGroup::create_task),
/// and the tasks [`gather`](crate::gather) and [`wait_for`](crate::wait_for)
/// wrap plain futures in.
pub type TaskFactory = Arc<dyn Fn(&EventLoop, &mut NewTask) + Send + Sync>;

/// A task being created, as a [`TaskFactory`] sees it: not started yet.
pub struct NewTask {
    shared: Arc<TaskShared>,
    eager: bool,
}

impl fmt::Debug for NewTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewTask")
            .field("id", &self.shared.header().id)
            .field("name", &self.shared.name())
            .field("eager", &self.eager)
            .finish()
    }
}

impl NewTask {
    pub(crate) fn new(shared: Arc<TaskShared>, eager: bool) -> Self {
        NewTask { shared, eager }
    }

    /// The task's process-unique id.
    pub fn id(&self) -> u64 {
        self.shared.header().id
    }

    /// The task's name (`Task-N` unless one was given).
    pub fn name(&self) -> String {
        self.shared.name()
    }

    /// Renames the task.
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.shared.set_name(name.into());
    }

    /// Whether the task starts eagerly (see [`create_eager_task`](crate::create_eager_task)).
    pub fn eager(&self) -> bool {
        self.eager
    }

    /// Makes the task start eagerly (or not): its body then runs inside the
    /// `create_task` call until it first suspends.
    pub fn set_eager(&mut self, eager: bool) {
        self.eager = eager;
    }

    /// A handle to the task, to keep track of it.
    pub fn task_ref(&self) -> TaskRef {
        TaskRef {
            shared: self.shared.clone(),
        }
    }
}

/// A task factory that makes every task of the loop eager (asyncio's
/// `eager_task_factory`): each body runs inside `create_task` until it first
/// suspends, and one that finishes without suspending is never scheduled.
///
/// # Examples
///
/// ```
/// use aioproto::{EventLoop, create_task, eager_task_factory};
///
/// let lp = EventLoop::new()?;
/// lp.set_task_factory(Some(eager_task_factory()));
/// let done_at_once = lp.run_until_complete(async {
///     let t = create_task(async { 5 });
///     t.done()
/// })?;
/// assert!(done_at_once);
/// lp.close()?;
/// # Ok::<(), aioproto::Error>(())
/// ```
pub fn eager_task_factory() -> TaskFactory {
    Arc::new(|_: &EventLoop, task: &mut NewTask| task.set_eager(true))
}
