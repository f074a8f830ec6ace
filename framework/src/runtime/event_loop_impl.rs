//! The machinery behind [`EventLoop`]: the ready queue, the
//! timer heap and the driver task that runs callbacks.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use tokio::runtime::{Handle as RtHandle, Runtime};
use tokio::sync::Notify;

use crate::runtime::current::EnterGuard;
use crate::runtime::event_loop::{EventLoop, ExceptionContext, ExceptionHandler};
use crate::runtime::executor::Executor;
use crate::runtime::fd_watch::FdWatches;
use crate::runtime::task_factory::TaskFactory;
use crate::util::{catch_panic, lock};

/// The loop whose code is running on this thread: the one entered by
/// [`EnterGuard`] (an [`EventLoop`]'s own
/// tasks and callbacks), else the loop of the tokio runtime this thread is in,
/// made on first use. `None` outside any runtime.
pub(crate) fn current_shared() -> Option<Arc<LoopShared>> {
    crate::runtime::current::entered_loop()
        .or_else(crate::runtime::loop_registry::loop_of_current_runtime)
}

fn epoch() -> tokio::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    tokio::time::Instant::from_std(*EPOCH.get_or_init(std::time::Instant::now))
}

/// Seconds on the loop clock (monotonic, process-wide origin).
pub(crate) fn now_secs() -> f64 {
    tokio::time::Instant::now()
        .saturating_duration_since(epoch())
        .as_secs_f64()
}

/// The instant `when` (loop clock) falls due. Rounded up by a microsecond so
/// that [`now_secs`] at that instant is never below `when`: otherwise the
/// driver would wake a hair early and spin (for ever under a paused clock).
pub(crate) fn instant_of(when: f64) -> tokio::time::Instant {
    if when <= 0.0 {
        epoch()
    } else {
        epoch() + Duration::from_secs_f64(when.min(1e9)) + Duration::from_micros(1)
    }
}

pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// What every scheduled callback carries besides the closure.
pub(crate) struct Header {
    pub(crate) cancelled: AtomicBool,
    pub(crate) name: &'static str,
    pub(crate) when: Option<f64>,
}

/// One scheduled callback, type-erased; the closure lives in the same
/// allocation as its header (one allocation per `call_soon`).
pub(crate) trait Job: Send + Sync {
    fn header(&self) -> &Header;
    /// Drops the closure without running it.
    fn discard(&self);
    /// Runs the closure if it is still there.
    fn run(self: Arc<Self>);
}

struct JobImpl<F> {
    header: Header,
    cb: Mutex<Option<F>>,
}

impl<F: FnOnce() + Send + 'static> Job for JobImpl<F> {
    fn header(&self) -> &Header {
        &self.header
    }
    fn discard(&self) {
        let cb = lock(&self.cb).take();
        drop(cb);
    }
    fn run(self: Arc<Self>) {
        // Nobody kept the `Handle` (the usual case): the closure is ours alone,
        // taken without the lock that a concurrent `cancel` would need.
        let cb = match Arc::try_unwrap(self) {
            Ok(job) => job.cb.into_inner().unwrap_or_else(PoisonError::into_inner),
            Err(shared) => lock(&shared.cb).take(),
        };
        if let Some(cb) = cb {
            cb();
        }
    }
}

pub(crate) type HandleInner = dyn Job;

pub(crate) fn new_job<F: FnOnce() + Send + 'static>(
    name: &'static str,
    when: Option<f64>,
    cb: F,
) -> Arc<HandleInner> {
    Arc::new(JobImpl {
        header: Header {
            cancelled: AtomicBool::new(false),
            name,
            when,
        },
        cb: Mutex::new(Some(cb)),
    })
}

/// Cancels a job: marks it and drops what it captured at once, like asyncio.
pub(crate) fn cancel_job(job: &HandleInner) {
    job.header().cancelled.store(true, Ordering::Release);
    job.discard();
}

struct TimerEntry {
    when: f64,
    seq: u64,
    handle: Arc<HandleInner>,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest first,
    // ties broken by scheduling order (FIFO).
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other
            .when
            .total_cmp(&self.when)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
struct LoopState {
    ready: VecDeque<Arc<HandleInner>>,
    timers: BinaryHeap<TimerEntry>,
    seq: u64,
    driver: bool,
}

static NEXT_LOOP: AtomicU64 = AtomicU64::new(1);

/// State shared by every [`EventLoop`] handle of one loop.
pub(crate) struct LoopShared {
    id: u64,
    handle: RtHandle,
    runtime: Mutex<Option<Arc<Runtime>>>,
    /// False for a loop driven by a runtime it does not own (`from_handle`,
    /// or the loop of a plain `#[tokio::main]` runtime).
    owns_runtime: bool,
    task_factory: Mutex<Option<TaskFactory>>,
    /// Whether `task_factory` is set, so that creating a task on a loop
    /// without a factory (the usual case) takes no lock for it.
    has_task_factory: AtomicBool,
    pub(crate) executor: Executor,
    pub(crate) fds: FdWatches,
    st: Mutex<LoopState>,
    wake: Arc<Notify>,
    pub(crate) stop: Notify,
    pub(crate) closed: AtomicBool,
    pub(crate) running: AtomicBool,
    debug: AtomicBool,
    slow_us: AtomicU64,
    handler: Mutex<Option<ExceptionHandler>>,
}

impl LoopShared {
    pub(crate) fn new(
        handle: RtHandle,
        runtime: Option<Runtime>,
        debug: bool,
        slow: Duration,
    ) -> Arc<Self> {
        Arc::new(LoopShared {
            id: NEXT_LOOP.fetch_add(1, Ordering::Relaxed),
            handle,
            owns_runtime: runtime.is_some(),
            runtime: Mutex::new(runtime.map(Arc::new)),
            task_factory: Mutex::new(None),
            has_task_factory: AtomicBool::new(false),
            executor: Executor::default(),
            fds: FdWatches::default(),
            st: Mutex::new(LoopState::default()),
            wake: Arc::new(Notify::new()),
            stop: Notify::new(),
            closed: AtomicBool::new(false),
            running: AtomicBool::new(false),
            debug: AtomicBool::new(debug),
            slow_us: AtomicU64::new(slow.as_micros() as u64),
            handler: Mutex::new(None),
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn handle(&self) -> RtHandle {
        self.handle.clone()
    }

    /// The runtime handle, borrowed: spawning needs no clone of it.
    pub(crate) fn runtime_handle(&self) -> &RtHandle {
        &self.handle
    }

    pub(crate) fn runtime(&self) -> Option<Arc<Runtime>> {
        lock(&self.runtime).clone()
    }

    pub(crate) fn take_runtime(&self) -> Option<Arc<Runtime>> {
        lock(&self.runtime).take()
    }

    /// True for a loop whose runtime is its own (`EventLoop::new`).
    pub(crate) fn owns_runtime(&self) -> bool {
        self.owns_runtime
    }

    pub(crate) fn set_task_factory(&self, factory: Option<TaskFactory>) {
        let mut slot = lock(&self.task_factory);
        self.has_task_factory
            .store(factory.is_some(), Ordering::Release);
        *slot = factory;
    }

    pub(crate) fn task_factory(&self) -> Option<TaskFactory> {
        if !self.has_task_factory.load(Ordering::Acquire) {
            return None;
        }
        lock(&self.task_factory).clone()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn set_debug(&self, on: bool) {
        self.debug.store(on, Ordering::Relaxed);
    }

    pub(crate) fn debug(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }

    pub(crate) fn set_slow(&self, d: Duration) {
        self.slow_us.store(d.as_micros() as u64, Ordering::Relaxed);
    }

    pub(crate) fn slow(&self) -> Duration {
        Duration::from_micros(self.slow_us.load(Ordering::Relaxed))
    }

    /// The slow-callback threshold when debug mode is on.
    pub(crate) fn slow_threshold(&self) -> Option<Duration> {
        self.debug().then(|| self.slow())
    }

    pub(crate) fn warn_slow(&self, what: &str, took: Duration) {
        tracing::warn!(
            target: "aioproto::event_loop",
            "Executing {what} took {:.3} seconds",
            took.as_secs_f64()
        );
    }

    pub(crate) fn set_handler(&self, handler: Option<ExceptionHandler>) {
        *lock(&self.handler) = handler;
    }

    pub(crate) fn handler(&self) -> Option<ExceptionHandler> {
        lock(&self.handler).clone()
    }

    pub(crate) fn call_exception_handler(self: &Arc<Self>, ctx: ExceptionContext) {
        let Some(handler) = self.handler() else {
            crate::runtime::event_loop::default_exception_handler(&ctx);
            return;
        };
        let lp = EventLoop::from_shared(self.clone());
        if let Err(err) = catch_panic("exception_handler", || handler(&lp, &ctx)) {
            crate::runtime::event_loop::default_exception_handler(
                &ExceptionContext::new("Unhandled error in exception handler").with_error(err),
            );
            crate::runtime::event_loop::default_exception_handler(&ctx);
        }
    }

    fn ensure_driver(self: &Arc<Self>, st: &mut LoopState) {
        if !st.driver {
            st.driver = true;
            let weak = Arc::downgrade(self);
            let wake = self.wake.clone();
            self.handle.spawn(drive(weak, wake));
        }
    }

    /// Queues a callback for the next iteration. Gives the job back if closed.
    pub(crate) fn call_soon_boxed(
        self: &Arc<Self>,
        name: &'static str,
        job: Callback,
    ) -> Result<(), Callback> {
        if self.is_closed() {
            return Err(job);
        }
        self.push_ready(new_job(name, None, job));
        Ok(())
    }

    pub(crate) fn push_ready(self: &Arc<Self>, h: Arc<HandleInner>) {
        let was_empty = {
            let mut st = lock(&self.st);
            let was_empty = st.ready.is_empty();
            st.ready.push_back(h);
            self.ensure_driver(&mut st);
            was_empty
        };
        // Only the first callback of a batch needs to wake the driver: with
        // callbacks already queued, a wake-up is already on its way (the driver
        // takes the whole queue at once and looks at it again before sleeping).
        if was_empty {
            self.wake.notify_one();
        }
    }

    pub(crate) fn push_timer(self: &Arc<Self>, h: Arc<HandleInner>) {
        let when = h.header().when.unwrap_or(f64::NEG_INFINITY);
        {
            let mut st = lock(&self.st);
            st.seq += 1;
            let seq = st.seq;
            st.timers.push(TimerEntry {
                when,
                seq,
                handle: h,
            });
            self.ensure_driver(&mut st);
        }
        self.wake.notify_one();
    }

    /// Marks the loop closed and drops what it scheduled: callbacks, timers,
    /// signal handlers and fd watches. False if it was closed already.
    pub(crate) fn retire(&self) -> bool {
        if self.closed.swap(true, Ordering::AcqRel) {
            return false;
        }
        // Taken out under the lock, dropped after it: a dropped callback may
        // drop futures whose drop reports to this loop.
        let dropped = {
            let mut st = lock(&self.st);
            (
                std::mem::take(&mut st.ready),
                std::mem::take(&mut st.timers),
            )
        };
        drop(dropped);
        crate::runtime::signals::remove_all(self.id);
        self.fds.clear();
        self.wake.notify_one();
        true
    }

    /// Moves due timers to the ready queue and swaps this iteration's batch
    /// into `batch` (empty, kept by the driver), which gives the ready queue
    /// `batch`'s memory: a steady loop allocates no queue at all.
    fn take_batch(&self, batch: &mut VecDeque<Arc<HandleInner>>) {
        debug_assert!(batch.is_empty());
        let mut st = lock(&self.st);
        let now = now_secs();
        while let Some(top) = st.timers.peek() {
            if top.when > now {
                break;
            }
            let entry = st.timers.pop().expect("peeked");
            if !entry.handle.header().cancelled.load(Ordering::Acquire) {
                st.ready.push_back(entry.handle);
            }
        }
        std::mem::swap(&mut st.ready, batch);
    }

    /// When the driver should wake next: `Some(None)` = now, `Some(Some(t))`
    /// = at `t`, `None` = only when woken.
    fn next_wake(&self) -> Option<Option<f64>> {
        let mut st = lock(&self.st);
        if !st.ready.is_empty() {
            return Some(None);
        }
        while st
            .timers
            .peek()
            .is_some_and(|t| t.handle.header().cancelled.load(Ordering::Acquire))
        {
            st.timers.pop();
        }
        st.timers.peek().map(|t| Some(t.when))
    }

    fn run_handle(self: &Arc<Self>, h: Arc<HandleInner>, slow: Option<Duration>) {
        let header = h.header();
        if header.cancelled.load(Ordering::Acquire) {
            return;
        }
        let name = header.name;
        let start = slow.map(|_| std::time::Instant::now());
        let outcome = catch_panic("loop_callback", || h.run());
        if let (Some(start), Some(threshold)) = (start, slow) {
            let took = start.elapsed();
            if took >= threshold {
                self.warn_slow(&format!("<Handle {name}>"), took);
            }
        }
        if let Err(err) = outcome {
            self.call_exception_handler(
                ExceptionContext::new(format!("Exception in callback {name}"))
                    .with_error(err)
                    .with_handle_name(name),
            );
        }
    }
}

impl Drop for LoopShared {
    fn drop(&mut self) {
        let rt = self.runtime.get_mut().ok().and_then(Option::take);
        if let Some(rt) = rt
            && let Ok(rt) = Arc::try_unwrap(rt)
        {
            // Never block (or panic) when the last handle drops inside a runtime.
            rt.shutdown_background();
        }
    }
}

/// The driver task: runs each iteration's ready callbacks, then sleeps until
/// the next timer or a wake-up.
async fn drive(weak: Weak<LoopShared>, wake: Arc<Notify>) {
    let mut batch = VecDeque::new();
    loop {
        let next = {
            let Some(lp) = weak.upgrade() else { return };
            if lp.is_closed() {
                return;
            }
            lp.take_batch(&mut batch);
            if !batch.is_empty() {
                let _enter = EnterGuard::enter(lp.clone());
                let slow = lp.slow_threshold();
                while let Some(h) = batch.pop_front() {
                    lp.run_handle(h, slow);
                }
            }
            lp.next_wake()
        };
        match next {
            Some(None) => tokio::task::yield_now().await,
            Some(Some(when)) => {
                if when <= now_secs() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::select! {
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep_until(instant_of(when)) => {}
                    }
                }
            }
            None => wake.notified().await,
        }
    }
}
