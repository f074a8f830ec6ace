//! Micro-benchmark for the asyncio layer: the cost of one `call_soon`
//! callback and of one spawned-and-awaited `Task`, each next to a plain tokio
//! baseline measured in the same run on the same kind of single-threaded runtime.
//!
//! ```text
//! loop_bench [N]          (default 200000 operations per measurement, best of 5 rounds)
//! loop_bench N MODE       runs one measurement once, for instruction counting
//!                         (MODE: call_soon | tokio_callbacks | tasks | tokio_tasks | none)
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aioproto::{EventLoop, Future, create_task};
use clap::Parser;

// Unlike the server benchmarks, this one keeps the system allocator (glibc's
// malloc), as in every earlier round of these figures: it holds no idle
// connections, and a task's cost is largely its allocations, so the
// allocator moves both sides of each ratio. With jemalloc (measured at
// 68b3da2): create_task + await 3,013 vs tokio 1,587 instructions (1.90x),
// call_soon 489 vs 397 (1.23x); see DESIGN.md.
const ROUNDS: usize = 5;

fn best_of(mut f: impl FnMut() -> Duration) -> Duration {
    (0..ROUNDS).map(|_| f()).min().unwrap_or_default()
}

fn per_op(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

/// aioproto: N `call_soon` callbacks; the last one completes a Future.
fn aioproto_call_soon(lp: &EventLoop, n: usize) -> Duration {
    let counter = Arc::new(AtomicUsize::new(0));
    let done: Future<()> = lp.create_future();
    let start = Instant::now();
    for _ in 0..n {
        let (c, d) = (counter.clone(), done.clone());
        lp.call_soon(move || {
            if c.fetch_add(1, Ordering::Relaxed) + 1 == n {
                let _ = d.set_result(());
            }
        })
        .expect("loop open");
    }
    lp.run_until_complete(done).expect("run").expect("done");
    start.elapsed()
}

/// tokio baseline: N boxed closures through an unbounded channel drained by one task.
fn tokio_channel_callbacks(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Box<dyn FnOnce() + Send>>();
        for _ in 0..n {
            let c = counter.clone();
            let _ = tx.send(Box::new(move || {
                c.fetch_add(1, Ordering::Relaxed);
            }));
        }
        drop(tx);
        let drain = tokio::spawn(async move {
            while let Some(cb) = rx.recv().await {
                cb();
            }
        });
        let _ = drain.await;
    });
    assert_eq!(counter.load(Ordering::Relaxed), n);
    start.elapsed()
}

/// aioproto: N tasks created with `create_task`, then each awaited.
fn aioproto_tasks(lp: &EventLoop, n: usize) -> Duration {
    let start = Instant::now();
    let sum = lp
        .run_until_complete(async move {
            let tasks: Vec<_> = (0..n).map(|i| create_task(async move { Ok(i) })).collect();
            let mut sum = 0usize;
            for t in tasks {
                sum = sum.wrapping_add(t.await?);
            }
            Ok::<_, aioproto::Error>(sum)
        })
        .expect("run")
        .expect("tasks");
    std::hint::black_box(sum);
    start.elapsed()
}

/// tokio baseline: N `tokio::spawn`s, then each JoinHandle awaited.
fn tokio_tasks(rt: &tokio::runtime::Runtime, n: usize) -> Duration {
    let start = Instant::now();
    let sum = rt.block_on(async move {
        let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(async move { i })).collect();
        let mut sum = 0usize;
        for t in tasks {
            sum = sum.wrapping_add(t.await.expect("join"));
        }
        sum
    });
    std::hint::black_box(sum);
    start.elapsed()
}

/// Micro-benchmark for the asyncio layer: the cost of one `call_soon`
/// callback and of one spawned-and-awaited Task, next to plain tokio baselines.
///
/// Without MODE: every measurement, best of 5 rounds, as a table. With MODE:
/// one measurement once, for instruction counting under cachegrind.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// Operations per measurement (above 0).
    #[arg(value_name = "N", default_value = "200000", value_parser = parse_ops)]
    n: usize,
    /// Run only this measurement, once.
    #[arg(value_name = "MODE", value_enum)]
    mode: Option<Mode>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
enum Mode {
    CallSoon,
    TokioCallbacks,
    Tasks,
    TokioTasks,
    None,
}

fn parse_ops(value: &str) -> Result<usize, String> {
    match aioproto_tools::parse_count(value)? {
        0 => Err("must be above 0".to_owned()),
        n => Ok(n),
    }
}

fn main() {
    let Cli { n, mode } = Cli::parse();
    let lp = EventLoop::new().expect("event loop");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    if let Some(mode) = mode {
        // One run of one measurement (plus the fixed set-up), for cachegrind.
        match mode {
            Mode::CallSoon => drop(aioproto_call_soon(&lp, n)),
            Mode::TokioCallbacks => drop(tokio_channel_callbacks(&rt, n)),
            Mode::Tasks => drop(aioproto_tasks(&lp, n)),
            Mode::TokioTasks => drop(tokio_tasks(&rt, n)),
            Mode::None => {}
        }
        lp.close().expect("close");
        return;
    }

    let cb = best_of(|| aioproto_call_soon(&lp, n));
    let cb_base = best_of(|| tokio_channel_callbacks(&rt, n));
    let task = best_of(|| aioproto_tasks(&lp, n));
    let task_base = best_of(|| tokio_tasks(&rt, n));

    println!("single-threaded loop, {n} operations, best of {ROUNDS}");
    println!("| operation | aioproto ns/op | plain tokio ns/op | ratio |");
    println!("|---|---|---|---|");
    let row = |name: &str, a: Duration, b: Duration| {
        let (a, b) = (per_op(a, n), per_op(b, n));
        println!("| {name} | {a:.0} | {b:.0} | {:.2} |", a / b);
    };
    row(
        "call_soon callback (vs mpsc of boxed closures)",
        cb,
        cb_base,
    );
    row(
        "create_task + await (vs tokio::spawn + JoinHandle)",
        task,
        task_base,
    );
    lp.close().expect("close");
}
