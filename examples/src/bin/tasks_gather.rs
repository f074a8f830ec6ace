//! The classic asyncio tutorial, part 2: three tasks gathered.
//!
//! ```text
//! tasks_gather [--scale F]
//! ```
//!
//! Task-A sleeps 10 s, Task-B and Task-C 1 s each (times `--scale`); they run
//! concurrently, so the whole run takes about 10 s, not 12 s. The asyncio original:
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

use std::time::{Duration, Instant};

use aioproto::{EventLoop, gather, sleep};
use aioproto_examples::{format_seconds, init_logging, parse_scale};
use clap::Parser;

/// The asyncio tutorial, part 2: Task-A (10 s), Task-B and Task-C (1 s each)
/// gathered; they overlap, so the run takes about 10 s.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Multiply every sleep by F (a number above 0), e.g. 0.1 for a quick run.
    #[arg(long, value_name = "F", default_value = "1", value_parser = parse_scale)]
    scale: f64,
}

async fn my_coroutine(task_name: &'static str, seconds: f64) -> aioproto::Result<()> {
    println!(
        "[{task_name}] coroutine will sleep for {} second(s)…",
        format_seconds(seconds)
    );
    sleep(Duration::from_secs_f64(seconds)).await?;
    println!("[{task_name}] done!");
    Ok(())
}

fn run(scale: f64) -> aioproto::Result<()> {
    let lp = EventLoop::new()?;
    let start = Instant::now();
    let tasks = vec![
        lp.create_task_named("Task-A", my_coroutine("Task-A", 10.0 * scale))?,
        lp.create_task_named("Task-B", my_coroutine("Task-B", 1.0 * scale))?,
        lp.create_task_named("Task-C", my_coroutine("Task-C", 1.0 * scale))?,
    ];
    lp.run_until_complete(gather(tasks))??;
    println!("elapsed: {:.2}s", start.elapsed().as_secs_f64());
    lp.close()
}

fn main() {
    init_logging();
    let cli = Cli::parse();
    if let Err(err) = run(cli.scale) {
        eprintln!("tasks_gather: {err}");
        std::process::exit(1);
    }
}
