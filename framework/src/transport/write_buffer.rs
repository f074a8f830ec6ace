//! The write buffer and its flow-control state, free of I/O so it can be tested alone.
//!
//! Every write path (stream, pipe, datagram) queues into a [`WriteBuffer`] and has it
//! follow its marks after each flush attempt or limit change
//! ([`WriteBuffer::follow_marks`]); the transport's core tells the protocol when that
//! paused or resumed it. The rules are asyncio's: pause once the size goes strictly
//! over `high`, resume once it is back to `low` or below, and the two strictly
//! alternate.

use std::io::IoSlice;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::util::ChunkQueue;

/// asyncio's default high-water mark for socket and pipe transports.
pub(crate) const DEFAULT_HIGH_WATER: usize = 64 * 1024;

/// What each queued datagram counts beyond its payload, as in asyncio
/// (3.13's `_header_size`): so empty datagrams, which a UDP protocol may
/// send, still fill the buffer towards its high-water mark.
pub(crate) const DATAGRAM_OVERHEAD: usize = 8;

/// Most slices handed to one vectored write (Linux's `UIO_MAXIOV` is 1024).
const MAX_IOVECS: usize = 64;

/// What the protocol must be told after the buffer changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlowEvent {
    /// Call `pause_writing()`.
    Pause,
    /// Call `resume_writing()`.
    Resume,
}

/// Low and high water marks, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) low: usize,
    pub(crate) high: usize,
}

impl Limits {
    /// Resolves optional marks the way asyncio does: a missing high is 4 × low
    /// (or the default), a missing low is high / 4.
    pub(crate) fn new(
        high: Option<usize>,
        low: Option<usize>,
        default_high: usize,
    ) -> Result<Self> {
        let high = match (high, low) {
            (Some(high), _) => high,
            (None, Some(low)) => low.saturating_mul(4),
            (None, None) => default_high,
        };
        let low = low.unwrap_or(high / 4);
        if high < low {
            return Err(Error::invalid_argument(format!(
                "high ({high}) must be >= low ({low}) must be >= 0"
            )));
        }
        Ok(Limits { low, high })
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            low: DEFAULT_HIGH_WATER / 4,
            high: DEFAULT_HIGH_WATER,
        }
    }
}

/// Queued outgoing chunks with an exact byte count and the pause state.
///
/// A short chunk queued behind others is copied ([`ChunkQueue`] says why):
/// a buffer behind a peer that does not read must not hold a read buffer
/// per byte it counts.
#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    chunks: ChunkQueue,
    limits: Limits,
    paused: bool,
}

impl WriteBuffer {
    pub(crate) fn new(limits: Limits) -> Self {
        WriteBuffer {
            limits,
            ..Self::default()
        }
    }

    /// Bytes queued and not yet accepted by the kernel.
    pub(crate) fn len(&self) -> usize {
        self.chunks.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.len() == 0
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// Queues a chunk. Empty chunks are ignored, like asyncio's `write(b'')`.
    #[inline]
    pub(crate) fn push(&mut self, chunk: Bytes) {
        self.chunks.push_back(chunk);
    }

    /// Puts `chunks` back at the front, in their order, less the first
    /// `sent` bytes of them (what a write already took).
    pub(crate) fn push_front_unsent(&mut self, chunks: &[Bytes], sent: usize) {
        let (mut first, mut offset) = (0, sent);
        while first < chunks.len() && offset >= chunks[first].len() {
            offset -= chunks[first].len();
            first += 1;
        }
        for (i, chunk) in chunks[first..].iter().enumerate().rev() {
            let chunk = if i == 0 {
                chunk.slice(offset..)
            } else {
                chunk.clone()
            };
            self.chunks.push_front(chunk);
        }
    }

    /// Queues one datagram, even an empty one (a zero-length datagram is a
    /// real message). Take datagrams back with [`pop_front`](Self::pop_front).
    pub(crate) fn push_datagram(&mut self, datagram: Bytes) {
        self.chunks.push_back_whole(datagram, DATAGRAM_OVERHEAD);
    }

    /// How many chunks (datagrams) are queued.
    pub(crate) fn chunk_count(&self) -> usize {
        self.chunks.part_count()
    }

    /// Calls `write` with the queued chunks as slices (see [`with_io_slices`]).
    #[inline]
    pub(crate) fn with_io_slices<R>(&self, write: impl FnOnce(&[IoSlice<'_>]) -> R) -> R {
        with_io_slices(self.chunks.parts(), write)
    }

    /// The oldest queued chunk, for transports that send one message at a time.
    pub(crate) fn front(&self) -> Option<&Bytes> {
        self.chunks.front()
    }

    /// Removes the oldest datagram (they are never split).
    pub(crate) fn pop_front(&mut self) -> Option<Bytes> {
        self.chunks.pop_front_whole(DATAGRAM_OVERHEAD)
    }

    /// Drops `n` bytes that were written, from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.chunks.advance(n);
    }

    /// Drops everything queued (abort, fatal error).
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
    }

    /// Changes the limits; the caller then calls [`follow_marks`](Self::follow_marks).
    pub(crate) fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Pauses once the buffer is over the high mark and resumes once it is
    /// back at the low mark ([`is_paused`](Self::is_paused)); between the
    /// two, the state stays as it was. Whether the protocol hears of a
    /// change is its core's business (`Core::flow_event`).
    pub(crate) fn follow_marks(&mut self) {
        let size = self.len();
        if !self.paused && size > self.limits.high {
            self.paused = true;
        } else if self.paused && size <= self.limits.low {
            self.paused = false;
        }
    }
}

/// The slice array [`with_io_slices`] fills.
fn empty_io_slices<'a>() -> [IoSlice<'a>; MAX_IOVECS] {
    [IoSlice::new(&[]); MAX_IOVECS]
}

/// Calls `write` with slices of the first chunks (as many as fit in one
/// vectored write), oldest first; a lone chunk, the echo case, needs no
/// slice array.
#[inline]
pub(crate) fn with_io_slices<'a, R>(
    chunks: impl IntoIterator<Item = &'a Bytes, IntoIter: ExactSizeIterator>,
    write: impl FnOnce(&[IoSlice<'_>]) -> R,
) -> R {
    let mut chunks = chunks.into_iter();
    if chunks.len() == 1
        && let Some(only) = chunks.next()
    {
        return write(&[IoSlice::new(only)]);
    }
    let mut slices = empty_io_slices();
    let n = fill_io_slices(&mut slices, chunks);
    write(&slices[..n])
}

/// Points `slices` at the first chunks (as many as fit); returns how many.
fn fill_io_slices<'a>(
    slices: &mut [IoSlice<'a>; MAX_IOVECS],
    chunks: impl IntoIterator<Item = &'a Bytes>,
) -> usize {
    let mut n = 0;
    for (slot, chunk) in slices.iter_mut().zip(chunks) {
        *slot = IoSlice::new(chunk);
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests;
