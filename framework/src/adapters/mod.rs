//! Protocol adapters: turn a codec ([`CodecProtocol`](crate::CodecProtocol)) or
//! an async handler ([`AsyncAdapter`](crate::AsyncAdapter)) into a `Protocol`
//! the transport layer drives, or turn transports into a relay between them
//! ([`pipe`](crate::pipe), [`splice`](crate::splice)).

pub(crate) mod async_protocol;
pub(crate) mod codec;
pub(crate) mod relay;
