use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::error::Error;
use crate::runtime::task::Task;
use crate::runtime::task_spawn::create_task;
use crate::runtime::test_util::{LIMIT, finish, let_others_run};

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
