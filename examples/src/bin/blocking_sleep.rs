//! The classic asyncio tutorial, part 3: what a blocking sleep does to the loop.
//!
//! ```text
//! blocking_sleep [--scale F]
//! ```
//!
//! The same three tasks as `tasks_gather` (Task-A 10 s, Task-B and Task-C
//! 1 s, times `--scale`), first with a *blocking* sleep
//! (`std::thread::sleep`, Python's `time.sleep`) inside the tasks: each task
//! holds the single-threaded loop for its whole sleep, so they run one after
//! another (about 12 s) and debug mode logs `Executing <Task name='Task-A'>
//! took 10.000 seconds` on stderr. Then the fix: the blocking call goes to
//! `run_in_executor`, and the tasks overlap again (about 10 s).
//!
//! ```python
//! async def blocking(task_name, seconds):
//!     print(f'[{task_name}] coroutine will sleep for {seconds} second(s)…')
//!     time.sleep(seconds)                                  # blocks the loop
//!     print(f'[{task_name}] done!')
//!
//! async def fixed(task_name, seconds):
//!     print(f'[{task_name}] coroutine will sleep for {seconds} second(s)…')
//!     await loop.run_in_executor(None, time.sleep, seconds)  # does not
//!     print(f'[{task_name}] done!')
//! ```

use std::time::{Duration, Instant};

use aioproto::{EventLoop, Task, gather, get_running_loop};
use aioproto_examples::{format_seconds, init_logging, parse_scale};
use clap::Parser;

/// The asyncio tutorial, part 3: the same three tasks with a blocking sleep
/// stall the loop (about 12 s); then the fix, run_in_executor (about 10 s).
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Multiply every sleep by F (a number above 0), e.g. 0.1 for a quick run.
    #[arg(long, value_name = "F", default_value = "1", value_parser = parse_scale)]
    scale: f64,
}

fn announce(task_name: &str, seconds: f64) {
    println!(
        "[{task_name}] coroutine will sleep for {} second(s)…",
        format_seconds(seconds)
    );
}

async fn blocking(task_name: &'static str, seconds: f64) -> aioproto::Result<()> {
    announce(task_name, seconds);
    // The mistake: a blocking call inside a coroutine stalls the whole loop.
    std::thread::sleep(Duration::from_secs_f64(seconds));
    println!("[{task_name}] done!");
    Ok(())
}

async fn fixed(task_name: &'static str, seconds: f64) -> aioproto::Result<()> {
    announce(task_name, seconds);
    let lp = get_running_loop()?;
    lp.run_in_executor(move || std::thread::sleep(Duration::from_secs_f64(seconds)))?
        .await?;
    println!("[{task_name}] done!");
    Ok(())
}

fn three<F>(
    lp: &EventLoop,
    scale: f64,
    f: fn(&'static str, f64) -> F,
) -> aioproto::Result<Vec<Task<()>>>
where
    F: std::future::Future<Output = aioproto::Result<()>> + Send + 'static,
{
    Ok(vec![
        lp.create_task_named("Task-A", f("Task-A", 10.0 * scale))?,
        lp.create_task_named("Task-B", f("Task-B", 1.0 * scale))?,
        lp.create_task_named("Task-C", f("Task-C", 1.0 * scale))?,
    ])
}

fn run(scale: f64) -> aioproto::Result<()> {
    let lp = EventLoop::new()?;
    // Debug mode: warn about any task step that holds the loop for >= 100 ms
    // (scaled, so a small --scale still shows the warning).
    lp.set_debug(true);
    lp.set_slow_callback_duration(Duration::from_secs_f64(0.1 * scale.min(1.0)));

    println!("blocking: std::thread::sleep inside the tasks (the loop stalls)");
    let start = Instant::now();
    let tasks = three(&lp, scale, blocking)?;
    lp.run_until_complete(gather(tasks))??;
    println!("elapsed: {:.2}s", start.elapsed().as_secs_f64());

    println!("fixed: the blocking call runs in run_in_executor");
    let start = Instant::now();
    let tasks = three(&lp, scale, fixed)?;
    lp.run_until_complete(gather(tasks))??;
    println!("elapsed: {:.2}s", start.elapsed().as_secs_f64());
    lp.close()
}

fn main() {
    init_logging();
    let cli = Cli::parse();
    if let Err(err) = run(cli.scale) {
        eprintln!("blocking_sleep: {err}");
        std::process::exit(1);
    }
}
