//! `gather` and `shield`, and [`Awaitable`], the things they accept.

use std::fmt;
use std::future::{Future as StdFuture, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::runtime::future::{Future, FutureCore, Wait};
use crate::runtime::task::{CancelTarget, Task, await_core};
use crate::runtime::task_spawn::{SpawnOptions, spawn_task};
use crate::util::lock;

type BoxFuture<T> = Pin<Box<dyn StdFuture<Output = Result<T>> + Send>>;

/// Anything `gather`, `shield` and `wait_for` accept: a [`Task`], a
/// [`Future`], or any Rust future (a "coroutine", wrapped in a task when needed).
///
/// Convert with `.into()`; `From` exists for all three.
pub enum Awaitable<T> {
    /// A running task; cancelling through the combinator cancels the task.
    Task(Task<T>),
    /// A future; cancelling through the combinator cancels the future.
    Future(Future<T>),
    /// A plain Rust future that has not started yet.
    Coroutine(BoxFuture<T>),
}

impl<T: Send + 'static> fmt::Debug for Awaitable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Awaitable::Task(t) => t.fmt(f),
            Awaitable::Future(x) => x.fmt(f),
            Awaitable::Coroutine(_) => f.write_str("<coroutine>"),
        }
    }
}

impl<T> From<Task<T>> for Awaitable<T> {
    fn from(t: Task<T>) -> Self {
        Awaitable::Task(t)
    }
}

impl<T> From<Future<T>> for Awaitable<T> {
    fn from(f: Future<T>) -> Self {
        Awaitable::Future(f)
    }
}

impl<T> From<&Task<T>> for Awaitable<T> {
    fn from(t: &Task<T>) -> Self {
        Awaitable::Task(t.clone())
    }
}

impl<T> From<&Future<T>> for Awaitable<T> {
    fn from(f: &Future<T>) -> Self {
        Awaitable::Future(f.clone())
    }
}

impl<T, F> From<F> for Awaitable<T>
where
    F: StdFuture<Output = Result<T>> + Send + 'static,
{
    fn from(f: F) -> Self {
        Awaitable::Coroutine(Box::pin(f))
    }
}

/// A started awaitable: its result core and what to cancel.
pub(crate) struct Child<T> {
    pub(crate) core: Arc<FutureCore<T>>,
    pub(crate) target: Arc<dyn CancelTarget>,
}

impl<T> Clone for Child<T> {
    fn clone(&self) -> Self {
        Child {
            core: self.core.clone(),
            target: self.target.clone(),
        }
    }
}

impl<T: Send + 'static> Awaitable<T> {
    /// Starts a coroutine as a task; `None` outside any runtime.
    pub(crate) fn start(self) -> Result<Child<T>> {
        match self {
            Awaitable::Task(t) => Ok(Child {
                core: t.core().clone(),
                target: t.cancel_target(),
            }),
            Awaitable::Future(f) => Ok(Child {
                target: f.core.clone(),
                core: f.core,
            }),
            Awaitable::Coroutine(c) => {
                let t = spawn_task(SpawnOptions::default(), c)
                    .ok_or_else(|| Error::invalid_state("no running tokio runtime"))?;
                Ok(Child {
                    core: t.core().clone(),
                    target: t.cancel_target(),
                })
            }
        }
    }
}

struct GatherState {
    finished: usize,
    cancel_requested: Option<Option<String>>,
}

/// The cancel side of a gather: cancelling it cancels the children.
struct GatherCancel {
    children: Vec<Arc<dyn CancelTarget>>,
    outer_done: Box<dyn Fn() -> bool + Send + Sync>,
    state: Arc<Mutex<GatherState>>,
}

impl CancelTarget for GatherCancel {
    fn cancel_target(self: Arc<Self>, msg: Option<String>) -> bool {
        if (self.outer_done)() {
            return false;
        }
        let mut any = false;
        for child in &self.children {
            if child.clone().cancel_target(msg.clone()) {
                any = true;
            }
        }
        if any {
            lock(&self.state).cancel_requested = Some(msg);
        }
        any
    }
}

/// The future returned by [`gather`] and [`gather_return_exceptions`].
///
/// Await it for the results in argument order. [`cancel`](Self::cancel)
/// cancels every child not yet done (asyncio's `gather(...).cancel()`).
#[must_use = "a gather does nothing useful unless awaited"]
pub struct Gather<O> {
    outer: Future<O>,
    cancel: Arc<GatherCancel>,
}

impl<O: Send + 'static> fmt::Debug for Gather<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Gather {:?}>", self.outer)
    }
}

impl<O: Send + 'static> Gather<O> {
    /// Cancels every child not yet done; true if any was cancelled.
    ///
    /// The gather then ends with [`Error::Cancelled`] once the children are
    /// done. After all children finished this returns false and keeps the result.
    pub fn cancel(&self) -> bool {
        self.cancel.clone().cancel_target(None)
    }

    /// Like [`cancel`](Self::cancel), with a message passed to the children.
    pub fn cancel_with_message(&self, msg: impl Into<String>) -> bool {
        self.cancel.clone().cancel_target(Some(msg.into()))
    }

    /// True once the gather has its result or error.
    pub fn done(&self) -> bool {
        self.outer.done()
    }

    /// The result once done (see [`Future::result`]).
    ///
    /// # Errors
    ///
    /// As for [`Future::result`].
    pub fn result(&self) -> Result<O>
    where
        O: Clone,
    {
        self.outer.result()
    }

    /// The gather's result as a plain [`Future`] (cancelling *that* future does
    /// not cancel the children).
    pub fn future(&self) -> Future<O> {
        self.outer.clone()
    }
}

impl<O: Clone + Send + 'static> IntoFuture for Gather<O> {
    type Output = Result<O>;
    type IntoFuture = Wait<O>;
    fn into_future(self) -> Wait<O> {
        let target: Arc<dyn CancelTarget> = self.cancel.clone();
        Wait::new(await_core(self.outer.core.clone(), Some(target)))
    }
}

impl<O: Clone + Send + 'static> From<Gather<O>> for Awaitable<O> {
    fn from(g: Gather<O>) -> Self {
        Awaitable::Coroutine(Box::pin(g.into_future()))
    }
}

fn gather_impl<T, O, I, A>(
    aws: I,
    return_exceptions: bool,
    collect: fn(Vec<Result<T>>) -> O,
) -> Gather<O>
where
    T: Clone + Send + 'static,
    O: Send + 'static,
    I: IntoIterator<Item = A>,
    A: Into<Awaitable<T>>,
{
    let outer = Future::<O>::new();
    let state = Arc::new(Mutex::new(GatherState {
        finished: 0,
        cancel_requested: None,
    }));
    let mut children = Vec::new();
    let mut start_error = None;
    for aw in aws {
        match aw.into().start() {
            Ok(child) => children.push(child),
            Err(e) => {
                start_error = Some(e);
                break;
            }
        }
    }
    let o = outer.clone();
    let cancel = Arc::new(GatherCancel {
        children: children.iter().map(|c| c.target.clone()).collect(),
        outer_done: Box::new(move || o.done()),
        state: state.clone(),
    });
    if let Some(e) = start_error {
        let _ = outer.set_exception(e);
        return Gather { outer, cancel };
    }
    if children.is_empty() {
        let _ = outer.set_result(collect(Vec::new()));
        return Gather { outer, cancel };
    }
    let n = children.len();
    let all: Arc<Vec<Arc<FutureCore<T>>>> =
        Arc::new(children.iter().map(|c| c.core.clone()).collect());
    for child in &children {
        let core = child.core.clone();
        let outer = outer.clone();
        let state = state.clone();
        let all = all.clone();
        child.core.subscribe(Box::new(move || {
            let finished = {
                let mut st = lock(&state);
                st.finished += 1;
                st.finished
            };
            if outer.done() {
                core.mark_retrieved();
                return;
            }
            if !return_exceptions && (core.cancelled() || core.has_error()) {
                let err = core.result_cloned().err().unwrap_or(Error::Cancelled(None));
                let _ = outer.set_exception(err);
                return;
            }
            if finished == n {
                if let Some(msg) = lock(&state).cancel_requested.clone() {
                    let _ = outer.set_exception(Error::Cancelled(msg));
                    return;
                }
                let results = all.iter().map(|c| c.result_cloned()).collect();
                let _ = outer.set_result(collect(results));
            }
        }));
    }
    Gather { outer, cancel }
}

/// Runs awaitables concurrently and collects their results in argument order
/// (asyncio's `gather(*aws)`).
///
/// * Plain futures are started as tasks; passing the same task twice gives
///   its result twice.
/// * The first error (or a child's cancellation, as [`Error::Cancelled`]) is
///   returned at once. **The other children are not cancelled**; they keep
///   running and their later errors are marked retrieved.
/// * Cancelling the gather, or the task awaiting it, cancels every child.
/// * `gather(Vec::new())` gives an empty `Vec`.
///
/// # Examples
///
/// ```
/// use aioproto::{Awaitable, gather, sleep};
/// use std::time::Duration;
///
/// async fn after(ms: u64, v: &'static str) -> aioproto::Result<&'static str> {
///     sleep(Duration::from_millis(ms)).await?;
///     Ok(v)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let aws: Vec<Awaitable<_>> = vec![after(30, "a").into(), after(20, "b").into(), after(10, "c").into()];
/// assert_eq!(gather(aws).await?, ["a", "b", "c"]);
/// # Ok(()) }
/// ```
pub fn gather<T, I, A>(aws: I) -> Gather<Vec<T>>
where
    T: Clone + Send + 'static,
    I: IntoIterator<Item = A>,
    A: Into<Awaitable<T>>,
{
    gather_impl(aws, false, |results| {
        results.into_iter().filter_map(Result::ok).collect()
    })
}

/// [`gather`] with `return_exceptions=True`: every child's `Result` in
/// argument order; a cancelled child appears as `Err(Error::Cancelled(_))`.
///
/// Cancelling the gather itself still ends it with [`Error::Cancelled`].
///
/// # Examples
///
/// ```
/// use aioproto::{Awaitable, Error, gather_return_exceptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let ok: Awaitable<i32> = async { Ok(3) }.into();
/// let bad: Awaitable<i32> = async { Err(Error::invalid_argument("x")) }.into();
/// let out = gather_return_exceptions(vec![ok, bad]).await?;
/// assert_eq!(*out[0].as_ref().unwrap(), 3);
/// assert!(out[1].is_err());
/// # Ok(()) }
/// ```
pub fn gather_return_exceptions<T, I, A>(aws: I) -> Gather<Vec<Result<T>>>
where
    T: Clone + Send + 'static,
    I: IntoIterator<Item = A>,
    A: Into<Awaitable<T>>,
{
    gather_impl(aws, true, |results| results)
}

/// Protects an awaitable from cancellation (asyncio's `shield`).
///
/// Returns a new [`Future`] that follows `aw`. Cancelling that future (or the
/// task awaiting it) does **not** cancel `aw`, which runs to completion; if
/// `aw` itself is cancelled, the returned future is cancelled too.
///
/// # Errors
///
/// The returned future holds [`Error::InvalidState`] if `aw` is a plain future
/// and there is no tokio runtime to start it on.
///
/// # Examples
///
/// ```
/// use aioproto::{create_task, shield, sleep};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let inner = create_task(async { sleep(Duration::from_millis(20)).await?; Ok(1) });
/// let outer = shield(&inner);
/// outer.cancel();
/// assert_eq!(inner.await?, 1); // still completes
/// # Ok(()) }
/// ```
pub fn shield<T, A>(aw: A) -> Future<T>
where
    T: Clone + Send + 'static,
    A: Into<Awaitable<T>>,
{
    let outer = Future::<T>::new();
    let child = match aw.into().start() {
        Ok(child) => child,
        Err(e) => {
            let _ = outer.set_exception(e);
            return outer;
        }
    };
    let core = child.core.clone();
    let o = outer.clone();
    child.core.subscribe(Box::new(move || {
        if o.done() {
            return;
        }
        if core.cancelled() {
            o.cancel();
            return;
        }
        match core.result_cloned() {
            Ok(v) => {
                let _ = o.set_result(v);
            }
            Err(e) => {
                let _ = o.set_exception(e);
            }
        }
    }));
    outer
}
