//! asyncio's synchronisation primitives, on tokio's.
//!
//! | asyncio | aioproto | built on |
//! |---|---|---|
//! | `Lock` | [`Lock`] (`acquire`/`release`, plus an RAII [`Lock::lock`]) | `tokio::sync::Semaphore(1)` — FIFO-fair like asyncio |
//! | `Event` | [`Event`] | a flag + `tokio::sync::Notify` |
//! | `Semaphore` / `BoundedSemaphore` | [`Semaphore`] ([`Semaphore::bounded`]) | `tokio::sync::Semaphore` — FIFO, a newcomer never jumps waiters |
//! | `Condition` | [`Condition`] | a [`Lock`] + a FIFO of one-shot wake-ups |
//!
//! Every waiting method is a cancellation point (see [`Task`](crate::Task)).
//! If you need none of the asyncio semantics (`release` without a guard,
//! `locked()` checks), tokio's own `Mutex`/`Semaphore`/`Notify` work with
//! aioproto as they are.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Notify, Semaphore as TokioSemaphore, oneshot};

use crate::error::{Error, Result};
use crate::runtime::task::cancellable;
use crate::util::lock;

/// asyncio's `Lock`: FIFO-fair, released explicitly (or by a guard).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let lock = aioproto::Lock::new();
/// lock.acquire().await?;
/// assert!(lock.locked());
/// lock.release()?;
/// assert!(lock.release().is_err()); // "lock is not acquired"
/// # Ok(()) }
/// ```
pub struct Lock {
    sem: TokioSemaphore,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .finish()
    }
}

impl Default for Lock {
    fn default() -> Self {
        Self::new()
    }
}

impl Lock {
    /// An unlocked lock.
    pub fn new() -> Self {
        Lock {
            sem: TokioSemaphore::new(1),
        }
    }

    /// True while held.
    pub fn locked(&self) -> bool {
        self.sem.available_permits() == 0
    }

    /// Waits for the lock (FIFO order among waiters).
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the task is cancelled while waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a cancelled waiter gives up its place.
    pub async fn acquire(&self) -> Result<()> {
        let permit = cancellable(self.sem.acquire())
            .await?
            .map_err(|_| Error::Closed("lock"))?;
        permit.forget();
        Ok(())
    }

    /// Releases the lock, waking the first waiter.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if the lock is not held.
    pub fn release(&self) -> Result<()> {
        if !self.locked() {
            return Err(Error::invalid_state("lock is not acquired"));
        }
        self.sem.add_permits(1);
        Ok(())
    }

    /// Acquires and returns a guard that releases on drop (the `async with lock:` form).
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the task is cancelled while waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn lock(&self) -> Result<LockGuard<'_>> {
        self.acquire().await?;
        Ok(LockGuard { lock: self })
    }
}

/// Releases a [`Lock`] when dropped.
#[must_use = "the lock is released when the guard drops"]
#[derive(Debug)]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.release();
    }
}

/// asyncio's `Event`: `set` wakes every waiter until `clear`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let ev = aioproto::Event::new();
/// ev.set();
/// assert!(ev.wait().await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Event {
    flag: AtomicBool,
    notify: Notify,
}

impl Event {
    /// An event that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.flag.store(false, Ordering::Release);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Waits until the flag is set; returns `true` (immediately if already set).
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the task is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn wait(&self) -> Result<bool> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return Ok(true);
            }
            cancellable(notified).await?;
        }
    }
}

/// asyncio's `Semaphore` (and `BoundedSemaphore`): FIFO-fair counting.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let sem = aioproto::Semaphore::bounded(1);
/// sem.acquire().await?;
/// assert!(sem.locked());
/// sem.release()?;
/// assert!(sem.release().is_err()); // released too many times
/// # Ok(()) }
/// ```
pub struct Semaphore {
    sem: TokioSemaphore,
    bound: Option<usize>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .field("bound", &self.bound)
            .finish()
    }
}

impl Semaphore {
    /// A semaphore with `value` permits.
    pub fn new(value: usize) -> Self {
        Semaphore {
            sem: TokioSemaphore::new(value),
            bound: None,
        }
    }

    /// A `BoundedSemaphore`: releasing above `value` is an error.
    pub fn bounded(value: usize) -> Self {
        Semaphore {
            sem: TokioSemaphore::new(value),
            bound: Some(value),
        }
    }

    /// Permits available now.
    pub fn value(&self) -> usize {
        self.sem.available_permits()
    }

    /// True if `acquire` would wait.
    pub fn locked(&self) -> bool {
        self.sem.available_permits() == 0
    }

    /// Takes a permit, waiting in FIFO order.
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the task is cancelled while waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn acquire(&self) -> Result<()> {
        let permit = cancellable(self.sem.acquire())
            .await?
            .map_err(|_| Error::Closed("semaphore"))?;
        permit.forget();
        Ok(())
    }

    /// Returns a permit.
    ///
    /// # Errors
    ///
    /// For a bounded semaphore, [`Error::InvalidArgument`] when released too many times.
    pub fn release(&self) -> Result<()> {
        if let Some(bound) = self.bound
            && self.sem.available_permits() >= bound
        {
            return Err(Error::invalid_argument(
                "BoundedSemaphore released too many times",
            ));
        }
        self.sem.add_permits(1);
        Ok(())
    }
}

/// asyncio's `Condition`: wait for a notification while holding a [`Lock`].
///
/// # Examples
///
/// ```
/// use aioproto::Condition;
/// use std::sync::Arc;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let cond = Arc::new(Condition::new());
/// let c = cond.clone();
/// let waiter = aioproto::create_task(async move {
///     c.acquire().await?;
///     c.wait().await?;
///     c.release()
/// });
/// aioproto::sleep(std::time::Duration::from_millis(5)).await?;
/// cond.acquire().await?;
/// cond.notify(1)?;
/// cond.release()?;
/// waiter.await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Condition {
    lock: Lock,
    waiters: Mutex<VecDeque<oneshot::Sender<()>>>,
}

impl Condition {
    /// A condition with its own lock.
    pub fn new() -> Self {
        Self::default()
    }

    /// See [`Lock::acquire`].
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the task is cancelled while waiting.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn acquire(&self) -> Result<()> {
        self.lock.acquire().await
    }

    /// See [`Lock::release`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] if not held.
    pub fn release(&self) -> Result<()> {
        self.lock.release()
    }

    /// See [`Lock::locked`].
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// Releases the lock, waits for a notification, then re-acquires the
    /// lock (even when cancelled, as in asyncio).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] ("cannot wait on un-acquired lock");
    /// [`Error::Cancelled`] (with the lock held again).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropping it mid-wait leaves the lock released.
    pub async fn wait(&self) -> Result<()> {
        if !self.locked() {
            return Err(Error::invalid_state("cannot wait on un-acquired lock"));
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).push_back(tx);
        self.lock.release()?;
        let waited = cancellable(rx).await;
        // Re-acquire no matter what; a cancel arriving now is kept for later.
        loop {
            if self.lock.sem.acquire().await.map(|p| p.forget()).is_ok() {
                break;
            }
        }
        waited.map(|_| ())
    }

    /// Waits until `predicate` returns true (checked with the lock held).
    ///
    /// # Errors
    ///
    /// As for [`wait`](Self::wait).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe.
    pub async fn wait_for(&self, mut predicate: impl FnMut() -> bool) -> Result<()> {
        while !predicate() {
            self.wait().await?;
        }
        Ok(())
    }

    /// Wakes up to `n` waiters.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] ("cannot notify on un-acquired lock").
    pub fn notify(&self, n: usize) -> Result<()> {
        if !self.locked() {
            return Err(Error::invalid_state("cannot notify on un-acquired lock"));
        }
        let mut waiters = lock(&self.waiters);
        let mut woken = 0;
        while woken < n {
            match waiters.pop_front() {
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        woken += 1;
                    }
                }
                None => break,
            }
        }
        Ok(())
    }

    /// Wakes every waiter.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] ("cannot notify on un-acquired lock").
    pub fn notify_all(&self) -> Result<()> {
        self.notify(usize::MAX)
    }
}
