//! asyncio's `LifoQueue` and `PriorityQueue`: a [`Queue`] with another order.
//!
//! As in asyncio, where both subclass `Queue` and override only `_put` and
//! `_get`, they are the same queue (bounds, `task_done`/`join`, `shutdown`)
//! with a different [`Order`]. The methods below forward to it.

use std::collections::VecDeque;
use std::fmt;

use crate::error::Result;
use crate::runtime::queue::{Order, Queue};

/// Generates the forwarding methods, each with its own example.
macro_rules! forward_queue_methods {
    ($name:ident, $first:literal, $second:literal) => {
        impl<T: Send> $name<T> {
            /// The bound given to `new` (0 = unbounded).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("assert_eq!(aioproto::", stringify!($name), "::<u8>::new(4).maxsize(), 4);")]
            /// ```
            pub fn maxsize(&self) -> usize {
                self.inner.maxsize()
            }

            /// Items in the queue now.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(0);")]
            /// q.put_nowait(1).unwrap();
            /// assert_eq!(q.qsize(), 1);
            /// ```
            pub fn qsize(&self) -> usize {
                self.inner.qsize()
            }

            /// True if there are no items.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("assert!(aioproto::", stringify!($name), "::<u8>::new(0).empty());")]
            /// ```
            pub fn empty(&self) -> bool {
                self.inner.empty()
            }

            /// True if the queue holds `maxsize` items (never for unbounded queues).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(1);")]
            /// q.put_nowait(1).unwrap();
            /// assert!(q.full());
            /// ```
            pub fn full(&self) -> bool {
                self.inner.full()
            }

            /// Adds an item without waiting.
            ///
            /// # Errors
            ///
            /// [`Error::QueueFull`](crate::Error::QueueFull) (the item is
            /// dropped) or [`Error::QueueShutDown`](crate::Error::QueueShutDown).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(1);")]
            /// q.put_nowait(1).unwrap();
            /// assert!(matches!(q.put_nowait(2), Err(aioproto::Error::QueueFull)));
            /// ```
            pub fn put_nowait(&self, item: T) -> Result<()> {
                self.inner.put_nowait(item)
            }

            /// Adds an item, waiting for room.
            ///
            /// # Errors
            ///
            /// [`Error::QueueShutDown`](crate::Error::QueueShutDown);
            /// [`Error::Cancelled`](crate::Error::Cancelled) if the task is
            /// cancelled while waiting (the item is dropped).
            ///
            /// # Cancel safety
            ///
            /// Not cancel-safe: a dropped `put` loses its item.
            ///
            /// # Examples
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> aioproto::Result<()> {
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(0);")]
            /// q.put(1).await?;
            /// q.put(2).await?;
            #[doc = concat!("assert_eq!(q.get().await?, ", $first, ");")]
            /// # Ok(()) }
            /// ```
            pub async fn put(&self, item: T) -> Result<()> {
                self.inner.put(item).await
            }

            /// Removes an item without waiting.
            ///
            /// # Errors
            ///
            /// [`Error::QueueEmpty`](crate::Error::QueueEmpty), or
            /// [`Error::QueueShutDown`](crate::Error::QueueShutDown) once shut
            /// down and empty.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(0);")]
            /// q.put_nowait(1).unwrap();
            /// q.put_nowait(2).unwrap();
            #[doc = concat!("assert_eq!(q.get_nowait().unwrap(), ", $first, ");")]
            #[doc = concat!("assert_eq!(q.get_nowait().unwrap(), ", $second, ");")]
            /// assert!(matches!(q.get_nowait(), Err(aioproto::Error::QueueEmpty)));
            /// ```
            pub fn get_nowait(&self) -> Result<T> {
                self.inner.get_nowait()
            }

            /// Removes an item, waiting for one.
            ///
            /// # Errors
            ///
            /// [`Error::QueueShutDown`](crate::Error::QueueShutDown) once shut
            /// down and empty; [`Error::Cancelled`](crate::Error::Cancelled).
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: no item is lost if the call is dropped.
            ///
            /// # Examples
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> aioproto::Result<()> {
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(0);")]
            /// q.put_nowait(7)?;
            /// assert_eq!(q.get().await?, 7);
            /// # Ok(()) }
            /// ```
            pub async fn get(&self) -> Result<T> {
                self.inner.get().await
            }

            /// Marks one item fetched by `get` as processed.
            ///
            /// # Errors
            ///
            /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if
            /// called more times than items were put.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(0);")]
            /// q.put_nowait(1).unwrap();
            /// q.task_done().unwrap();
            /// assert!(q.task_done().is_err());
            /// ```
            pub fn task_done(&self) -> Result<()> {
                self.inner.task_done()
            }

            /// Waits until every item put has been marked done.
            ///
            /// # Errors
            ///
            /// [`Error::Cancelled`](crate::Error::Cancelled) if the task is cancelled.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe.
            ///
            /// # Examples
            ///
            /// ```
            /// # #[tokio::main(flavor = "current_thread")]
            /// # async fn main() -> aioproto::Result<()> {
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(0);")]
            /// q.put_nowait(1)?;
            /// q.get().await?;
            /// q.task_done()?;
            /// q.join().await?;
            /// # Ok(()) }
            /// ```
            pub async fn join(&self) -> Result<()> {
                self.inner.join().await
            }

            /// Shuts the queue down: `put` fails from now on; `get` drains what
            /// is left, then fails. With `immediate`, the items are dropped,
            /// `get` fails at once and `join` is released.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = aioproto::", stringify!($name), "::new(0);")]
            /// q.put_nowait(1).unwrap();
            /// q.shutdown(false);
            /// assert!(q.put_nowait(2).is_err());
            /// assert_eq!(q.get_nowait().unwrap(), 1);
            /// assert!(matches!(q.get_nowait(), Err(aioproto::Error::QueueShutDown)));
            /// ```
            pub fn shutdown(&self, immediate: bool) {
                self.inner.shutdown(immediate)
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.inner, f)
            }
        }
    };
}

/// asyncio's `LifoQueue`: the most recently added item leaves first.
///
/// Everything else is [`Queue`]'s: optional bound, `task_done`/`join`,
/// `shutdown`, the same errors. Share it by reference or in an `Arc`.
///
/// # Examples
///
/// ```
/// let stack = aioproto::LifoQueue::new(0);
/// for i in 1..=3 {
///     stack.put_nowait(i).unwrap();
/// }
/// assert_eq!(stack.get_nowait().unwrap(), 3);
/// assert_eq!(stack.get_nowait().unwrap(), 2);
/// ```
pub struct LifoQueue<T> {
    inner: Queue<T>,
}

impl<T: Send> LifoQueue<T> {
    /// A LIFO queue holding at most `maxsize` items (0 = unbounded).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(aioproto::LifoQueue::<String>::new(0).empty());
    /// ```
    pub fn new(maxsize: usize) -> Self {
        let lifo = Order {
            name: "LifoQueue",
            push: VecDeque::push_back,
            pop: VecDeque::pop_back,
        };
        LifoQueue {
            inner: Queue::with_order(maxsize, lifo),
        }
    }
}

forward_queue_methods!(LifoQueue, "2", "1");

/// asyncio's `PriorityQueue`: the smallest item leaves first (a binary
/// min-heap, like asyncio's `heapq`; equal items leave in no set order).
///
/// For asyncio's `(priority, data)` tuples, put tuples: they compare by
/// priority first. Use [`std::cmp::Reverse`] to get the largest first.
/// Everything else is [`Queue`]'s. `T`'s `Ord` must not panic.
///
/// # Examples
///
/// ```
/// let jobs = aioproto::PriorityQueue::new(0);
/// jobs.put_nowait((2, "write report")).unwrap();
/// jobs.put_nowait((0, "fix outage")).unwrap();
/// jobs.put_nowait((1, "review")).unwrap();
/// assert_eq!(jobs.get_nowait().unwrap(), (0, "fix outage"));
/// assert_eq!(jobs.get_nowait().unwrap(), (1, "review"));
/// ```
pub struct PriorityQueue<T> {
    inner: Queue<T>,
}

impl<T: Ord + Send> PriorityQueue<T> {
    /// A priority queue holding at most `maxsize` items (0 = unbounded).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(aioproto::PriorityQueue::<u32>::new(8).maxsize(), 8);
    /// ```
    pub fn new(maxsize: usize) -> Self {
        let heap = Order {
            name: "PriorityQueue",
            push: heap_push,
            pop: heap_pop,
        };
        PriorityQueue {
            inner: Queue::with_order(maxsize, heap),
        }
    }
}

forward_queue_methods!(PriorityQueue, "1", "2");

/// `heapq.heappush` on a deque used as a binary min-heap.
fn heap_push<T: Ord>(heap: &mut VecDeque<T>, item: T) {
    heap.push_back(item);
    let mut i = heap.len() - 1;
    while i > 0 {
        let parent = (i - 1) / 2;
        if heap[i] >= heap[parent] {
            break;
        }
        heap.swap(i, parent);
        i = parent;
    }
}

/// `heapq.heappop`: takes the smallest item and restores the heap.
fn heap_pop<T: Ord>(heap: &mut VecDeque<T>) -> Option<T> {
    let last = heap.len().checked_sub(1)?;
    heap.swap(0, last);
    let smallest = heap.pop_back();
    let len = heap.len();
    let mut i = 0;
    loop {
        let mut least = i;
        for child in [2 * i + 1, 2 * i + 2] {
            if child < len && heap[child] < heap[least] {
                least = child;
            }
        }
        if least == i {
            return smallest;
        }
        heap.swap(i, least);
        i = least;
    }
}

#[cfg(test)]
fn heap_order_for_tests<T: Ord>(items: Vec<T>) -> Vec<T> {
    let mut heap = VecDeque::new();
    for item in items {
        heap_push(&mut heap, item);
    }
    std::iter::from_fn(|| heap_pop(&mut heap)).collect()
}

#[cfg(test)]
mod tests;
