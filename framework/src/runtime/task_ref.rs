//! [`TaskRef`], the type-erased task handle, and [`current_task`].

use std::fmt;
use std::sync::Arc;

use crate::runtime::current;
use crate::runtime::task::TaskShared;

/// A type-erased handle to a [`Task`](crate::Task), as returned by [`current_task`] and
/// [`all_tasks`](crate::all_tasks); compares equal when it is the same task.
#[derive(Clone)]
pub struct TaskRef {
    pub(crate) shared: Arc<TaskShared>,
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<Task name='{}' id={}>",
            self.shared.name(),
            self.shared.header().id
        )
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &Self) -> bool {
        // The data pointers: the same task may be seen through two vtables.
        std::ptr::addr_eq(Arc::as_ptr(&self.shared), Arc::as_ptr(&other.shared))
    }
}

impl Eq for TaskRef {}

impl TaskRef {
    /// The task's name.
    pub fn name(&self) -> String {
        self.shared.name()
    }

    /// The task's process-unique id.
    pub fn id(&self) -> u64 {
        self.shared.header().id
    }

    /// See [`Task::cancel`](crate::Task::cancel).
    pub fn cancel(&self) -> bool {
        self.shared.cancel(None)
    }

    /// See [`Task::cancel_with_message`](crate::Task::cancel_with_message).
    pub fn cancel_with_message(&self, msg: impl Into<String>) -> bool {
        self.shared.cancel(Some(msg.into()))
    }

    /// See [`Task::cancelling`](crate::Task::cancelling).
    pub fn cancelling(&self) -> u32 {
        self.shared.cancelling()
    }

    /// See [`Task::uncancel`](crate::Task::uncancel).
    pub fn uncancel(&self) -> u32 {
        self.shared.uncancel()
    }

    /// True once the task has finished in any way.
    pub fn done(&self) -> bool {
        self.shared.task_done()
    }

    /// True if the task ended cancelled.
    pub fn cancelled(&self) -> bool {
        self.shared.cancelled()
    }
}

/// The task whose body is running right now, if any (asyncio's `current_task()`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// assert!(aioproto::current_task().is_none());
/// let name = aioproto::create_task_named("me", async {
///     Ok(aioproto::current_task().unwrap().name())
/// }).await?;
/// assert_eq!(name, "me");
/// # Ok(()) }
/// ```
pub fn current_task() -> Option<TaskRef> {
    current::current_task().map(|shared| TaskRef { shared })
}
