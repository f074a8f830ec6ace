//! asyncio's `Future`: a result that is set once, shared, and awaited by many.
//!
//! | asyncio | aioproto |
//! |---|---|
//! | `loop.create_future()` / `asyncio.Future()` | [`Future::new`] |
//! | `fut.set_result(v)` / `fut.set_exception(e)` | [`Future::set_result`] / [`Future::set_exception`] (return `Err(InvalidState)` instead of raising) |
//! | `fut.cancel(msg)` | [`Future::cancel`] / [`Future::cancel_with_message`] |
//! | `fut.result()` / `fut.exception()` | [`Future::result`] / [`Future::exception`] |
//! | `fut.add_done_callback(fn)` / `remove_done_callback(fn)` | [`Future::add_done_callback`] / [`Future::remove_done_callback`] with a [`DoneCallback`] |
//! | `await fut` | `fut.await` (or `(&fut).await`), giving `Result<T>` |

use std::fmt;
use std::future::{Future as StdFuture, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};
use crate::runtime::event_loop::{ExceptionContext, LoopShared};
use crate::runtime::task::{AwaitCore, CancelTarget, TaskCell, TaskHeader, TaskState, await_core};
use crate::util::{catch_panic, lock};

/// Where done-callbacks of a future run: the loop it was created in, else the
/// tokio runtime it was created in, else a short-lived helper thread.
#[derive(Clone)]
pub(crate) enum Scheduler {
    Loop(Weak<LoopShared>),
    Tokio(tokio::runtime::Handle),
    Thread,
}

impl Scheduler {
    pub(crate) fn current() -> Scheduler {
        if let Some(lp) = crate::runtime::event_loop::current_shared() {
            Scheduler::Loop(Arc::downgrade(&lp))
        } else if let Ok(handle) = tokio::runtime::Handle::try_current() {
            Scheduler::Tokio(handle)
        } else {
            Scheduler::Thread
        }
    }

    pub(crate) fn loop_shared(&self) -> Option<Arc<LoopShared>> {
        match self {
            Scheduler::Loop(weak) => weak.upgrade(),
            _ => None,
        }
    }

    /// Runs `job` later, never synchronously.
    pub(crate) fn schedule(&self, name: &'static str, job: Box<dyn FnOnce() + Send>) {
        let job = match self {
            Scheduler::Loop(weak) => match weak.upgrade() {
                Some(lp) => match lp.call_soon_boxed(name, job) {
                    Ok(()) => return,
                    Err(job) => job,
                },
                None => job,
            },
            Scheduler::Tokio(handle) => {
                handle.spawn(async move { job() });
                return;
            }
            Scheduler::Thread => job,
        };
        // The loop is gone or closed: still never run synchronously.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move { job() });
            }
            Err(_) => {
                let spawned = std::thread::Builder::new()
                    .name("aioproto-callbacks".into())
                    .spawn(job);
                if let Err(err) = spawned {
                    tracing::error!(%err, "could not start a thread to run done-callbacks");
                }
            }
        }
    }
}

pub(crate) enum State<T> {
    Pending,
    Finished(T),
    /// Boxed: an [`Error`] is 64 bytes, and a state that size would make
    /// every result core (and every move of a state) bigger for the rare
    /// failure.
    Failed(Box<Error>),
    /// The message boxed (see [`CancelMsg`]).
    Cancelled(CancelMsg),
    /// The value was moved out by `take_result`.
    Taken,
}

struct Inner<T> {
    state: State<T>,
    /// Everything waiting for completion, in registration order: one list
    /// rather than one per kind, so that a core nobody waits on (most task
    /// results) initialises, empties and drops a single empty `Vec`.
    waiting: Vec<Waiting<T>>,
    next_waiter: WaiterId,
    retrieved: bool,
    /// A task's name and cancel protocol, under the same lock as its result
    /// so that the task's end records both at once (unused by plain futures).
    task: TaskState,
}

/// One thing waiting for a [`FutureCore`] to complete.
enum Waiting<T> {
    /// An awaiter's waker, under its key. Kept here, under the same lock as
    /// `state`, rather than in a `tokio::sync::Notify`: an await then needs no
    /// pinned, self-borrowing `Notified` (so no boxed future) and no second
    /// lock, and a completion wakes exactly the registered awaiters.
    Waker(WaiterId, Waker),
    /// An internal listener, run synchronously right after completion.
    Listener(Box<dyn FnOnce() + Send>),
    /// A user's done-callback, scheduled on the loop after completion.
    Callback(DoneCallback<T>),
}

impl<T> Inner<T> {
    /// Registers (or refreshes) the waker of the awaiter `slot`, giving it a key
    /// on its first registration.
    fn register_waker(&mut self, slot: &mut Option<WaiterId>, cx: &Context<'_>) {
        let id = *slot.get_or_insert_with(|| {
            self.next_waiter += 1;
            self.next_waiter
        });
        let known = self.waiting.iter_mut().find_map(|w| match w {
            Waiting::Waker(w, waker) if *w == id => Some(waker),
            _ => None,
        });
        match known {
            Some(waker) => waker.clone_from(cx.waker()),
            None => self.waiting.push(Waiting::Waker(id, cx.waker().clone())),
        }
    }

    /// The value, or the error reading the result gives instead (marking a
    /// failure as retrieved).
    fn value(&mut self) -> Result<&T> {
        match &self.state {
            State::Pending => Err(Error::invalid_state("result is not set")),
            State::Cancelled(msg) => Err(Error::Cancelled(give_msg(msg))),
            State::Taken => Err(Error::invalid_state("result was already taken")),
            State::Finished(v) => Ok(v),
            State::Failed(e) => {
                let e = Error::clone(e);
                self.retrieved = true;
                Err(e)
            }
        }
    }

    /// The outcome, cloned, marking an error as retrieved.
    fn outcome_cloned(&mut self) -> Result<T>
    where
        T: Clone,
    {
        self.value().cloned()
    }
}

/// A cancel's message as a core keeps it: boxed, 16 bytes instead of a
/// `String`'s 24; [`Error::Cancelled`] carries it as a `String` again.
pub(crate) type CancelMsg = Option<Box<str>>;

/// A message as a core keeps it.
pub(crate) fn keep_msg(msg: Option<String>) -> CancelMsg {
    msg.map(String::into_boxed_str)
}

/// A kept message as [`Error::Cancelled`] carries it.
pub(crate) fn give_msg(msg: &CancelMsg) -> Option<String> {
    msg.as_deref().map(str::to_owned)
}

/// The key of one awaiter's waker in [`FutureCore`]'s list.
pub(crate) type WaiterId = u64;

/// The shared state behind [`Future`] and [`Task`](crate::Task) results.
///
/// A task's result core also holds the task's [`TaskHeader`], so that a task
/// is one allocation here (plus tokio's cell) rather than two: the
/// type-erased side of the task ([`TaskShared`](crate::runtime::task::TaskShared))
/// is this same allocation seen through a trait object.
pub(crate) struct FutureCore<T> {
    inner: Mutex<Inner<T>>,
    sched: Scheduler,
    /// `Some` for a task's result: its id, name and cancel state (the name
    /// also changes the "never retrieved" message).
    task: Option<TaskHeader>,
}

impl<T: Send + 'static> FutureCore<T> {
    pub(crate) fn new(sched: Scheduler) -> Arc<Self> {
        Self::with_task(sched, None, None)
    }

    /// The result core of the task `header` describes, named `name`.
    #[inline]
    pub(crate) fn of_task(sched: Scheduler, header: TaskHeader, name: Option<String>) -> Arc<Self> {
        Self::with_task(sched, Some(header), name)
    }

    #[inline]
    fn with_task(sched: Scheduler, task: Option<TaskHeader>, name: Option<String>) -> Arc<Self> {
        Arc::new(FutureCore {
            inner: Mutex::new(Inner {
                state: State::Pending,
                waiting: Vec::new(),
                next_waiter: 0,
                retrieved: false,
                task: TaskState::new(name),
            }),
            sched,
            task,
        })
    }

    /// The loop this future's callbacks run on, if they run on a loop.
    pub(crate) fn loop_weak(&self) -> Option<&Weak<LoopShared>> {
        match &self.sched {
            Scheduler::Loop(weak) => Some(weak),
            _ => None,
        }
    }

    /// The header of the task this is the result of; `None` for a plain future.
    pub(crate) fn task_header(&self) -> Option<&TaskHeader> {
        self.task.as_ref()
    }

    /// Ready once the future is done; else registers `cx`'s waker under `slot`
    /// (given one on the first call, kept by the caller, replaced on later
    /// calls) so that completion wakes it. Done and registration are decided
    /// under one lock, so no completion is missed between them.
    pub(crate) fn poll_done(&self, slot: &mut Option<WaiterId>, cx: &Context<'_>) -> Poll<()> {
        let mut inner = lock(&self.inner);
        if !matches!(inner.state, State::Pending) {
            return Poll::Ready(());
        }
        inner.register_waker(slot, cx);
        Poll::Pending
    }

    /// [`poll_done`](Self::poll_done) that also gives the outcome, as
    /// [`result_cloned`](Self::result_cloned) would, under the same lock.
    pub(crate) fn poll_result(
        &self,
        slot: &mut Option<WaiterId>,
        cx: &Context<'_>,
    ) -> Poll<Result<T>>
    where
        T: Clone,
    {
        let mut inner = lock(&self.inner);
        if matches!(inner.state, State::Pending) {
            inner.register_waker(slot, cx);
            return Poll::Pending;
        }
        Poll::Ready(inner.outcome_cloned())
    }

    /// Drops the waker registered under `id` by [`poll_done`](Self::poll_done):
    /// an awaiter that stops waiting before completion.
    pub(crate) fn forget_waiter(&self, id: WaiterId) {
        lock(&self.inner)
            .waiting
            .retain(|w| !matches!(w, Waiting::Waker(w, _) if *w == id));
    }

    pub(crate) fn done(&self) -> bool {
        !matches!(lock(&self.inner).state, State::Pending)
    }

    pub(crate) fn cancelled(&self) -> bool {
        matches!(lock(&self.inner).state, State::Cancelled(_))
    }

    /// True when the future finished with an error (not a cancellation);
    /// does not mark the error retrieved.
    pub(crate) fn has_error(&self) -> bool {
        matches!(lock(&self.inner).state, State::Failed(_))
    }

    pub(crate) fn mark_retrieved(&self) {
        lock(&self.inner).retrieved = true;
    }

    /// Moves the future to a final state; false if it was already done.
    pub(crate) fn complete(self: &Arc<Self>, state: State<T>) -> bool {
        self.complete_with(|_| (state, ())).is_some()
    }

    /// Runs `f` on the task state under the core's lock.
    pub(crate) fn with_task_state<R>(&self, f: impl FnOnce(&mut TaskState) -> R) -> R {
        f(&mut lock(&self.inner).task)
    }

    /// Moves the future to the final state `decide` picks from the task
    /// state, under one lock (a task's end); `None` if it was already done.
    /// `decide`'s second value is given back to be dropped after the lock.
    ///
    /// Wakes the awaiters first, then runs the internal listeners, then
    /// schedules the done-callbacks (each kind in registration order).
    pub(crate) fn complete_with<R>(
        self: &Arc<Self>,
        decide: impl FnOnce(&mut TaskState) -> (State<T>, R),
    ) -> Option<R> {
        let (waiting, rest) = {
            let mut inner = lock(&self.inner);
            if !matches!(inner.state, State::Pending) {
                return None;
            }
            let (state, rest) = decide(&mut inner.task);
            inner.state = state;
            (std::mem::take(&mut inner.waiting), rest)
        };
        if !waiting.is_empty() {
            self.notify(waiting);
        }
        Some(rest)
    }

    /// Wakes, runs and schedules what waited for completion. Out of line: most
    /// completions have nobody waiting, and the loop over the list inlined
    /// into every completion costs that common path (create_task + await
    /// 2,789 -> 2,785).
    #[inline(never)]
    fn notify(self: &Arc<Self>, waiting: Vec<Waiting<T>>) {
        let (mut listeners, mut callbacks) = (Vec::new(), Vec::new());
        for w in waiting {
            match w {
                Waiting::Waker(_, waker) => waker.wake(),
                Waiting::Listener(listener) => listeners.push(listener),
                Waiting::Callback(cb) => callbacks.push(cb),
            }
        }
        for listener in listeners {
            listener();
        }
        if !callbacks.is_empty() {
            self.schedule_callbacks(callbacks);
        }
    }

    fn schedule_callbacks(self: &Arc<Self>, callbacks: Vec<DoneCallback<T>>) {
        let fut = Future { core: self.clone() };
        self.sched.schedule(
            "done-callbacks",
            Box::new(move || {
                for cb in callbacks {
                    let cb = cb.0.clone();
                    if let Err(err) = catch_panic("done_callback", || cb(&fut)) {
                        report(
                            fut.core.sched.loop_shared(),
                            ExceptionContext::new("Exception in callback Future.add_done_callback")
                                .with_error(err),
                        );
                    }
                }
            }),
        );
    }

    /// Registers an internal listener run synchronously right after completion
    /// (or at once if already done). Internal listeners never run user code.
    pub(crate) fn subscribe(&self, listener: Box<dyn FnOnce() + Send>) {
        {
            let mut inner = lock(&self.inner);
            if matches!(inner.state, State::Pending) {
                inner.waiting.push(Waiting::Listener(listener));
                return;
            }
        }
        listener();
    }

    /// Waits until done, without any cancellation handling.
    pub(crate) async fn wait_done(&self) {
        struct Forget<'a, T: Send + 'static>(&'a FutureCore<T>, Option<WaiterId>);
        impl<T: Send + 'static> Drop for Forget<'_, T> {
            fn drop(&mut self) {
                if let Some(id) = self.1.take() {
                    self.0.forget_waiter(id);
                }
            }
        }
        let mut waiting = Forget(self, None);
        std::future::poll_fn(|cx| {
            let polled = self.poll_done(&mut waiting.1, cx);
            if polled.is_ready() {
                waiting.1 = None; // completion took the waker already
            }
            polled
        })
        .await;
    }

    /// The outcome, marking an error as retrieved.
    pub(crate) fn result_cloned(&self) -> Result<T>
    where
        T: Clone,
    {
        lock(&self.inner).outcome_cloned()
    }

    pub(crate) fn take(&self) -> Result<T> {
        let mut inner = lock(&self.inner);
        inner.value()?;
        match std::mem::replace(&mut inner.state, State::Taken) {
            State::Finished(v) => Ok(v),
            _ => Err(Error::invalid_state("result is not set")),
        }
    }

    pub(crate) fn exception(&self) -> Result<Option<Error>> {
        let mut inner = lock(&self.inner);
        match &inner.state {
            State::Pending => Err(Error::invalid_state("exception is not set")),
            State::Cancelled(msg) => Err(Error::Cancelled(give_msg(msg))),
            State::Taken | State::Finished(_) => Ok(None),
            State::Failed(e) => {
                let e = Error::clone(e);
                inner.retrieved = true;
                Ok(Some(e))
            }
        }
    }

    fn describe(&self) -> &'static str {
        match lock(&self.inner).state {
            State::Pending => "pending",
            State::Cancelled(_) => "cancelled",
            State::Failed(_) => "finished with an error",
            State::Finished(_) | State::Taken => "finished",
        }
    }
}

impl<T: Send + 'static> CancelTarget for FutureCore<T> {
    /// A plain future is cancelled; a task's result core cancels its task
    /// (which then ends cancelled, or catches the cancel and carries on).
    fn cancel_target(self: Arc<Self>, msg: Option<String>) -> bool {
        match &self.task {
            Some(_) => TaskCell::cancel(&*self, msg),
            None => self.complete(State::Cancelled(keep_msg(msg))),
        }
    }
}

impl<T> Drop for FutureCore<T> {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        if inner.retrieved {
            return;
        }
        if let State::Failed(err) = &inner.state {
            let ctx = match &self.task {
                Some(task) => ExceptionContext::new("Task exception was never retrieved")
                    .with_task_name(inner.task.name_of(task.id)),
                None => ExceptionContext::new("Future exception was never retrieved"),
            }
            .with_error(Error::clone(err));
            let lp = match &self.sched {
                Scheduler::Loop(weak) => weak.upgrade(),
                _ => None,
            };
            report(lp, ctx);
        }
    }
}

/// Sends `ctx` to the loop's exception handler, or logs it with the default handler.
pub(crate) fn report(lp: Option<Arc<LoopShared>>, ctx: ExceptionContext) {
    match lp {
        Some(lp) => lp.call_exception_handler(ctx),
        None => crate::runtime::event_loop::default_exception_handler(&ctx),
    }
}

/// A callback for [`Future::add_done_callback`]; clone it to register it again
/// or to remove it later.
///
/// Two `DoneCallback`s are "the same callback" (for
/// [`remove_done_callback`](Future::remove_done_callback)) when one is a clone
/// of the other, mirroring asyncio's comparison of function objects.
///
/// # Examples
///
/// ```
/// use aioproto::{DoneCallback, Future};
///
/// let cb = DoneCallback::new(|f: &Future<i32>| println!("done: {:?}", f.result()));
/// let fut = Future::<i32>::new();
/// fut.add_done_callback(&cb);
/// fut.add_done_callback(&cb);
/// assert_eq!(fut.remove_done_callback(&cb), 2);
/// ```
pub struct DoneCallback<T>(Arc<DoneFn<T>>);

type DoneFn<T> = dyn Fn(&Future<T>) + Send + Sync;

impl<T> DoneCallback<T> {
    /// Wraps a closure that receives the finished future.
    pub fn new(f: impl Fn(&Future<T>) + Send + Sync + 'static) -> Self {
        DoneCallback(Arc::new(f))
    }
}

impl<T> Clone for DoneCallback<T> {
    fn clone(&self) -> Self {
        DoneCallback(self.0.clone())
    }
}

impl<T> fmt::Debug for DoneCallback<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DoneCallback").finish_non_exhaustive()
    }
}

/// asyncio's `Future`: a result that is set once and can be awaited by many.
///
/// A `Future` is a cheap [`Clone`] handle; all clones share one state, which
/// goes from *pending* to exactly one of *finished* (with a value or an
/// [`Error`]) or *cancelled*. Setting it again is an [`Error::InvalidState`],
/// never a panic.
///
/// Awaiting gives `Result<T>`: the value, the stored error, or
/// [`Error::Cancelled`] with the message given to
/// [`cancel_with_message`](Self::cancel_with_message). Any number of tasks may
/// await the same future (the value is cloned for each).
///
/// Done-callbacks always run *later* (on the loop's next iteration when the
/// future was created inside an [`EventLoop`](crate::EventLoop), else on a new
/// tokio task), never inside `set_result`, and in registration order.
///
/// An error that nobody retrieved (by `await`, [`result`](Self::result) or
/// [`exception`](Self::exception)) is reported through the loop's exception
/// handler as "Future exception was never retrieved" when the last handle drops.
///
/// When a [`Task`](crate::Task) awaiting a future is cancelled, the future is
/// cancelled too (as in asyncio).
///
/// # Examples
///
/// ```
/// use aioproto::{Future, create_task, sleep};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let fut = Future::new();
/// let setter = fut.clone();
/// create_task(async move {
///     sleep(Duration::from_millis(10)).await?;
///     setter.set_result("Done!")
/// });
/// assert_eq!(fut.await?, "Done!");
/// # Ok(()) }
/// ```
pub struct Future<T> {
    pub(crate) core: Arc<FutureCore<T>>,
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            core: self.core.clone(),
        }
    }
}

impl<T: Send + 'static> Default for Future<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Future {}>", self.core.describe())
    }
}

impl<T: Send + 'static> Future<T> {
    /// Creates a pending future bound to the running loop (or tokio runtime).
    ///
    /// Done-callbacks will run on that loop. Outside any runtime the future
    /// still works; its callbacks then run on a helper thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let fut = aioproto::Future::<u8>::new();
    /// assert!(!fut.done());
    /// ```
    pub fn new() -> Self {
        Future {
            core: FutureCore::new(Scheduler::current()),
        }
    }

    pub(crate) fn from_core(core: Arc<FutureCore<T>>) -> Self {
        Future { core }
    }

    /// Marks the future done with `value` and schedules its callbacks.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the future is already done or cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let fut = aioproto::Future::new();
    /// fut.set_result(42).unwrap();
    /// assert!(fut.set_result(1).is_err());
    /// assert_eq!(fut.result().unwrap(), 42);
    /// ```
    pub fn set_result(&self, value: T) -> Result<()> {
        if self.core.complete(State::Finished(value)) {
            Ok(())
        } else {
            Err(Error::invalid_state("future is already done"))
        }
    }

    /// Marks the future done with an error and schedules its callbacks.
    ///
    /// Storing [`Error::Cancelled`] here is allowed: the future is then
    /// *finished with a cancellation error* and [`cancelled`](Self::cancelled)
    /// stays false (asyncio's gather does exactly this).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the future is already done or cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{Error, Future};
    /// let fut = Future::<()>::new();
    /// fut.set_exception(Error::invalid_argument("bad")).unwrap();
    /// assert!(fut.exception().unwrap().is_some());
    /// ```
    pub fn set_exception(&self, error: Error) -> Result<()> {
        if self.core.complete(State::Failed(Box::new(error))) {
            Ok(())
        } else {
            Err(Error::invalid_state("future is already done"))
        }
    }

    /// Cancels the future; false if it was already done.
    ///
    /// Awaiters get [`Error::Cancelled`]`(None)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let fut = aioproto::Future::<()>::new();
    /// assert!(fut.cancel());
    /// assert!(fut.cancelled());
    /// assert!(!fut.cancel());
    /// ```
    pub fn cancel(&self) -> bool {
        self.core.complete(State::Cancelled(None))
    }

    /// Cancels the future with a message carried by [`Error::Cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// let fut = aioproto::Future::<()>::new();
    /// fut.cancel_with_message("my message");
    /// assert_eq!(fut.result().unwrap_err().to_string(), "cancelled: my message");
    /// ```
    pub fn cancel_with_message(&self, msg: impl Into<String>) -> bool {
        self.core
            .complete(State::Cancelled(keep_msg(Some(msg.into()))))
    }

    /// True once the future was cancelled.
    pub fn cancelled(&self) -> bool {
        self.core.cancelled()
    }

    /// True once the future is finished or cancelled.
    pub fn done(&self) -> bool {
        self.core.done()
    }

    /// The value (cloned), the stored error, or the cancellation.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] while pending ("result is not set") or after
    /// [`take_result`](Self::take_result); [`Error::Cancelled`] if cancelled;
    /// otherwise the error the future was finished with.
    ///
    /// # Examples
    ///
    /// ```
    /// let fut = aioproto::Future::<i32>::new();
    /// assert!(fut.result().is_err());
    /// ```
    pub fn result(&self) -> Result<T>
    where
        T: Clone,
    {
        self.core.result_cloned()
    }

    /// Moves the value out (for values that are not `Clone`).
    ///
    /// # Errors
    ///
    /// Like [`result`](Self::result); a second call gives
    /// [`Error::InvalidState`] ("result was already taken").
    ///
    /// # Examples
    ///
    /// ```
    /// let fut = aioproto::Future::new();
    /// fut.set_result(String::from("x")).unwrap();
    /// assert_eq!(fut.take_result().unwrap(), "x");
    /// assert!(fut.take_result().is_err());
    /// ```
    pub fn take_result(&self) -> Result<T> {
        self.core.take()
    }

    /// The stored error, `None` when finished with a value.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] while pending; [`Error::Cancelled`] if cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let fut = aioproto::Future::new();
    /// fut.set_result(1).unwrap();
    /// assert!(fut.exception().unwrap().is_none());
    /// ```
    pub fn exception(&self) -> Result<Option<Error>> {
        self.core.exception()
    }

    /// Registers `cb` to run once the future is done.
    ///
    /// The callback runs on a later loop iteration, even when the future is
    /// already done, never inside the call that finished it. Callbacks run in
    /// registration order. A panicking callback is reported through the
    /// exception handler and the others still run.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{DoneCallback, EventLoop, Future};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let lp = EventLoop::new()?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let fut = lp.run_until_complete(async { Future::<i32>::new() })?;
    /// let s = seen.clone();
    /// fut.add_done_callback(&DoneCallback::new(move |f: &Future<i32>| {
    ///     s.lock().unwrap().push(f.result().unwrap())
    /// }));
    /// fut.set_result(42)?;
    /// assert!(seen.lock().unwrap().is_empty()); // not synchronous
    /// lp.run_until_complete(aioproto::sleep(std::time::Duration::ZERO))??;
    /// assert_eq!(*seen.lock().unwrap(), [42]);
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn add_done_callback(&self, cb: &DoneCallback<T>) {
        let cb = cb.clone();
        {
            let mut inner = lock(&self.core.inner);
            if matches!(inner.state, State::Pending) {
                inner.waiting.push(Waiting::Callback(cb));
                return;
            }
        }
        self.core.schedule_callbacks(vec![cb]);
    }

    /// Removes every registration of `cb`; returns how many were removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{DoneCallback, Future};
    /// let fut = Future::<()>::new();
    /// let cb = DoneCallback::new(|_: &Future<()>| {});
    /// assert_eq!(fut.remove_done_callback(&cb), 0);
    /// ```
    pub fn remove_done_callback(&self, cb: &DoneCallback<T>) -> usize {
        let mut inner = lock(&self.core.inner);
        let before = inner.waiting.len();
        inner
            .waiting
            .retain(|w| !matches!(w, Waiting::Callback(c) if Arc::ptr_eq(&c.0, &cb.0)));
        before - inner.waiting.len()
    }
}

/// The future returned by awaiting an aioproto [`Future`], [`Task`](crate::Task)
/// or [`Gather`](crate::Gather).
///
/// It is a cancellation point: if the awaiting task is cancelled, the awaited
/// object is cancelled and this resolves to [`Error::Cancelled`].
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<T: Send + 'static> {
    inner: AwaitCore<T>,
}

impl<T: Send + 'static> Wait<T> {
    pub(crate) fn new(inner: AwaitCore<T>) -> Self {
        Wait { inner }
    }
}

impl<T: Send + 'static> fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait").finish_non_exhaustive()
    }
}

impl<T: Clone + Send + 'static> StdFuture for Wait<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx)
    }
}

impl<T: Clone + Send + 'static> IntoFuture for Future<T> {
    type Output = Result<T>;
    type IntoFuture = Wait<T>;
    fn into_future(self) -> Wait<T> {
        Wait::new(await_core(self.core, None))
    }
}

impl<T: Clone + Send + 'static> IntoFuture for &Future<T> {
    type Output = Result<T>;
    type IntoFuture = Wait<T>;
    fn into_future(self) -> Wait<T> {
        self.clone().into_future()
    }
}

#[cfg(test)]
mod tests;
