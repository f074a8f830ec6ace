use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::error::Error;
use crate::runtime::task_spawn::create_task;
use crate::runtime::test_util::{finish, let_others_run};

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
        prop_assert_eq!(heap_order_for_tests(items), sorted);
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
