//! `wait`, `wait_for` and `as_completed`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::runtime::future::{Future, FutureCore};
use crate::runtime::gather::{Awaitable, Child};
use crate::runtime::task::{Task, await_core, cancellable};
use crate::util::lock;

mod sealed {
    /// The result core of a waitable (crate-private in effect).
    #[allow(missing_debug_implementations)]
    pub struct Core<'a, T>(pub(crate) &'a std::sync::Arc<crate::runtime::future::FutureCore<T>>);

    pub trait Sealed<T> {
        fn core_ref(&self) -> Core<'_, T>;
    }
}

trait CoreExt<T> {
    fn core(&self) -> &Arc<FutureCore<T>>;
}

impl<T, W: sealed::Sealed<T>> CoreExt<T> for W {
    fn core(&self) -> &Arc<FutureCore<T>> {
        self.core_ref().0
    }
}

/// Things [`wait`] and [`as_completed`] can watch: [`Task`] and [`Future`].
pub trait Waitable<T>: sealed::Sealed<T> + Clone {}

impl<T: Send + 'static> sealed::Sealed<T> for Task<T> {
    fn core_ref(&self) -> sealed::Core<'_, T> {
        sealed::Core(Task::core(self))
    }
}
impl<T: Send + 'static> Waitable<T> for Task<T> {}

impl<T> sealed::Sealed<T> for Future<T> {
    fn core_ref(&self) -> sealed::Core<'_, T> {
        sealed::Core(&self.core)
    }
}
impl<T> Waitable<T> for Future<T> {}

/// When [`wait`] returns (asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnWhen {
    /// As soon as any one is done.
    FirstCompleted,
    /// As soon as any one fails (a cancellation does not count); else when all are done.
    FirstException,
    /// When all are done.
    #[default]
    AllCompleted,
}

/// Waits for tasks or futures and returns `(done, pending)` (asyncio's `wait`).
///
/// It never cancels anything and never fails on timeout: what is not done
/// when `timeout` passes is returned in `pending`. Items that finish at the
/// same moment all land in `done`. Order within each list is argument order.
///
/// # Errors
///
/// [`Error::InvalidArgument`] for an empty list; [`Error::Cancelled`] if the
/// calling task is cancelled while waiting (the items are not cancelled).
///
/// # Cancel safety
///
/// Cancel-safe: dropping it leaves the items untouched.
///
/// # Examples
///
/// ```
/// use aioproto::{ReturnWhen, create_task, sleep, wait};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let fast = create_task(async { sleep(Duration::from_millis(5)).await?; Ok(1) });
/// let slow = create_task(async { sleep(Duration::from_secs(10)).await?; Ok(2) });
/// let (done, pending) = wait([fast, slow.clone()], ReturnWhen::FirstCompleted, None).await?;
/// assert_eq!((done.len(), pending.len()), (1, 1));
/// slow.cancel();
/// # Ok(()) }
/// ```
pub async fn wait<T, W, I>(
    aws: I,
    return_when: ReturnWhen,
    timeout: Option<Duration>,
) -> Result<(Vec<W>, Vec<W>)>
where
    T: Send + 'static,
    W: Waitable<T>,
    I: IntoIterator<Item = W>,
{
    let items: Vec<W> = aws.into_iter().collect();
    if items.is_empty() {
        return Err(Error::invalid_argument("set of tasks/futures is empty"));
    }
    let notify = Arc::new(Notify::new());
    for item in &items {
        let n = notify.clone();
        item.core().subscribe(Box::new(move || n.notify_one()));
    }
    let satisfied = |items: &[W]| {
        let done = items.iter().filter(|i| i.core().done()).count();
        match return_when {
            ReturnWhen::FirstCompleted => done > 0,
            ReturnWhen::FirstException => {
                done == items.len() || items.iter().any(|i| i.core().has_error())
            }
            ReturnWhen::AllCompleted => done == items.len(),
        }
    };
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    while !satisfied(&items) {
        let notified = notify.notified();
        match deadline {
            None => cancellable(notified).await?,
            Some(d) => {
                if cancellable(tokio::time::timeout_at(d, notified))
                    .await?
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    let (done, pending) = items.into_iter().partition(|i| i.core().done());
    Ok((done, pending))
}

/// Waits for `aw` with a time limit (asyncio's `wait_for`).
///
/// * `timeout = None` waits forever.
/// * On timeout the inner task is cancelled **and awaited** (its cleanup has
///   run) before [`Error::Timeout`] is returned. If it swallows the cancel and
///   returns a value, that value is returned; an error it raises while being
///   cancelled is returned instead.
/// * A timeout of zero returns the result of an already-done task or future;
///   a plain Rust future is then never started.
/// * Cancelling the task calling `wait_for` cancels the inner task.
///
/// Divergence: asyncio chains the `CancelledError` as the `TimeoutError`'s
/// context; [`Error::Timeout`] carries no source.
///
/// # Errors
///
/// [`Error::Timeout`] on timeout, [`Error::Cancelled`] if cancelled, or the
/// inner error.
///
/// # Cancel safety
///
/// Dropping the returned future does not cancel a started inner task.
///
/// # Examples
///
/// ```
/// use aioproto::{sleep, wait_for};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let slow = async { sleep(Duration::from_secs(10)).await?; Ok(1) };
/// let err = wait_for(slow, Some(Duration::from_millis(10))).await.unwrap_err();
/// assert!(err.is_timeout());
/// # }
/// ```
pub async fn wait_for<T, A>(aw: A, timeout: Option<Duration>) -> Result<T>
where
    T: Clone + Send + 'static,
    A: Into<Awaitable<T>>,
{
    let aw = aw.into();
    if timeout.is_some_and(|t| t.is_zero())
        && let Awaitable::Coroutine(_) = aw
    {
        return Err(Error::Timeout("wait_for"));
    }
    let child: Child<T> = aw.start()?;
    let awaited = await_core(child.core.clone(), Some(child.target.clone()));
    let outcome = match timeout {
        None => return awaited.await,
        Some(t) if t.is_zero() => {
            if child.core.done() {
                return child.core.result_cloned();
            }
            None
        }
        Some(t) => tokio::time::timeout(t, awaited).await.ok(),
    };
    match outcome {
        Some(result) => result,
        None => {
            child.target.clone().cancel_target(None);
            child.core.wait_done().await;
            match child.core.result_cloned() {
                Err(Error::Cancelled(_)) => Err(Error::Timeout("wait_for")),
                other => other,
            }
        }
    }
}

/// The order in which watched cores complete, and the wait for the next one.
struct Completions {
    order: Arc<Mutex<VecDeque<usize>>>,
    notify: Arc<Notify>,
    remaining: usize,
    deadline: Option<tokio::time::Instant>,
}

impl Completions {
    fn watch<T: Send + 'static>(cores: &[Arc<FutureCore<T>>], timeout: Option<Duration>) -> Self {
        let order = Arc::new(Mutex::new(VecDeque::new()));
        let notify = Arc::new(Notify::new());
        for (i, core) in cores.iter().enumerate() {
            let (o, n) = (order.clone(), notify.clone());
            core.subscribe(Box::new(move || {
                lock(&o).push_back(i);
                n.notify_one();
            }));
        }
        Completions {
            order,
            notify,
            remaining: cores.len(),
            deadline: timeout.map(|t| tokio::time::Instant::now() + t),
        }
    }

    /// The index of the next item to complete; `None` when all were given.
    async fn next_index(&mut self) -> Option<Result<usize>> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some(i) = lock(&self.order).pop_front() {
                self.remaining -= 1;
                return Some(Ok(i));
            }
            let notified = self.notify.notified();
            let waited = match self.deadline {
                None => cancellable(notified).await.map(|()| true),
                Some(d) => cancellable(tokio::time::timeout_at(d, notified))
                    .await
                    .map(|r| r.is_ok()),
            };
            match waited {
                Err(e) => return Some(Err(e)),
                Ok(false) => {
                    if lock(&self.order).is_empty() {
                        self.remaining -= 1;
                        return Some(Err(Error::Timeout("as_completed")));
                    }
                }
                Ok(true) => {}
            }
        }
    }
}

/// Results in completion order (asyncio's `as_completed`); see [`as_completed`].
pub struct AsCompleted<T> {
    cores: Vec<Arc<FutureCore<T>>>,
    completions: Completions,
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.completions.remaining)
            .finish_non_exhaustive()
    }
}

/// Yields results as the tasks or futures complete (asyncio's `as_completed`).
///
/// Call [`AsCompleted::next`] until it returns `None`. Once `timeout` has
/// passed, each remaining call gives `Some(Err(Error::Timeout(_)))`. Nothing
/// is cancelled. [`as_completed_tasks`] yields the tasks themselves instead
/// (asyncio 3.13's `async for`).
///
/// # Examples
///
/// ```
/// use aioproto::{as_completed, create_task, sleep};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let a = create_task(async { sleep(Duration::from_millis(30)).await?; Ok("a") });
/// let b = create_task(async { sleep(Duration::from_millis(10)).await?; Ok("b") });
/// let mut it = as_completed([a, b], None);
/// assert_eq!(it.next().await.unwrap()?, "b");
/// assert_eq!(it.next().await.unwrap()?, "a");
/// assert!(it.next().await.is_none());
/// # Ok(()) }
/// ```
pub fn as_completed<T, W, I>(aws: I, timeout: Option<Duration>) -> AsCompleted<T>
where
    T: Send + 'static,
    W: Waitable<T>,
    I: IntoIterator<Item = W>,
{
    let cores: Vec<Arc<FutureCore<T>>> = aws.into_iter().map(|w| w.core().clone()).collect();
    let completions = Completions::watch(&cores, timeout);
    AsCompleted { cores, completions }
}

impl<T: Clone + Send + 'static> AsCompleted<T> {
    /// The next result to complete, `None` when all were yielded.
    ///
    /// # Errors
    ///
    /// The item's own error; [`Error::Timeout`] once the timeout passed;
    /// [`Error::Cancelled`] if the calling task is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no result is lost if the call is dropped.
    pub async fn next(&mut self) -> Option<Result<T>> {
        let i = self.completions.next_index().await?;
        Some(i.and_then(|i| self.cores[i].result_cloned()))
    }

    /// How many results are still to come.
    pub fn remaining(&self) -> usize {
        self.completions.remaining
    }
}

/// The tasks or futures themselves, in completion order (asyncio 3.13's
/// `async for t in as_completed(aws)`); see [`as_completed_tasks`].
pub struct AsCompletedTasks<W> {
    items: Vec<Option<W>>,
    completions: Completions,
}

impl<W> fmt::Debug for AsCompletedTasks<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompletedTasks")
            .field("remaining", &self.completions.remaining)
            .finish_non_exhaustive()
    }
}

/// Yields the original tasks or futures as they complete (asyncio 3.13's
/// `async for earliest in as_completed(aws)`, which yields the original
/// awaitables when they are tasks or futures).
///
/// Where [`as_completed`] gives each *result*, this gives the [`Task`] (or
/// [`Future`]) itself, done, so the caller knows which one finished: its name,
/// its id, or its position in a map of tasks. Its result is then read with
/// [`Task::result`], [`Task::take_result`] or by awaiting it (at once).
///
/// Call [`AsCompletedTasks::next`] until it returns `None`. Once `timeout`
/// has passed, each remaining call gives `Some(Err(Error::Timeout(_)))`, as
/// each remaining `__anext__` raises `TimeoutError` in asyncio. Nothing is
/// cancelled.
///
/// # Examples
///
/// ```
/// use aioproto::{as_completed_tasks, create_task_named, sleep};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let slow = create_task_named("slow", async { sleep(Duration::from_millis(30)).await?; Ok(1) });
/// let fast = create_task_named("fast", async { sleep(Duration::from_millis(5)).await?; Ok(2) });
/// let mut it = as_completed_tasks([slow, fast], None);
/// let first = it.next().await.unwrap()?;
/// assert_eq!(first.name(), "fast");
/// assert!(first.done());
/// assert_eq!(first.await?, 2);
/// assert_eq!(it.next().await.unwrap()?.name(), "slow");
/// assert!(it.next().await.is_none());
/// # Ok(()) }
/// ```
pub fn as_completed_tasks<T, W, I>(aws: I, timeout: Option<Duration>) -> AsCompletedTasks<W>
where
    T: Send + 'static,
    W: Waitable<T>,
    I: IntoIterator<Item = W>,
{
    let items: Vec<W> = aws.into_iter().collect();
    let cores: Vec<Arc<FutureCore<T>>> = items.iter().map(|w| w.core().clone()).collect();
    let completions = Completions::watch(&cores, timeout);
    AsCompletedTasks {
        items: items.into_iter().map(Some).collect(),
        completions,
    }
}

impl<W> AsCompletedTasks<W> {
    /// The next task or future to complete, `None` when all were yielded.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] once the timeout passed; [`Error::Cancelled`] if
    /// the calling task is cancelled. A task that failed is yielded like any
    /// other: its error is in its result.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no item is lost if the call is dropped.
    pub async fn next(&mut self) -> Option<Result<W>> {
        let i = self.completions.next_index().await?;
        Some(i.and_then(|i| {
            self.items
                .get_mut(i)
                .and_then(Option::take)
                .ok_or_else(|| Error::invalid_state("as_completed item yielded twice"))
        }))
    }

    /// How many items are still to come.
    pub fn remaining(&self) -> usize {
        self.completions.remaining
    }
}
