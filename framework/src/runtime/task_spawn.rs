//! Starting tasks: [`create_task`], [`create_task_named`],
//! [`create_eager_task`], the registry behind [`all_tasks`], and the one
//! spawn path every task goes through (task factory, eager start).

use std::future::Future as StdFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use crate::runtime::event_loop::{self, EventLoop, ExceptionContext, LoopShared};
use crate::runtime::future::{Future, FutureCore, Scheduler};
use crate::runtime::task::{Task, TaskHeader, TaskRunner, TaskShared};
use crate::runtime::task_factory::NewTask;
use crate::runtime::task_output::IntoTaskResult;
use crate::runtime::task_ref::TaskRef;
use crate::util::{catch_panic, lock};

static NEXT_TASK: AtomicU64 = AtomicU64::new(1);

/// Weak references to every task, for [`all_tasks`].
static REGISTRY: Mutex<Vec<Weak<TaskShared>>> = Mutex::new(Vec::new());

/// The value type of a task whose body is `F`.
pub(crate) type TaskValue<F> = <<F as StdFuture>::Output as IntoTaskResult>::Output;

/// How a task is to be started.
#[derive(Debug, Default)]
pub(crate) struct SpawnOptions {
    pub(crate) name: Option<String>,
    /// Run the body at once, inside the creating call, up to its first suspension.
    pub(crate) eager: bool,
}

impl SpawnOptions {
    pub(crate) fn named(name: Option<String>) -> Self {
        SpawnOptions { name, eager: false }
    }
}

/// A task's result core (holding its header), registered, with the factory
/// applied; returns whether it is to start eagerly.
fn new_task<T: Send + 'static>(
    handle: &tokio::runtime::Handle,
    lp: Option<&Arc<LoopShared>>,
    opts: SpawnOptions,
) -> (Arc<FutureCore<T>>, bool) {
    let id = NEXT_TASK.fetch_add(1, Ordering::Relaxed);
    let sched = match lp {
        Some(lp) => Scheduler::Loop(Arc::downgrade(lp)),
        None => Scheduler::Tokio(handle.clone()),
    };
    let loop_id = lp.map_or(0, |lp| lp.id());
    let core = FutureCore::<T>::of_task(sched, TaskHeader::new(id, loop_id), opts.name);
    register(Arc::downgrade(&core) as Weak<TaskShared>);
    let mut eager = opts.eager;
    if let Some(lp) = lp
        && let Some(factory) = lp.task_factory()
    {
        let shared: Arc<TaskShared> = core.clone();
        let mut new = NewTask::new(shared.clone(), eager);
        let lpv = EventLoop::from_shared(lp.clone());
        match catch_panic("task_factory", || factory(&lpv, &mut new)) {
            Ok(()) => eager = new.eager(),
            Err(err) => lp.call_exception_handler(
                ExceptionContext::new("Exception in task factory")
                    .with_error(err)
                    .with_task_name(shared.name()),
            ),
        }
    }
    (core, eager)
}

pin_project_lite::pin_project! {
    /// The future spawned for a task: its body, next to the runner that
    /// drives it and records its outcome. Written out rather than an `async`
    /// block so that the body is stored once (an `async` block would keep both
    /// the captured body and its pinned copy) and tokio's cell stays small.
    pub(crate) struct TaskBody<F>
    where
        F: StdFuture,
        F::Output: IntoTaskResult,
    {
        runner: TaskRunner<TaskValue<F>>,
        #[pin]
        fut: F,
    }
}

impl<F> StdFuture for TaskBody<F>
where
    F: StdFuture,
    F::Output: IntoTaskResult,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        this.runner.poll_body(this.fut, cx)
    }
}

/// The future that drives a task's body and records its outcome.
fn task_body<F>(core: &Arc<FutureCore<TaskValue<F>>>, fut: F) -> TaskBody<F>
where
    F: StdFuture,
    F::Output: IntoTaskResult,
{
    TaskBody {
        runner: TaskRunner {
            started: false,
            finished: false,
            result: core.clone(),
        },
        fut,
    }
}

fn spawn_on<F>(
    handle: &tokio::runtime::Handle,
    lp: Option<&Arc<LoopShared>>,
    opts: SpawnOptions,
    fut: F,
) -> Task<TaskValue<F>>
where
    F: StdFuture + Send + 'static,
    F::Output: IntoTaskResult,
{
    let (core, eager) = new_task::<TaskValue<F>>(handle, lp, opts);
    let body = task_body(&core, fut);
    if eager {
        // asyncio 3.12's eager start: the first step runs here, inside the
        // creating call. The no-op waker is fine: a task still pending is then
        // spawned, and tokio's first poll re-registers the real waker.
        let mut body = Box::pin(body);
        let first = {
            let _rt = handle.enter();
            let mut cx = Context::from_waker(Waker::noop());
            body.as_mut().poll(&mut cx)
        };
        if first.is_pending() {
            handle.spawn(body);
        }
    } else {
        handle.spawn(body);
    }
    Task {
        result: Future::from_core(core),
    }
}

/// A task of `lp` whose body the caller polls in place instead of spawning
/// it: the main task of [`run`](crate::run) and [`Runner`](crate::Runner).
/// `fut` need be neither `Send` nor `'static`.
pub(crate) fn inline_task<F>(lp: &Arc<LoopShared>, fut: F) -> (Task<TaskValue<F>>, TaskBody<F>)
where
    F: StdFuture,
    F::Output: IntoTaskResult,
{
    let (core, _) = new_task::<TaskValue<F>>(&lp.handle(), Some(lp), SpawnOptions::default());
    let body = task_body(&core, fut);
    let task = Task {
        result: Future::from_core(core),
    };
    (task, body)
}

fn register(task: Weak<TaskShared>) {
    let mut reg = lock(&REGISTRY);
    if reg.len() >= 64 && reg.len().is_power_of_two() {
        reg.retain(|w| w.strong_count() > 0);
    }
    reg.push(task);
}

/// Spawns on the current loop (the one of the running tokio runtime, made on
/// first use); `None` outside any runtime.
pub(crate) fn spawn_task<F>(opts: SpawnOptions, fut: F) -> Option<Task<TaskValue<F>>>
where
    F: StdFuture + Send + 'static,
    F::Output: IntoTaskResult,
{
    if let Some(lp) = event_loop::current_shared() {
        return Some(spawn_on(lp.runtime_handle(), Some(&lp), opts, fut));
    }
    let handle = tokio::runtime::Handle::try_current().ok()?;
    Some(spawn_on(&handle, None, opts, fut))
}

pub(crate) fn spawn_in_loop<F>(
    lp: &Arc<LoopShared>,
    opts: SpawnOptions,
    fut: F,
) -> Task<TaskValue<F>>
where
    F: StdFuture + Send + 'static,
    F::Output: IntoTaskResult,
{
    spawn_on(lp.runtime_handle(), Some(lp), opts, fut)
}

/// Starts `fut` as a [`Task`] named `Task-N` on the running loop.
///
/// The running loop is the [`EventLoop`] whose code is running, or, under a
/// plain tokio runtime (`#[tokio::main]`), that runtime's loop (see
/// [`get_running_loop`](crate::get_running_loop)). Its
/// [task factory](EventLoop::set_task_factory) is applied.
///
/// `fut` may return anything asyncio's coroutine could: an
/// [`aioproto::Result<T>`](crate::Result) gives a `Task<T>` that fails with
/// the error, and a plain value (`()`, `42`, a `String`, …) gives a task that
/// always succeeds with it; see [`IntoTaskResult`]. With an unsuffixed
/// number literal (`async { 42 }`) the compiler picks the type last, so say
/// it where the value is used (`let n: i32 = task.await?`) or in the literal
/// (`42_i32`).
///
/// # Panics
///
/// Panics when called outside a tokio runtime, like `tokio::spawn`. Use
/// [`EventLoop::create_task`](crate::EventLoop::create_task) for an error instead.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let task = aioproto::create_task(async { Ok("hi") });
/// assert_eq!(task.await?, "hi");
/// let answer = aioproto::create_task(async { 6 * 7 });
/// let n: i32 = answer.await?; // a bare literal's type is spelled where it is used
/// assert_eq!(n, 42);
/// let name = aioproto::create_task(async { String::from("any value") });
/// assert_eq!(name.await?, "any value");
/// # Ok(()) }
/// ```
pub fn create_task<F>(fut: F) -> Task<TaskValue<F>>
where
    F: StdFuture + Send + 'static,
    F::Output: IntoTaskResult,
{
    spawn_task(SpawnOptions::default(), fut).expect("create_task called outside a tokio runtime")
}

/// Starts `fut` as a [`Task`] with the given name.
///
/// # Panics
///
/// Panics when called outside a tokio runtime, like `tokio::spawn`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let task = aioproto::create_task_named("Task-A", async { Ok(()) });
/// assert_eq!(task.name(), "Task-A");
/// task.await?;
/// # Ok(()) }
/// ```
pub fn create_task_named<F>(name: impl Into<String>, fut: F) -> Task<TaskValue<F>>
where
    F: StdFuture + Send + 'static,
    F::Output: IntoTaskResult,
{
    spawn_task(SpawnOptions::named(Some(name.into())), fut)
        .expect("create_task_named called outside a tokio runtime")
}

/// Starts `fut` as an *eager* [`Task`]: its body runs at once, inside this
/// call, until it first suspends (asyncio 3.12's eager tasks).
///
/// A body that finishes without suspending is done when this returns and is
/// never scheduled; one that suspends continues as an ordinary task. This
/// saves a trip through the scheduler for tasks that often complete at once
/// (a cache hit, a ready queue). Unlike a plain task, the body runs *before*
/// the caller's next statement, so code relying on "the task has not started
/// yet" must not use it. [`eager_task_factory`](crate::eager_task_factory)
/// makes every task of a loop eager.
///
/// # Panics
///
/// Panics when called outside a tokio runtime, like `tokio::spawn`. A panic
/// in the body does not propagate: it ends the task with
/// [`Error::CallbackPanicked`](crate::Error::CallbackPanicked).
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let ran = Arc::new(AtomicBool::new(false));
/// let r = ran.clone();
/// let task = aioproto::create_eager_task(async move {
///     r.store(true, Ordering::SeqCst); // runs before create_eager_task returns
///     aioproto::sleep(std::time::Duration::from_millis(1)).await?;
///     Ok(7)
/// });
/// assert!(ran.load(Ordering::SeqCst));
/// assert!(!task.done());
/// assert_eq!(task.await?, 7);
///
/// let quick = aioproto::create_eager_task(async { 1_u8 });
/// assert!(quick.done()); // finished without suspending: never scheduled
/// # Ok(()) }
/// ```
pub fn create_eager_task<F>(fut: F) -> Task<TaskValue<F>>
where
    F: StdFuture + Send + 'static,
    F::Output: IntoTaskResult,
{
    let opts = SpawnOptions {
        name: None,
        eager: true,
    };
    spawn_task(opts, fut).expect("create_eager_task called outside a tokio runtime")
}

/// Every task of the loop `loop_id` that is not done yet.
pub(crate) fn tasks_of_loop(loop_id: u64) -> Vec<Arc<TaskShared>> {
    lock(&REGISTRY)
        .iter()
        .filter_map(Weak::upgrade)
        .filter(|t| t.header().loop_id == loop_id && !t.task_done())
        .collect()
}

/// Every task not yet done on the running [`EventLoop`]
/// (or, outside one, every such task created outside any loop).
///
/// # Examples
///
/// ```
/// let lp = aioproto::EventLoop::new()?;
/// let n = lp.run_until_complete(async {
///     let t = aioproto::create_task(aioproto::sleep(std::time::Duration::from_millis(50)));
///     let n = aioproto::all_tasks().len();
///     t.await?;
///     Ok::<_, aioproto::Error>(n)
/// })??;
/// assert_eq!(n, 1);
/// # Ok::<(), aioproto::Error>(())
/// ```
pub fn all_tasks() -> Vec<TaskRef> {
    let loop_id = event_loop::current_shared().map_or(0, |lp| lp.id());
    tasks_of_loop(loop_id)
        .into_iter()
        .map(|shared| TaskRef { shared })
        .collect()
}
