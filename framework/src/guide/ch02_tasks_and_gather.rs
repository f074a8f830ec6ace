//! # 2. Tasks and gather
//!
//! The tutorial's second program runs three coroutines concurrently:
//!
//! ```python
//! async def my_coroutine(task_name, seconds_to_sleep=3):
//!     print(f'[{task_name}] coroutine will sleep for {seconds_to_sleep} second(s)…')
//!     await asyncio.sleep(seconds_to_sleep)
//!     print(f'[{task_name}] done!')
//!
//! loop = asyncio.new_event_loop()
//! tasks = [loop.create_task(my_coroutine('Task-A', 10)),
//!          loop.create_task(my_coroutine('Task-B', 1)),
//!          loop.create_task(my_coroutine('Task-C', 1))]
//! loop.run_until_complete(asyncio.gather(*tasks))
//! ```
//!
//! Task-B and Task-C finish first, Task-A last; the whole run takes about
//! 10 s, not 12. In aioproto:
//!
//! ```
//! use aioproto::{EventLoop, gather, sleep};
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//!
//! type Log = Arc<Mutex<Vec<String>>>;
//!
//! async fn my_coroutine(log: Log, name: &'static str, ms: u64) -> aioproto::Result<&'static str> {
//!     log.lock().unwrap().push(format!("[{name}] start"));
//!     sleep(Duration::from_millis(ms)).await?;
//!     log.lock().unwrap().push(format!("[{name}] done!"));
//!     Ok(name)
//! }
//!
//! let lp = EventLoop::new()?;
//! let log = Log::default();
//! let tasks = vec![
//!     lp.create_task_named("Task-A", my_coroutine(log.clone(), "Task-A", 100))?,
//!     lp.create_task_named("Task-B", my_coroutine(log.clone(), "Task-B", 10))?,
//!     lp.create_task_named("Task-C", my_coroutine(log.clone(), "Task-C", 10))?,
//! ];
//! let names = lp.run_until_complete(gather(tasks))??;
//! assert_eq!(names, ["Task-A", "Task-B", "Task-C"]); // argument order
//! assert_eq!(log.lock().unwrap()[3..], ["[Task-B] done!", "[Task-C] done!", "[Task-A] done!"]);
//! # Ok::<(), aioproto::Error>(())
//! ```
//!
//! The program `tasks_gather` in `examples/` prints the tutorial's exact lines.
//!
//! ## gather's rules
//!
//! * Results come back in **argument order**.
//! * Without `return_exceptions` the first error is returned at once, and the
//!   other children are **not cancelled** — they keep running.
//!   [`gather_return_exceptions`](crate::gather_return_exceptions) gives every
//!   child's `Result` instead.
//! * Cancelling the gather (or the task awaiting it) cancels every child.
//!
//! `gather` takes anything convertible into an [`Awaitable`](crate::Awaitable):
//! tasks, futures, or plain `async` blocks (started as tasks).
//!
//! ## Cancellation
//!
//! ```python
//! task = asyncio.create_task(worker())
//! task.cancel()
//! try:
//!     await task
//! except asyncio.CancelledError:
//!     print('cancelled')
//! ```
//!
//! Rust cannot throw into a suspended future, so [`Task::cancel`](crate::Task::cancel)
//! records a request that the task's next *cancellation point* (any aioproto
//! await: `sleep`, awaiting a future or task, `Queue::get`, …) returns as
//! `Err(Error::Cancelled(_))`. With `?` that ends the task cancelled, exactly
//! like an uncaught `CancelledError`; matching on the error "catches" it.
//!
//! ```
//! use aioproto::{create_task, sleep};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let task = create_task(async {
//!     match sleep(Duration::from_secs(100)).await {
//!         Err(e) if e.is_cancelled() => Ok("cleaned up"), // like `except CancelledError`
//!         other => other.map(|()| "finished"),
//!     }
//! });
//! tokio::task::yield_now().await;
//! task.cancel();
//! assert_eq!(task.await.unwrap(), "cleaned up");
//! # }
//! ```
//!
//! A future that is not an aioproto cancellation point (a raw tokio sleep, a
//! socket read) becomes one when wrapped in [`cancellable`](crate::cancellable).
//!
//! ## The other combinators
//!
//! | asyncio | aioproto |
//! |---|---|
//! | `asyncio.wait(aws, return_when=...)` | [`wait`](crate::wait()) with [`ReturnWhen`](crate::ReturnWhen) |
//! | `asyncio.wait_for(aw, timeout)` | [`wait_for`](crate::wait_for): cancels *and awaits* the inner task on timeout |
//! | `asyncio.as_completed(aws)` | [`as_completed`](crate::as_completed) |
//! | `asyncio.shield(aw)` | [`shield`](crate::shield) |
//! | `async with asyncio.timeout(d):` | [`timeout`](crate::timeout())`(Some(d)).run(body)` |
//! | `async with asyncio.TaskGroup() as tg:` | [`TaskGroup`](crate::TaskGroup): `create_task`, then `join` (or `run(body)`) |
//! | `asyncio.Queue`, `Lock`, `Event`, `Semaphore`, `Condition` | [`Queue`](crate::Queue), [`Lock`](crate::Lock), [`Event`](crate::Event), [`Semaphore`](crate::Semaphore), [`Condition`](crate::Condition) |
//!
//! ```
//! use aioproto::{Error, TaskGroup, create_task, sleep};
//! use std::time::Duration;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let outcome = create_task(async {
//!     let tg = TaskGroup::new();
//!     tg.create_task(async { sleep(Duration::from_secs(10)).await })?; // cancelled
//!     tg.create_task(async { Err::<(), _>(Error::invalid_argument("boom")) })?;
//!     tg.join().await
//! })
//! .await;
//! assert!(matches!(outcome, Err(Error::MultipleErrors(errors)) if errors.len() == 1));
//! # }
//! ```
