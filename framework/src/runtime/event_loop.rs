//! An asyncio-style event loop on top of a tokio runtime.
//!
//! | asyncio | aioproto |
//! |---|---|
//! | `asyncio.new_event_loop()` | [`EventLoop::new`] (single-threaded) / [`EventLoop::builder`] |
//! | `loop.run_until_complete(coro)` | [`EventLoop::run_until_complete`] |
//! | `loop.run_forever()` / `loop.stop()` / `loop.close()` | [`EventLoop::run_forever`] / [`EventLoop::stop`] / [`EventLoop::close`] |
//! | `loop.time()` | [`EventLoop::time`] (seconds, `f64`, monotonic) |
//! | `loop.call_soon(cb)` / `call_soon_threadsafe` | [`EventLoop::call_soon`] / [`EventLoop::call_soon_threadsafe`] |
//! | `loop.call_later(delay, cb)` / `call_at(when, cb)` | [`EventLoop::call_later`] / [`EventLoop::call_at`], giving a [`Handle`] |
//! | `loop.create_task(coro)` | [`EventLoop::create_task`] |
//! | `loop.run_in_executor(None, fn)` | [`EventLoop::run_in_executor`] |
//! | `loop.add_signal_handler(sig, cb)` | [`EventLoop::add_signal_handler`] / [`EventLoop::remove_signal_handler`] |
//! | `loop.set_exception_handler(h)` | [`EventLoop::set_exception_handler`], [`ExceptionContext`] |
//! | `loop.set_debug(True)`, `slow_callback_duration` | [`EventLoop::set_debug`], [`EventLoop::set_slow_callback_duration`] |
//! | `asyncio.get_running_loop()` | [`get_running_loop`] / [`EventLoop::current`] (any tokio runtime has a loop) |
//! | `asyncio.run_coroutine_threadsafe(coro, loop)` | [`EventLoop::run_coroutine_threadsafe`] |
//! | `asyncio.run(main())` / `asyncio.Runner` | [`run`](crate::run) / [`Runner`](crate::Runner) |
//! | `loop.shutdown_default_executor(timeout)` | [`EventLoop::shutdown_default_executor`] |
//! | `loop.set_task_factory(f)` / `get_task_factory()` | [`EventLoop::set_task_factory`] / [`EventLoop::get_task_factory`] |
//! | `asyncio.eager_task_factory`, `eager_start=True` | [`eager_task_factory`](crate::eager_task_factory), [`create_eager_task`](crate::create_eager_task) |
//! | `loop.add_reader(fd, cb)` / `remove_reader(fd)` (and `_writer`) | [`EventLoop::add_reader`] / [`EventLoop::remove_reader`] (and `_writer`) |
//! | `loop.sock_recv`, `sock_sendall`, `sock_accept`, `sock_connect`, … | [`EventLoop::sock_recv`], [`EventLoop::sock_sendall`], … on a `socket2::Socket` |
//! | `loop.getaddrinfo(host, port, …)` / `getnameinfo(sa, flags)` | [`EventLoop::getaddrinfo`] / [`EventLoop::getnameinfo`] |

use std::fmt;
use std::future::{Future as StdFuture, IntoFuture};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::runtime::{Builder as RtBuilder, Handle as RtHandle};

use crate::error::{Error, Result};
pub(crate) use crate::runtime::current::EnterGuard;
use crate::runtime::event_loop_impl::{HandleInner, cancel_job, new_job, now_secs};
pub(crate) use crate::runtime::event_loop_impl::{LoopShared, current_shared};
pub(crate) use crate::runtime::exception::{
    ExceptionContext, ExceptionHandler, default_exception_handler,
};
use crate::runtime::future::Future;
use crate::runtime::loop_registry;
use crate::runtime::task::Task;
use crate::runtime::task_factory::TaskFactory;
use crate::runtime::task_output::IntoTaskResult;
use crate::runtime::task_spawn::{SpawnOptions, TaskValue, spawn_in_loop};

/// A scheduled callback (asyncio's `Handle` / `TimerHandle`); cancel it to
/// stop it from running.
#[derive(Clone)]
pub struct Handle {
    inner: Arc<HandleInner>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("callback", &self.inner.header().name)
            .field("when", &self.inner.header().when)
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

impl Handle {
    /// Stops the callback from running (idempotent); what it captured is dropped at once.
    pub fn cancel(&self) {
        cancel_job(&*self.inner);
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.inner.header().cancelled.load(Ordering::Acquire)
    }

    /// For timer handles, when the callback is due, on the [`EventLoop::time`] clock.
    pub fn when(&self) -> Option<f64> {
        self.inner.header().when
    }
}

/// Builds an [`EventLoop`]: single-threaded by default, optionally multi-threaded.
#[derive(Debug, Clone)]
pub struct EventLoopBuilder {
    multi_thread: bool,
    workers: Option<usize>,
    debug: bool,
    slow: Duration,
}

impl Default for EventLoopBuilder {
    fn default() -> Self {
        EventLoopBuilder {
            multi_thread: false,
            workers: None,
            debug: std::env::var_os("AIOPROTO_DEBUG").is_some_and(|v| !v.is_empty() && v != "0"),
            slow: Duration::from_millis(100),
        }
    }
}

impl EventLoopBuilder {
    /// Uses a multi-thread tokio runtime: tasks may run in parallel, so
    /// callback order across tasks is no longer deterministic. Default: off.
    pub fn multi_thread(&mut self, on: bool) -> &mut Self {
        self.multi_thread = on;
        self
    }

    /// Number of worker threads for a multi-thread loop (default: one per core).
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.workers = Some(n);
        self
    }

    /// Debug mode (default: off, or on when `AIOPROTO_DEBUG=1`): warn about
    /// slow callbacks and task steps.
    pub fn debug(&mut self, on: bool) -> &mut Self {
        self.debug = on;
        self
    }

    /// The slow-callback threshold in debug mode (default 100 ms).
    pub fn slow_callback_duration(&mut self, d: Duration) -> &mut Self {
        self.slow = d;
        self
    }

    /// Creates the loop and its runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the runtime cannot be created; [`Error::InvalidArgument`]
    /// for zero worker threads.
    pub fn build(&self) -> Result<EventLoop> {
        let mut b = if self.multi_thread {
            let mut b = RtBuilder::new_multi_thread();
            if let Some(n) = self.workers {
                if n == 0 {
                    return Err(Error::invalid_argument("worker_threads must be at least 1"));
                }
                b.worker_threads(n);
            }
            b
        } else {
            RtBuilder::new_current_thread()
        };
        let rt = b.enable_all().thread_name("aioproto-loop").build()?;
        let handle = rt.handle().clone();
        let shared = LoopShared::new(handle.clone(), Some(rt), self.debug, self.slow);
        loop_registry::register(&handle, &shared);
        Ok(EventLoop { shared })
    }

    pub(crate) fn debug_default(&self) -> bool {
        self.debug
    }

    pub(crate) fn slow_default(&self) -> Duration {
        self.slow
    }
}

/// asyncio's event loop: runs futures, callbacks, timers and signal handlers.
///
/// `EventLoop::new()` is single-threaded (a tokio `current_thread` runtime):
/// callbacks and task steps never run at the same time, and their order is
/// deterministic, as in asyncio. [`EventLoop::builder`] offers a
/// multi-thread runtime.
///
/// The loop runs only inside [`run_until_complete`](Self::run_until_complete)
/// or [`run_forever`](Self::run_forever) (for a single-threaded loop), or
/// inside [`run`](crate::run) and a [`Runner`](crate::Runner), which also
/// cancel and await the tasks left over when they finish.
///
/// # One loop per tokio runtime
///
/// A plain tokio runtime (`#[tokio::main]`, `#[tokio::test]`) has a loop too,
/// made the first time something asks for it and driven by that runtime:
/// [`get_running_loop`] returns it, tasks created there belong to it, and its
/// callbacks, timers, signal handlers, exception handler and debug mode work
/// as for any loop. It lives until the runtime shuts down.
/// [`EventLoop::from_handle`] returns the loop of a given runtime.
///
/// # What runs where
///
/// * Callbacks (`call_soon`, `call_later`, signal handlers, done-callbacks)
///   run one after another on one *driver* tokio task. Callbacks scheduled
///   while an iteration runs go to the next iteration. Between iterations
///   other tasks run.
/// * Tasks are tokio tasks on the loop's runtime. Unlike asyncio, a task step
///   and a callback are not ordered against each other.
/// * In debug mode each callback and each poll of a [`Task`] is timed; one
///   that takes at least [`slow_callback_duration`](Self::slow_callback_duration)
///   logs a warning `Executing <Task name='Task-A'> took 1.002 seconds`.
///
/// # Examples
///
/// ```
/// use aioproto::EventLoop;
/// use std::sync::{Arc, Mutex};
///
/// let lp = EventLoop::new()?;
/// let order = Arc::new(Mutex::new(Vec::new()));
/// for i in 0..3 {
///     let order = order.clone();
///     lp.call_soon(move || order.lock().unwrap().push(i))?;
/// }
/// lp.run_until_complete(aioproto::sleep(std::time::Duration::from_millis(10)))??;
/// assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
/// lp.close()?;
/// # Ok::<(), aioproto::Error>(())
/// ```
#[derive(Clone)]
pub struct EventLoop {
    pub(crate) shared: Arc<LoopShared>,
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("id", &self.shared.id())
            .field("running", &self.is_running())
            .field("closed", &self.is_closed())
            .field("debug", &self.get_debug())
            .finish()
    }
}

impl PartialEq for EventLoop {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for EventLoop {}

/// The loop running on this thread (asyncio's `get_running_loop()`).
///
/// Inside an [`EventLoop`]'s tasks and callbacks that loop; elsewhere inside a
/// tokio runtime (`#[tokio::main]`, a `tokio::spawn`ed task, a
/// `spawn_blocking` thread) the loop of that runtime, made on first use (see
/// [one loop per tokio runtime](EventLoop#one-loop-per-tokio-runtime)).
/// Calling it twice in the same place gives the same loop.
///
/// # Errors
///
/// [`Error::InvalidState`] outside any runtime: the message says how to get
/// one (`no running event loop: call this inside EventLoop::run_until_complete,
/// aioproto::run, a Task, or a tokio runtime`).
///
/// # Examples
///
/// ```
/// let lp = aioproto::EventLoop::new()?;
/// let same = lp.run_until_complete(async { aioproto::get_running_loop() })??;
/// assert_eq!(same, lp);
/// let err = aioproto::get_running_loop().unwrap_err();
/// assert!(err.to_string().contains("tokio runtime"));
/// # Ok::<(), aioproto::Error>(())
/// ```
///
/// Under `#[tokio::main]`:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let lp = aioproto::get_running_loop()?;
/// assert_eq!(lp, aioproto::get_running_loop()?);
/// let fut = lp.create_future();
/// let f = fut.clone();
/// lp.call_later(0.001, move || { let _ = f.set_result("called back"); })?;
/// assert_eq!(fut.await?, "called back");
/// # Ok(()) }
/// ```
pub fn get_running_loop() -> Result<EventLoop> {
    EventLoop::current().ok_or_else(|| {
        Error::invalid_state(
            "no running event loop: call this inside EventLoop::run_until_complete, \
             aioproto::run, a Task, or a tokio runtime",
        )
    })
}

fn closed_error() -> Error {
    Error::invalid_state("event loop is closed")
}

impl EventLoop {
    /// A new single-threaded loop (tokio `current_thread` runtime).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the runtime cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// assert_eq!(lp.run_until_complete(async { 1 + 1 })?, 2);
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn new() -> Result<EventLoop> {
        EventLoopBuilder::default().build()
    }

    /// A builder for loops with other settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::builder().multi_thread(true).worker_threads(2).build()?;
    /// assert_eq!(lp.run_until_complete(async { 3 })?, 3);
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn builder() -> EventLoopBuilder {
        EventLoopBuilder::default()
    }

    /// The loop of an existing tokio runtime (for `#[tokio::main]`): the one
    /// [`get_running_loop`] returns inside that runtime, made on first use.
    ///
    /// Callbacks, timers, tasks and signal handlers work; the loop is driven
    /// by that runtime, so [`run_until_complete`](Self::run_until_complete)
    /// and [`run_forever`](Self::run_forever) return [`Error::Unsupported`],
    /// and [`is_running`](Self::is_running) is true until it is closed.
    /// Closing it is allowed; the runtime then gets a fresh loop next time one
    /// is asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let lp = aioproto::EventLoop::from_handle(tokio::runtime::Handle::current());
    /// let fut = aioproto::Future::new();
    /// let f = fut.clone();
    /// lp.call_later(0.01, move || { let _ = f.set_result("late"); })?;
    /// assert_eq!(fut.await?, "late");
    /// # Ok(()) }
    /// ```
    pub fn from_handle(handle: RtHandle) -> EventLoop {
        EventLoop {
            shared: loop_registry::loop_of(&handle),
        }
    }

    pub(crate) fn from_shared(shared: Arc<LoopShared>) -> EventLoop {
        EventLoop { shared }
    }

    /// The loop whose code is running on this thread, if any: what
    /// [`get_running_loop`] returns, as an `Option`.
    pub fn current() -> Option<EventLoop> {
        current_shared().map(EventLoop::from_shared)
    }

    /// The loop's tokio runtime handle.
    pub fn handle(&self) -> RtHandle {
        self.shared.handle()
    }

    /// Runs the loop until `fut` completes and returns its output.
    ///
    /// `fut` is anything awaitable: a Rust future, a [`Future`], a [`Task`] or
    /// a [`Gather`](crate::Gather).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed, already running, or
    /// this thread is already inside a tokio runtime; [`Error::Unsupported`]
    /// for a loop made by [`from_handle`](Self::from_handle).
    ///
    /// # Panics
    ///
    /// A panic in `fut` itself propagates.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// let out = lp.run_until_complete(async {
    ///     aioproto::sleep(std::time::Duration::from_millis(1)).await?;
    ///     Ok::<_, aioproto::Error>("Done!")
    /// })??;
    /// assert_eq!(out, "Done!");
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn run_until_complete<F: IntoFuture>(&self, fut: F) -> Result<F::Output> {
        if self.is_closed() {
            return Err(closed_error());
        }
        if RtHandle::try_current().is_ok() {
            return Err(Error::invalid_state(
                "cannot run an event loop while another loop or runtime is running on this thread",
            ));
        }
        let Some(rt) = self.shared.runtime() else {
            return Err(Error::Unsupported(
                "run_until_complete on a loop driven by an outside runtime",
            ));
        };
        if self.shared.running.swap(true, Ordering::AcqRel) {
            return Err(Error::invalid_state("this event loop is already running"));
        }
        struct Running<'a>(&'a LoopShared);
        impl Drop for Running<'_> {
            fn drop(&mut self) {
                self.0.running.store(false, Ordering::Release);
            }
        }
        let _running = Running(&self.shared);
        let _enter = EnterGuard::enter(self.shared.clone());
        Ok(rt.block_on(fut.into_future()))
    }

    /// Runs the loop until [`stop`](Self::stop) is called.
    ///
    /// A `stop()` that came before `run_forever` makes it return at once.
    ///
    /// # Errors
    ///
    /// As for [`run_until_complete`](Self::run_until_complete).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// let l2 = lp.clone();
    /// lp.call_later(0.01, move || l2.stop())?;
    /// lp.run_forever()?;
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn run_forever(&self) -> Result<()> {
        let shared = self.shared.clone();
        self.run_until_complete(async move { shared.stop.notified().await })
    }

    /// Makes [`run_forever`](Self::run_forever) return.
    pub fn stop(&self) {
        self.shared.stop.notify_one();
    }

    /// True while `run_until_complete`/`run_forever` runs; for a loop driven
    /// by an outside runtime ([`from_handle`](Self::from_handle), the loop of
    /// a `#[tokio::main]`), true until it is closed.
    pub fn is_running(&self) -> bool {
        if self.shared.owns_runtime() {
            self.shared.running.load(Ordering::Acquire)
        } else {
            !self.is_closed()
        }
    }

    /// True after [`close`](Self::close).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Closes the loop: pending callbacks are dropped, signal handlers and fd
    /// watchers removed (signals get their default action back), and the
    /// runtime shut down. Idempotent.
    ///
    /// As with asyncio's `loop.close()`, tasks still pending are not
    /// cancelled first: they are dropped with the runtime, so their `Drop`
    /// code runs but no `async` cleanup does. [`run`](crate::run) and
    /// [`Runner`](crate::Runner) cancel and await them before closing.
    ///
    /// A loop driven by an outside runtime ([`from_handle`](Self::from_handle))
    /// can be closed while that runtime runs; its tasks are left to the runtime.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is running (inside
    /// `run_until_complete`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// lp.close()?;
    /// assert!(lp.call_soon(|| {}).is_err());
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        if self.shared.running.load(Ordering::Acquire) {
            return Err(Error::invalid_state("cannot close a running event loop"));
        }
        if !self.shared.retire() {
            return Ok(());
        }
        loop_registry::unregister(&self.shared);
        if let Some(rt) = self.shared.take_runtime()
            && let Ok(rt) = Arc::try_unwrap(rt)
        {
            if RtHandle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(5));
            }
        }
        Ok(())
    }

    /// The loop clock: monotonic seconds (asyncio's `loop.time()`).
    pub fn time(&self) -> f64 {
        now_secs()
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(closed_error())
        } else {
            Ok(())
        }
    }

    /// Schedules `cb` for the next iteration; callbacks run in FIFO order.
    ///
    /// Safe to call from any thread (so it is also `call_soon_threadsafe`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed.
    ///
    /// # Examples
    ///
    /// See the [type-level example](EventLoop).
    pub fn call_soon(&self, cb: impl FnOnce() + Send + 'static) -> Result<Handle> {
        self.check_open()?;
        let name = std::any::type_name_of_val(&cb);
        let inner = new_job(name, None, cb);
        self.shared.push_ready(inner.clone());
        Ok(Handle { inner })
    }

    /// Same as [`call_soon`](Self::call_soon), named as in asyncio: wakes the
    /// loop from another thread.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed.
    pub fn call_soon_threadsafe(&self, cb: impl FnOnce() + Send + 'static) -> Result<Handle> {
        self.call_soon(cb)
    }

    /// Runs `cb` after `delay` seconds (negative = as soon as possible, in
    /// order of due time: `-2` runs before `-1`).
    ///
    /// Callbacks due at the same time run in scheduling order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a NaN delay; [`Error::InvalidState`] if closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let lp = aioproto::EventLoop::new()?;
    /// let out = Arc::new(Mutex::new(String::new()));
    /// let (a, b) = (out.clone(), out.clone());
    /// lp.call_later(-1.0, move || a.lock().unwrap().push('a'))?;
    /// lp.call_later(-2.0, move || b.lock().unwrap().push('b'))?;
    /// lp.run_until_complete(aioproto::sleep(std::time::Duration::from_millis(5)))??;
    /// assert_eq!(*out.lock().unwrap(), "ba");
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn call_later(&self, delay: f64, cb: impl FnOnce() + Send + 'static) -> Result<Handle> {
        if delay.is_nan() {
            return Err(Error::invalid_argument("delay must not be NaN"));
        }
        self.call_at(self.time() + delay, cb)
    }

    /// Runs `cb` at `when` on the [`time`](Self::time) clock.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for NaN; [`Error::InvalidState`] if closed.
    pub fn call_at(&self, when: f64, cb: impl FnOnce() + Send + 'static) -> Result<Handle> {
        self.check_open()?;
        if when.is_nan() {
            return Err(Error::invalid_argument("when must not be NaN"));
        }
        let name = std::any::type_name_of_val(&cb);
        let inner = new_job(name, Some(when), cb);
        self.shared.push_timer(inner.clone());
        Ok(Handle { inner })
    }

    /// Starts `fut` as a [`Task`] on this loop, through its
    /// [task factory](Self::set_task_factory) if one is set.
    ///
    /// `fut` may return an [`aioproto::Result<T>`](crate::Result) or a plain
    /// value; see [`IntoTaskResult`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = aioproto::EventLoop::new()?;
    /// let task = lp.create_task(async { Ok(5) })?;
    /// assert_eq!(lp.run_until_complete(task)??, 5);
    /// let plain = lp.create_task(async { "any output" })?;
    /// assert_eq!(lp.run_until_complete(plain)??, "any output");
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn create_task<F>(&self, fut: F) -> Result<Task<TaskValue<F>>>
    where
        F: StdFuture + Send + 'static,
        F::Output: IntoTaskResult,
    {
        self.check_open()?;
        Ok(spawn_in_loop(&self.shared, SpawnOptions::default(), fut))
    }

    /// Like [`create_task`](Self::create_task), with a name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the loop is closed.
    pub fn create_task_named<F>(
        &self,
        name: impl Into<String>,
        fut: F,
    ) -> Result<Task<TaskValue<F>>>
    where
        F: StdFuture + Send + 'static,
        F::Output: IntoTaskResult,
    {
        self.check_open()?;
        Ok(spawn_in_loop(
            &self.shared,
            SpawnOptions::named(Some(name.into())),
            fut,
        ))
    }

    /// Sets the task factory every task of this loop is created through
    /// (asyncio's `loop.set_task_factory`); `None` restores the default.
    ///
    /// See [`TaskFactory`] for what a factory may do, and
    /// [`eager_task_factory`](crate::eager_task_factory) for asyncio's eager one.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{EventLoop, NewTask, create_task};
    /// use std::sync::Arc;
    ///
    /// let lp = EventLoop::new()?;
    /// lp.set_task_factory(Some(Arc::new(|_: &EventLoop, t: &mut NewTask| {
    ///     let name = format!("worker-{}", t.id());
    ///     t.set_name(name);
    /// })));
    /// let name = lp.run_until_complete(async { create_task(async { 1 }).name() })?;
    /// assert!(name.starts_with("worker-"));
    /// assert!(lp.get_task_factory().is_some());
    /// lp.set_task_factory(None);
    /// assert!(lp.get_task_factory().is_none());
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn set_task_factory(&self, factory: Option<TaskFactory>) {
        self.shared.set_task_factory(factory);
    }

    /// The task factory, `None` when the default is in use.
    pub fn get_task_factory(&self) -> Option<TaskFactory> {
        self.shared.task_factory()
    }

    /// A new pending [`Future`] bound to this loop (asyncio's `create_future`).
    pub fn create_future<T: Send + 'static>(&self) -> Future<T> {
        let _enter = EnterGuard::enter(self.shared.clone());
        Future::new()
    }

    /// Replaces the exception handler; `None` restores the default (which logs).
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{EventLoop, ExceptionContext};
    /// use std::sync::{Arc, Mutex};
    /// let lp = EventLoop::new()?;
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// lp.set_exception_handler(Some(Arc::new(move |_: &EventLoop, ctx: &ExceptionContext| {
    ///     s.lock().unwrap().push(ctx.message.clone())
    /// })));
    /// lp.call_exception_handler(ExceptionContext::new("boom"));
    /// assert_eq!(*seen.lock().unwrap(), ["boom"]);
    /// # Ok::<(), aioproto::Error>(())
    /// ```
    pub fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        self.shared.set_handler(handler);
    }

    /// The custom exception handler, `None` when the default is in use.
    pub fn get_exception_handler(&self) -> Option<ExceptionHandler> {
        self.shared.handler()
    }

    /// Hands `ctx` to the exception handler (a panicking handler is logged).
    pub fn call_exception_handler(&self, ctx: ExceptionContext) {
        self.shared.call_exception_handler(ctx);
    }

    /// Turns debug mode on or off (slow-callback warnings).
    pub fn set_debug(&self, on: bool) {
        self.shared.set_debug(on);
    }

    /// Whether debug mode is on.
    pub fn get_debug(&self) -> bool {
        self.shared.debug()
    }

    /// Sets the debug-mode threshold for slow callbacks and task steps.
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.shared.set_slow(d);
    }

    /// The debug-mode threshold (default 100 ms).
    pub fn slow_callback_duration(&self) -> Duration {
        self.shared.slow()
    }
}
