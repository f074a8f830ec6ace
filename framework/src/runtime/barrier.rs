//! asyncio's `Barrier` (3.11): `parties` tasks wait until all have arrived.

use std::fmt;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::runtime::task::cancellable;
use crate::util::lock;

/// asyncio's `BrokenBarrierError`: the [`Barrier`] was aborted, or reset
/// while the task waited.
///
/// [`Barrier::wait`] returns it inside [`Error::Other`]; test for it with
/// [`Error::is_broken_barrier`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let barrier = aioproto::Barrier::new(2)?;
/// barrier.abort();
/// let err = barrier.wait().await.unwrap_err();
/// assert!(err.is_broken_barrier());
/// assert_eq!(err.to_string(), "barrier aborted");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrokenBarrierError(&'static str);

impl Error {
    /// True for the [`BrokenBarrierError`] of a [`Barrier`] that was aborted
    /// or reset while waiting.
    ///
    /// # Examples
    ///
    /// See [`BrokenBarrierError`].
    pub fn is_broken_barrier(&self) -> bool {
        matches!(self, Error::Other(e) if e.is::<BrokenBarrierError>())
    }
}

fn broken(why: &'static str) -> Error {
    Error::other(BrokenBarrierError(why))
}

/// asyncio's four barrier states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting arrivals.
    Filling,
    /// The last party arrived: the others are leaving; newcomers wait.
    Draining,
    /// `reset()` with waiters: they leave with an error; newcomers wait.
    Resetting,
    /// `abort()`: every `wait()` fails until `reset()`.
    Broken,
}

struct BarrierState {
    state: State,
    /// Tasks inside `wait()` past the entry check.
    count: usize,
}

/// asyncio's `Barrier`: `wait()` blocks until `parties` tasks are waiting,
/// then releases them all at once; it can be used again afterwards.
///
/// | asyncio | aioproto |
/// |---|---|
/// | `Barrier(parties)` | [`Barrier::new`] ([`Error::InvalidArgument`] if 0) |
/// | `await b.wait()` | [`wait`](Self::wait): the arrival index, `0..parties` |
/// | `await b.reset()` / `await b.abort()` | [`reset`](Self::reset) / [`abort`](Self::abort), synchronous here |
/// | `parties`, `n_waiting`, `broken` | [`parties`](Self::parties), [`n_waiting`](Self::n_waiting), [`broken`](Self::broken) |
/// | `BrokenBarrierError` | [`BrokenBarrierError`], see [`Error::is_broken_barrier`] |
///
/// `reset` and `abort` are coroutines in asyncio only because they take the
/// barrier's internal lock; here that lock is a short `std` mutex, so they
/// return at once. As in asyncio, a waiting task that is cancelled (or whose
/// `wait()` future is dropped) simply leaves: the barrier is not broken.
///
/// Share it between tasks by reference or in an `Arc`.
///
/// # Examples
///
/// ```
/// use aioproto::{Barrier, create_task};
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let barrier = Arc::new(Barrier::new(3)?);
/// let tasks: Vec<_> = (0..3)
///     .map(|_| {
///         let b = barrier.clone();
///         create_task(async move { b.wait().await })
///     })
///     .collect();
/// let mut indices = Vec::new();
/// for t in tasks {
///     indices.push(t.await?);
/// }
/// indices.sort();
/// assert_eq!(indices, [0, 1, 2]);
/// assert_eq!(barrier.n_waiting(), 0);
/// # Ok(()) }
/// ```
pub struct Barrier {
    parties: usize,
    st: Mutex<BarrierState>,
    changed: Notify,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.st);
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("state", &st.state)
            .field("count", &st.count)
            .finish()
    }
}

/// One task inside `wait()`; leaving (by return, error, cancel or drop)
/// is asyncio's `finally: self._count -= 1; self._exit()`.
struct Arrival<'a>(&'a Barrier);

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.st);
        st.count -= 1;
        if st.count == 0 {
            // The last one out lets newcomers in.
            if matches!(st.state, State::Draining | State::Resetting) {
                st.state = State::Filling;
            }
            drop(st);
            self.0.changed.notify_waiters();
        }
    }
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `parties` is 0 (asyncio's `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(aioproto::Barrier::new(0).is_err());
    /// assert_eq!(aioproto::Barrier::new(2).unwrap().parties(), 2);
    /// ```
    pub fn new(parties: usize) -> Result<Self> {
        if parties == 0 {
            return Err(Error::invalid_argument("parties must be >= 1"));
        }
        Ok(Barrier {
            parties,
            st: Mutex::new(BarrierState {
                state: State::Filling,
                count: 0,
            }),
            changed: Notify::new(),
        })
    }

    /// Waits until `parties` tasks are waiting, then returns this task's
    /// arrival index: `0` for the first, `parties - 1` for the one that
    /// released the others. While the barrier is still releasing (or
    /// resetting) a previous round, a new arrival first waits for that to end.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrierError`] (see [`Error::is_broken_barrier`]) if the
    /// barrier is broken on arrival, or is aborted or reset while waiting;
    /// [`Error::Cancelled`] if the task is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped or cancelled `wait()` leaves the barrier as if
    /// it had never arrived, and the barrier stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let single = aioproto::Barrier::new(1)?;
    /// assert_eq!(single.wait().await?, 0);
    /// assert_eq!(single.wait().await?, 0); // reusable
    /// # Ok(()) }
    /// ```
    pub async fn wait(&self) -> Result<usize> {
        // Enter, waiting while a previous round drains or resets.
        let (index, arrival) = loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = lock(&self.st);
                match st.state {
                    State::Broken => return Err(broken("barrier aborted")),
                    State::Draining | State::Resetting => {}
                    State::Filling => {
                        let index = st.count;
                        st.count += 1;
                        let arrival = Arrival(self);
                        if index + 1 == self.parties {
                            st.state = State::Draining;
                            drop(st);
                            self.changed.notify_waiters();
                            return Ok(index);
                        }
                        break (index, arrival);
                    }
                }
            }
            cancellable(notified).await?;
        };
        // Wait for the last party (or a reset or abort).
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Copied out: the guard must be gone before `arrival` drops.
            let state = lock(&self.st).state;
            match state {
                State::Filling => {}
                State::Draining => break,
                State::Resetting | State::Broken => {
                    drop(arrival);
                    return Err(broken("barrier was aborted or reset"));
                }
            }
            cancellable(notified).await?;
        }
        drop(arrival);
        Ok(index)
    }

    /// Returns the barrier to its empty state. Tasks waiting now fail with
    /// [`BrokenBarrierError`]; a broken barrier becomes usable again once they
    /// have left.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = aioproto::Barrier::new(2).unwrap();
    /// barrier.abort();
    /// assert!(barrier.broken());
    /// barrier.reset();
    /// assert!(!barrier.broken());
    /// ```
    pub fn reset(&self) {
        let mut st = lock(&self.st);
        st.state = if st.count > 0 {
            State::Resetting
        } else {
            State::Filling
        };
        drop(st);
        self.changed.notify_waiters();
    }

    /// Breaks the barrier: waiting tasks and every later `wait()` fail with
    /// [`BrokenBarrierError`] until [`reset`](Self::reset).
    ///
    /// # Examples
    ///
    /// See [`reset`](Self::reset).
    pub fn abort(&self) {
        lock(&self.st).state = State::Broken;
        self.changed.notify_waiters();
    }

    /// The number of tasks needed to pass.
    ///
    /// # Examples
    ///
    /// See [`new`](Self::new).
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// Tasks waiting in the current round (0 while draining or resetting).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::Barrier::new(3).unwrap().n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        let st = lock(&self.st);
        if st.state == State::Filling {
            st.count
        } else {
            0
        }
    }

    /// True once [`abort`](Self::abort) was called, until [`reset`](Self::reset).
    ///
    /// # Examples
    ///
    /// See [`reset`](Self::reset).
    pub fn broken(&self) -> bool {
        lock(&self.st).state == State::Broken
    }
}

#[cfg(test)]
mod tests;
