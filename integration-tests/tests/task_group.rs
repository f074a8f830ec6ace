//! Spec T70: TaskGroup and timeout(); DESIGN contract item 10 (TaskGroup
//! cancels siblings on error).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aioproto::{Error, TaskGroup, create_task, current_task, sleep, timeout, timeout_at};
use support::{ms, run_loop};

#[test]
fn child_failure_cancels_siblings_and_body_and_reports_the_error() {
    run_loop(async {
        let sibling_saw_cancel = Arc::new(AtomicBool::new(false));
        let after_block = Arc::new(AtomicBool::new(false));
        let (s, a) = (sibling_saw_cancel.clone(), after_block.clone());
        let parent = create_task(async move {
            let tg = TaskGroup::new();
            let r = tg
                .run(async {
                    tg.create_task(async move {
                        if let Err(e) = sleep(Duration::from_secs(10)).await {
                            s.store(true, Ordering::SeqCst);
                            return Err(e);
                        }
                        Ok(())
                    })?;
                    tg.create_task(async {
                        sleep(ms(5)).await?;
                        Err::<(), _>(Error::invalid_argument("division by zero"))
                    })?;
                    // The body is cancelled too.
                    sleep(Duration::from_secs(10)).await?;
                    Ok(())
                })
                .await;
            if r.is_ok() {
                a.store(true, Ordering::SeqCst);
            }
            assert_eq!(current_task().unwrap().cancelling(), 0);
            r
        });
        match parent.clone().await {
            Err(Error::MultipleErrors(errors)) => {
                assert_eq!(errors.len(), 1);
                assert_eq!(errors[0].to_string(), "invalid argument: division by zero");
            }
            other => panic!("{other:?}"),
        }
        assert!(sibling_saw_cancel.load(Ordering::SeqCst));
        assert!(!after_block.load(Ordering::SeqCst));
        assert!(!parent.cancelled());
    });
}

#[test]
fn cancelling_the_parent_cancels_all_children_and_gives_cancelled() {
    run_loop(async {
        let cancelled = Arc::new(AtomicUsize::new(0));
        let c = cancelled.clone();
        let parent = create_task(async move {
            let tg = TaskGroup::new();
            for _ in 0..5 {
                let c = c.clone();
                tg.create_task(async move {
                    let r = sleep(Duration::from_secs(10)).await;
                    if r.is_err() {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    r
                })?;
            }
            tg.join().await
        });
        sleep(ms(5)).await.unwrap();
        parent.cancel();
        let r = parent.clone().await;
        assert!(matches!(r, Err(Error::Cancelled(_))), "{r:?}");
        assert_eq!(cancelled.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn create_task_during_abort_and_after_exit_is_an_error() {
    run_loop(async {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let parent = create_task(async move {
            let tg = TaskGroup::new();
            tg.create_task(async { Err::<(), _>(Error::invalid_argument("boom")) })?;
            let _ = sleep(ms(5)).await; // cancelled by the failure
            let during = tg.create_task(async move {
                r2.store(true, Ordering::SeqCst);
                Ok(())
            });
            assert!(matches!(&during, Err(Error::InvalidState(m)) if m.contains("shutting down")));
            let _ = tg.join().await;
            let after = tg.create_task(async { Ok(()) });
            assert!(matches!(&after, Err(Error::InvalidState(m)) if m.contains("finished")));
            Ok(())
        });
        parent.await.unwrap();
        sleep(ms(2)).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    });
}

#[test]
fn group_without_errors_returns_ok_and_waits_for_all() {
    run_loop(async {
        let tg = TaskGroup::new();
        let a = tg
            .create_task(async {
                sleep(ms(10)).await?;
                Ok(1)
            })
            .unwrap();
        let b = tg.create_task(async { Ok(2) }).unwrap();
        tg.join().await.unwrap();
        assert!(a.done() && b.done());
        assert_eq!(a.result().unwrap() + b.result().unwrap(), 3);
    });
}

#[test]
fn timeout_basic_expires_and_converts_to_timeout_error() {
    run_loop(async {
        create_task(async {
            let cm = timeout(Some(ms(10)));
            let r = cm.run(sleep(Duration::from_secs(10))).await;
            assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
            assert!(cm.expired());
            let me = current_task().unwrap();
            assert_eq!(me.cancelling(), 0, "task left cancelled");
            // The task goes on normally.
            sleep(ms(1)).await?;
            Ok(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn nested_equal_deadlines_only_outer_converts() {
    run_loop(async {
        create_task(async {
            let deadline = tokio::time::Instant::now() + ms(10);
            let outer = timeout_at(Some(deadline));
            let inner = timeout_at(Some(deadline));
            let inner_saw = Arc::new(std::sync::Mutex::new(None));
            let s = inner_saw.clone();
            let r = outer
                .run(async {
                    let r = inner.run(sleep(Duration::from_secs(10))).await;
                    *s.lock().unwrap() = Some(r.clone());
                    r
                })
                .await;
            assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
            let inner_result = inner_saw.lock().unwrap().clone().unwrap();
            assert!(inner_result.unwrap_err().is_cancelled());
            Ok(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn foreign_cancel_inside_timeout_is_not_a_timeout() {
    run_loop(async {
        let cm = timeout(Some(Duration::from_secs(10)));
        let c = cm.clone();
        let task = create_task(async move { c.run(sleep(Duration::from_secs(10))).await });
        sleep(ms(2)).await.unwrap();
        task.cancel();
        assert!(task.clone().await.unwrap_err().is_cancelled());
        assert!(!cm.expired());
    });
}

#[test]
fn reschedule_none_disables_and_zero_timeout_fires_around_sleep_zero() {
    run_loop(async {
        create_task(async {
            let cm = timeout(Some(ms(300)));
            let c = cm.clone();
            cm.run(async move {
                c.reschedule(None)?;
                sleep(ms(400)).await
            })
            .await?;
            assert!(!cm.expired());
            assert!(cm.reschedule(None).is_err(), "reschedule after exit");

            let zero = timeout(Some(Duration::ZERO));
            let r = zero.run(sleep(Duration::ZERO)).await;
            assert!(matches!(r, Err(Error::Timeout(_))), "{r:?}");
            assert_eq!(current_task().unwrap().cancelling(), 0);
            Ok(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn timeout_outside_a_task_drops_the_body() {
    run_loop(async {
        let r = timeout(Some(ms(5)))
            .run(async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok(())
            })
            .await;
        assert!(r.unwrap_err().is_timeout());
    });
}
