//! Spec T68 (wait, as_completed) and T69 (wait_for).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aioproto::{Error, Future, ReturnWhen, Task, as_completed, create_task, sleep, wait, wait_for};
use support::{ms, run_loop};

fn after<T: Clone + Send + 'static>(delay: u64, value: T) -> Task<T> {
    create_task(async move {
        sleep(ms(delay)).await?;
        Ok(value)
    })
}

#[test]
fn wait_first_completed_leaves_others_running() {
    run_loop(async {
        let (b, a) = (after(10, 'b'), after(10_000, 'a'));
        let start = std::time::Instant::now();
        let (done, pending) = wait(vec![b.clone(), a.clone()], ReturnWhen::FirstCompleted, None)
            .await
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].result().unwrap(), 'b');
        assert_eq!(pending.len(), 1);
        assert!(!a.done() && !a.cancelled());
        a.cancel();
    });
}

#[test]
fn wait_first_exception_returns_when_one_fails() {
    run_loop(async {
        let slow = after(10_000, 0);
        let bad = create_task(async {
            sleep(ms(5)).await?;
            Err::<i32, _>(Error::invalid_argument("x"))
        });
        let (done, pending) = wait(vec![slow.clone(), bad], ReturnWhen::FirstException, None)
            .await
            .unwrap();
        assert_eq!((done.len(), pending.len()), (1, 1));
        assert!(done[0].exception().unwrap().is_some());
        slow.cancel();
        // Without failures FIRST_EXCEPTION acts as ALL_COMPLETED.
        let (done, pending) = wait(
            vec![after(1, 1), after(5, 2)],
            ReturnWhen::FirstException,
            None,
        )
        .await
        .unwrap();
        assert_eq!((done.len(), pending.len()), (2, 0));
    });
}

#[test]
fn wait_timeout_returns_without_raising_or_cancelling() {
    run_loop(async {
        let (a, b) = (after(1, 1), after(10_000, 2));
        let (done, pending) = wait(vec![a, b.clone()], ReturnWhen::AllCompleted, Some(ms(500)))
            .await
            .unwrap();
        assert_eq!((done.len(), pending.len()), (1, 1));
        assert!(!b.cancelled() && !b.done());
        b.cancel();
    });
}

#[test]
fn items_done_in_the_same_tick_all_land_in_done() {
    run_loop(async {
        let futs: Vec<Future<i32>> = (0..3).map(|_| Future::new()).collect();
        let fs = futs.clone();
        create_task(async move {
            sleep(ms(2)).await?;
            for (i, f) in fs.iter().enumerate() {
                f.set_result(i as i32)?;
            }
            Ok(())
        });
        let (done, pending) = wait(futs, ReturnWhen::FirstCompleted, None).await.unwrap();
        assert_eq!((done.len(), pending.len()), (3, 0));
    });
}

#[test]
fn wait_on_empty_list_is_invalid_argument() {
    run_loop(async {
        let empty: Vec<Task<()>> = Vec::new();
        assert!(matches!(
            wait(empty, ReturnWhen::AllCompleted, None).await,
            Err(Error::InvalidArgument(_))
        ));
    });
}

#[test]
fn as_completed_yields_in_completion_order_then_times_out() {
    run_loop(async {
        let mut it = as_completed(vec![after(30, "3"), after(10, "1"), after(20, "2")], None);
        let mut got = Vec::new();
        while let Some(r) = it.next().await {
            got.push(r.unwrap());
        }
        assert_eq!(got, ["1", "2", "3"]);

        let slow = after(10_000, "x");
        let mut it = as_completed(vec![after(1, "a"), slow.clone()], Some(ms(500)));
        assert_eq!(it.next().await.unwrap().unwrap(), "a");
        assert!(it.next().await.unwrap().unwrap_err().is_timeout());
        assert!(it.next().await.is_none());
        assert!(!slow.cancelled());
        slow.cancel();
    });
}

#[test]
fn wait_for_zero_timeout_never_starts_a_coroutine() {
    run_loop(async {
        let started = Arc::new(AtomicBool::new(false));
        let s = started.clone();
        let r = wait_for(
            async move {
                s.store(true, Ordering::SeqCst);
                Ok(1)
            },
            Some(Duration::ZERO),
        )
        .await;
        assert!(r.unwrap_err().is_timeout());
        sleep(ms(2)).await.unwrap();
        assert!(!started.load(Ordering::SeqCst));
    });
}

#[test]
fn wait_for_zero_timeout_returns_a_done_future() {
    run_loop(async {
        let fut = Future::new();
        fut.set_result("ready").unwrap();
        assert_eq!(wait_for(&fut, Some(Duration::ZERO)).await.unwrap(), "ready");
    });
}

#[test]
fn wait_for_timeout_cancels_and_awaits_the_inner_task() {
    run_loop(async {
        let cleaned_up = Arc::new(AtomicBool::new(false));
        let c = cleaned_up.clone();
        let inner = create_task(async move {
            let r = sleep(Duration::from_secs(10)).await;
            // The "finally" block: it takes a while, and wait_for must wait for it.
            let _ = aioproto::cancellable(tokio::time::sleep(ms(10))).await;
            c.store(true, Ordering::SeqCst);
            r.map(|()| 0)
        });
        let r = wait_for(&inner, Some(ms(10))).await;
        assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
        assert!(cleaned_up.load(Ordering::SeqCst), "cleanup had not run");
        assert!(inner.cancelled());
    });
}

#[test]
fn wait_for_returns_value_when_inner_swallows_cancel() {
    run_loop(async {
        let inner = create_task(async {
            let _ = sleep(Duration::from_secs(10)).await;
            Ok(42)
        });
        assert_eq!(wait_for(inner, Some(ms(10))).await.unwrap(), 42);
    });
}

#[test]
fn wait_for_propagates_error_raised_during_cancellation() {
    run_loop(async {
        let inner = create_task(async {
            sleep(Duration::from_secs(10)).await?;
            Ok(())
        });
        let raising = create_task(async move {
            match inner.await {
                Err(e) if e.is_cancelled() => Err(Error::invalid_argument("in cleanup")),
                other => other,
            }
        });
        let r = wait_for(raising, Some(ms(10))).await;
        assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    });
}

#[test]
fn cancelling_wait_for_cancels_inner_with_or_without_timeout() {
    for timeout in [None, Some(Duration::from_secs(100))] {
        run_loop(async move {
            let inner = after(10_000, 0);
            let i = inner.clone();
            let outer = create_task(async move { wait_for(i, timeout).await });
            sleep(ms(2)).await.unwrap();
            outer.cancel();
            assert!(outer.clone().await.unwrap_err().is_cancelled());
            assert!(inner.cancelled());
        });
    }
}
