//! [`run`] and [`Runner`]: asyncio's `asyncio.run(main())` and
//! `asyncio.Runner`, which clean up after the main future.

use std::fmt;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::runtime::event_loop::{EventLoop, EventLoopBuilder, ExceptionContext};
use crate::runtime::task_output::IntoTaskResult;
use crate::runtime::task_spawn::{inline_task, tasks_of_loop};
use crate::util::lock;

/// Runs `main` on a fresh single-threaded [`EventLoop`], cleans up, closes the
/// loop, and returns `main`'s result (asyncio's `asyncio.run(main())`).
///
/// `main` runs as the loop's main [`Task`](crate::Task) (so
/// [`current_task`](crate::current_task) and [`TaskGroup`](crate::TaskGroup)
/// see it), polled in place: it need be neither `Send` nor `'static`. Its
/// output is an [`aioproto::Result<T>`](crate::Result) or a plain value (see
/// [`IntoTaskResult`]), so the `Result` comes back flat.
///
/// Once `main` is done, as asyncio does:
///
/// 1. every task of the loop still pending is cancelled, and awaited, so its
///    cleanup (code after a cancelled `await`, a `TaskGroup` exit) runs; a
///    task that then fails with something other than the cancellation is
///    reported to the exception handler ("unhandled exception during
///    aioproto::run() shutdown");
/// 2. the default executor is shut down
///    ([`EventLoop::shutdown_default_executor`], up to 300 s for jobs still
///    running);
/// 3. the loop is closed.
///
/// A task that ignores its cancellation and never finishes keeps step 1 from
/// ending, as in asyncio. Unlike asyncio's, no `SIGINT` handler is installed:
/// Ctrl-C keeps its default action unless you add one with
/// [`EventLoop::add_signal_handler`].
///
/// # Errors
///
/// `main`'s error; [`Error::Cancelled`] if the main task was cancelled;
/// [`Error::InvalidState`] when called inside a tokio runtime (asyncio: "cannot
/// be called from a running event loop"); [`Error::Io`] if the runtime cannot
/// be created.
///
/// # Panics
///
/// None: a panic in `main` ends the main task with
/// [`Error::CallbackPanicked`].
///
/// # Examples
///
/// ```
/// use aioproto::{create_task, sleep};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// fn main() -> aioproto::Result<()> {
///     let cleaned_up = Arc::new(AtomicBool::new(false));
///     let flag = cleaned_up.clone();
///     let answer = aioproto::run(async move {
///         // A task main never awaits: run cancels it and waits for its cleanup.
///         create_task(async move {
///             let outcome = sleep(Duration::from_secs(3600)).await;
///             flag.store(true, Ordering::SeqCst);
///             outcome
///         });
///         sleep(Duration::from_millis(1)).await?;
///         Ok(42)
///     })?;
///     assert_eq!(answer, 42);
///     assert!(cleaned_up.load(Ordering::SeqCst));
///     Ok(())
/// }
/// ```
pub fn run<F>(main: F) -> Result<<F::Output as IntoTaskResult>::Output>
where
    F: IntoFuture,
    F::Output: IntoTaskResult,
{
    let runner = Runner::new();
    let out = runner.run(main);
    let closed = runner.close();
    let value = out?;
    closed.map(|()| value)
}

/// Runs several futures on one loop, then cleans up (asyncio's
/// `asyncio.Runner`).
///
/// The loop is made on first use (by [`run`](Self::run) or
/// [`get_loop`](Self::get_loop)) from the builder given to
/// [`with_builder`](Self::with_builder) (asyncio's `loop_factory`;
/// single-threaded by default). [`close`](Self::close), or dropping the
/// runner, does the cleanup [`run`] describes: cancel and await
/// the tasks left, shut down the default executor, close the loop.
///
/// # Examples
///
/// ```
/// use aioproto::{Runner, get_running_loop};
///
/// let runner = Runner::new();
/// let first = runner.run(async { get_running_loop() })?;
/// let second = runner.run(async { get_running_loop() })?;
/// assert_eq!(first, second); // one loop for both
/// assert_eq!(runner.run(async { 1 + 1_i32 })?, 2);
/// assert_eq!(runner.run(async { Ok("flat") })?, "flat");
/// runner.close()?;
/// assert!(runner.run(async { 0_u8 }).is_err());
/// # Ok::<(), aioproto::Error>(())
/// ```
pub struct Runner {
    builder: EventLoopBuilder,
    state: Mutex<RunnerState>,
}

enum RunnerState {
    Fresh,
    Running(EventLoop),
    Closed,
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*lock(&self.state) {
            RunnerState::Fresh => "fresh",
            RunnerState::Running(_) => "initialized",
            RunnerState::Closed => "closed",
        };
        f.debug_struct("Runner").field("state", &state).finish()
    }
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner whose loop will be single-threaded ([`EventLoop::new`]).
    pub fn new() -> Runner {
        Runner::with_builder(EventLoopBuilder::default())
    }

    /// A runner whose loop will be built by `builder` (asyncio's
    /// `loop_factory`), e.g. multi-threaded or in debug mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut b = aioproto::EventLoop::builder();
    /// b.debug(true);
    /// let runner = aioproto::Runner::with_builder(b);
    /// assert!(runner.get_loop()?.get_debug());
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn with_builder(builder: EventLoopBuilder) -> Runner {
        Runner {
            builder,
            state: Mutex::new(RunnerState::Fresh),
        }
    }

    /// The runner's loop, made on first use.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] once closed; [`Error::Io`] if the runtime
    /// cannot be created.
    pub fn get_loop(&self) -> Result<EventLoop> {
        let mut state = lock(&self.state);
        match &*state {
            RunnerState::Running(lp) => Ok(lp.clone()),
            RunnerState::Closed => Err(Error::invalid_state("runner is closed")),
            RunnerState::Fresh => {
                let lp = self.builder.build()?;
                *state = RunnerState::Running(lp.clone());
                Ok(lp)
            }
        }
    }

    /// Runs `main` as the loop's main task until it is done, and returns its
    /// result (asyncio's `Runner.run`). Tasks it left running stay on the loop
    /// until the next `run` or [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// As for [`run`]; also [`Error::InvalidState`] once closed.
    pub fn run<F>(&self, main: F) -> Result<<F::Output as IntoTaskResult>::Output>
    where
        F: IntoFuture,
        F::Output: IntoTaskResult,
    {
        let lp = self.get_loop()?;
        let (task, body) = inline_task(&lp.shared, main.into_future());
        lp.run_until_complete(body)?;
        task.take_result()
    }

    /// Cancels and awaits the tasks left, shuts down the default executor and
    /// closes the loop (asyncio's `Runner.close`). Idempotent; dropping the
    /// runner does the same.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] when called inside a tokio runtime (the cleanup
    /// has to run the loop).
    pub fn close(&self) -> Result<()> {
        let lp = {
            let mut state = lock(&self.state);
            match std::mem::replace(&mut *state, RunnerState::Closed) {
                RunnerState::Running(lp) => lp,
                _ => return Ok(()),
            }
        };
        let l2 = lp.clone();
        let cleanup = lp.run_until_complete(async move {
            cancel_all_tasks(&l2).await;
            l2.shutdown_default_executor(None).await
        });
        let closed = lp.close();
        cleanup??;
        closed
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Err(err) = self.close() {
            tracing::debug!(target: "aioproto::event_loop", error = %err, "runner cleanup failed");
        }
    }
}

/// Cancels every pending task of `lp` and waits until each is done (asyncio's
/// `_cancel_all_tasks`); errors other than the cancellation are reported.
async fn cancel_all_tasks(lp: &EventLoop) {
    // The tasks' result cores are held from here on, so a failure is still
    // there to report (and is marked retrieved) once the task is done.
    let tasks = tasks_of_loop(lp.shared.id());
    if tasks.is_empty() {
        return;
    }
    let remaining = Arc::new(AtomicUsize::new(tasks.len()));
    let all_done = Arc::new(Notify::new());
    for task in &tasks {
        task.cancel(None);
        let (remaining, all_done) = (remaining.clone(), all_done.clone());
        task.subscribe(Box::new(move || {
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                all_done.notify_one();
            }
        }));
    }
    all_done.notified().await;
    for task in &tasks {
        if task.cancelled() {
            continue;
        }
        if let Some(err) = task.error() {
            lp.call_exception_handler(
                ExceptionContext::new("unhandled exception during aioproto::run() shutdown")
                    .with_error(err)
                    .with_task_name(task.name()),
            );
        }
    }
}
