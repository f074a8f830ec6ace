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
use aioproto_examples::{init_logging, parse_scale};
use clap::Parser;

/// The asyncio tutorial, part 1: a Future set to `Done!` after a 2 s sleep;
/// prints `Done!`.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Multiply every sleep by F (a number above 0), e.g. 0.1 for a quick run.
    #[arg(long, value_name = "F", default_value = "1", value_parser = parse_scale)]
    scale: f64,
}

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
    let cli = Cli::parse();
    if let Err(err) = run(cli.scale) {
        eprintln!("future_sleep: {err}");
        std::process::exit(1);
    }
}
