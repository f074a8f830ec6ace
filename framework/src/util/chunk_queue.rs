//! A queue of byte chunks whose memory stays in proportion to its bytes.
//!
//! A stream driver cuts every `Bytes` it delivers from its thread's read
//! buffer, one 128 KiB allocation shared by every connection on the thread,
//! and a chunk keeps its whole allocation alive. A queue that kept each
//! chunk as it came could so hold 128 KiB per byte it counts: a peer that
//! sends its partial line a byte at a time, while other traffic fills the
//! read buffer in between, made a streams server hold 610 MB for 10,000
//! bytes (a write buffer behind a peer that does not read is the same).
//!
//! So a queue copies what it keeps behind its first part, unless the chunk
//! is as long as a whole read ([`KEEP_FROM`]), whose allocation is at most
//! twice its size. Its first part is kept as it came: the common case, one
//! chunk taken out soon, copies nothing, and what one part pins is bounded
//! by the connection count. A short chunk pushed behind a short part joins
//! it: the two become one part the queue owns (reused in place once the
//! queue owns it alone), so a run of short chunks also costs one slice in a
//! vectored write, not one each. What a queue holds in memory is then at
//! most one allocation for its first part, twice its whole reads, and its
//! own copies.
//!
//! | chunk | queue empty | behind a short part | behind a whole read |
//! |---|---|---|---|
//! | `KEEP_FROM` bytes or more | kept | kept | kept |
//! | shorter, pushed at the back | kept | joins that part | copied |
//! | shorter, pushed at the front, or a message (datagram) | kept | copied | copied |

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// A chunk at least this long is kept as it came, whatever the queue holds:
/// the stream drivers' read size, so the chunk is a whole read and its
/// allocation (two reads' room) at most twice its size.
pub(crate) const KEEP_FROM: usize = 64 * 1024;

/// Chunks in order, oldest first; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct ChunkQueue {
    parts: VecDeque<Bytes>,
    /// Bytes in `parts`.
    len: usize,
}

impl ChunkQueue {
    /// Bytes queued.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// No parts: not even an empty datagram.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// How many parts the queue holds (messages, for datagrams).
    pub(crate) fn part_count(&self) -> usize {
        self.parts.len()
    }

    /// The queue's parts, oldest first.
    pub(crate) fn parts(&self) -> impl ExactSizeIterator<Item = &Bytes> {
        self.parts.iter()
    }

    /// Part `index`, oldest first.
    pub(crate) fn part(&self, index: usize) -> Option<&Bytes> {
        self.parts.get(index)
    }

    /// The oldest part.
    pub(crate) fn front(&self) -> Option<&Bytes> {
        self.parts.front()
    }

    /// Queues `chunk` at the back; an empty chunk is ignored.
    #[inline]
    pub(crate) fn push_back(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        if self.keeps_as_it_came(&chunk) {
            self.parts.push_back(chunk);
        } else {
            self.push_behind(&chunk);
        }
    }

    /// Queues a short chunk behind something: it joins a short back part,
    /// or is copied after a whole read. Out of line, so the common push,
    /// into an empty queue, stays a few instructions.
    #[inline(never)]
    fn push_behind(&mut self, chunk: &[u8]) {
        match self.parts.back_mut() {
            Some(back) if back.len() < KEEP_FROM => {
                let mut joined = std::mem::take(back)
                    .try_into_mut()
                    .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
                joined.extend_from_slice(chunk);
                *back = joined.freeze();
            }
            _ => self.parts.push_back(Bytes::copy_from_slice(chunk)),
        }
    }

    /// Queues `message` at the back as a part of its own, even an empty one
    /// (a datagram), counting `overhead` bytes beyond its length; take it
    /// out with [`pop_front_whole`](Self::pop_front_whole) and the same
    /// `overhead`.
    pub(crate) fn push_back_whole(&mut self, message: Bytes, overhead: usize) {
        let message = self.owned_unless_first(message);
        self.len += message.len() + overhead;
        self.parts.push_back(message);
    }

    /// Puts `chunk` back at the front (bytes a write did not take).
    pub(crate) fn push_front(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        let chunk = self.owned_unless_first(chunk);
        self.len += chunk.len();
        self.parts.push_front(chunk);
    }

    /// Removes the oldest part whole, a message queued with
    /// [`push_back_whole`](Self::push_back_whole) and this `overhead`.
    pub(crate) fn pop_front_whole(&mut self, overhead: usize) -> Option<Bytes> {
        let part = self.parts.pop_front()?;
        self.len -= part.len() + overhead;
        Some(part)
    }

    /// Removes and returns up to `n` bytes of the oldest part (never copies).
    pub(crate) fn take_front(&mut self, n: usize) -> Bytes {
        let Some(front) = self.parts.front_mut() else {
            return Bytes::new();
        };
        let out = if front.len() <= n {
            self.parts.pop_front().unwrap_or_default()
        } else {
            front.split_to(n)
        };
        self.len -= out.len();
        out
    }

    /// Drops the first `n` bytes (all of them if fewer are queued).
    pub(crate) fn advance(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.parts.front_mut() else {
                break;
            };
            if n >= front.len() {
                n -= front.len();
                self.parts.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    /// Drops everything.
    pub(crate) fn clear(&mut self) {
        self.parts.clear();
        self.len = 0;
    }

    /// Moves every part out, oldest first.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<Bytes>) {
        out.extend(self.parts.drain(..));
        self.len = 0;
    }

    /// Whether `chunk` joins the queue as it came: into an empty queue, or
    /// as a whole read (see the module docs' table).
    #[inline]
    fn keeps_as_it_came(&self, chunk: &[u8]) -> bool {
        self.parts.is_empty() || chunk.len() >= KEEP_FROM
    }

    /// `chunk` as it came if the queue keeps it so, else a copy of its own.
    fn owned_unless_first(&self, chunk: Bytes) -> Bytes {
        if self.keeps_as_it_came(&chunk) {
            chunk
        } else {
            Bytes::copy_from_slice(&chunk)
        }
    }
}

#[cfg(test)]
mod tests;
