//! The bytes on a room's Redis channel: one frame per message or presence
//! event, tagged with the origin server. The Lua scripts build the same
//! frames (see `redis_scripts.rs`).
//!
//! ```text
//! 0xA1  kind  origin_len:u16be  origin  name_len:u16be  name  payload…
//! ```
//! `kind` is `M` (message), `J` (joined), `L` (left), `X` (expired). Only
//! `M` carries a payload. Origin and name are UTF-8.

/// The first byte of every frame (format version 1).
pub(crate) const MAGIC: u8 = 0xA1;

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Message,
    Joined,
    Left,
    Expired,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Message => b'M',
            Kind::Joined => b'J',
            Kind::Left => b'L',
            Kind::Expired => b'X',
        }
    }

    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            b'M' => Kind::Message,
            b'J' => Kind::Joined,
            b'L' => Kind::Left,
            b'X' => Kind::Expired,
            _ => return None,
        })
    }
}

/// A decoded frame, borrowing from the received bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub(crate) kind: Kind,
    pub(crate) origin: &'a str,
    pub(crate) name: &'a str,
    pub(crate) payload: &'a [u8],
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Names and server ids are validated far below u16::MAX; a longer one
    // would only produce a frame receivers skip as malformed.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Encodes a frame.
pub(crate) fn encode(kind: Kind, origin: &str, name: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + origin.len() + name.len() + payload.len());
    out.push(MAGIC);
    out.push(kind.byte());
    put_str(&mut out, origin);
    put_str(&mut out, name);
    out.extend_from_slice(payload);
    out
}

fn take_str<'a>(input: &mut &'a [u8]) -> Option<&'a str> {
    let (len, rest) = input.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() < len {
        return None;
    }
    let (s, rest) = rest.split_at(len);
    *input = rest;
    std::str::from_utf8(s).ok()
}

/// Decodes a frame; `None` if it is malformed in any way.
pub(crate) fn decode(mut input: &[u8]) -> Option<Frame<'_>> {
    let [MAGIC, kind, rest @ ..] = input else {
        return None;
    };
    let kind = Kind::from_byte(*kind)?;
    input = rest;
    let origin = take_str(&mut input)?;
    let name = take_str(&mut input)?;
    if origin.is_empty() || name.is_empty() || (kind != Kind::Message && !input.is_empty()) {
        return None;
    }
    Some(Frame {
        kind,
        origin,
        name,
        payload: input,
    })
}
