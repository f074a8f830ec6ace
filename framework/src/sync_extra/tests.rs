use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::error::Error;
use crate::task::{Task, create_task};

/// Every wait in these tests is bounded.
const LIMIT: Duration = Duration::from_secs(5);

async fn finish<T: Clone + Send + 'static>(task: &Task<T>) -> crate::Result<T> {
    tokio::time::timeout(LIMIT, task)
        .await
        .expect("task finished in time")
}

/// Lets every other task on this current-thread runtime run until it blocks.
async fn let_others_run() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn lifo_pops_the_newest_and_priority_the_smallest() {
    let lifo = LifoQueue::new(0);
    let prio = PriorityQueue::new(0);
    for i in [3, 1, 4, 1, 5, 9, 2, 6] {
        lifo.put_nowait(i).unwrap();
        prio.put_nowait(i).unwrap();
    }
    let drain = |get: &dyn Fn() -> crate::Result<i32>| {
        std::iter::from_fn(|| get().ok()).collect::<Vec<_>>()
    };
    assert_eq!(drain(&|| lifo.get_nowait()), [6, 2, 9, 5, 1, 4, 1, 3]);
    assert_eq!(drain(&|| prio.get_nowait()), [1, 1, 2, 3, 4, 5, 6, 9]);
    assert!(format!("{lifo:?}").starts_with("LifoQueue"));
    assert!(format!("{prio:?}").starts_with("PriorityQueue"));
}

#[test]
fn priority_queue_with_reverse_pops_the_largest() {
    let q = PriorityQueue::new(0);
    for i in [2, 7, 1] {
        q.put_nowait(std::cmp::Reverse(i)).unwrap();
    }
    assert_eq!(q.get_nowait().unwrap().0, 7);
}

proptest! {
    #[test]
    fn heap_pops_in_sorted_order(items in proptest::collection::vec(any::<i16>(), 0..100)) {
        let mut sorted = items.clone();
        sorted.sort();
        prop_assert_eq!(queues::heap_order_for_tests(items), sorted);
    }
}

#[tokio::test]
async fn full_queues_block_put_until_a_get() {
    let q = Arc::new(PriorityQueue::new(1));
    q.put(5).await.unwrap();
    assert!(q.full());
    assert!(matches!(q.put_nowait(1), Err(Error::QueueFull)));
    let putter = {
        let q = q.clone();
        create_task(async move { q.put(1).await })
    };
    let_others_run().await;
    assert!(!putter.done());
    assert_eq!(q.get_nowait().unwrap(), 5);
    finish(&putter).await.unwrap();
    assert_eq!(q.get().await.unwrap(), 1);
}

#[tokio::test]
async fn cancelled_get_takes_nothing_and_cancelled_put_adds_nothing() {
    let q = Arc::new(LifoQueue::new(1));
    let getter = {
        let q = q.clone();
        create_task(async move { q.get().await })
    };
    let_others_run().await;
    getter.cancel();
    assert!(finish(&getter).await.unwrap_err().is_cancelled());
    q.put_nowait(1).unwrap();
    let putter = {
        let q = q.clone();
        create_task(async move { q.put(2).await })
    };
    let_others_run().await;
    putter.cancel();
    assert!(finish(&putter).await.unwrap_err().is_cancelled());
    assert_eq!(q.qsize(), 1);
    assert_eq!(q.get_nowait().unwrap(), 1);
}

#[tokio::test]
async fn shutdown_wakes_getters_and_join_waits_for_task_done() {
    let q = Arc::new(LifoQueue::<u8>::new(0));
    let getter = {
        let q = q.clone();
        create_task(async move { q.get().await })
    };
    let_others_run().await;
    q.shutdown(false);
    assert!(matches!(finish(&getter).await, Err(Error::QueueShutDown)));

    let q = Arc::new(PriorityQueue::new(0));
    q.put_nowait(1).unwrap();
    let joiner = {
        let q = q.clone();
        create_task(async move { q.join().await })
    };
    let_others_run().await;
    assert!(!joiner.done());
    q.get_nowait().unwrap();
    q.task_done().unwrap();
    finish(&joiner).await.unwrap();
}

fn spawn_wait(b: &Arc<Barrier>) -> Task<usize> {
    let b = b.clone();
    create_task(async move { b.wait().await })
}

#[tokio::test]
async fn barrier_releases_all_parties_with_distinct_indices_each_round() {
    assert!(matches!(Barrier::new(0), Err(Error::InvalidArgument(_))));
    let b = Arc::new(Barrier::new(3).unwrap());
    for _round in 0..2 {
        let tasks = [spawn_wait(&b), spawn_wait(&b)];
        let_others_run().await;
        assert_eq!(b.n_waiting(), 2);
        let last = tokio::time::timeout(LIMIT, b.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(last, 2);
        let mut indices = vec![last];
        for t in &tasks {
            indices.push(finish(t).await.unwrap());
        }
        indices.sort_unstable();
        assert_eq!(indices, [0, 1, 2]);
        assert_eq!(b.n_waiting(), 0);
    }
    assert!(!b.broken());
}

#[tokio::test]
async fn newcomers_wait_while_the_last_round_drains() {
    let b = Arc::new(Barrier::new(2).unwrap());
    let first = spawn_wait(&b);
    let_others_run().await;
    // Released, but `first` has not run yet to leave: the barrier drains.
    assert_eq!(b.wait().await.unwrap(), 1);
    let next = spawn_wait(&b);
    assert_eq!(b.n_waiting(), 0);
    let_others_run().await;
    assert_eq!(finish(&first).await.unwrap(), 0);
    assert_eq!(b.n_waiting(), 1, "the newcomer entered the next round");
    assert_eq!(b.wait().await.unwrap(), 1);
    assert_eq!(finish(&next).await.unwrap(), 0);
}

#[tokio::test]
async fn abort_breaks_waiters_and_later_waits_until_reset() {
    let b = Arc::new(Barrier::new(3).unwrap());
    let waiters = [spawn_wait(&b), spawn_wait(&b)];
    let_others_run().await;
    b.abort();
    assert!(b.broken());
    for w in &waiters {
        let err = finish(w).await.unwrap_err();
        assert!(err.is_broken_barrier(), "{err}");
    }
    let err = b.wait().await.unwrap_err();
    assert_eq!(err.to_string(), "barrier aborted");
    assert!(!Error::QueueFull.is_broken_barrier());
    b.reset();
    assert!(!b.broken());
    let again = [spawn_wait(&b), spawn_wait(&b)];
    let_others_run().await;
    b.wait().await.unwrap();
    for w in &again {
        finish(w).await.unwrap();
    }
}

#[tokio::test]
async fn reset_breaks_the_current_round_only() {
    let b = Arc::new(Barrier::new(2).unwrap());
    let waiter = spawn_wait(&b);
    let_others_run().await;
    b.reset();
    assert_eq!(b.n_waiting(), 0);
    let err = finish(&waiter).await.unwrap_err();
    assert!(err.is_broken_barrier(), "{err}");
    assert!(!b.broken());
    let pair = spawn_wait(&b);
    let_others_run().await;
    assert_eq!(b.wait().await.unwrap(), 1);
    assert_eq!(finish(&pair).await.unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_or_dropped_wait_leaves_without_breaking_the_barrier() {
    let b = Arc::new(Barrier::new(2).unwrap());
    let waiter = spawn_wait(&b);
    let_others_run().await;
    assert_eq!(b.n_waiting(), 1);
    waiter.cancel();
    assert!(finish(&waiter).await.unwrap_err().is_cancelled());
    assert_eq!(b.n_waiting(), 0);
    // A dropped future (here by a timeout) leaves too; time is paused, so
    // the timeout fires as soon as nothing else can run.
    assert!(
        tokio::time::timeout(Duration::from_millis(10), b.wait())
            .await
            .is_err()
    );
    assert_eq!(b.n_waiting(), 0);
    assert!(!b.broken());
    let pair = spawn_wait(&b);
    let_others_run().await;
    assert_eq!(b.wait().await.unwrap(), 1);
    assert_eq!(finish(&pair).await.unwrap(), 0);
}
