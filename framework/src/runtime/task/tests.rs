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

#[tokio::test(flavor = "current_thread")]
async fn the_task_seen_from_inside_is_the_one_created_and_outlives_its_handles() {
    let task = create_task_named_for_test("inner");
    let inside = task.clone().await.unwrap();
    // The erased handle (the same allocation as the result) equals the typed
    // task's, and still answers once every `Task` handle is gone.
    assert_eq!(inside, task.task_ref());
    drop(task);
    assert_eq!(inside.name(), "inner");
    assert!(inside.done() && !inside.cancelled());
}

#[tokio::test(flavor = "current_thread")]
async fn cancelling_a_task_through_its_result_core_cancels_the_task() {
    let task = create_task(async {
        // Catches the first cancel and carries on: a cancelled result core
        // would end it at once instead.
        let first = crate::runtime::timeout::sleep(std::time::Duration::from_secs(10)).await;
        assert!(first.unwrap_err().is_cancelled());
        Ok(7)
    });
    tokio::task::yield_now().await;
    assert!(task.cancel_target().cancel_target(None));
    assert_eq!(task.cancelling(), 1);
    assert_eq!(task.await.unwrap(), 7);
}

fn create_task_named_for_test(name: &str) -> Task<TaskRef> {
    crate::runtime::task_spawn::create_task_named(name, async {
        Ok(crate::runtime::task_ref::current_task().unwrap())
    })
}

#[tokio::test(flavor = "current_thread")]
async fn a_cancel_during_the_first_poll_is_delivered_though_no_waker_was_kept_yet() {
    // The cancel arrives inside the body's first poll, after its cancellation
    // point looked and before it suspends: only the replayed wake brings the
    // body back to see it.
    let task = create_task(cancellable(async {
        crate::runtime::task_ref::current_task().unwrap().cancel();
        std::future::pending::<()>().await;
    }));
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the cancel was never delivered");
    assert!(outcome.unwrap_err().is_cancelled());
}
