//! Framings from Twisted's `protocols/basic.py` as tokio-util codecs:
//! [`NetstringCodec`] (`NetstringReceiver`) and [`LengthPrefixedCodec`]
//! (`Int32StringReceiver` and its 16- and 8-bit siblings).
//!
//! Both work with [`CodecProtocol`](crate::CodecProtocol) as they are, and
//! with tokio-util's `Framed`. Their decoders never panic, give the same
//! frames and the same error however the input is chunked, refuse an
//! oversized frame from its prefix alone, and report a frame cut short by
//! EOF as an error rather than dropping it.

mod length_prefixed;
mod netstring;

pub use length_prefixed::{LengthPrefixedCodec, LengthPrefixedError};
pub use netstring::{NetstringCodec, NetstringError};

use bytes::BytesMut;

/// The most a decoder reserves ahead of the bytes it has: a peer announcing
/// a large frame gets buffer space as it sends, not up front.
const MAX_RESERVE_AHEAD: usize = 64 * 1024;

/// Makes room in `src` for a frame of `total` bytes, a bounded step at a time.
fn reserve_for(src: &mut BytesMut, total: usize) {
    let missing = total.saturating_sub(src.len());
    src.reserve(missing.min(MAX_RESERVE_AHEAD));
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
