use super::*;
use crate::runtime::task_spawn::create_task;

#[tokio::test(flavor = "current_thread")]
async fn cancel_counts_and_uncancel_clears_the_pending_request() {
    let task = create_task(async {
        tokio::task::yield_now().await;
        Ok(1)
    });
    assert!(task.cancel());
    assert!(task.cancel());
    assert_eq!(task.cancelling(), 2);
    assert_eq!(task.uncancel(), 1);
    assert_eq!(task.uncancel(), 0);
    assert_eq!(task.uncancel(), 0);
    assert_eq!(task.await.unwrap(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn take_cancel_outside_a_task_is_none() {
    assert!(take_cancel().is_none());
    assert_eq!(cancellable(async { 5 }).await.unwrap(), 5);
}

#[tokio::test(flavor = "current_thread")]
async fn task_ref_equality_and_done() {
    let task = create_task(async { Ok(()) });
    let r1 = task.task_ref();
    let r2 = task.task_ref();
    assert_eq!(r1, r2);
    task.clone().await.unwrap();
    assert!(r1.done() && !r1.cancelled());
    assert!(!r1.cancel());
}
