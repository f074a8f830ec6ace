//! # 1. The event loop and futures
//!
//! The classic asyncio tutorial starts with a loop, a `Future`, and a coroutine
//! that sets the future's result after a sleep:
//!
//! ```python
//! import asyncio
//!
//! async def my_coroutine(future):
//!     await asyncio.sleep(2)
//!     future.set_result('Done!')
//!
//! loop = asyncio.new_event_loop()
//! future = loop.create_future()
//! loop.create_task(my_coroutine(future))
//! loop.run_until_complete(future)
//! print(future.result())
//! loop.close()
//! ```
//!
//! The aioproto version reads the same. A coroutine is an `async fn`
//! returning [`Result`](crate::Result), so `await?` plays the role of
//! "an exception propagates":
//!
//! ```
//! use aioproto::{EventLoop, Future, sleep};
//! use std::time::Duration;
//!
//! async fn my_coroutine(future: Future<&'static str>) -> aioproto::Result<()> {
//!     sleep(Duration::from_millis(20)).await?; // 2 s in the tutorial
//!     future.set_result("Done!")
//! }
//!
//! let lp = EventLoop::new()?;
//! let future = lp.create_future();
//! lp.create_task(my_coroutine(future.clone()))?;
//! lp.run_until_complete(future.clone())??;
//! assert_eq!(future.result()?, "Done!");
//! lp.close()?;
//! # Ok::<(), aioproto::Error>(())
//! ```
//!
//! The program `future_sleep` in `examples/` is exactly this.
//!
//! ## What is different
//!
//! | asyncio | aioproto |
//! |---|---|
//! | `asyncio.new_event_loop()` | [`EventLoop::new`](crate::EventLoop::new) — a single-threaded tokio runtime |
//! | `loop.run_until_complete(x)` returns the value or raises | returns `Result<Output>`: the outer `Result` is about the loop (closed, already running), the inner one is `x`'s own |
//! | `future.set_result(v)` raises `InvalidStateError` if done | returns `Err(Error::InvalidState(_))` |
//! | `future.result()` | [`Future::result`](crate::Future::result) clones the value (`take_result` moves it) |
//! | `asyncio.run(main())` | `#[tokio::main]` — every aioproto type works without an `EventLoop` too |
//!
//! ## Callbacks and time
//!
//! `call_soon` callbacks run in FIFO order on the loop's next iteration;
//! `call_later` ones by deadline, ties in scheduling order. Both return a
//! [`Handle`](crate::Handle) that can be cancelled:
//!
//! ```python
//! loop.call_soon(print, 'first')
//! h = loop.call_later(0.01, print, 'never')
//! h.cancel()
//! loop.call_later(0.02, loop.stop)
//! loop.run_forever()
//! ```
//!
//! ```
//! use aioproto::EventLoop;
//! use std::sync::{Arc, Mutex};
//!
//! let lp = EventLoop::new()?;
//! let out = Arc::new(Mutex::new(Vec::new()));
//! let o = out.clone();
//! lp.call_soon(move || o.lock().unwrap().push("first"))?;
//! let o = out.clone();
//! let h = lp.call_later(0.01, move || o.lock().unwrap().push("never"))?;
//! h.cancel();
//! let stopper = lp.clone();
//! lp.call_later(0.02, move || stopper.stop())?;
//! lp.run_forever()?;
//! assert_eq!(*out.lock().unwrap(), ["first"]);
//! # Ok::<(), aioproto::Error>(())
//! ```
//!
//! ## Done-callbacks run later
//!
//! As in asyncio, a future's done-callbacks never run inside `set_result`;
//! they are scheduled on the loop and run on its next iteration, in the
//! order they were added:
//!
//! ```
//! use aioproto::{DoneCallback, EventLoop, Future};
//! use std::sync::{Arc, Mutex};
//!
//! let lp = EventLoop::new()?;
//! let fut: Future<i32> = lp.create_future();
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let s = seen.clone();
//! fut.add_done_callback(&DoneCallback::new(move |f: &Future<i32>| {
//!     s.lock().unwrap().push(f.result().unwrap());
//! }));
//! fut.set_result(42)?;
//! assert!(seen.lock().unwrap().is_empty());
//! lp.run_until_complete(aioproto::sleep(std::time::Duration::from_millis(1)))??;
//! assert_eq!(*seen.lock().unwrap(), [42]);
//! # Ok::<(), aioproto::Error>(())
//! ```
//!
//! ## Errors the loop reports
//!
//! A task that fails while nobody awaits it is reported through the loop's
//! exception handler ("Task exception was never retrieved"), as are panics in
//! callbacks. The default handler logs with `tracing`;
//! [`set_exception_handler`](crate::EventLoop::set_exception_handler) replaces it.
