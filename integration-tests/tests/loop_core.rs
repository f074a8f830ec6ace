//! Spec T71 (the loop core: negative delays, closed loop, signal handlers,
//! slow-callback log, run_coroutine_threadsafe) plus callback ordering:
//! call_soon FIFO, call_later by deadline with ties FIFO, cancelled handles.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aioproto::{Error, EventLoop, ExceptionContext, Future, get_running_loop, sleep};
use support::ms;

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, s: impl Into<String>) -> impl FnOnce() + Send + 'static {
    let log = log.clone();
    let s = s.into();
    move || log.lock().unwrap().push(s)
}

fn run_for(lp: &EventLoop, d: Duration) {
    lp.run_until_complete(sleep(d)).unwrap().unwrap();
}

#[test]
fn call_soon_is_fifo() {
    let lp = EventLoop::new().unwrap();
    let log: Log = Default::default();
    for i in 0..10 {
        lp.call_soon(push(&log, i.to_string())).unwrap();
    }
    run_for(&lp, ms(5));
    let expect: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(*log.lock().unwrap(), expect);
    lp.close().unwrap();
}

#[test]
fn callbacks_scheduled_during_an_iteration_run_in_the_next_one() {
    let lp = EventLoop::new().unwrap();
    let log: Log = Default::default();
    let (l1, lp2) = (log.clone(), lp.clone());
    lp.call_soon(move || {
        l1.lock().unwrap().push("first".into());
        let l = l1.clone();
        lp2.call_soon(move || l.lock().unwrap().push("nested".into()))
            .unwrap();
    })
    .unwrap();
    lp.call_soon(push(&log, "second")).unwrap();
    run_for(&lp, ms(5));
    assert_eq!(*log.lock().unwrap(), ["first", "second", "nested"]);
    lp.close().unwrap();
}

#[test]
fn call_later_runs_by_deadline_ties_fifo() {
    let lp = EventLoop::new().unwrap();
    let log: Log = Default::default();
    let now = lp.time();
    lp.call_at(now + 0.030, push(&log, "c")).unwrap();
    lp.call_at(now + 0.010, push(&log, "a1")).unwrap();
    lp.call_at(now + 0.020, push(&log, "b")).unwrap();
    lp.call_at(now + 0.010, push(&log, "a2")).unwrap();
    lp.call_at(now + 0.010, push(&log, "a3")).unwrap();
    run_for(&lp, ms(60));
    assert_eq!(*log.lock().unwrap(), ["a1", "a2", "a3", "b", "c"]);
    lp.close().unwrap();
}

#[test]
fn negative_delays_run_in_deadline_order() {
    let lp = EventLoop::new().unwrap();
    let log: Log = Default::default();
    lp.call_later(-1.0, push(&log, "a")).unwrap();
    lp.call_later(-2.0, push(&log, "b")).unwrap();
    run_for(&lp, ms(5));
    assert_eq!(*log.lock().unwrap(), ["b", "a"]);
    assert!(matches!(
        lp.call_later(f64::NAN, || {}),
        Err(Error::InvalidArgument(_))
    ));
    lp.close().unwrap();
}

#[test]
fn cancelled_handles_do_not_run() {
    let lp = EventLoop::new().unwrap();
    let log: Log = Default::default();
    let h1 = lp.call_soon(push(&log, "soon")).unwrap();
    let h2 = lp.call_later(0.005, push(&log, "later")).unwrap();
    lp.call_soon(push(&log, "kept")).unwrap();
    h1.cancel();
    h2.cancel();
    h2.cancel(); // idempotent
    assert!(h1.cancelled() && h2.cancelled());
    assert!(h2.when().is_some() && h1.when().is_none());
    run_for(&lp, ms(20));
    assert_eq!(*log.lock().unwrap(), ["kept"]);
    lp.close().unwrap();
}

#[test]
fn closed_loop_refuses_work() {
    let lp = EventLoop::new().unwrap();
    lp.close().unwrap();
    lp.close().unwrap(); // idempotent
    let is_closed =
        |r: Result<(), Error>| matches!(r, Err(Error::InvalidState(m)) if m.contains("closed"));
    assert!(is_closed(lp.call_soon(|| {}).map(drop)));
    assert!(is_closed(lp.call_later(1.0, || {}).map(drop)));
    assert!(is_closed(lp.call_at(1.0, || {}).map(drop)));
    assert!(is_closed(lp.call_soon_threadsafe(|| {}).map(drop)));
    assert!(is_closed(lp.create_task(async { Ok(()) }).map(drop)));
    assert!(is_closed(lp.run_in_executor(|| ()).map(drop)));
    assert!(is_closed(lp.add_signal_handler(10, || {})));
    assert!(is_closed(lp.run_until_complete(async {})));
}

#[test]
fn run_forever_and_stop_and_running_loop() {
    let lp = EventLoop::new().unwrap();
    let seen = Arc::new(Mutex::new(None));
    let (s, l2) = (seen.clone(), lp.clone());
    lp.call_later(0.005, move || {
        *s.lock().unwrap() = Some(get_running_loop().unwrap() == l2);
        assert!(l2.close().is_err(), "closing a running loop must fail");
        l2.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert_eq!(*seen.lock().unwrap(), Some(true));
    assert!(!lp.is_running());
    assert!(get_running_loop().is_err());
    lp.close().unwrap();
}

#[test]
fn signal_handler_validation_delivery_and_removal() {
    let lp = EventLoop::new().unwrap();
    for bad in [0, -1, 65 + 1] {
        assert!(
            matches!(
                lp.add_signal_handler(bad, || {}),
                Err(Error::InvalidArgument(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        lp.add_signal_handler(nix::libc::SIGKILL, || {}),
        Err(Error::InvalidState(_))
    ));
    assert!(!lp.remove_signal_handler(nix::libc::SIGKILL).unwrap());

    let fut: Future<()> = lp.create_future();
    let f = fut.clone();
    lp.add_signal_handler(nix::libc::SIGUSR1, move || {
        let _ = f.set_result(());
    })
    .unwrap();
    lp.run_until_complete(async {
        nix::sys::signal::kill(nix::unistd::getpid(), nix::sys::signal::Signal::SIGUSR1).unwrap();
        tokio::time::timeout(Duration::from_secs(10), fut).await
    })
    .unwrap()
    .expect("signal not delivered")
    .unwrap();
    assert!(lp.remove_signal_handler(nix::libc::SIGUSR1).unwrap());
    assert!(!lp.remove_signal_handler(nix::libc::SIGUSR1).unwrap());
    lp.close().unwrap();
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn debug_mode_logs_slow_callbacks_and_task_steps() {
    let capture = Capture::default();
    let c = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || c.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let lp = EventLoop::new().unwrap();
        lp.set_debug(true);
        lp.set_slow_callback_duration(Duration::ZERO);
        lp.call_soon(|| std::thread::sleep(ms(1))).unwrap();
        lp.run_until_complete(async {
            aioproto::create_task_named("blocker", async {
                std::thread::sleep(ms(1));
                Ok(())
            })
            .await
        })
        .unwrap()
        .unwrap();
        lp.close().unwrap();
    });
    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("Executing <Handle "), "{out}");
    assert!(
        out.contains("Executing <Task name='blocker'> took "),
        "{out}"
    );
    assert!(out.contains(" seconds"), "{out}");
}

#[test]
fn panicking_callback_goes_to_exception_handler_and_loop_goes_on() {
    let lp = EventLoop::new().unwrap();
    let seen: Log = Default::default();
    let s = seen.clone();
    lp.set_exception_handler(Some(Arc::new(
        move |_: &EventLoop, ctx: &ExceptionContext| s.lock().unwrap().push(ctx.message.clone()),
    )));
    assert!(lp.get_exception_handler().is_some());
    lp.call_soon(|| panic!("callback failed")).unwrap();
    lp.call_soon(push(&seen, "after")).unwrap();
    run_for(&lp, ms(5));
    let seen = seen.lock().unwrap().clone();
    assert!(seen[0].starts_with("Exception in callback"), "{seen:?}");
    assert_eq!(seen[1], "after");
    lp.set_exception_handler(None);
    assert!(lp.get_exception_handler().is_none());
    lp.close().unwrap();
}

#[test]
fn run_in_executor_keeps_the_loop_free() {
    let lp = EventLoop::new().unwrap();
    let log: Log = Default::default();
    let l = log.clone();
    lp.run_until_complete(async move {
        let lp = get_running_loop().unwrap();
        let blocking = lp.run_in_executor(|| std::thread::sleep(ms(300))).unwrap();
        let ticker = aioproto::create_task(async move {
            sleep(ms(5)).await?;
            l.lock().unwrap().push("ticked".into());
            Ok(())
        });
        blocking.await.unwrap();
        assert!(ticker.done(), "the loop was blocked");
        let panicking = lp
            .run_in_executor(|| -> u8 { panic!("in executor") })
            .unwrap();
        assert!(panicking.await.unwrap_err().is_panic());
    })
    .unwrap();
    assert_eq!(*log.lock().unwrap(), ["ticked"]);
    lp.close().unwrap();
}

#[test]
fn run_coroutine_threadsafe_result_timeout_and_cancel() {
    let lp = EventLoop::new().unwrap();
    let l2 = lp.clone();
    let worker = std::thread::spawn(move || {
        let ok = l2.run_coroutine_threadsafe(async { Ok(3) }).unwrap();
        assert_eq!(ok.result(Some(Duration::from_secs(10))).unwrap(), 3);

        let bad = l2
            .run_coroutine_threadsafe(async { Err::<i32, _>(Error::invalid_argument("x")) })
            .unwrap();
        assert!(matches!(
            bad.result(Some(Duration::from_secs(10))),
            Err(Error::InvalidArgument(_))
        ));

        let slow = l2
            .run_coroutine_threadsafe(async {
                sleep(Duration::from_secs(100)).await?;
                Ok(1)
            })
            .unwrap();
        assert!(slow.result(Some(ms(20))).unwrap_err().is_timeout());
        assert!(slow.cancel());
        assert!(
            slow.result(Some(Duration::from_secs(10)))
                .unwrap_err()
                .is_cancelled()
        );

        let self_cancel = l2
            .run_coroutine_threadsafe(async {
                aioproto::current_task().unwrap().cancel();
                sleep(ms(1)).await?;
                Ok(0)
            })
            .unwrap();
        assert!(
            self_cancel
                .result(Some(Duration::from_secs(10)))
                .unwrap_err()
                .is_cancelled()
        );
        l2.stop();
    });
    lp.run_forever().unwrap();
    worker.join().unwrap();
    lp.run_until_complete(async { assert!(aioproto::all_tasks().is_empty()) })
        .unwrap();
    lp.close().unwrap();
}

#[test]
fn multi_thread_loop_and_from_handle() {
    let lp = EventLoop::builder()
        .multi_thread(true)
        .worker_threads(2)
        .build()
        .unwrap();
    let v = lp
        .run_until_complete(async {
            let t = aioproto::create_task(async {
                assert!(get_running_loop().is_ok());
                sleep(ms(1)).await?;
                Ok(5)
            });
            t.await
        })
        .unwrap()
        .unwrap();
    assert_eq!(v, 5);
    lp.close().unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let lp = EventLoop::from_handle(tokio::runtime::Handle::current());
        assert!(matches!(
            lp.run_until_complete(async {}),
            Err(Error::InvalidState(_))
        ));
        let fut = Future::new();
        let f = fut.clone();
        lp.call_later(0.002, move || {
            let _ = f.set_result(get_running_loop().is_ok());
        })
        .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_secs(10), fut)
                .await
                .unwrap()
                .unwrap()
        );
        lp.close().unwrap();
    });
}

/// Only the first callback of a batch wakes the sleeping loop; every later one,
/// queued from another thread while the batch waits, must still run, and a
/// kept handle can still cancel its callback.
#[test]
fn a_batch_queued_from_another_thread_wakes_the_loop_once_and_all_of_it_runs() {
    let lp = EventLoop::new().unwrap();
    let log: Log = Default::default();
    let all_in: Future<()> = lp.create_future();
    let (lp2, log2, all_in2) = (lp.clone(), log.clone(), all_in.clone());
    let (cancelled_tx, cancelled_rx) = std::sync::mpsc::channel::<()>();
    let feeder = std::thread::spawn(move || {
        // The loop may wake for the first callback while the rest are still
        // being queued: this one holds it until callback 50 is cancelled, so
        // the loop cannot have run that one first.
        lp2.call_soon(move || {
            let _ = cancelled_rx.recv_timeout(Duration::from_secs(5));
        })
        .unwrap();
        let mut kept = Vec::new();
        for i in 0..100 {
            kept.push(lp2.call_soon(push(&log2, i.to_string())).unwrap());
        }
        kept[50].cancel();
        cancelled_tx.send(()).unwrap();
        let done = all_in2.clone();
        lp2.call_soon(move || {
            let _ = done.set_result(());
        })
        .unwrap();
    });
    let waited = lp
        .run_until_complete(aioproto::wait_for(all_in, Some(Duration::from_secs(5))))
        .unwrap();
    waited.expect("the loop woke for the queued batch in time");
    feeder.join().unwrap();
    let expect: Vec<String> = (0..100)
        .filter(|i| *i != 50)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(*log.lock().unwrap(), expect);
    lp.close().unwrap();
}
