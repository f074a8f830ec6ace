//! asyncio's `Queue`: a FIFO queue for tasks, with `task_done`/`join` and `shutdown`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::runtime::task::cancellable;
use crate::util::lock;

/// Which item leaves first, as asyncio's `_put`/`_get` overrides: FIFO for
/// [`Queue`]; the newest for `LifoQueue`, the smallest for `PriorityQueue`
/// (both in `ordered_queue.rs`, built on this queue).
pub(crate) struct Order<T> {
    /// The type name `Debug` shows.
    pub(crate) name: &'static str,
    pub(crate) push: fn(&mut VecDeque<T>, T),
    pub(crate) pop: fn(&mut VecDeque<T>) -> Option<T>,
}

struct QueueState<T> {
    items: VecDeque<T>,
    unfinished: usize,
    shutdown: bool,
}

/// asyncio's `Queue`: FIFO, optionally bounded, shared by reference (put it in
/// an `Arc` to share between tasks).
///
/// | asyncio | aioproto |
/// |---|---|
/// | `Queue(maxsize=0)` | [`Queue::new`]`(0)` (0 = unbounded) |
/// | `await q.put(x)` / `q.put_nowait(x)` | [`put`](Queue::put) / [`put_nowait`](Queue::put_nowait) ([`Error::QueueFull`]) |
/// | `await q.get()` / `q.get_nowait()` | [`get`](Queue::get) / [`get_nowait`](Queue::get_nowait) ([`Error::QueueEmpty`]) |
/// | `q.task_done()` / `await q.join()` | [`task_done`](Queue::task_done) / [`join`](Queue::join) |
/// | `q.shutdown(immediate)` | [`shutdown`](Queue::shutdown) ([`Error::QueueShutDown`]) |
///
/// Waiting `put`s and `get`s are cancellation points.
///
/// # Examples
///
/// ```
/// use aioproto::Queue;
/// use std::sync::Arc;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let q = Arc::new(Queue::new(1));
/// let worker = {
///     let q = q.clone();
///     aioproto::create_task(async move {
///         let mut sum = 0;
///         for _ in 0..3 {
///             sum += q.get().await?;
///             q.task_done()?;
///         }
///         Ok(sum)
///     })
/// };
/// for i in 1..=3 {
///     q.put(i).await?;
/// }
/// q.join().await?;
/// assert_eq!(worker.await?, 6);
/// # Ok(()) }
/// ```
pub struct Queue<T> {
    st: Mutex<QueueState<T>>,
    maxsize: usize,
    getters: Notify,
    putters: Notify,
    finished: Notify,
    order: Order<T>,
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.st);
        f.debug_struct(self.order.name)
            .field("maxsize", &self.maxsize)
            .field("qsize", &st.items.len())
            .field("unfinished", &st.unfinished)
            .field("shutdown", &st.shutdown)
            .finish()
    }
}

impl<T: Send> Queue<T> {
    /// A queue holding at most `maxsize` items (0 = unbounded).
    pub fn new(maxsize: usize) -> Self {
        let fifo = Order {
            name: "Queue",
            push: VecDeque::push_back,
            pop: VecDeque::pop_front,
        };
        Self::with_order(maxsize, fifo)
    }

    /// A queue whose items leave in `order`.
    pub(crate) fn with_order(maxsize: usize, order: Order<T>) -> Self {
        Queue {
            st: Mutex::new(QueueState {
                items: VecDeque::new(),
                unfinished: 0,
                shutdown: false,
            }),
            maxsize,
            getters: Notify::new(),
            putters: Notify::new(),
            finished: Notify::new(),
            order,
        }
    }

    /// The bound given to [`new`](Self::new).
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// Items in the queue now.
    pub fn qsize(&self) -> usize {
        lock(&self.st).items.len()
    }

    /// True if there are no items.
    pub fn empty(&self) -> bool {
        lock(&self.st).items.is_empty()
    }

    /// True if the queue holds `maxsize` items (never for unbounded queues).
    pub fn full(&self) -> bool {
        self.maxsize > 0 && lock(&self.st).items.len() >= self.maxsize
    }

    /// Adds an item without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::QueueFull`] (the item is dropped) or [`Error::QueueShutDown`].
    pub fn put_nowait(&self, item: T) -> Result<()> {
        let mut st = lock(&self.st);
        if st.shutdown {
            return Err(Error::QueueShutDown);
        }
        if self.maxsize > 0 && st.items.len() >= self.maxsize {
            return Err(Error::QueueFull);
        }
        (self.order.push)(&mut st.items, item);
        st.unfinished += 1;
        drop(st);
        self.getters.notify_one();
        Ok(())
    }

    /// Adds an item, waiting for room.
    ///
    /// # Errors
    ///
    /// [`Error::QueueShutDown`]; [`Error::Cancelled`] if the task is cancelled
    /// while waiting (the item is dropped).
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: a dropped `put` loses its item.
    pub async fn put(&self, item: T) -> Result<()> {
        let mut item = Some(item);
        loop {
            let notified = self.putters.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut st = lock(&self.st);
                if st.shutdown {
                    return Err(Error::QueueShutDown);
                }
                if self.maxsize == 0 || st.items.len() < self.maxsize {
                    (self.order.push)(&mut st.items, item.take().expect("item is put once"));
                    st.unfinished += 1;
                    drop(st);
                    self.getters.notify_one();
                    return Ok(());
                }
            }
            cancellable(notified).await?;
        }
    }

    /// Removes an item without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::QueueEmpty`], or [`Error::QueueShutDown`] once shut down and empty.
    pub fn get_nowait(&self) -> Result<T> {
        let mut st = lock(&self.st);
        match (self.order.pop)(&mut st.items) {
            Some(item) => {
                drop(st);
                self.putters.notify_one();
                Ok(item)
            }
            None if st.shutdown => Err(Error::QueueShutDown),
            None => Err(Error::QueueEmpty),
        }
    }

    /// Removes an item, waiting for one.
    ///
    /// # Errors
    ///
    /// [`Error::QueueShutDown`] once shut down and empty; [`Error::Cancelled`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: no item is lost if the call is dropped.
    pub async fn get(&self) -> Result<T> {
        loop {
            let notified = self.getters.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.get_nowait() {
                Err(Error::QueueEmpty) => {}
                other => return other,
            }
            cancellable(notified).await?;
        }
    }

    /// Marks one item fetched by `get` as processed.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if called more times than items were put
    /// ("task_done() called too many times").
    pub fn task_done(&self) -> Result<()> {
        let mut st = lock(&self.st);
        if st.unfinished == 0 {
            return Err(Error::invalid_argument("task_done() called too many times"));
        }
        st.unfinished -= 1;
        if st.unfinished == 0 {
            drop(st);
            self.finished.notify_waiters();
        }
        Ok(())
    }

    /// Waits until every item put has been marked done.
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] if the task is cancelled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn join(&self) -> Result<()> {
        loop {
            let notified = self.finished.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&self.st).unfinished == 0 {
                return Ok(());
            }
            cancellable(notified).await?;
        }
    }

    /// Shuts the queue down: `put` fails from now on; `get` drains what is
    /// left, then fails. With `immediate`, the items are dropped, `get` fails
    /// at once and `join` is released.
    pub fn shutdown(&self, immediate: bool) {
        let mut st = lock(&self.st);
        st.shutdown = true;
        if immediate {
            let n = st.items.len();
            st.items.clear();
            st.unfinished = st.unfinished.saturating_sub(n);
        }
        let released = st.unfinished == 0;
        drop(st);
        self.getters.notify_waiters();
        self.putters.notify_waiters();
        if released {
            self.finished.notify_waiters();
        }
    }
}
