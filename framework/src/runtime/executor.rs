//! The loop's default executor: `run_in_executor` on tokio's blocking pool,
//! and `shutdown_default_executor`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::runtime::event_loop::EventLoop;
use crate::runtime::future::Future;
use crate::runtime::task::cancellable;
use crate::util::catch_panic;

/// asyncio's timeout for joining the default executor's threads (`THREAD_JOIN_TIMEOUT`).
pub(crate) const EXECUTOR_JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// What the loop knows about the jobs it handed to the blocking pool.
#[derive(Debug, Default)]
pub(crate) struct Executor {
    running: AtomicUsize,
    idle: Notify,
    shut_down: AtomicBool,
}

/// Counts one job as running until dropped (also when the job panics).
struct JobGuard<'a>(&'a Executor);

impl Drop for JobGuard<'_> {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Executor {
    fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    /// Waits until no job runs.
    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl EventLoop {
    /// Runs blocking `f` on tokio's blocking thread pool (asyncio's
    /// `loop.run_in_executor(None, f)`); the returned future gets its value
    /// (or [`Error::CallbackPanicked`] if it panicked).
    ///
    /// This is how to call blocking code (`std::thread::sleep`, file I/O,
    /// CPU-heavy work) without stalling the loop.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed or its default executor
    /// was shut down ([`shutdown_default_executor`](Self::shutdown_default_executor)).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// let fut = lp.run_in_executor(|| { std::thread::sleep(std::time::Duration::from_millis(5)); 7 })?;
    /// assert_eq!(lp.run_until_complete(fut)??, 7);
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn run_in_executor<T, F>(&self, f: F) -> Result<Future<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.check_open()?;
        if self.shared.executor.is_shut_down() {
            return Err(Error::invalid_state("executor shutdown has been called"));
        }
        let fut = self.create_future::<T>();
        let setter = fut.clone();
        let shared = self.shared.clone();
        shared.executor.running.fetch_add(1, Ordering::AcqRel);
        self.shared.handle().spawn_blocking(move || {
            let _running = JobGuard(&shared.executor);
            let _ = match catch_panic("run_in_executor", f) {
                Ok(v) => setter.set_result(v),
                Err(err) => setter.set_exception(err),
            };
        });
        Ok(fut)
    }

    /// Shuts the default executor down (asyncio's
    /// `loop.shutdown_default_executor(timeout)`): later
    /// [`run_in_executor`](Self::run_in_executor) calls fail, and this waits
    /// until the jobs already started have finished, or `timeout` (asyncio's
    /// default is 300 s) has passed.
    ///
    /// tokio's blocking threads belong to the runtime, so they are not joined
    /// here; what this waits for is every job this loop handed them. A job
    /// still running at the timeout is left to finish on its own, and a
    /// warning is logged, as in asyncio. [`run`](crate::run) and
    /// [`Runner::close`](crate::Runner::close) call this.
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the calling task is cancelled while it waits.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the executor stays shut down and the jobs keep running.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = aioproto::EventLoop::new()?;
    /// let l2 = lp.clone();
    /// lp.run_until_complete(async move {
    ///     let job = l2.run_in_executor(|| std::thread::sleep(Duration::from_millis(20)))?;
    ///     l2.shutdown_default_executor(Some(Duration::from_secs(10))).await?;
    ///     assert!(job.done()); // waited for it
    ///     assert!(l2.run_in_executor(|| ()).is_err());
    ///     Ok::<_, aioproto::Error>(())
    /// })??;
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub async fn shutdown_default_executor(&self, timeout: Option<Duration>) -> Result<()> {
        let executor = &self.shared.executor;
        executor.shut_down.store(true, Ordering::Release);
        let limit = timeout.unwrap_or(EXECUTOR_JOIN_TIMEOUT);
        if cancellable(tokio::time::timeout(limit, executor.wait_idle()))
            .await?
            .is_err()
        {
            tracing::warn!(
                target: "aioproto::event_loop",
                "The executor did not finish joining its threads within {} seconds.",
                limit.as_secs_f64()
            );
        }
        Ok(())
    }
}
