//! The protocol a relay installs on each of its transports: it turns the
//! transport's callbacks into the relay's transitions.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::Error;
use crate::transport::protocol::{BaseProtocol, Protocol};

use super::state::Shared;

/// The protocol of member `member` of `relay`.
pub(crate) struct Endpoint {
    pub(crate) relay: Arc<Shared>,
    pub(crate) member: usize,
}

impl BaseProtocol for Endpoint {
    fn connection_lost(&mut self, exc: Option<Error>) {
        self.relay.member_lost(self.member, exc);
    }

    fn pause_writing(&mut self) {
        self.relay.sink_paused(self.member);
    }

    fn resume_writing(&mut self) {
        self.relay.sink_resumed(self.member);
    }
}

impl Protocol for Endpoint {
    fn data_received(&mut self, data: Bytes) {
        self.relay.forward(self.member, data);
    }

    fn eof_received(&mut self) -> bool {
        self.relay.source_eof(self.member)
    }
}

/// A protocol that holds a new connection until the relay takes it over:
/// it stops reading at once, so nothing is read before the relay's protocol
/// is in place (the kernel keeps what arrives).
pub(crate) struct Held;

impl BaseProtocol for Held {
    fn connection_made(&mut self, transport: &crate::Transport) {
        transport.pause_reading();
    }
}

impl Protocol for Held {}
