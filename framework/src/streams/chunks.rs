//! Machinery behind [`crate::streams`]: the reader's chunk buffer.

use bytes::{Bytes, BytesMut};

use crate::util::ChunkQueue;

/// Received data as the chunks the transport delivered, so reads that fall
/// inside one chunk are zero-copy slices of it. A short chunk that arrives
/// behind others is copied ([`ChunkQueue`] says why): a reader that holds a
/// partial line must not hold a read buffer per byte.
#[derive(Debug, Default)]
pub(crate) struct ChunkBuf {
    chunks: ChunkQueue,
}

impl ChunkBuf {
    pub(crate) fn len(&self) -> usize {
        self.chunks.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    #[inline]
    pub(crate) fn push(&mut self, chunk: Bytes) {
        self.chunks.push_back(chunk);
    }

    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
    }

    /// Moves every chunk out, oldest first.
    pub(crate) fn drain_into(&mut self, out: &mut Vec<Bytes>) {
        self.chunks.drain_into(out);
    }

    /// Removes and returns up to `n` bytes of the first chunk (never copies).
    pub(crate) fn take_front(&mut self, n: usize) -> Bytes {
        self.chunks.take_front(n)
    }

    /// Removes and returns the first `n` bytes (`n <= len`). Zero-copy when they
    /// lie in one chunk; otherwise they are gathered into one new buffer.
    pub(crate) fn split_to(&mut self, n: usize) -> Bytes {
        debug_assert!(n <= self.len());
        let n = n.min(self.len());
        if n == 0 {
            return Bytes::new();
        }
        if self.chunks.front().is_some_and(|c| c.len() >= n) {
            return self.take_front(n);
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let want = n - out.len();
            let part = self.take_front(want);
            out.extend_from_slice(&part);
        }
        out.freeze()
    }

    /// Drops the first `n` bytes.
    pub(crate) fn advance(&mut self, n: usize) {
        self.chunks.advance(n);
    }

    /// Removes everything, as one buffer.
    pub(crate) fn take_all(&mut self) -> Bytes {
        let n = self.len();
        self.split_to(n)
    }

    /// Copies up to `out.len()` bytes out; returns how many.
    pub(crate) fn copy_to(&mut self, out: &mut [u8]) -> usize {
        let mut copied = 0;
        while copied < out.len() {
            let part = self.take_front(out.len() - copied);
            if part.is_empty() {
                break;
            }
            out[copied..copied + part.len()].copy_from_slice(&part);
            copied += part.len();
        }
        copied
    }

    /// The position of the first `sep` that starts at or after `from`.
    pub(crate) fn find(&self, sep: &[u8], from: usize) -> Option<usize> {
        let first = *sep.first()?;
        let mut base = 0;
        for (index, chunk) in self.chunks.parts().enumerate() {
            let end = base + chunk.len();
            if end > from {
                let mut pos = from.saturating_sub(base);
                // memchr scans a word (or a SIMD register) at a time: a line's
                // search costs a few instructions per 8-16 bytes, not per byte.
                while let Some(k) = memchr::memchr(first, &chunk[pos..]) {
                    let at = pos + k;
                    if sep.len() == 1 || self.matches_at(index, at, sep) {
                        return Some(base + at);
                    }
                    pos = at + 1;
                }
            }
            base = end;
        }
        None
    }

    /// Whether `sep` starts at byte `offset` of chunk `index` (it may run on
    /// into the following chunks).
    fn matches_at(&self, mut index: usize, mut offset: usize, sep: &[u8]) -> bool {
        let mut need = sep;
        while !need.is_empty() {
            let Some(chunk) = self.chunks.part(index) else {
                return false;
            };
            let avail = &chunk[offset..];
            let n = avail.len().min(need.len());
            if avail[..n] != need[..n] {
                return false;
            }
            need = &need[n..];
            index += 1;
            offset = 0;
        }
        true
    }

    /// Whether the bytes at `at` are `sep`.
    pub(crate) fn starts_with_at(&self, sep: &[u8], at: usize) -> bool {
        let mut base = 0;
        for (index, chunk) in self.chunks.parts().enumerate() {
            if at < base + chunk.len() {
                return self.matches_at(index, at - base, sep);
            }
            base += chunk.len();
        }
        sep.is_empty()
    }
}

/// Joins chunks into one buffer (zero-copy for a single chunk).
pub(crate) fn concat(mut parts: Vec<Bytes>) -> Bytes {
    match parts.len() {
        0 => Bytes::new(),
        1 => parts.pop().unwrap_or_default(),
        _ => {
            let total = parts.iter().map(Bytes::len).sum();
            let mut out = BytesMut::with_capacity(total);
            for part in &parts {
                out.extend_from_slice(part);
            }
            out.freeze()
        }
    }
}
