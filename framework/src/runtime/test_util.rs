//! Helpers the runtime's unit tests share.

use std::time::Duration;

use crate::runtime::task::Task;

/// Every wait in these tests is bounded.
pub(crate) const LIMIT: Duration = Duration::from_secs(5);

/// Awaits `task`, failing the test if it takes longer than [`LIMIT`].
pub(crate) async fn finish<T: Clone + Send + 'static>(task: &Task<T>) -> crate::Result<T> {
    tokio::time::timeout(LIMIT, task)
        .await
        .expect("task finished in time")
}

/// Lets every other task on this current-thread runtime run until it blocks.
pub(crate) async fn let_others_run() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}
