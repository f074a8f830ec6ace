//! Spec T66 (gather: order, errors, return_exceptions) and T67 (gather and
//! shield under cancellation); DESIGN contract item 10.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aioproto::{
    Awaitable, Error, Future, Task, create_task, gather, gather_return_exceptions, shield, sleep,
};
use support::{ms, run_loop};

fn after<T: Clone + Send + 'static>(delay: u64, value: T) -> Task<T> {
    create_task(async move {
        sleep(ms(delay)).await?;
        Ok(value)
    })
}

fn fail_after(delay: u64, msg: &'static str) -> Task<i32> {
    create_task(async move {
        sleep(ms(delay)).await?;
        Err(Error::invalid_argument(msg))
    })
}

#[test]
fn results_in_argument_order_not_completion_order() {
    let out =
        run_loop(async { gather(vec![after(30, 'a'), after(20, 'b'), after(10, 'c')]).await });
    assert_eq!(out.unwrap(), ['a', 'b', 'c']);
}

#[test]
fn first_error_propagates_at_once_and_siblings_keep_running() {
    run_loop(async {
        let slow = after(1000, 1);
        let g = gather(vec![
            slow.clone(),
            fail_after(5, "first"),
            fail_after(20, "second"),
        ]);
        let started = std::time::Instant::now();
        match g.await {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "first"),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < ms(900), "gather waited for siblings");
        assert!(!slow.done(), "sibling must still be running");
        assert_eq!(slow.clone().await.unwrap(), 1, "sibling not cancelled");
    });
}

#[test]
fn return_exceptions_puts_errors_in_place() {
    run_loop(async {
        let cancelled = after(1000, 0);
        let c2 = cancelled.clone();
        create_task(async move {
            sleep(ms(5)).await?;
            c2.cancel();
            Ok(())
        });
        let out = gather_return_exceptions(vec![
            after(10, 3),
            after(1, 1),
            fail_after(3, "exc"),
            cancelled,
        ])
        .await
        .unwrap();
        assert_eq!(*out[0].as_ref().unwrap(), 3);
        assert_eq!(*out[1].as_ref().unwrap(), 1);
        assert!(matches!(out[2], Err(Error::InvalidArgument(_))));
        assert!(matches!(out[3], Err(Error::Cancelled(_))));
    });
}

#[test]
fn same_task_twice_appears_twice_and_empty_gather_is_empty() {
    run_loop(async {
        let t = after(1, 7);
        assert_eq!(gather(vec![t.clone(), t]).await.unwrap(), [7, 7]);
        let empty: Vec<Task<i32>> = Vec::new();
        assert!(gather(empty).await.unwrap().is_empty());
    });
}

#[test]
fn plain_futures_are_wrapped_in_tasks() {
    run_loop(async {
        let aws: Vec<Awaitable<u8>> = vec![
            async { Ok(1) }.into(),
            async {
                sleep(ms(2)).await?;
                Ok(2)
            }
            .into(),
        ];
        assert_eq!(gather(aws).await.unwrap(), [1, 2]);
    });
}

#[test]
fn cancelling_the_awaiting_task_cancels_children() {
    run_loop(async {
        let continued = Arc::new(AtomicUsize::new(0));
        let child = |c: Arc<AtomicUsize>| {
            create_task(async move {
                sleep(std::time::Duration::from_secs(10)).await?;
                c.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        };
        let (d1, d2) = (child(continued.clone()), child(continued.clone()));
        let gatherer = create_task({
            let (d1, d2) = (d1.clone(), d2.clone());
            async move { gather(vec![d1, d2]).await }
        });
        sleep(ms(2)).await.unwrap();
        assert!(gatherer.cancel());
        assert!(gatherer.clone().await.unwrap_err().is_cancelled());
        assert!(d1.cancelled() && d2.cancelled());
        assert!(!gatherer.cancel());
        assert_eq!(
            continued.load(Ordering::SeqCst),
            0,
            "a child's continuation ran"
        );
        // Gather::cancel directly does the same.
        let (c1, c2) = (child(continued.clone()), child(continued.clone()));
        let g = gather(vec![c1.clone(), c2.clone()]);
        let g_handle = g.future();
        sleep(ms(1)).await.unwrap();
        assert!(g.cancel());
        sleep(ms(2)).await.unwrap();
        assert!(c1.cancelled() && c2.cancelled());
        assert!(g_handle.done());
        assert!(!g.cancel());
        assert_eq!(continued.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn cancelling_one_child_fails_gather_with_cancelled_error_but_others_run() {
    run_loop(async {
        let (a, b) = (after(1000, 1), after(20, 2));
        let g = gather(vec![a.clone(), b.clone()]);
        let fut = g.future();
        sleep(ms(1)).await.unwrap();
        a.cancel();
        assert!(g.await.unwrap_err().is_cancelled());
        assert!(!fut.cancelled(), "gather itself is not cancelled");
        assert!(fut.exception().unwrap().unwrap().is_cancelled());
        assert_eq!(b.clone().await.unwrap(), 2);
    });
}

#[test]
fn cancelling_a_finished_gather_returns_false_and_keeps_result() {
    run_loop(async {
        let g = gather(vec![after(0, 42)]);
        let fut = g.future();
        while !fut.done() {
            sleep(ms(1)).await.unwrap();
        }
        assert!(!g.cancel());
        assert_eq!(g.await.unwrap(), [42]);
    });
}

#[test]
fn cancel_message_propagates_through_gather() {
    run_loop(async {
        let child = after(1000, 0);
        let g = gather(vec![child.clone()]);
        sleep(ms(1)).await.unwrap();
        assert!(g.cancel_with_message("my msg"));
        match g.await {
            Err(Error::Cancelled(Some(m))) => assert_eq!(m, "my msg"),
            other => panic!("{other:?}"),
        }
        assert!(child.cancelled());
    });
}

#[test]
fn shield_keeps_inner_alive_when_outer_task_is_cancelled() {
    run_loop(async {
        let proof = Arc::new(AtomicUsize::new(0));
        let p = proof.clone();
        let inner = create_task(async move {
            sleep(ms(300)).await?;
            p.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        let i = inner.clone();
        let outer = create_task(async move { shield(&i).await });
        sleep(ms(2)).await.unwrap();
        outer.cancel();
        assert!(outer.clone().await.unwrap_err().is_cancelled());
        inner.clone().await.unwrap();
        assert_eq!(proof.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn shield_follows_inner_cancellation() {
    run_loop(async {
        let inner = after(1000, 0);
        let outer = shield(&inner);
        sleep(ms(1)).await.unwrap();
        inner.cancel();
        assert!(outer.clone().await.unwrap_err().is_cancelled());
        assert!(outer.cancelled());
    });
}

#[test]
fn shielded_gather_completes_when_cancelled() {
    run_loop(async {
        let g = gather(vec![after(300, 1), after(200, 2)]);
        let gf = g.future();
        let outer = shield(g);
        assert!(outer.cancel());
        assert_eq!(gf.await.unwrap(), [1, 2]);
    });
}

#[test]
fn gather_of_shields_cancels_the_shields_not_the_children() {
    run_loop(async {
        let (c1, c2) = (after(300, 1), after(300, 2));
        let (s1, s2): (Future<i32>, Future<i32>) = (shield(&c1), shield(&c2));
        let g = gather(vec![s1.clone(), s2.clone()]);
        sleep(ms(1)).await.unwrap();
        assert!(g.cancel());
        assert!(g.await.unwrap_err().is_cancelled());
        assert!(s1.cancelled() && s2.cancelled());
        assert_eq!(c1.await.unwrap(), 1);
        assert_eq!(c2.await.unwrap(), 2);
    });
}

#[test]
fn later_child_errors_are_marked_retrieved() {
    let reported = Arc::new(AtomicBool::new(false));
    let lp = aioproto::EventLoop::new().unwrap();
    let r = reported.clone();
    lp.set_exception_handler(Some(Arc::new(
        move |_: &aioproto::EventLoop, _: &aioproto::ExceptionContext| {
            r.store(true, Ordering::SeqCst)
        },
    )));
    lp.run_until_complete(async {
        let g = gather(vec![fail_after(1, "a"), fail_after(5, "b")]);
        assert!(g.await.is_err());
        sleep(ms(20)).await.unwrap();
    })
    .unwrap();
    lp.close().unwrap();
    assert!(!reported.load(Ordering::SeqCst));
}
