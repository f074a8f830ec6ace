//! Protocol adapters: turn a codec ([`CodecProtocol`](crate::CodecProtocol)) or
//! an async handler ([`AsyncAdapter`](crate::AsyncAdapter)) into a `Protocol`
//! the transport layer drives.

pub(crate) mod async_protocol;
pub(crate) mod codec;
