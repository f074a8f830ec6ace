//! Spec T64: Future states and done callbacks; DESIGN contract item 10
//! (done-callbacks run on a later tick, never inside set_result).

mod support;

use std::sync::{Arc, Mutex};

use aioproto::{DoneCallback, Error, EventLoop, Future, create_task, sleep};
use support::{ms, run_loop};

#[test]
fn pending_future_has_no_result_or_exception() {
    let fut = Future::<i32>::new();
    assert!(!fut.done());
    assert!(matches!(fut.result(), Err(Error::InvalidState(_))));
    assert!(matches!(fut.exception(), Err(Error::InvalidState(_))));
}

#[test]
fn set_result_then_everything_else_is_invalid_state() {
    let fut = Future::new();
    fut.set_result(42).unwrap();
    assert!(fut.done());
    assert!(!fut.cancelled());
    assert_eq!(fut.result().unwrap(), 42);
    assert!(fut.exception().unwrap().is_none());
    assert!(matches!(fut.set_result(1), Err(Error::InvalidState(_))));
    assert!(matches!(
        fut.set_exception(Error::invalid_argument("x")),
        Err(Error::InvalidState(_))
    ));
    assert!(!fut.cancel());
    assert_eq!(fut.result().unwrap(), 42);
}

#[test]
fn cancel_pending_future() {
    let fut = Future::<i32>::new();
    assert!(fut.cancel());
    assert!(fut.cancelled() && fut.done());
    assert!(matches!(fut.result(), Err(Error::Cancelled(None))));
    assert!(matches!(fut.exception(), Err(Error::Cancelled(None))));
    assert!(matches!(fut.set_result(1), Err(Error::InvalidState(_))));
    assert!(matches!(
        fut.set_exception(Error::invalid_argument("x")),
        Err(Error::InvalidState(_))
    ));
}

#[test]
fn set_exception_is_stored_and_returned() {
    let fut = Future::<i32>::new();
    fut.set_exception(Error::invalid_argument("boom")).unwrap();
    assert!(!fut.cancelled());
    assert_eq!(
        fut.exception().unwrap().unwrap().to_string(),
        "invalid argument: boom"
    );
    assert!(matches!(fut.result(), Err(Error::InvalidArgument(_))));
}

#[test]
fn callbacks_run_on_next_tick_in_registration_order() {
    let lp = EventLoop::new().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fut: Future<i32> = lp.create_future();
    let (a, b) = (seen.clone(), seen.clone());
    fut.add_done_callback(&DoneCallback::new(move |f: &Future<i32>| {
        a.lock().unwrap().push(f.result().unwrap())
    }));
    fut.add_done_callback(&DoneCallback::new(move |f: &Future<i32>| {
        b.lock().unwrap().push(f.result().unwrap() - 25)
    }));
    fut.set_result(42).unwrap();
    assert!(
        seen.lock().unwrap().is_empty(),
        "callbacks ran synchronously"
    );
    lp.run_until_complete(sleep(ms(0))).unwrap().unwrap();
    lp.run_until_complete(sleep(ms(1))).unwrap().unwrap();
    assert_eq!(*seen.lock().unwrap(), [42, 17]);

    // Registering on a done future still defers the call.
    let c = seen.clone();
    fut.add_done_callback(&DoneCallback::new(move |_: &Future<i32>| {
        c.lock().unwrap().push(0)
    }));
    assert_eq!(seen.lock().unwrap().len(), 2);
    lp.run_until_complete(sleep(ms(1))).unwrap().unwrap();
    assert_eq!(*seen.lock().unwrap(), [42, 17, 0]);
    lp.close().unwrap();
}

#[test]
fn remove_done_callback_counts_all_registrations() {
    let fut = Future::<()>::new();
    let cb = DoneCallback::new(|_: &Future<()>| {});
    fut.add_done_callback(&cb);
    assert_eq!(fut.remove_done_callback(&cb), 1);
    assert_eq!(fut.remove_done_callback(&cb), 0);
    for _ in 0..6 {
        fut.add_done_callback(&cb);
    }
    let other = DoneCallback::new(|_: &Future<()>| {});
    fut.add_done_callback(&other);
    assert_eq!(fut.remove_done_callback(&cb), 6);
    assert_eq!(fut.remove_done_callback(&other), 1);
}

#[test]
fn removed_callbacks_do_not_run() {
    let ran = Arc::new(Mutex::new(0));
    run_loop(async {
        let fut = Future::<()>::new();
        let r = ran.clone();
        let cb = DoneCallback::new(move |_: &Future<()>| *r.lock().unwrap() += 1);
        fut.add_done_callback(&cb);
        fut.remove_done_callback(&cb);
        fut.set_result(()).unwrap();
        sleep(ms(5)).await.unwrap();
    });
    assert_eq!(*ran.lock().unwrap(), 0);
}

#[test]
fn cancel_message_reaches_awaiter() {
    run_loop(async {
        let fut = Future::<()>::new();
        let waiter = create_task({
            let fut = fut.clone();
            async move { fut.await }
        });
        sleep(ms(1)).await.unwrap();
        assert!(fut.cancel_with_message("my message"));
        match waiter.await {
            Err(Error::Cancelled(Some(msg))) => assert_eq!(msg, "my message"),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn many_awaiters_share_one_result() {
    let got = run_loop(async {
        let fut = Future::<String>::new();
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let f = fut.clone();
                create_task(async move { f.await })
            })
            .collect();
        sleep(ms(1)).await.unwrap();
        fut.set_result("shared".into()).unwrap();
        let mut out = Vec::new();
        for w in waiters {
            out.push(w.await.unwrap());
        }
        out
    });
    assert_eq!(got, vec!["shared"; 5]);
}

#[test]
fn unretrieved_error_goes_to_exception_handler() {
    let lp = EventLoop::new().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(Arc::new(
        move |_: &EventLoop, ctx: &aioproto::ExceptionContext| {
            s.lock()
                .unwrap()
                .push((ctx.message.clone(), ctx.task.clone()))
        },
    )));
    lp.run_until_complete(async {
        let fut = Future::<()>::new();
        fut.set_exception(Error::invalid_argument("lost")).unwrap();
        drop(fut);
        let task = create_task(async { Err::<(), _>(Error::invalid_argument("task lost")) });
        sleep(ms(5)).await.unwrap();
        assert!(task.done());
        drop(task);
        // A retrieved error is not reported.
        let t2 = create_task(async { Err::<(), _>(Error::invalid_argument("seen")) });
        assert!(t2.clone().await.is_err());
    })
    .unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, "Future exception was never retrieved");
    assert_eq!(seen[1].0, "Task exception was never retrieved");
    assert!(seen[1].1.as_deref().unwrap().starts_with("Task-"));
    lp.close().unwrap();
}

#[test]
fn future_works_under_plain_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let fut = Future::new();
        let f = fut.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ms(2)).await;
            f.set_result(7).unwrap();
        });
        assert_eq!(
            tokio::time::timeout(support::TEST_TIMEOUT, fut)
                .await
                .unwrap()
                .unwrap(),
            7
        );
    });
}
