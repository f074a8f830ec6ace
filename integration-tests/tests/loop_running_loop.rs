//! `get_running_loop()` inside any tokio runtime: one loop per runtime, the
//! same from every task and thread of it, owning the tasks created there, and
//! retired with the runtime. Outside any runtime the error says what to do.

mod support;

use std::sync::{Arc, Mutex};

use aioproto::{
    Error, EventLoop, ExceptionContext, all_tasks, create_task, get_running_loop, sleep,
};
use support::{ms, with_timeout};

#[tokio::test(flavor = "current_thread")]
async fn works_under_tokio_main_and_is_always_the_same_loop() {
    let lp = get_running_loop().unwrap();
    assert_eq!(lp, get_running_loop().unwrap());
    assert!(lp.is_running());
    let from_task = create_task(async { get_running_loop() }).await.unwrap();
    assert_eq!(from_task, lp);
    let from_spawn = tokio::spawn(async { get_running_loop().unwrap() })
        .await
        .unwrap();
    assert_eq!(from_spawn, lp);
    let from_blocking = tokio::task::spawn_blocking(|| get_running_loop().unwrap())
        .await
        .unwrap();
    assert_eq!(from_blocking, lp);
    assert_eq!(
        EventLoop::from_handle(tokio::runtime::Handle::current()),
        lp
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_loop_across_the_workers_of_a_multi_thread_runtime() {
    let lp = get_running_loop().unwrap();
    let mut handles = Vec::new();
    for _ in 0..8 {
        handles.push(tokio::spawn(async {
            tokio::task::yield_now().await;
            get_running_loop().unwrap()
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap(), lp);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn callbacks_timers_and_tasks_belong_to_the_runtime_loop() {
    let lp = get_running_loop().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (order.clone(), order.clone());
    let done = lp.create_future::<()>();
    let d = done.clone();
    lp.call_later(0.002, move || {
        a.lock().unwrap().push("later");
        let _ = d.set_result(());
    })
    .unwrap();
    lp.call_soon(move || b.lock().unwrap().push("soon"))
        .unwrap();
    let pending = create_task(async { sleep(ms(60_000)).await });
    assert!(all_tasks().iter().any(|t| *t == pending.task_ref()));
    with_timeout(std::future::IntoFuture::into_future(done))
        .await
        .unwrap();
    assert_eq!(*order.lock().unwrap(), ["soon", "later"]);
    pending.cancel();
}

#[tokio::test(flavor = "current_thread")]
async fn the_exception_handler_sees_unretrieved_task_errors() {
    let lp = get_running_loop().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reported = lp.create_future::<()>();
    let r = reported.clone();
    let s = seen.clone();
    lp.set_exception_handler(Some(Arc::new(
        move |_: &EventLoop, ctx: &ExceptionContext| {
            s.lock().unwrap().push(ctx.message.clone());
            let _ = r.set_result(());
        },
    )));
    let failing = create_task(async { Err::<(), _>(Error::invalid_state("lost")) });
    sleep(ms(0)).await.unwrap();
    assert!(failing.done());
    drop(failing);
    with_timeout(std::future::IntoFuture::into_future(reported))
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["Task exception was never retrieved"]
    );
    lp.set_exception_handler(None);
}

#[test]
fn the_loop_retires_with_its_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lp = rt.block_on(async { get_running_loop().unwrap() });
    assert!(!lp.is_closed());
    drop(rt);
    assert!(lp.is_closed(), "the runtime shut down: its loop is closed");
    assert!(lp.call_soon(|| {}).is_err());
}

#[test]
fn closing_the_runtime_loop_gives_the_runtime_a_fresh_one() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let first = get_running_loop().unwrap();
        first.close().unwrap();
        let second = get_running_loop().unwrap();
        assert_ne!(first, second);
        assert!(!second.is_closed());
    });
}

#[test]
fn outside_any_runtime_the_error_says_how_to_get_a_loop() {
    let err = get_running_loop().unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid state: no running event loop"),
        "{text}"
    );
    for hint in ["run_until_complete", "aioproto::run", "tokio runtime"] {
        assert!(text.contains(hint), "{text}");
    }
    assert!(EventLoop::current().is_none());
}

#[test]
fn each_runtime_has_its_own_loop() {
    let make = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let (rt1, rt2) = (make(), make());
    let a = rt1.block_on(async { get_running_loop().unwrap() });
    let b = rt2.block_on(async { get_running_loop().unwrap() });
    assert_ne!(a, b);
    assert_eq!(a, rt1.block_on(async { get_running_loop().unwrap() }));
    // An EventLoop's own runtime maps to that loop.
    let own = EventLoop::new().unwrap();
    assert_eq!(EventLoop::from_handle(own.handle()), own);
    own.close().unwrap();
}
