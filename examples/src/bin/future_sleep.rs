//! The classic asyncio tutorial, part 1: a Future set to `Done!` after a sleep.
//!
//! ```text
//! future_sleep [--scale F]
//! ```
//!
//! The asyncio original:
//!
//! ```python
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

use std::time::Duration;

use aioproto::{EventLoop, Future, sleep};
use aioproto_examples::{Args, init_logging, scale, usage_exit};

const USAGE: &str = "future_sleep [--scale F]";

async fn my_coroutine(future: Future<&'static str>, seconds: f64) -> aioproto::Result<()> {
    sleep(Duration::from_secs_f64(seconds)).await?;
    future.set_result("Done!")
}

fn run(scale: f64) -> aioproto::Result<()> {
    let lp = EventLoop::new()?;
    let future = lp.create_future();
    lp.create_task(my_coroutine(future.clone(), 2.0 * scale))?;
    lp.run_until_complete(future.clone())??;
    println!("{}", future.result()?);
    lp.close()
}

fn main() {
    init_logging();
    let args = Args::parse(&["scale"], &[]).unwrap_or_else(|e| usage_exit(USAGE, &e));
    let scale = scale(&args).unwrap_or_else(|e| usage_exit(USAGE, &e));
    if let Err(err) = run(scale) {
        eprintln!("future_sleep: {err}");
        std::process::exit(1);
    }
}
