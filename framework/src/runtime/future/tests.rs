use super::*;

#[test]
fn state_machine_pending_finished_cancelled() {
    let core = FutureCore::<u8>::new(Scheduler::Thread);
    assert!(!core.done());
    assert!(matches!(core.result_cloned(), Err(Error::InvalidState(_))));
    assert!(core.complete(State::Finished(1)));
    assert!(!core.complete(State::Cancelled(None)));
    assert!(core.done() && !core.cancelled());
    assert_eq!(core.result_cloned().unwrap(), 1);

    let core = FutureCore::<u8>::new(Scheduler::Thread);
    assert!(core.complete(State::Cancelled(Some("m".into()))));
    assert!(core.cancelled());
    assert!(matches!(core.exception(), Err(Error::Cancelled(Some(_)))));
}

#[test]
fn take_moves_the_value_once() {
    let fut = Future::<String>::new();
    fut.set_result("v".into()).unwrap();
    assert_eq!(fut.take_result().unwrap(), "v");
    assert!(matches!(fut.take_result(), Err(Error::InvalidState(_))));
    assert!(fut.done());
    assert!(fut.exception().unwrap().is_none());
}

#[test]
fn listeners_run_synchronously_once_and_immediately_when_done() {
    let core = FutureCore::<u8>::new(Scheduler::Thread);
    let hits = Arc::new(Mutex::new(0));
    let h = hits.clone();
    core.subscribe(Box::new(move || *lock(&h) += 1));
    assert_eq!(*lock(&hits), 0);
    core.complete(State::Finished(0));
    assert_eq!(*lock(&hits), 1);
    let h = hits.clone();
    core.subscribe(Box::new(move || *lock(&h) += 1));
    assert_eq!(*lock(&hits), 2);
}

#[test]
fn callbacks_without_runtime_run_later_on_a_helper_thread() {
    let fut = Future::<u8>::new();
    let (tx, rx) = std::sync::mpsc::channel();
    fut.add_done_callback(&DoneCallback::new(move |f: &Future<u8>| {
        tx.send(f.result().unwrap()).unwrap();
    }));
    fut.set_result(9).unwrap();
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap(),
        9
    );
}

#[test]
fn error_retrieval_is_tracked() {
    let core = FutureCore::<u8>::new(Scheduler::Thread);
    core.complete(State::Failed(Box::new(Error::invalid_argument("x"))));
    assert!(core.has_error());
    assert!(!lock(&core.inner).retrieved);
    let _ = core.exception();
    assert!(lock(&core.inner).retrieved);
}

/// How many awaiters' wakers the core holds.
fn waiters<T>(core: &FutureCore<T>) -> usize {
    lock(&core.inner)
        .waiting
        .iter()
        .filter(|w| matches!(w, Waiting::Waker(..)))
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn every_awaiter_is_woken_and_the_core_keeps_no_waker_after() {
    let fut = Future::<u32>::new();
    let awaiters: Vec<_> = (0..3)
        .map(|_| {
            let f = fut.clone();
            tokio::spawn(async move { f.await })
        })
        .collect();
    crate::runtime::test_util::let_others_run().await;
    assert_eq!(
        waiters(&fut.core),
        3,
        "each pending awaiter registered once"
    );
    // Polled again (spuriously woken), an awaiter replaces its waker, never adds one.
    crate::runtime::test_util::let_others_run().await;
    assert_eq!(waiters(&fut.core), 3);
    fut.set_result(7).unwrap();
    assert_eq!(waiters(&fut.core), 0, "completion takes every waker");
    for a in awaiters {
        let got = tokio::time::timeout(crate::runtime::test_util::LIMIT, a).await;
        assert_eq!(got.expect("woken in time").expect("joined").unwrap(), 7);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_await_given_up_takes_its_waker_back() {
    let fut = Future::<u32>::new();
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(1),
        fut.clone().into_future(),
    )
    .await;
    assert!(gave_up.is_err(), "nothing set the future");
    assert_eq!(
        waiters(&fut.core),
        0,
        "the dropped await left no waker behind"
    );
    // And awaiting a done future registers nothing at all.
    fut.set_result(1).unwrap();
    assert_eq!((&fut).await.unwrap(), 1);
    assert_eq!(waiters(&fut.core), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn one_waiting_list_keeps_each_kind_apart() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let fut = Future::<u32>::new();
    let cb = DoneCallback::new(|_: &Future<u32>| {});
    fut.add_done_callback(&cb);
    let heard = Arc::new(AtomicUsize::new(0));
    let h = heard.clone();
    fut.core.subscribe(Box::new(move || {
        h.fetch_add(1, Ordering::SeqCst);
    }));
    let awaiter = {
        let f = fut.clone();
        tokio::spawn(async move { f.await })
    };
    crate::runtime::test_util::let_others_run().await;
    assert_eq!(waiters(&fut.core), 1);
    // Removing a callback leaves the listener and the awaiter's waker alone.
    assert_eq!(fut.remove_done_callback(&cb), 1);
    assert_eq!(fut.remove_done_callback(&cb), 0);
    assert_eq!(waiters(&fut.core), 1);
    fut.set_result(3).unwrap();
    assert_eq!(
        heard.load(Ordering::SeqCst),
        1,
        "listeners run at completion"
    );
    let got = tokio::time::timeout(crate::runtime::test_util::LIMIT, awaiter).await;
    assert_eq!(got.expect("woken in time").expect("joined").unwrap(), 3);
}
