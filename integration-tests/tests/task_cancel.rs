//! Spec T65: Task cancellation semantics; plus names, current_task, all_tasks,
//! panics and the "cancelled before it started" rule.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aioproto::{
    Error, Future, all_tasks, cancellable, create_task, create_task_named, current_task, sleep,
};
use support::{ms, run_loop};

#[test]
fn task_catching_cancel_returns_value_and_cancels_awaited_future() {
    run_loop(async {
        let fut2 = Future::<i32>::new();
        let f2 = fut2.clone();
        let task = create_task(async move {
            match f2.await {
                Err(e) if e.is_cancelled() => Ok(42),
                other => other,
            }
        });
        sleep(ms(0)).await.unwrap();
        assert!(task.cancel());
        assert_eq!(task.clone().await.unwrap(), 42);
        assert!(fut2.cancelled(), "cancel must cancel the awaited future");
        assert!(!task.cancelled());
    });
}

#[test]
fn task_ignoring_cancel_returns_next_awaited_value() {
    run_loop(async {
        let (fut1, fut2, fut3) = (
            Future::<()>::new(),
            Future::<()>::new(),
            Future::<i32>::new(),
        );
        let (f1, f2, f3) = (fut1.clone(), fut2.clone(), fut3.clone());
        let task = create_task(async move {
            f1.await?;
            let _ = f2.await; // swallow the cancellation
            f3.await
        });
        sleep(ms(0)).await.unwrap();
        fut1.set_result(()).unwrap();
        sleep(ms(1)).await.unwrap();
        assert!(task.cancel());
        sleep(ms(1)).await.unwrap();
        assert!(fut2.cancelled());
        assert!(!task.done());
        fut3.set_result(42).unwrap();
        assert_eq!(task.clone().await.unwrap(), 42);
        assert!(!task.cancelled());
    });
}

#[test]
fn task_cancelling_itself_before_sleep_ends_cancelled_at_once() {
    run_loop(async {
        let task = create_task(async {
            current_task().unwrap().cancel();
            sleep(std::time::Duration::from_secs(100)).await?;
            Ok(())
        });
        let started = std::time::Instant::now();
        assert!(task.clone().await.unwrap_err().is_cancelled());
        assert!(task.cancelled());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    });
}

#[test]
fn cancel_then_immediate_return_still_ends_cancelled() {
    run_loop(async {
        let task = create_task(async {
            current_task().unwrap().cancel();
            Ok(12)
        });
        assert!(task.clone().await.unwrap_err().is_cancelled());
        assert!(task.cancelled());
    });
}

#[test]
fn cancel_returns_true_while_pending_and_counts() {
    run_loop(async {
        let task = create_task(async { sleep(std::time::Duration::from_secs(10)).await });
        sleep(ms(0)).await.unwrap();
        assert_eq!(task.cancelling(), 0);
        assert!(task.cancel());
        assert_eq!(task.cancelling(), 1);
        assert!(task.cancel());
        assert_eq!(task.cancelling(), 2);
        assert!(task.clone().await.is_err());
        assert!(task.cancelled());
        assert!(!task.cancel());
    });
}

#[test]
fn uncancel_after_catching_lets_a_later_cancel_work() {
    run_loop(async {
        let task = create_task(async {
            if let Err(e) = sleep(std::time::Duration::from_secs(10)).await {
                assert!(e.is_cancelled());
                assert_eq!(current_task().unwrap().uncancel(), 0);
            }
            sleep(std::time::Duration::from_secs(10)).await
        });
        sleep(ms(1)).await.unwrap();
        task.cancel();
        sleep(ms(5)).await.unwrap();
        assert!(!task.done());
        assert_eq!(task.cancelling(), 0);
        task.cancel();
        assert!(task.clone().await.unwrap_err().is_cancelled());
        assert!(task.cancelled());
        assert_eq!(task.cancelling(), 1);
    });
}

#[test]
fn uncancel_before_the_task_resumes_removes_the_pending_cancel() {
    run_loop(async {
        let fut = Future::<()>::new();
        let f = fut.clone();
        let task = create_task(async move {
            f.await?;
            Ok(42)
        });
        sleep(ms(0)).await.unwrap();
        fut.set_result(()).unwrap(); // make the task runnable
        task.cancel();
        assert_eq!(task.cancelling(), 1);
        assert_eq!(task.uncancel(), 0);
        assert_eq!(task.clone().await.unwrap(), 42);
    });
}

#[test]
fn cancel_message_is_carried() {
    run_loop(async {
        let task = create_task(async { sleep(std::time::Duration::from_secs(10)).await });
        sleep(ms(0)).await.unwrap();
        task.cancel_with_message("stop now");
        match task.clone().await {
            Err(Error::Cancelled(Some(m))) => assert_eq!(m, "stop now"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn task_cancelled_before_it_starts_never_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    run_loop({
        let ran = ran.clone();
        async move {
            let task = create_task(async move {
                ran.store(true, Ordering::SeqCst);
                Ok(())
            });
            task.cancel();
            assert!(task.clone().await.unwrap_err().is_cancelled());
        }
    });
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn cancelling_the_awaiter_cancels_the_awaited_task() {
    run_loop(async {
        let inner = create_task(async { sleep(std::time::Duration::from_secs(10)).await });
        let i = inner.clone();
        let outer = create_task(async move { i.await });
        sleep(ms(1)).await.unwrap();
        outer.cancel();
        assert!(outer.clone().await.unwrap_err().is_cancelled());
        assert!(inner.cancelled());
    });
}

#[test]
fn cancellable_makes_foreign_futures_cancellation_points() {
    run_loop(async {
        let task = create_task(async {
            cancellable(tokio::time::sleep(std::time::Duration::from_secs(10))).await?;
            Ok(())
        });
        sleep(ms(1)).await.unwrap();
        task.cancel();
        assert!(task.clone().await.unwrap_err().is_cancelled());
    });
}

#[test]
fn names_current_task_and_all_tasks() {
    run_loop(async {
        assert!(current_task().is_none());
        let t = create_task_named("worker", async {
            let me = current_task().unwrap();
            assert_eq!(me.name(), "worker");
            sleep(ms(20)).await?;
            Ok(me.name())
        });
        let unnamed = create_task(async { Ok(()) });
        assert!(unnamed.name().starts_with("Task-"));
        sleep(ms(1)).await.unwrap();
        let names: Vec<String> = all_tasks().iter().map(|t| t.name()).collect();
        assert_eq!(names, ["worker"]);
        t.set_name("renamed");
        assert_eq!(t.clone().await.unwrap(), "renamed");
        assert!(all_tasks().is_empty());
    });
}

#[test]
fn panicking_task_ends_with_an_error() {
    run_loop(async {
        let task = create_task(async {
            if true {
                panic!("kaboom");
            }
            Ok(())
        });
        match task.await {
            Err(Error::CallbackPanicked { message, .. }) => assert_eq!(message, "kaboom"),
            other => panic!("{other:?}"),
        }
    });
}
