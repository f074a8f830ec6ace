//! # 3. Blocking code
//!
//! The tutorial's third lesson: a blocking call inside a coroutine stalls the
//! whole loop.
//!
//! ```python
//! async def my_coroutine(task_name, seconds):
//!     print(f'[{task_name}] coroutine will sleep for {seconds} second(s)…')
//!     time.sleep(seconds)          # blocks: nothing else runs meanwhile
//!     print(f'[{task_name}] done!')
//! ```
//!
//! The three tasks now run one after another: A starts and finishes, then B,
//! then C, 12 s in all. The same is true in Rust: `std::thread::sleep`, a
//! blocking file read or a long computation inside an `async fn` holds the
//! loop's only thread.
//!
//! ## Debug mode finds it
//!
//! asyncio's debug mode logs `Executing <Task ...> took 10.005 seconds` for any
//! step that holds the loop longer than `slow_callback_duration` (100 ms).
//! aioproto does the same: [`EventLoop::set_debug`](crate::EventLoop::set_debug)
//! (or `AIOPROTO_DEBUG=1`) times every callback and every poll of a
//! [`Task`](crate::Task), and logs a `tracing` warning naming it:
//!
//! ```text
//! WARN aioproto::event_loop: Executing <Task name='Task-A'> took 10.001 seconds
//! ```
//!
//! ## The fix: run_in_executor
//!
//! ```python
//! async def my_coroutine(task_name, seconds):
//!     print(f'[{task_name}] coroutine will sleep for {seconds} second(s)…')
//!     await loop.run_in_executor(None, time.sleep, seconds)
//!     print(f'[{task_name}] done!')
//! ```
//!
//! [`EventLoop::run_in_executor`](crate::EventLoop::run_in_executor) runs the
//! closure on tokio's blocking thread pool and returns a
//! [`Future`](crate::Future) with its value; the loop stays free:
//!
//! ```
//! use aioproto::{EventLoop, create_task, get_running_loop, sleep};
//! use std::time::{Duration, Instant};
//!
//! async fn blocking_work(ms: u64) -> aioproto::Result<u64> {
//!     let lp = get_running_loop()?;
//!     lp.run_in_executor(move || {
//!         std::thread::sleep(Duration::from_millis(ms)); // fine: not on the loop
//!         ms
//!     })?
//!     .await
//! }
//!
//! let lp = EventLoop::new()?;
//! let start = Instant::now();
//! let total = lp.run_until_complete(async {
//!     let a = create_task(blocking_work(50));
//!     let b = create_task(blocking_work(50));
//!     // The loop is free: this ticker runs while both sleep.
//!     let ticker = create_task(async { sleep(Duration::from_millis(5)).await });
//!     ticker.await?;
//!     Ok::<_, aioproto::Error>(a.await? + b.await?)
//! })??;
//! assert_eq!(total, 100);
//! // Both 50 ms sleeps overlapped: about 50 ms in all, not 100.
//! println!("elapsed: {:?}", start.elapsed());
//! # Ok::<(), aioproto::Error>(())
//! ```
//!
//! Under a plain `#[tokio::main]`, `tokio::task::spawn_blocking` does the same.
//!
//! The program `blocking_sleep` in `examples/` shows both halves side by side
//! with elapsed times, and the debug-mode warning on stderr.
//!
//! ## Multi-threaded loops
//!
//! [`EventLoop::builder`](crate::EventLoop::builder)`.multi_thread(true)` runs
//! tasks on several threads, so one blocked task no longer stalls the others —
//! but callbacks and tasks then run in parallel and their order is no longer
//! deterministic. Prefer the single-threaded loop plus `run_in_executor`.
