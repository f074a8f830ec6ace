//! `sleep`, and asyncio's `timeout()` / `timeout_at()` context managers.

use std::fmt;
use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::error::{Error, Result};
use crate::runtime::task::cancellable;
use crate::runtime::task_ref::{TaskRef, current_task};
use crate::util::lock;

/// Suspends the current task for `delay` (asyncio's `sleep`).
///
/// A cancellation point: a cancelled task gets [`Error::Cancelled`] here.
/// A zero delay yields exactly once to the other tasks.
///
/// # Errors
///
/// [`Error::Cancelled`] if the calling task is cancelled.
///
/// # Cancel safety
///
/// Cancel-safe.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// aioproto::sleep(std::time::Duration::from_millis(1)).await?;
/// # Ok(()) }
/// ```
pub async fn sleep(delay: Duration) -> Result<()> {
    if delay.is_zero() {
        return cancellable(tokio::task::yield_now()).await;
    }
    if let Some(lp) = crate::runtime::event_loop::EventLoop::current() {
        // Inside an EventLoop, sleep on the loop's timer heap (as asyncio
        // does): sleeps due at the same time wake in the order they started.
        let fut = lp.create_future::<()>();
        let setter = fut.clone();
        if let Ok(handle) = lp.call_later(delay.as_secs_f64(), move || {
            let _ = setter.set_result(());
        }) {
            let woke = fut.await;
            if woke.is_err() {
                handle.cancel();
            }
            return woke;
        }
    }
    cancellable(tokio::time::sleep(delay)).await
}

/// Like [`sleep`], until a deadline.
///
/// # Errors
///
/// [`Error::Cancelled`] if the calling task is cancelled.
///
/// # Cancel safety
///
/// Cancel-safe.
pub async fn sleep_until(deadline: Instant) -> Result<()> {
    cancellable(tokio::time::sleep_until(deadline)).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Entered,
    Expiring,
    Expired,
    Exited,
}

struct TimeoutState {
    deadline: Option<Instant>,
    phase: Phase,
    waker: Option<Waker>,
}

/// asyncio's `timeout()` context manager, as a value whose
/// [`run`](Self::run) method plays the `async with` block.
///
/// On expiry the **current task is cancelled** (a cancel request delivered at
/// its next cancellation point); when the body then ends with
/// [`Error::Cancelled`], `run` turns that into [`Error::Timeout`] and
/// withdraws the cancel, so the task is not left cancelled. Only the
/// outermost expired timeout converts: inner code sees `Cancelled`. A foreign
/// cancel passes through as `Cancelled` with [`expired`](Self::expired) false.
///
/// Outside an aioproto [`Task`](crate::Task) there is nothing to cancel, so
/// on expiry the body is dropped and `run` returns [`Error::Timeout`]
/// (tokio's `timeout` behaviour).
///
/// `Timeout` is a cheap `Clone` handle, so the body can hold one to call
/// [`reschedule`](Self::reschedule).
///
/// # Examples
///
/// ```
/// use aioproto::{create_task, sleep, timeout};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// create_task(async {
///     let cm = timeout(Some(Duration::from_millis(10)));
///     let err = cm.run(sleep(Duration::from_secs(10))).await.unwrap_err();
///     assert!(err.is_timeout());
///     assert!(cm.expired());
///     Ok(())
/// }).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Timeout {
    st: Arc<Mutex<TimeoutState>>,
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.st);
        f.debug_struct("Timeout")
            .field("deadline", &st.deadline)
            .field("phase", &st.phase)
            .finish()
    }
}

/// A [`Timeout`] that expires `delay` from now (`None`: never, until rescheduled).
///
/// # Examples
///
/// See [`Timeout`].
pub fn timeout(delay: Option<Duration>) -> Timeout {
    timeout_at(delay.map(|d| Instant::now() + d))
}

/// A [`Timeout`] that expires at `when` (`None`: never, until rescheduled).
///
/// # Examples
///
/// ```
/// let cm = aioproto::timeout_at(Some(tokio::time::Instant::now()));
/// assert!(!cm.expired());
/// ```
pub fn timeout_at(when: Option<Instant>) -> Timeout {
    Timeout {
        st: Arc::new(Mutex::new(TimeoutState {
            deadline: when,
            phase: Phase::Created,
            waker: None,
        })),
    }
}

impl Timeout {
    /// The deadline, if any.
    pub fn when(&self) -> Option<Instant> {
        lock(&self.st).deadline
    }

    /// True if this timeout fired.
    pub fn expired(&self) -> bool {
        matches!(lock(&self.st).phase, Phase::Expiring | Phase::Expired)
    }

    /// Moves the deadline (`None` disables it).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] unless the timeout is running and not yet expired.
    pub fn reschedule(&self, when: Option<Instant>) -> Result<()> {
        let waker = {
            let mut st = lock(&self.st);
            match st.phase {
                Phase::Entered => {}
                Phase::Created => return Err(Error::invalid_state("timeout has not been entered")),
                Phase::Expiring | Phase::Expired => {
                    return Err(Error::invalid_state("timeout has already expired"));
                }
                Phase::Exited => return Err(Error::invalid_state("timeout is finished")),
            }
            st.deadline = when;
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Runs `body` under this timeout (the `async with` block).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if the deadline passed and the body ended cancelled;
    /// [`Error::InvalidState`] if this timeout was already used; otherwise
    /// whatever `body` returned.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops `body`.
    pub async fn run<T, F>(&self, body: F) -> Result<T>
    where
        F: StdFuture<Output = Result<T>>,
    {
        {
            let mut st = lock(&self.st);
            if st.phase != Phase::Created {
                return Err(Error::invalid_state("timeout has already been entered"));
            }
            st.phase = Phase::Entered;
        }
        let task = current_task();
        let entry_level = task.as_ref().map_or(0, TaskRef::cancelling);
        let run = TimeoutRun {
            body: Box::pin(body),
            sleep: None,
            st: self.st.clone(),
            task: task.clone(),
        };
        let outcome = run.await;
        let mut st = lock(&self.st);
        let expired = st.phase == Phase::Expiring;
        st.phase = if expired {
            Phase::Expired
        } else {
            Phase::Exited
        };
        drop(st);
        match (outcome, task) {
            (RunOutcome::Dropped, _) => Err(Error::Timeout("timeout")),
            (RunOutcome::Done(res), Some(task)) if expired => {
                if task.uncancel() <= entry_level && matches!(res, Err(Error::Cancelled(_))) {
                    Err(Error::Timeout("timeout"))
                } else {
                    res
                }
            }
            (RunOutcome::Done(res), _) => res,
        }
    }
}

enum RunOutcome<T> {
    Done(Result<T>),
    /// Expired outside a task: the body was dropped.
    Dropped,
}

struct TimeoutRun<F> {
    body: Pin<Box<F>>,
    sleep: Option<Pin<Box<Sleep>>>,
    st: Arc<Mutex<TimeoutState>>,
    task: Option<TaskRef>,
}

impl<T, F: StdFuture<Output = Result<T>>> StdFuture for TimeoutRun<F> {
    type Output = RunOutcome<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RunOutcome<T>> {
        let this = &mut *self;
        let fire = {
            let mut st = lock(&this.st);
            st.waker = Some(cx.waker().clone());
            match (st.phase, st.deadline) {
                (Phase::Entered, Some(deadline)) => {
                    if Instant::now() >= deadline {
                        st.phase = Phase::Expiring;
                        true
                    } else {
                        match &mut this.sleep {
                            Some(s) => {
                                if s.deadline() != deadline {
                                    s.as_mut().reset(deadline);
                                }
                            }
                            None => this.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
                        }
                        let s = this.sleep.as_mut().expect("set above");
                        if s.as_mut().poll(cx).is_ready() {
                            st.phase = Phase::Expiring;
                            true
                        } else {
                            false
                        }
                    }
                }
                _ => false,
            }
        };
        if fire {
            this.sleep = None;
            match &this.task {
                Some(task) => {
                    task.cancel();
                }
                None => return Poll::Ready(RunOutcome::Dropped),
            }
        }
        this.body.as_mut().poll(cx).map(RunOutcome::Done)
    }
}
