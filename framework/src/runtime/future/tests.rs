use super::*;

#[test]
fn state_machine_pending_finished_cancelled() {
    let core = FutureCore::<u8>::new(Scheduler::Thread);
    assert!(!core.done());
    assert!(matches!(core.result_cloned(), Err(Error::InvalidState(_))));
    assert!(core.complete(State::Finished(Ok(1))));
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
    core.complete(State::Finished(Ok(0)));
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
    core.complete(State::Finished(Err(Error::invalid_argument("x"))));
    assert!(core.has_error());
    assert!(!lock(&core.inner).retrieved);
    let _ = core.exception();
    assert!(lock(&core.inner).retrieved);
}
