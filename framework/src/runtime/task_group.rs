//! asyncio's `TaskGroup`: structured concurrency with sibling cancellation.

use std::fmt;
use std::future::Future as StdFuture;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::runtime::task::{Task, cancellable};
use crate::runtime::task_output::IntoTaskResult;
use crate::runtime::task_ref::{TaskRef, current_task};
use crate::runtime::task_spawn::{SpawnOptions, TaskValue, spawn_task};
use crate::util::lock;

#[derive(Default)]
struct GroupState {
    tasks: Vec<TaskRef>,
    pending: usize,
    errors: Vec<Error>,
    aborting: bool,
    exiting: bool,
    finished: bool,
    parent_cancel_requested: bool,
}

struct GroupShared {
    st: Mutex<GroupState>,
    notify: Notify,
    parent: Option<TaskRef>,
}

/// asyncio's `TaskGroup`: children started with
/// [`create_task`](Self::create_task) are all awaited by
/// [`join`](Self::join) (the end of the `async with` block), or by
/// [`run`](Self::run), which plays the whole block.
///
/// * The **first child failure** cancels every other child and the parent
///   task (the task that created the group, so a body awaiting something sees
///   [`Error::Cancelled`]); `join` then returns
///   [`Error::MultipleErrors`] holding every child error (asyncio's
///   `ExceptionGroup`). Cancelled children add nothing.
/// * Cancelling the parent task while `join` waits cancels all children and
///   `join` returns [`Error::Cancelled`] (unless children failed: errors win).
/// * The parent's [`cancelling`](crate::Task::cancelling) count is restored.
/// * `create_task` after a failure (`is shutting down`) or after `join`
///   (`is finished`) returns [`Error::InvalidState`]; the future is dropped
///   without running.
///
/// Created outside any [`Task`] the group works the same, except there is no
/// parent to cancel.
///
/// # Examples
///
/// ```
/// use aioproto::{Error, TaskGroup, create_task, sleep};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let outcome = create_task(async {
///     let tg = TaskGroup::new();
///     let sibling = tg.create_task(async { sleep(Duration::from_secs(10)).await })?;
///     tg.create_task(async { Err::<(), _>(Error::invalid_argument("division by zero")) })?;
///     let r = tg.join().await;
///     assert!(sibling.cancelled());
///     r
/// }).await;
/// match outcome {
///     Err(Error::MultipleErrors(errors)) => assert_eq!(errors.len(), 1),
///     other => panic!("{other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TaskGroup {
    shared: Arc<GroupShared>,
}

impl fmt::Debug for TaskGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.st);
        f.debug_struct("TaskGroup")
            .field("pending", &st.pending)
            .field("errors", &st.errors.len())
            .field("aborting", &st.aborting)
            .finish()
    }
}

impl Default for TaskGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskGroup {
    /// A new group whose parent is the current task (if any).
    pub fn new() -> Self {
        TaskGroup {
            shared: Arc::new(GroupShared {
                st: Mutex::new(GroupState::default()),
                notify: Notify::new(),
                parent: current_task(),
            }),
        }
    }

    /// Starts a child task (named `Task-N`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the group is shutting down or finished, or
    /// there is no tokio runtime.
    pub fn create_task<F>(&self, fut: F) -> Result<Task<TaskValue<F>>>
    where
        F: StdFuture + Send + 'static,
        F::Output: IntoTaskResult,
    {
        self.spawn(None, fut)
    }

    /// Starts a named child task.
    ///
    /// # Errors
    ///
    /// As for [`create_task`](Self::create_task).
    pub fn create_task_named<F>(
        &self,
        name: impl Into<String>,
        fut: F,
    ) -> Result<Task<TaskValue<F>>>
    where
        F: StdFuture + Send + 'static,
        F::Output: IntoTaskResult,
    {
        self.spawn(Some(name.into()), fut)
    }

    fn spawn<F>(&self, name: Option<String>, fut: F) -> Result<Task<TaskValue<F>>>
    where
        F: StdFuture + Send + 'static,
        F::Output: IntoTaskResult,
    {
        {
            let st = lock(&self.shared.st);
            if st.finished {
                return Err(Error::invalid_state("task group is finished"));
            }
            if st.aborting {
                return Err(Error::invalid_state("task group is shutting down"));
            }
        }
        let task = spawn_task(SpawnOptions::named(name), fut)
            .ok_or_else(|| Error::invalid_state("no running tokio runtime"))?;
        let task_ref = task.task_ref();
        {
            let mut st = lock(&self.shared.st);
            st.pending += 1;
            st.tasks.push(task_ref.clone());
        }
        let shared = self.shared.clone();
        let core = task.core().clone();
        task.core().subscribe(Box::new(move || {
            let error = if core.has_error() {
                core.exception().ok().flatten()
            } else {
                None
            };
            on_child_done(&shared, &task_ref, error);
        }));
        Ok(task)
    }

    /// Waits for every child (asyncio's `__aexit__` with no body error).
    ///
    /// # Errors
    ///
    /// [`Error::MultipleErrors`] with the children's errors;
    /// [`Error::Cancelled`] if the parent was cancelled from outside.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: drop it only if you cancel the children yourself.
    pub async fn join(&self) -> Result<()> {
        self.exit(None).await
    }

    /// Runs `body` as the `async with` block, then [`join`](Self::join)s.
    ///
    /// An error from `body` cancels the children and is added to the group's
    /// errors; a cancellation of `body` caused by a child failure is absorbed.
    ///
    /// # Errors
    ///
    /// As for [`join`](Self::join).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::TaskGroup;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let tg = TaskGroup::new();
    /// let n = tg.run(async {
    ///     let a = tg.create_task(async { Ok(1) })?;
    ///     let b = tg.create_task(async { Ok(2) })?;
    ///     Ok(a.await? + b.await?)
    /// }).await?;
    /// assert_eq!(n, 3);
    /// # Ok(()) }
    /// ```
    pub async fn run<R, F>(&self, body: F) -> Result<R>
    where
        F: StdFuture<Output = Result<R>>,
    {
        match body.await {
            Ok(v) => self.exit(None).await.map(|()| v),
            Err(e) => {
                self.exit(Some(e.clone())).await?;
                Err(e)
            }
        }
    }

    async fn exit(&self, body_error: Option<Error>) -> Result<()> {
        let shared = &self.shared;
        lock(&shared.st).exiting = true;
        let mut propagate_cancel: Option<Error> = None;
        let mut body_failure: Option<Error> = None;
        match body_error {
            Some(e @ Error::Cancelled(_)) => {
                propagate_cancel = Some(e);
                abort(shared);
            }
            Some(e) => {
                body_failure = Some(e);
                abort(shared);
            }
            None => {}
        }
        loop {
            if lock(&shared.st).pending == 0 {
                break;
            }
            let notified = shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&shared.st).pending == 0 {
                break;
            }
            if let Err(e) = cancellable(notified).await {
                abort(shared);
                propagate_cancel = Some(e);
            }
        }
        let (parent_cancel_requested, mut errors) = {
            let mut st = lock(&shared.st);
            st.finished = true;
            (st.parent_cancel_requested, std::mem::take(&mut st.errors))
        };
        if parent_cancel_requested
            && let Some(parent) = &shared.parent
            && parent.uncancel() == 0
        {
            propagate_cancel = None;
        }
        if let Some(e) = propagate_cancel
            && errors.is_empty()
        {
            return Err(e);
        }
        if let Some(e) = body_failure {
            errors.push(e);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::MultipleErrors(errors))
        }
    }
}

fn abort(shared: &GroupShared) {
    let tasks = {
        let mut st = lock(&shared.st);
        st.aborting = true;
        st.tasks.clone()
    };
    for t in tasks {
        if !t.done() {
            t.cancel();
        }
    }
}

fn on_child_done(shared: &Arc<GroupShared>, task: &TaskRef, error: Option<Error>) {
    let mut cancel_parent = false;
    let failed = error.is_some();
    {
        let mut st = lock(&shared.st);
        st.pending = st.pending.saturating_sub(1);
        st.tasks.retain(|t| t != task);
        if let Some(e) = error {
            st.errors.push(e);
            if !st.aborting && !st.parent_cancel_requested {
                cancel_parent = shared.parent.as_ref().is_some_and(|p| !p.done());
                st.parent_cancel_requested = cancel_parent;
            }
        }
    }
    if failed {
        let was_aborting = lock(&shared.st).aborting;
        if !was_aborting {
            abort(shared);
        }
        if cancel_parent && let Some(parent) = &shared.parent {
            parent.cancel();
        }
    }
    shared.notify.notify_one();
}
