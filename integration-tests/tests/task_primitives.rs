//! Spec T71 (primitives): Lock FIFO and release errors, Semaphore FIFO order,
//! Queue shutdown and task_done underflow; Event and Condition basics.

mod support;

use std::sync::{Arc, Mutex};

use aioproto::{Condition, Error, Event, Lock, Queue, Semaphore, TaskGroup, create_task, sleep};
use support::{ms, run_loop};

#[test]
fn lock_waiters_acquire_in_fifo_order_and_release_when_unlocked_fails() {
    run_loop(async {
        let lock = Arc::new(Lock::new());
        assert!(matches!(lock.release(), Err(Error::InvalidState(_))));
        lock.acquire().await.unwrap();
        let result = Arc::new(Mutex::new(Vec::new()));
        for i in 1..=3 {
            let (lock, result) = (lock.clone(), result.clone());
            create_task(async move {
                lock.acquire().await?;
                result.lock().unwrap().push(i);
                Ok(())
            });
            sleep(ms(1)).await.unwrap();
        }
        assert!(result.lock().unwrap().is_empty());
        for expect in [vec![1], vec![1, 2], vec![1, 2, 3]] {
            lock.release().unwrap();
            sleep(ms(2)).await.unwrap();
            assert_eq!(*result.lock().unwrap(), expect);
        }
        lock.release().unwrap();
        assert!(!lock.locked());
        {
            let _g = lock.lock().await.unwrap();
            assert!(lock.locked());
        }
        assert!(!lock.locked());
    });
}

#[test]
fn semaphore_is_fifo() {
    let order = run_loop(async {
        let sem = Arc::new(Semaphore::new(1));
        let order = Arc::new(Mutex::new(Vec::new()));
        let tg = TaskGroup::new();
        for tag in ["c1", "c2", "c3"] {
            let (sem, order) = (sem.clone(), order.clone());
            tg.create_task(async move {
                sem.acquire().await?;
                order.lock().unwrap().push(format!("{tag}_1"));
                sleep(ms(5)).await?;
                sem.release()?;
                sem.acquire().await?;
                order.lock().unwrap().push(format!("{tag}_2"));
                sleep(ms(5)).await?;
                sem.release()
            })
            .unwrap();
        }
        tg.join().await.unwrap();

        order.lock().unwrap().clone()
    });
    assert_eq!(order, ["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]);
}

#[test]
fn bounded_semaphore_rejects_extra_release() {
    let sem = Semaphore::bounded(2);
    assert!(matches!(sem.release(), Err(Error::InvalidArgument(_))));
    assert_eq!(sem.value(), 2);
}

#[test]
fn queue_shutdown_immediate_releases_join_and_fails_everything() {
    run_loop(async {
        let q = Arc::new(Queue::new(0));
        q.put(1).await.unwrap();
        q.put_nowait(2).unwrap();
        let joiner = {
            let q = q.clone();
            create_task(async move { q.join().await })
        };
        sleep(ms(2)).await.unwrap();
        assert!(!joiner.done());
        q.shutdown(true);
        joiner.await.unwrap();
        assert!(matches!(q.put(3).await, Err(Error::QueueShutDown)));
        assert!(matches!(q.put_nowait(3), Err(Error::QueueShutDown)));
        assert!(matches!(q.get().await, Err(Error::QueueShutDown)));
        assert!(matches!(q.get_nowait(), Err(Error::QueueShutDown)));
    });
}

#[test]
fn queue_graceful_shutdown_drains_first() {
    run_loop(async {
        let q = Queue::new(0);
        q.put_nowait("a").unwrap();
        q.shutdown(false);
        assert_eq!(q.get().await.unwrap(), "a");
        assert!(matches!(q.get().await, Err(Error::QueueShutDown)));
    });
}

#[test]
fn task_done_too_many_times_is_an_error() {
    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    q.get_nowait().unwrap();
    q.task_done().unwrap();
    assert!(matches!(q.task_done(), Err(Error::InvalidArgument(m)) if m.contains("too many")));
}

#[test]
fn bounded_queue_blocks_puts_and_reports_full_and_empty() {
    run_loop(async {
        let q = Arc::new(Queue::new(1));
        assert!(matches!(q.get_nowait(), Err(Error::QueueEmpty)));
        q.put_nowait(1).unwrap();
        assert!(q.full());
        assert!(matches!(q.put_nowait(2), Err(Error::QueueFull)));
        let putter = {
            let q = q.clone();
            create_task(async move { q.put(2).await })
        };
        sleep(ms(2)).await.unwrap();
        assert!(!putter.done());
        assert_eq!(q.get().await.unwrap(), 1);
        putter.await.unwrap();
        assert_eq!(q.get().await.unwrap(), 2);
        // A waiting get is a cancellation point.
        let getter = {
            let q = q.clone();
            create_task(async move { q.get().await })
        };
        sleep(ms(1)).await.unwrap();
        getter.cancel();
        assert!(getter.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn event_wakes_all_waiters() {
    run_loop(async {
        let ev = Arc::new(Event::new());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let ev = ev.clone();
                create_task(async move { ev.wait().await })
            })
            .collect();
        sleep(ms(1)).await.unwrap();
        assert!(waiters.iter().all(|w| !w.done()));
        ev.set();
        for w in waiters {
            assert!(w.await.unwrap());
        }
        ev.clear();
        assert!(!ev.is_set());
    });
}

#[test]
fn condition_needs_the_lock_and_notifies_in_order() {
    run_loop(async {
        let cond = Arc::new(Condition::new());
        assert!(matches!(cond.wait().await, Err(Error::InvalidState(_))));
        assert!(matches!(cond.notify(1), Err(Error::InvalidState(_))));
        let order = Arc::new(Mutex::new(Vec::new()));
        for i in 0..3 {
            let (cond, order) = (cond.clone(), order.clone());
            create_task(async move {
                cond.acquire().await?;
                cond.wait().await?;
                order.lock().unwrap().push(i);
                cond.release()
            });
            sleep(ms(1)).await.unwrap();
        }
        cond.acquire().await.unwrap();
        cond.notify(1).unwrap();
        cond.release().unwrap();
        sleep(ms(2)).await.unwrap();
        assert_eq!(*order.lock().unwrap(), [0]);
        cond.acquire().await.unwrap();
        cond.notify_all().unwrap();
        cond.release().unwrap();
        sleep(ms(5)).await.unwrap();
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
    });
}
