//! asyncio's `Task`: a named, cancellable unit of concurrent work.
//!
//! See [`Task`] for how a cancel is delivered.

use std::fmt;
use std::future::{Future as StdFuture, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::runtime::current::{self, PollGuard};
use crate::runtime::future::{
    CancelMsg, DoneCallback, Future, FutureCore, State, Wait, WaiterId, give_msg, keep_msg,
};
use crate::runtime::task_output::IntoTaskResult;
use crate::runtime::task_ref::TaskRef;
use crate::util::catch_panic;

/// Something a task can be waiting on, which a cancel of that task cancels.
pub(crate) trait CancelTarget: Send + Sync {
    fn cancel_target(self: Arc<Self>, msg: Option<String>) -> bool;
}

/// A task's mutable state: its name and the cancel protocol. It lives under
/// the result core's lock, next to the result (see [`FutureCore`]), so that a
/// task's end records both under one lock.
pub(crate) struct TaskState {
    /// `None` until named: the name is then `Task-{id}`.
    pub(crate) name: Option<String>,
    pub(crate) must_cancel: bool,
    pub(crate) cancel_msg: CancelMsg,
    pub(crate) num_cancels: u32,
    pub(crate) done: bool,
    pub(crate) fut_waiter: Option<(u64, Arc<dyn CancelTarget>)>,
    /// The waker of the body's last poll that returned `Pending`, for a cancel
    /// to wake it. Stored after that poll, not before every poll, so a body
    /// that finishes in one poll never clones its waker.
    pub(crate) waker: Option<Waker>,
    /// A cancel found no waker to wake (the body had not suspended yet): the
    /// next `Pending` poll wakes the task itself, once.
    pub(crate) missed_wake: bool,
}

impl TaskState {
    /// The state of a new task (plain futures carry one too, never used).
    pub(crate) const fn new(name: Option<String>) -> Self {
        TaskState {
            name,
            must_cancel: false,
            cancel_msg: None,
            num_cancels: 0,
            done: false,
            fut_waiter: None,
            waker: None,
            missed_wake: false,
        }
    }

    /// The name of task `id`: the one given, else `Task-{id}`.
    pub(crate) fn name_of(&self, id: u64) -> String {
        self.name.clone().unwrap_or_else(|| format!("Task-{id}"))
    }
}

/// A task's fixed identity, kept inside its result [`FutureCore`] (one
/// allocation for both); its mutable state is the core's [`TaskState`].
pub(crate) struct TaskHeader {
    pub(crate) id: u64,
    /// `must_cancel`, readable without the lock: every cancellation point
    /// asks [`take_cancel`], and almost always the answer is no. Written only
    /// under the core's lock, together with `must_cancel`.
    pub(crate) cancel_pending: AtomicBool,
    /// The id of the loop the task runs on (0: a plain tokio runtime's); the
    /// loop itself is the result core's scheduler.
    pub(crate) loop_id: u64,
}

/// The header a core without one would report. Never reached: the only cores
/// seen as tasks are made by the spawn path, always with a header; this keeps
/// that invariant from needing a panic.
static NO_TASK: TaskHeader = TaskHeader::new(0, 0);

/// A task seen without its value type: its result core behind a trait object
/// (the same allocation as the `Task<T>`'s, so erasing costs no allocation).
pub(crate) type TaskShared = dyn TaskCell;

/// What the type-erased side of a task needs from its result core: the task
/// operations, written once here against the core's lock.
pub(crate) trait TaskCell: Send + Sync {
    fn header(&self) -> &TaskHeader;
    fn cancelled(&self) -> bool;
    /// Runs `listener` once the result is set (at once if it is).
    fn subscribe(&self, listener: Box<dyn FnOnce() + Send>);
    /// The error the task ended with, marking it retrieved.
    fn error(&self) -> Option<Error>;
    /// Requests cancellation (see [`Task::cancel`]); false once done.
    fn cancel(&self, msg: Option<String>) -> bool;
    fn uncancel(&self) -> u32;
    fn cancelling(&self) -> u32;
    /// True once the body has ended (the result may be a moment from set).
    fn task_done(&self) -> bool;
    /// Takes a pending cancel request: `Some(message)` if there was one.
    fn take_cancel_request(&self) -> Option<Option<String>>;
    fn name(&self) -> String;
    fn set_name(&self, name: String);
    /// Records (or, with `None`, clears if still `token`'s) what the task is
    /// waiting on, which a cancel of the task cancels.
    fn set_waiting_on(&self, token: u64, target: Option<Arc<dyn CancelTarget>>);
}

impl<T: Send + 'static> TaskCell for FutureCore<T> {
    fn header(&self) -> &TaskHeader {
        self.task_header().unwrap_or(&NO_TASK)
    }
    fn cancelled(&self) -> bool {
        FutureCore::cancelled(self)
    }
    fn subscribe(&self, listener: Box<dyn FnOnce() + Send>) {
        FutureCore::subscribe(self, listener);
    }
    fn error(&self) -> Option<Error> {
        self.exception().ok().flatten()
    }

    fn cancel(&self, msg: Option<String>) -> bool {
        let waiter = self.with_task_state(|st| {
            if st.done {
                return Err(());
            }
            st.num_cancels += 1;
            Ok(st.fut_waiter.as_ref().map(|(_, w)| w.clone()))
        });
        let Ok(waiter) = waiter else {
            return false;
        };
        if let Some(waiter) = waiter
            && waiter.cancel_target(msg.clone())
        {
            return true;
        }
        let waker = self.with_task_state(|st| {
            if st.done {
                return None;
            }
            st.must_cancel = true;
            self.header().cancel_pending.store(true, Ordering::Release);
            st.cancel_msg = keep_msg(msg);
            st.missed_wake = st.waker.is_none();
            st.waker.clone()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    fn uncancel(&self) -> u32 {
        self.with_task_state(|st| {
            if st.num_cancels > 0 {
                st.num_cancels -= 1;
                if st.num_cancels == 0 {
                    st.must_cancel = false;
                    self.header().cancel_pending.store(false, Ordering::Release);
                }
            }
            st.num_cancels
        })
    }

    fn cancelling(&self) -> u32 {
        self.with_task_state(|st| st.num_cancels)
    }

    fn task_done(&self) -> bool {
        self.with_task_state(|st| st.done)
    }

    fn take_cancel_request(&self) -> Option<Option<String>> {
        // `cancel_pending` mirrors `must_cancel`: the lock only when set.
        if !self.header().cancel_pending.load(Ordering::Acquire) {
            return None;
        }
        self.with_task_state(|st| {
            if !st.must_cancel {
                return None;
            }
            st.must_cancel = false;
            self.header().cancel_pending.store(false, Ordering::Release);
            Some(st.cancel_msg.take().map(String::from))
        })
    }

    fn name(&self) -> String {
        let id = TaskCell::header(self).id;
        self.with_task_state(|st| st.name_of(id))
    }

    fn set_name(&self, name: String) {
        self.with_task_state(|st| st.name = Some(name));
    }

    fn set_waiting_on(&self, token: u64, target: Option<Arc<dyn CancelTarget>>) {
        // A target replaced or cleared here is dropped after the lock.
        let _old = self.with_task_state(|st| match target {
            Some(target) => st.fut_waiter.replace((token, target)),
            None if st.fut_waiter.as_ref().is_some_and(|(t, _)| *t == token) => {
                st.fut_waiter.take()
            }
            None => None,
        });
    }
}

impl TaskHeader {
    /// The header of a new task `id` of the loop `loop_id`.
    #[inline]
    pub(crate) const fn new(id: u64, loop_id: u64) -> Self {
        TaskHeader {
            id,
            cancel_pending: AtomicBool::new(false),
            loop_id,
        }
    }
}

/// Takes the current task's pending cancel request, if any.
pub(crate) fn take_cancel() -> Option<Error> {
    take_cancel_message().map(Error::Cancelled)
}

/// [`take_cancel`] giving the request's message rather than the error: the
/// answer is almost always no, and a `None` this small costs less to pass
/// back than an `Option<Error>`.
fn take_cancel_message() -> Option<Option<String>> {
    current::with_current_task(|task| task.take_cancel_request()).flatten()
}

/// Records in the current task what it is waiting on; cleared on drop.
struct WaiterGuard {
    task: Option<(Arc<TaskShared>, u64)>,
}

static NEXT_WAITER: AtomicU64 = AtomicU64::new(1);

impl WaiterGuard {
    fn register(target: Arc<dyn CancelTarget>) -> WaiterGuard {
        let task = current::current_task().map(|t| {
            let token = NEXT_WAITER.fetch_add(1, Ordering::Relaxed);
            t.set_waiting_on(token, Some(target));
            (t, token)
        });
        WaiterGuard { task }
    }
}

impl Drop for WaiterGuard {
    fn drop(&mut self) {
        if let Some((task, token)) = &self.task {
            task.set_waiting_on(*token, None);
        }
    }
}

/// Awaits a future core as a cancellation point: a cancel of the current task
/// cancels `target` (the thing being awaited; `None`: the core itself, which
/// for a task's result cancels the task) and its cancellation surfaces.
pub(crate) fn await_core<T: Clone + Send + 'static>(
    core: Arc<FutureCore<T>>,
    target: Option<Arc<dyn CancelTarget>>,
) -> AwaitCore<T> {
    AwaitCore {
        core,
        target,
        guard: None,
        slot: None,
    }
}

/// The future [`await_core`] returns, written out by hand so that awaiting a
/// `Task` or `Future` allocates nothing: an `async fn` here would have to be
/// boxed to be named in [`Wait`].
///
/// | `slot` | `guard` | meaning |
/// |---|---|---|
/// | `None` | `None` | not polled yet, or done |
/// | `Some` | `Some` | waiting: the core will wake us, a cancel of the awaiting task goes to `target` |
pub(crate) struct AwaitCore<T: Send + 'static> {
    core: Arc<FutureCore<T>>,
    /// `None`: the core itself (a `Future`, or a `Task`'s result), which saves
    /// a second reference count per await.
    target: Option<Arc<dyn CancelTarget>>,
    guard: Option<WaiterGuard>,
    slot: Option<WaiterId>,
}

impl<T: Clone + Send + 'static> StdFuture for AwaitCore<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = &mut *self;
        // A cancel of the awaiting task (pending before the await, or arriving
        // while it waits) cancels the target; it surfaces here only when the
        // target was already done, else the target's cancellation does.
        if let Some(msg) = take_cancel_message()
            && !this.target().cancel_target(msg.clone())
        {
            this.stop_waiting();
            return Poll::Ready(Err(Error::Cancelled(msg)));
        }
        match this.core.poll_result(&mut this.slot, cx) {
            Poll::Ready(outcome) => {
                // Completion took our waker with the others.
                this.slot = None;
                this.guard = None;
                Poll::Ready(outcome)
            }
            Poll::Pending => {
                if this.guard.is_none() {
                    this.guard = Some(WaiterGuard::register(this.target()));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: Send + 'static> AwaitCore<T> {
    fn target(&self) -> Arc<dyn CancelTarget> {
        match &self.target {
            Some(target) => target.clone(),
            None => self.core.clone(),
        }
    }

    fn stop_waiting(&mut self) {
        if let Some(id) = self.slot.take() {
            self.core.forget_waiter(id);
        }
        self.guard = None;
    }
}

impl<T: Send + 'static> Drop for AwaitCore<T> {
    fn drop(&mut self) {
        self.stop_waiting();
    }
}

/// Makes any future a cancellation point.
///
/// The result is `Err(Error::Cancelled(_))` if the current [`Task`] is (or
/// gets) cancelled before `fut` completes; `fut` is then dropped. Outside a
/// task this just awaits `fut`.
///
/// # Cancel safety
///
/// As cancel-safe as `fut`.
///
/// # Examples
///
/// ```
/// use aioproto::{cancellable, create_task};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let task = create_task(async {
///     cancellable(tokio::time::sleep(Duration::from_secs(10))).await?;
///     Ok(())
/// });
/// tokio::task::yield_now().await;
/// task.cancel();
/// assert!(task.await.unwrap_err().is_cancelled());
/// # }
/// ```
pub async fn cancellable<F: StdFuture>(fut: F) -> Result<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(move |cx| {
        if let Some(err) = take_cancel() {
            return Poll::Ready(Err(err));
        }
        fut.as_mut().poll(cx).map(Ok)
    })
    .await
}

/// Drives a task's body (held, pinned, next to it in the spawned future) and
/// records its outcome.
pub(crate) struct TaskRunner<T: Send + 'static> {
    /// The body was polled once (only this runner polls it, so no lock).
    pub(crate) started: bool,
    pub(crate) finished: bool,
    /// The task's result core, which holds its header.
    pub(crate) result: Arc<FutureCore<T>>,
}

impl<T: Send + 'static> TaskRunner<T> {
    fn header(&self) -> &TaskHeader {
        TaskCell::header(&*self.result)
    }

    /// Keeps `cx`'s waker for a cancel to wake, and replays a wake that a
    /// cancel arriving before the first suspension had nowhere to send.
    fn register_waker(&self, cx: &Context<'_>) {
        let missed = self.result.with_task_state(|st| {
            if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                st.waker = Some(cx.waker().clone());
            }
            std::mem::take(&mut st.missed_wake)
        });
        if missed {
            cx.waker().wake_by_ref();
        }
    }

    /// Ends the task with `outcome`: marks it done and sets its result under
    /// one lock (a cancel request still pending turns a value into a
    /// cancellation).
    fn finish(&mut self, outcome: Result<T>) {
        self.finished = true;
        // What it was waiting on and its waker are dropped after the lock.
        let _cleared = self.result.complete_with(|st| {
            st.done = true;
            let cleared = (st.fut_waiter.take(), st.waker.take());
            let state = match outcome {
                Ok(_) if st.must_cancel => State::Cancelled(st.cancel_msg.take()),
                Ok(v) => State::Finished(v),
                Err(Error::Cancelled(m)) => State::Cancelled(keep_msg(m)),
                Err(e) => State::Failed(Box::new(e)),
            };
            (state, cleared)
        });
    }
}

impl<T: Send + 'static> TaskRunner<T> {
    pub(crate) fn poll_body<F>(&mut self, fut: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<()>
    where
        F: StdFuture,
        F::Output: IntoTaskResult<Output = T>,
    {
        let this = self;
        if this.finished {
            return Poll::Ready(());
        }
        if !this.started {
            this.started = true;
            // `cancel_pending` mirrors `must_cancel`: the lock only when set.
            if this.header().cancel_pending.load(Ordering::Acquire) {
                let cancelled = this
                    .result
                    .with_task_state(|st| st.must_cancel.then(|| give_msg(&st.cancel_msg)));
                if let Some(msg) = cancelled {
                    // Cancelled before it ever ran: the body never starts.
                    this.finish(Err(Error::Cancelled(msg)));
                    return Poll::Ready(());
                }
            }
        }
        let (guard, slow) = PollGuard::enter(this.result.clone(), this.result.loop_weak());
        let start = slow.map(|_| Instant::now());
        let polled = catch_panic("task", || fut.poll(cx));
        drop(guard);
        if let (Some(start), Some(threshold)) = (start, slow) {
            let took = start.elapsed();
            if took >= threshold
                && let Some(lp) = this.result.loop_weak().and_then(Weak::upgrade)
            {
                lp.warn_slow(
                    &format!("<Task name='{}'>", TaskCell::name(&*this.result)),
                    took,
                );
            }
        }
        match polled {
            Ok(Poll::Pending) => {
                this.register_waker(cx);
                Poll::Pending
            }
            Ok(Poll::Ready(outcome)) => {
                this.finish(outcome.into_task_result());
                Poll::Ready(())
            }
            Err(err) => {
                this.finish(Err(err));
                Poll::Ready(())
            }
        }
    }
}

impl<T: Send + 'static> Drop for TaskRunner<T> {
    fn drop(&mut self) {
        if !self.finished {
            // The runtime dropped the task before it finished (shutdown).
            tracing::debug!(task = %TaskCell::name(&*self.result), "Task was destroyed but it is pending!");
            self.finish(Err(Error::Cancelled(Some("task was destroyed".into()))));
        }
    }
}

/// asyncio's `Task`: a future running concurrently, with a name, that can be
/// cancelled and awaited.
///
/// Created by [`create_task`](crate::create_task),
/// [`create_task_named`](crate::create_task_named),
/// [`create_eager_task`](crate::create_eager_task),
/// [`EventLoop::create_task`](crate::EventLoop::create_task) or
/// [`TaskGroup::create_task`](crate::TaskGroup::create_task). The body is any
/// future whose output is an [`aioproto::Result<T>`](crate::Result) or a plain
/// value (see [`IntoTaskResult`]); it starts running
/// on the current loop, whether or not anyone awaits the `Task`. Dropping
/// every `Task` handle does **not** stop the task.
///
/// `Task` is a cheap `Clone` handle. Awaiting it (by value or `&task`) gives
/// its `Result<T>` and is a cancellation point: cancelling the awaiting task
/// cancels this one too, as in asyncio. See [Cancellation](#cancellation) for
/// how a cancel is delivered.
///
/// An error that nobody retrieved is reported through the loop's exception
/// handler as "Task exception was never retrieved" once the last handle (a `Task`
/// or a [`TaskRef`]) drops.
/// A panic in the body ends the task with [`Error::CallbackPanicked`].
///
/// # Cancellation (and how it differs from asyncio)
///
/// Rust cannot throw an exception into a suspended future, so a cancel is a
/// *request* recorded on the task. It is delivered as [`Error::Cancelled`] by
/// the next **cancellation point** the task awaits: every awaitable in this
/// crate ([`sleep`](crate::sleep), awaiting a [`Future`], a [`Task`], a
/// [`Gather`](crate::Gather), [`Queue::get`](crate::Queue::get),
/// [`Lock::acquire`](crate::Lock::acquire), …) and anything wrapped in
/// [`cancellable`]. Like asyncio, if the task is awaiting a [`Future`] or
/// another task, that one is cancelled instead and its cancellation surfaces.
/// The task may catch the error (match on it) and carry on; it ends
/// *cancelled* only if it returns `Err(Error::Cancelled(_))`, or returns while
/// a cancel request is still pending (asyncio's `test_cancel_at_end`).
///
/// Futures that are not cancellation points (a raw `tokio::time::sleep`, a
/// socket read) do not see the request until they complete; wrap them in
/// [`cancellable`] to make them one.
///
/// # Examples
///
/// ```
/// use aioproto::{create_task_named, sleep};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let task = create_task_named("worker", async {
///     sleep(Duration::from_millis(1)).await?;
///     Ok(42)
/// });
/// assert_eq!(task.name(), "worker");
/// assert_eq!(task.await?, 42);
/// # Ok(()) }
/// ```
pub struct Task<T> {
    /// The task's result, whose core also holds the task's header.
    pub(crate) result: Future<T>,
}

impl<T> Clone for Task<T> {
    fn clone(&self) -> Self {
        Task {
            result: self.result.clone(),
        }
    }
}

impl<T: Send + 'static> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Task name='{}' {:?}>", self.cell().name(), self.result)
    }
}

impl<T: Send + 'static> Task<T> {
    /// The task seen through its type-erased operations.
    fn cell(&self) -> &TaskShared {
        &*self.result.core
    }

    /// The task's name (`Task-N` unless one was given).
    pub fn name(&self) -> String {
        self.cell().name()
    }

    /// Renames the task.
    pub fn set_name(&self, name: impl Into<String>) {
        self.cell().set_name(name.into());
    }

    /// A process-unique id.
    pub fn id(&self) -> u64 {
        self.cell().header().id
    }

    /// Requests cancellation; false if the task is already done.
    ///
    /// Returns true on *every* call while the task is pending and counts the
    /// calls (see [`cancelling`](Self::cancelling)). The request is delivered
    /// as [`Error::Cancelled`] at the task's next cancellation point; if the
    /// task is awaiting a future or task, that is cancelled instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let task = aioproto::create_task(async {
    ///     aioproto::sleep(std::time::Duration::from_secs(100)).await
    /// });
    /// assert!(task.cancel());
    /// assert!(task.cancel());
    /// assert_eq!(task.cancelling(), 2);
    /// assert!(task.clone().await.unwrap_err().is_cancelled());
    /// assert!(task.cancelled());
    /// assert!(!task.cancel());
    /// # }
    /// ```
    pub fn cancel(&self) -> bool {
        self.cell().cancel(None)
    }

    /// Like [`cancel`](Self::cancel), with a message carried by [`Error::Cancelled`].
    pub fn cancel_with_message(&self, msg: impl Into<String>) -> bool {
        self.cell().cancel(Some(msg.into()))
    }

    /// How many cancel requests are pending (asyncio's `cancelling()`).
    pub fn cancelling(&self) -> u32 {
        self.cell().cancelling()
    }

    /// Withdraws one cancel request; at zero a not-yet-delivered request is dropped.
    ///
    /// Returns the remaining count.
    pub fn uncancel(&self) -> u32 {
        self.cell().uncancel()
    }

    /// True once the task finished, failed or was cancelled.
    pub fn done(&self) -> bool {
        self.result.done()
    }

    /// True if the task ended cancelled.
    pub fn cancelled(&self) -> bool {
        self.result.cancelled()
    }

    /// The task's value (cloned).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] while running; [`Error::Cancelled`] if it was
    /// cancelled; otherwise the error it returned.
    pub fn result(&self) -> Result<T>
    where
        T: Clone,
    {
        self.result.result()
    }

    /// Moves the task's value out (for values that are not `Clone`).
    ///
    /// # Errors
    ///
    /// Like [`result`](Self::result); a second call gives [`Error::InvalidState`].
    pub fn take_result(&self) -> Result<T> {
        self.result.take_result()
    }

    /// The error the task ended with, `None` if it returned a value.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] while running; [`Error::Cancelled`] if cancelled.
    pub fn exception(&self) -> Result<Option<Error>> {
        self.result.exception()
    }

    /// Registers a callback run (on a later loop iteration) when the task is done.
    ///
    /// The callback receives the task's result as a [`Future`].
    pub fn add_done_callback(&self, cb: &DoneCallback<T>) {
        self.result.add_done_callback(cb)
    }

    /// Removes every registration of `cb`; returns how many were removed.
    pub fn remove_done_callback(&self, cb: &DoneCallback<T>) -> usize {
        self.result.remove_done_callback(cb)
    }

    /// A type-erased handle to this task.
    pub fn task_ref(&self) -> TaskRef {
        TaskRef {
            shared: self.result.core.clone(),
        }
    }

    pub(crate) fn core(&self) -> &Arc<FutureCore<T>> {
        &self.result.core
    }

    /// The task's result core, which as a cancel target cancels the task.
    pub(crate) fn cancel_target(&self) -> Arc<dyn CancelTarget> {
        self.result.core.clone()
    }
}

impl<T: Clone + Send + 'static> IntoFuture for Task<T> {
    type Output = Result<T>;
    type IntoFuture = Wait<T>;
    fn into_future(self) -> Wait<T> {
        Wait::new(await_core(self.result.core, None))
    }
}

impl<T: Clone + Send + 'static> IntoFuture for &Task<T> {
    type Output = Result<T>;
    type IntoFuture = Wait<T>;
    fn into_future(self) -> Wait<T> {
        self.clone().into_future()
    }
}

#[cfg(test)]
mod tests;
