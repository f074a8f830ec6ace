//! Task factories (`set_task_factory`), eager tasks (`create_eager_task`,
//! `eager_task_factory`) and task bodies of any output type.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aioproto::{
    Error, EventLoop, ExceptionContext, NewTask, TaskGroup, TaskRef, create_eager_task,
    create_task, create_task_named, eager_task_factory, gather, sleep,
};
use support::{ms, run_loop};

#[test]
fn create_task_takes_any_output() {
    run_loop(async {
        let n = create_task(async { 42 });
        let n: i32 = n.await.unwrap();
        assert_eq!(n, 42);
        assert_eq!(create_task(async { 7_u64 }).await.unwrap(), 7);
        assert_eq!(
            create_task(async { String::from("text") }).await.unwrap(),
            "text"
        );
        create_task(async {}).await.unwrap();
        assert_eq!(create_task(async { vec![1_u8, 2] }).await.unwrap(), [1, 2]);
        assert_eq!(
            create_task(async { (1_i32, "two") }).await.unwrap(),
            (1, "two")
        );
        // Result bodies keep their meaning: Ok is the value, Err fails the task.
        assert_eq!(create_task(async { Ok(5) }).await.unwrap(), 5);
        let failed = create_task(async { Err::<u8, _>(Error::invalid_argument("no")) });
        assert!(matches!(failed.await, Err(Error::InvalidArgument(_))));
        // An unannotated body with `?` still infers aioproto::Error.
        let with_q = create_task(async {
            sleep(ms(1)).await?;
            Ok("after sleep")
        });
        assert_eq!(with_q.await.unwrap(), "after sleep");
    });
}

#[test]
fn every_way_of_making_a_task_accepts_plain_outputs() {
    let lp = EventLoop::new().unwrap();
    let t = lp.create_task(async { 1_u8 }).unwrap();
    assert_eq!(lp.run_until_complete(t).unwrap().unwrap(), 1);
    let named = lp.create_task_named("plain", async { 2_u8 }).unwrap();
    assert_eq!(lp.run_until_complete(named).unwrap().unwrap(), 2);
    let from_group = lp
        .run_until_complete(async {
            let tg = TaskGroup::new();
            let child = tg.create_task(async { 3_u8 })?;
            tg.join().await?;
            child.await
        })
        .unwrap()
        .unwrap();
    assert_eq!(from_group, 3);
    let l2 = lp.clone();
    let worker = std::thread::spawn(move || {
        let cf = l2.run_coroutine_threadsafe(async { 4_u8 }).unwrap();
        let v = cf.result(Some(support::TIMEOUT));
        l2.stop();
        v
    });
    lp.run_forever().unwrap();
    assert_eq!(worker.join().unwrap().unwrap(), 4);
    lp.close().unwrap();
}

#[test]
fn a_factory_sees_every_task_of_the_loop() {
    let lp = EventLoop::new().unwrap();
    let seen: Arc<Mutex<Vec<TaskRef>>> = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    lp.set_task_factory(Some(Arc::new(move |_: &EventLoop, t: &mut NewTask| {
        let name = format!("app-{}", t.name());
        t.set_name(name);
        s.lock().unwrap().push(t.task_ref());
    })));
    let names = lp
        .run_until_complete(async {
            let a = create_task(async { 1_u8 });
            let b = create_task_named("b", async { 2_u8 });
            let tg = TaskGroup::new();
            let c = tg.create_task(async { 3_u8 })?;
            tg.join().await?;
            // gather wraps plain futures in tasks: through the factory too.
            let both = gather((4_u8..=5).map(|n| async move { Ok(n) })).await?;
            assert_eq!(both, [4, 5]);
            let names = [a.name(), b.name(), c.name()];
            a.await?;
            b.await?;
            Ok::<_, Error>(names)
        })
        .unwrap()
        .unwrap();
    assert!(names[0].starts_with("app-Task-"), "{names:?}");
    assert_eq!(names[1], "app-b");
    assert!(names[2].starts_with("app-Task-"));
    assert_eq!(seen.lock().unwrap().len(), 5);
    assert!(lp.get_task_factory().is_some());
    lp.set_task_factory(None);
    let plain = lp.run_until_complete(async { create_task(async { 0_u8 }).name() });
    assert!(plain.unwrap().starts_with("Task-"));
    lp.close().unwrap();
}

#[test]
fn a_panicking_factory_is_reported_and_the_task_still_runs() {
    let lp = EventLoop::new().unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let r = reports.clone();
    lp.set_exception_handler(Some(Arc::new(
        move |_: &EventLoop, ctx: &ExceptionContext| {
            r.lock().unwrap().push(ctx.message.clone());
        },
    )));
    lp.set_task_factory(Some(Arc::new(|_: &EventLoop, _: &mut NewTask| {
        panic!("factory bug")
    })));
    let v = lp
        .run_until_complete(async { create_task(async { 9_u8 }).await })
        .unwrap()
        .unwrap();
    assert_eq!(v, 9);
    assert_eq!(*reports.lock().unwrap(), ["Exception in task factory"]);
    lp.close().unwrap();
}

#[test]
fn eager_tasks_run_until_their_first_suspension_inside_create() {
    run_loop(async {
        let steps = Arc::new(Mutex::new(Vec::new()));
        let s = steps.clone();
        let task = create_eager_task(async move {
            s.lock().unwrap().push("body start");
            sleep(ms(1)).await?;
            s.lock().unwrap().push("body resumed");
            Ok(1_u8)
        });
        steps.lock().unwrap().push("after create");
        assert!(!task.done());
        assert_eq!(task.clone().await.unwrap(), 1);
        assert_eq!(
            *steps.lock().unwrap(),
            ["body start", "after create", "body resumed"]
        );

        // A body that never suspends is done when create returns.
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let quick = create_eager_task(async move {
            r.store(true, Ordering::SeqCst);
            "at once"
        });
        assert!(ran.load(Ordering::SeqCst));
        assert!(quick.done());
        assert_eq!(quick.result().unwrap(), "at once");

        // Lazy tasks, by contrast, have not started when create returns.
        let lazy_ran = Arc::new(AtomicBool::new(false));
        let l = lazy_ran.clone();
        let lazy = create_task(async move { l.store(true, Ordering::SeqCst) });
        assert!(!lazy_ran.load(Ordering::SeqCst));
        lazy.await.unwrap();
        assert!(lazy_ran.load(Ordering::SeqCst));
    });
}

#[test]
fn eager_task_factory_makes_every_task_eager() {
    let lp = EventLoop::new().unwrap();
    lp.set_task_factory(Some(eager_task_factory()));
    let counter = Arc::new(AtomicUsize::new(0));
    let c = counter.clone();
    let (done_at_once, current_inside) = lp
        .run_until_complete(async move {
            let c2 = c.clone();
            let t = create_task(async move {
                c2.fetch_add(1, Ordering::SeqCst);
                aioproto::current_task().map(|t| t.name())
            });
            Ok::<_, Error>((t.done(), t.result()?))
        })
        .unwrap()
        .unwrap();
    assert!(done_at_once);
    assert_eq!(counter.load(Ordering::SeqCst), 1);
    assert!(
        current_inside.is_some_and(|n| n.starts_with("Task-")),
        "the eager body runs as its own task"
    );
    lp.close().unwrap();
}

#[test]
fn an_eager_task_can_be_cancelled_after_it_suspends() {
    run_loop(async {
        let task = create_eager_task(async { sleep(ms(60_000)).await });
        assert!(!task.done());
        assert!(task.cancel());
        assert!(task.clone().await.unwrap_err().is_cancelled());
        assert!(task.cancelled());
    });
}
