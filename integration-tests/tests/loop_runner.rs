//! `run` and `Runner` (asyncio.run / asyncio.Runner): the main task, the
//! cancel-and-await cleanup of tasks left over, the default executor's
//! shutdown, and errors.

mod support;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aioproto::{
    Error, EventLoop, ExceptionContext, Runner, TaskGroup, create_task, current_task, run, sleep,
};
use support::ms;

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn run_returns_main_result_flat() {
    assert_eq!(run(async { Ok::<_, Error>(5) }).unwrap(), 5);
    assert_eq!(run(async { String::from("plain") }).unwrap(), "plain");
    let err = run(async { Err::<(), _>(Error::invalid_argument("bad input")) }).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

#[test]
fn main_is_a_task_and_need_not_be_send() {
    let not_send = Rc::new(7);
    let (name, value) = run(async move {
        let me = current_task().expect("main runs as a task");
        sleep(ms(1)).await?;
        Ok::<_, Error>((me.name(), *not_send))
    })
    .unwrap();
    assert!(name.starts_with("Task-"), "{name}");
    assert_eq!(value, 7);
}

#[test]
fn leftover_tasks_are_cancelled_and_their_async_cleanup_runs() {
    let cleaned = Arc::new(AtomicUsize::new(0));
    let c = cleaned.clone();
    run(async move {
        for _ in 0..3 {
            let c = c.clone();
            create_task(async move {
                let outcome = sleep(LONG).await;
                assert!(outcome.as_ref().unwrap_err().is_cancelled());
                // Cleanup that itself awaits: only runs if the task is awaited.
                sleep(ms(1)).await.ok();
                c.fetch_add(1, Ordering::SeqCst);
                outcome
            });
        }
        sleep(ms(1)).await
    })
    .unwrap();
    assert_eq!(cleaned.load(Ordering::SeqCst), 3);
}

#[test]
fn task_group_children_left_running_are_cleaned_up_too() {
    let exited = Arc::new(AtomicBool::new(false));
    let e = exited.clone();
    run(async move {
        create_task(async move {
            let tg = TaskGroup::new();
            tg.create_task(async { sleep(LONG).await })?;
            let outcome = tg.join().await;
            e.store(true, Ordering::SeqCst);
            outcome
        });
        sleep(ms(1)).await
    })
    .unwrap();
    assert!(exited.load(Ordering::SeqCst), "the group's exit ran");
}

#[test]
fn failures_during_shutdown_go_to_the_exception_handler() {
    let runner = Runner::new();
    let lp = runner.get_loop().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(Arc::new(
        move |_: &EventLoop, ctx: &ExceptionContext| {
            s.lock()
                .unwrap()
                .push((ctx.message.clone(), ctx.task.clone()));
        },
    )));
    runner
        .run(async {
            aioproto::create_task_named("stubborn", async {
                let _ = sleep(LONG).await;
                Err::<(), _>(Error::invalid_state("cleanup failed"))
            });
            sleep(ms(1)).await
        })
        .unwrap();
    runner.close().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].0,
        "unhandled exception during aioproto::run() shutdown"
    );
    assert_eq!(seen[0].1.as_deref(), Some("stubborn"));
}

#[test]
fn runner_keeps_one_loop_across_runs_and_cleans_up_on_close() {
    let runner = Runner::new();
    let lp = runner.get_loop().unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let cancelled = Arc::new(AtomicBool::new(false));
    let (s, c) = (started.clone(), cancelled.clone());
    runner
        .run(async move {
            create_task(async move {
                s.store(true, Ordering::SeqCst);
                let outcome = sleep(LONG).await;
                c.store(outcome.is_err(), Ordering::SeqCst);
                outcome
            });
            sleep(ms(1)).await
        })
        .unwrap();
    // The task left by the first run is still pending on the loop.
    assert!(started.load(Ordering::SeqCst));
    assert!(!cancelled.load(Ordering::SeqCst));
    let same = runner.run(async { aioproto::get_running_loop() }).unwrap();
    assert_eq!(same, lp);
    runner.close().unwrap();
    assert!(cancelled.load(Ordering::SeqCst), "close cancelled it");
    assert!(lp.is_closed());
    runner.close().unwrap(); // idempotent
    assert!(matches!(runner.run(async {}), Err(Error::InvalidState(_))));
}

#[test]
fn dropping_a_runner_cleans_up() {
    let cancelled = Arc::new(AtomicBool::new(false));
    let c = cancelled.clone();
    {
        let runner = Runner::new();
        runner
            .run(async move {
                create_task(async move {
                    let outcome = sleep(LONG).await;
                    c.store(true, Ordering::SeqCst);
                    outcome
                });
                // Let it start: a task cancelled before it ever ran never runs
                // its body, as in asyncio.
                sleep(ms(1)).await
            })
            .unwrap();
    }
    assert!(cancelled.load(Ordering::SeqCst));
}

#[test]
fn run_inside_a_runtime_is_an_error() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(async { run(async { 1_u8 }) }).unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err}");
}

#[test]
fn run_waits_for_executor_jobs_and_then_refuses_new_ones() {
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let lp = run(async move {
        let lp = aioproto::get_running_loop()?;
        // A job still running when main returns: run waits for it.
        lp.run_in_executor(move || {
            let _ = rx.recv_timeout(Duration::from_secs(10));
            f.store(true, Ordering::SeqCst);
        })?;
        tx.send(()).ok();
        Ok::<_, Error>(lp)
    })
    .unwrap();
    assert!(
        finished.load(Ordering::SeqCst),
        "shutdown waited for the job"
    );
    assert!(lp.is_closed());
}

#[test]
fn shutdown_default_executor_times_out_without_failing() {
    let lp = EventLoop::new().unwrap();
    let l2 = lp.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    lp.run_until_complete(async move {
        let job = l2.run_in_executor(move || rx.recv_timeout(Duration::from_secs(10)).is_ok())?;
        l2.shutdown_default_executor(Some(ms(20))).await?;
        assert!(!job.done(), "the job outlives the timeout");
        assert!(matches!(
            l2.run_in_executor(|| ()),
            Err(Error::InvalidState(m)) if m.contains("shutdown")
        ));
        tx.send(()).ok();
        assert!(job.await?);
        Ok::<_, Error>(())
    })
    .unwrap()
    .unwrap();
    lp.close().unwrap();
}
