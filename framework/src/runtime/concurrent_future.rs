//! `run_coroutine_threadsafe` and the [`ConcurrentFuture`] it returns.

use std::fmt;
use std::future::Future as StdFuture;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::runtime::event_loop::EventLoop;
use crate::runtime::task::Task;
use crate::runtime::task_output::IntoTaskResult;
use crate::runtime::task_spawn::TaskValue;
use crate::util::lock;

impl EventLoop {
    /// Submits `fut` to this loop from any thread (asyncio's
    /// `run_coroutine_threadsafe`); the returned handle can be waited on with
    /// a blocking [`ConcurrentFuture::result`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// let l2 = lp.clone();
    /// let worker = std::thread::spawn(move || {
    ///     let cf = l2.run_coroutine_threadsafe(async { Ok(6 * 7) }).unwrap();
    ///     let v = cf.result(Some(std::time::Duration::from_secs(5)));
    ///     l2.stop();
    ///     v
    /// });
    /// lp.run_forever()?;
    /// assert_eq!(worker.join().unwrap()?, 42);
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn run_coroutine_threadsafe<F>(&self, fut: F) -> Result<ConcurrentFuture<TaskValue<F>>>
    where
        F: StdFuture + Send + 'static,
        F::Output: IntoTaskResult,
    {
        let task = self.create_task(fut)?;
        let signal = Arc::new((Mutex::new(false), Condvar::new()));
        let s = signal.clone();
        task.core().subscribe(Box::new(move || {
            *lock(&s.0) = true;
            s.1.notify_all();
        }));
        Ok(ConcurrentFuture { task, signal })
    }
}

/// A handle to a coroutine submitted with
/// [`EventLoop::run_coroutine_threadsafe`], usable from any thread
/// (asyncio's `concurrent.futures.Future`).
pub struct ConcurrentFuture<T> {
    task: Task<T>,
    signal: Arc<(Mutex<bool>, Condvar)>,
}

impl<T: Send + 'static> fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrentFuture")
            .field("task", &self.task)
            .finish()
    }
}

impl<T: Send + 'static> ConcurrentFuture<T> {
    /// Blocks the calling thread until the coroutine is done or `timeout` passes.
    ///
    /// Do not call this on the loop's own thread: it would block the loop.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if `timeout` passed; otherwise the coroutine's
    /// error, or [`Error::Cancelled`].
    pub fn result(&self, timeout: Option<Duration>) -> Result<T>
    where
        T: Clone,
    {
        let (m, cv) = &*self.signal;
        let mut done = lock(m);
        match timeout {
            None => {
                while !*done {
                    done = cv
                        .wait(done)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
            Some(t) => {
                let deadline = std::time::Instant::now() + t;
                while !*done {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return Err(Error::Timeout("run_coroutine_threadsafe result"));
                    }
                    done = cv
                        .wait_timeout(done, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            }
        }
        drop(done);
        self.task.result()
    }

    /// Cancels the underlying task; false if it is already done.
    pub fn cancel(&self) -> bool {
        self.task.cancel()
    }

    /// True once the coroutine finished in any way.
    pub fn done(&self) -> bool {
        self.task.done()
    }

    /// The task running the coroutine.
    pub fn task(&self) -> &Task<T> {
        &self.task
    }
}
