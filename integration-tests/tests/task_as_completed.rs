//! `as_completed_tasks`: asyncio 3.13's `async for` over `as_completed`,
//! which yields the original tasks and futures in completion order.

mod support;

use aioproto::{Error, Future, as_completed_tasks, create_task_named, sleep};
use support::{ms, run_loop};

#[test]
fn yields_the_tasks_themselves_in_completion_order() {
    run_loop(async {
        let tasks: Vec<_> = [30_u64, 10, 20]
            .into_iter()
            .map(|d| {
                create_task_named(format!("t{d}"), async move {
                    sleep(ms(d)).await?;
                    Ok(d)
                })
            })
            .collect();
        let mut it = as_completed_tasks(tasks.clone(), None);
        assert_eq!(it.remaining(), 3);
        let mut order = Vec::new();
        while let Some(next) = it.next().await {
            let task = next.unwrap();
            assert!(task.done());
            assert!(
                tasks.iter().any(|t| t.id() == task.id()),
                "an original task"
            );
            order.push((task.name(), task.result().unwrap()));
        }
        assert_eq!(
            order,
            [("t10".into(), 10), ("t20".into(), 20), ("t30".into(), 30)]
        );
        assert_eq!(it.remaining(), 0);
    });
}

#[test]
fn failed_tasks_are_yielded_like_the_others() {
    run_loop(async {
        let bad = create_task_named("bad", async { Err::<u8, _>(Error::invalid_state("broke")) });
        let good = create_task_named("good", async {
            sleep(ms(5)).await?;
            Ok(1_u8)
        });
        let mut it = as_completed_tasks([good, bad], None);
        let first = it.next().await.unwrap().unwrap();
        assert_eq!(first.name(), "bad");
        assert!(first.exception().unwrap().is_some());
        assert_eq!(it.next().await.unwrap().unwrap().name(), "good");
        assert!(it.next().await.is_none());
    });
}

#[test]
fn futures_too_and_a_timeout_for_each_one_left() {
    run_loop(async {
        let (a, b, c) = (
            Future::<u8>::new(),
            Future::<u8>::new(),
            Future::<u8>::new(),
        );
        let mut it = as_completed_tasks([a.clone(), b.clone(), c.clone()], Some(ms(30)));
        b.set_result(2).unwrap();
        let first = it.next().await.unwrap().unwrap();
        assert_eq!(first.result().unwrap(), 2);
        for _ in 0..2 {
            assert!(it.next().await.unwrap().unwrap_err().is_timeout());
        }
        assert!(it.next().await.is_none());
        assert!(!a.done() && !c.done(), "nothing is cancelled");
    });
}
