//! Replies: what a `data_received` callback writes while nothing is queued
//! leaves from the driver when the callback returns, in one write, without
//! going through the shared write buffer or its lock a second time.
//! asyncio's `write()` sends at once when nothing is queued; here the
//! writes of one callback still leave together.
//!
//! While the driver runs `data_received` it opens its thread's reply slot
//! ([`open`]). A [`Transport::write`] of that transport on that thread, made
//! while the shared buffer is empty, keeps its chunk in the slot ([`defer`])
//! instead of the buffer. When the callback returns, the driver closes the
//! slot ([`close`]) and writes what it holds to its stream, with no lock
//! when nobody else took the lock meanwhile.
//!
//! Order is kept against every other writer. A chunk goes to the slot only
//! while the buffer is empty, under the lock, so nothing queued earlier is
//! overtaken. Anything queued after it (another task's write, a later write
//! of the callback once the slot is full) is in the buffer, which the driver
//! sends only after the slot. What the stream did not take goes to the front
//! of the buffer, ahead of those ([`State::requeue_front`]).
//!
//! A chunk kept in the slot changes nothing the driver must look at, so the
//! write does not mark the state touched. If nothing else did, the pass
//! after the callback stays the quiet one (a read, no lock; see the driver).
//!
//! Such a write takes the lock only to check what the state says: that
//! writes are accepted, nothing is queued, and the slot stays within the
//! limits. A pass that found all of that, with room for [`QUIET_ROOM`],
//! marks the state quiet; until anyone else locks, a write inside
//! `data_received` skips the lock as well ([`keep_quietly`]). Whoever could
//! make a check fail or queue a chunk first (another thread's write, a
//! `close()`, a new limit, the callback's own `write_eof()`) takes the lock
//! and so ends the quiet mark (see
//! [`Handle::quiet_since_pass`](crate::transport::handle::Handle::quiet_since_pass)).
//! So an echo request takes no lock at all.
//!
//! | where the write is | what happens |
//! |---|---|
//! | inside `data_received`, the state quiet since the driver's last pass, the slot within `QUIET_ROOM` | kept in the slot without the lock |
//! | inside `data_received`, nothing queued, the slot within the high-water mark and the hard limit | kept in the slot (under the lock), written when the callback returns |
//! | the slot would pass the mark or the limit | the slot's chunks move to the buffer, and this one after them: flow control and the hard limit see them all |
//! | anywhere else (another callback, another task), or a stream that holds written bytes (TLS) | queued in the buffer, as always |
//! | when the callback returns, the state touched meanwhile (another writer, a close, a `start_tls`) | the slot's chunks go to the front of the buffer, for the driver's full pass |
//! | the stream takes only part, would block, or fails | the rest goes to the front of the buffer; the driver's flush waits for the stream or meets the error |
//!
//! [`Transport::write`]: crate::Transport::write
//! [`State::requeue_front`]: crate::transport::State::requeue_front

use std::cell::RefCell;

use bytes::Bytes;

use crate::transport::write_buffer::WriteBuffer;

/// What the slot may hold when a write skips the lock (see
/// [`keep_quietly`]): a pass marks the state quiet only if the high-water
/// mark and the hard limit both leave this much room, so such a write can
/// cross neither. The default mark is this much.
pub(crate) const QUIET_ROOM: usize = crate::transport::write_buffer::DEFAULT_HIGH_WATER;

/// The thread's reply slot.
struct Slot {
    /// A driver's `data_received` runs on this thread and collects here.
    open: bool,
    /// Chunks written in the callback while nothing was queued, in order.
    /// The vector keeps its allocation for the thread's next callback.
    chunks: Vec<Bytes>,
    len: usize,
}

thread_local! {
    /// Only the collecting driver's transport writes here: a write checks
    /// first that its own driver is the one polling on this thread
    /// (`driver_running_here`), and the slot is open only in its callback.
    static SLOT: RefCell<Slot> = const {
        RefCell::new(Slot {
            open: false,
            chunks: Vec::new(),
            len: 0,
        })
    };
}

/// Opens the slot for a `data_received` call of the driver polling here;
/// `false` during the thread's teardown, when there is no slot (then every
/// write is queued, as elsewhere).
#[inline]
pub(crate) fn open() -> bool {
    SLOT.try_with(|slot| slot.borrow_mut().open = true).is_ok()
}

/// Closes the slot after the callback and hands what it holds (if anything)
/// to `send`, which returns how many bytes went out of it; the slot is
/// empty afterwards. Returns what `send` returned.
#[inline]
pub(crate) fn close(send: impl FnOnce(&[Bytes], usize) -> usize) -> usize {
    SLOT.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        slot.open = false;
        if slot.chunks.is_empty() {
            return 0;
        }
        let sent = send(&slot.chunks, slot.len);
        slot.chunks.clear();
        slot.len = 0;
        sent
    })
    .unwrap_or(0)
}

impl Slot {
    /// Takes the chunk out of `data` if the slot is open and stays within
    /// `room` bytes with it.
    #[inline(always)]
    fn keep(&mut self, data: &mut Option<Bytes>, room: usize) -> bool {
        let fits = |chunk: &mut Bytes| self.open && self.len + chunk.len() <= room;
        let Some(chunk) = data.take_if(fits) else {
            return false;
        };
        self.len += chunk.len();
        self.chunks.push(chunk);
        true
    }
}

/// Keeps `data` in the slot, when it is open and stays within `room` bytes
/// (the high-water mark or the hard limit, the lower). Otherwise returns
/// it, to be queued in `buffer`, after moving the slot's chunks there first
/// so they keep their place. The caller holds the transport's lock, checked
/// that its driver is the one polling on this thread and that `buffer` is
/// empty, and marks the state touched if it queues.
#[inline]
pub(crate) fn defer(data: Bytes, room: usize, buffer: &mut WriteBuffer) -> Option<Bytes> {
    // `try_with` takes `data` only if the slot is there (not during the
    // thread's teardown); otherwise it stays here to be queued.
    let mut data = Some(data);
    let _ = SLOT.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if !slot.keep(&mut data, room) && slot.open {
            for chunk in slot.chunks.drain(..) {
                buffer.push(chunk);
            }
            slot.len = 0;
        }
    });
    data
}

/// Keeps `data` in the slot without the transport's lock, when the slot is
/// open and stays within [`QUIET_ROOM`]; otherwise returns it, for the
/// locked write. The caller checked that its driver is the one polling on
/// this thread and that the state is as a quiet pass left it
/// ([`Handle::quiet_since_pass`](crate::transport::handle::Handle::quiet_since_pass)):
/// nothing queued, writes accepted, room for `QUIET_ROOM`, and nobody has
/// locked since. So no other writer's chunk can be overtaken, and no check
/// the lock would make can fail.
///
/// Always inlined, with [`Slot::keep`]: out of line, each was a call and a
/// prologue more on every echo reply (measured in DESIGN.md's round 11).
#[inline(always)]
pub(crate) fn keep_quietly(data: Bytes) -> Result<(), Bytes> {
    let mut data = Some(data);
    let _ = SLOT.try_with(|slot| slot.borrow_mut().keep(&mut data, QUIET_ROOM));
    data.map_or(Ok(()), Err)
}

/// The bytes the slot holds (0 when closed): what the driver polling here
/// will send when its callback returns.
pub(crate) fn pending_len() -> usize {
    SLOT.try_with(|slot| {
        let slot = slot.borrow();
        if slot.open { slot.len } else { 0 }
    })
    .unwrap_or(0)
}
