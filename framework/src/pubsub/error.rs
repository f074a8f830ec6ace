//! [`RoomError`]: why joining or connecting a room failed.

/// Why a room operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// The name is held by another member of the room, on this server or another.
    #[error("name taken")]
    NameTaken,
    /// The name is not acceptable (the text says why).
    #[error("invalid name: {0}")]
    InvalidName(&'static str),
    /// The options contradict each other (the text says how).
    #[error("invalid options: {0}")]
    InvalidOptions(&'static str),
    /// The room was closed with [`Room::close`](super::Room::close).
    #[error("room closed")]
    Closed,
    /// Redis refused or failed a request, or the URL is malformed.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer within the configured timeout.
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    #[error("redis timed out")]
    Timeout,
}

impl RoomError {
    /// Whether this is [`RoomError::NameTaken`].
    pub fn is_name_taken(&self) -> bool {
        matches!(self, RoomError::NameTaken)
    }

    /// Whether this is [`RoomError::Closed`].
    pub fn is_closed(&self) -> bool {
        matches!(self, RoomError::Closed)
    }
}
