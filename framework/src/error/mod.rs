//! The crate's single error type.

use std::fmt;
use std::io;
use std::sync::Arc;

/// A specialised `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in aioproto.
///
/// `connection_lost(None)` means a clean close; `connection_lost(Some(err))`
/// carries one of these. The error is cheap to clone (sources are shared), so
/// the same failure can be handed to a protocol and to every waiter of a
/// [`Future`](crate::Future).
///
/// # Printing
///
/// * `Display` (`{}`) is the whole message chain on one line, lower-case and
///   without a trailing period, each cause after a `: `, e.g. `error while
///   attempting to bind on address 127.0.0.1:8080: Address already in use (os
///   error 98)` (the OS's own text keeps its capital).
/// * `Debug` (`{:?}`) is the variant's name around that same chain, so `fn
///   main() -> aioproto::Result<()>` reports `Error: Io(error while attempting
///   to bind on address 127.0.0.1:8080: Address already in use (os error
///   98))`: what happened, in words, and which variant to match on, rather
///   than nested `Custom { kind: .., error: .. }` internals.
/// * `{:#?}` shows the variant and all its fields, for debugging.
/// * [`source`](std::error::Error::source) still walks the causes, for error
///   reporters and for downcasting to the [`io::Error`].
///
/// # Examples
///
/// ```
/// use std::io;
///
/// #[derive(Debug)]
/// struct Config(io::Error);
/// impl std::fmt::Display for Config {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("reading the config failed")
///     }
/// }
/// impl std::error::Error for Config {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         Some(&self.0)
///     }
/// }
///
/// let err = aioproto::Error::other(Config(io::Error::other("disk on fire")));
/// assert_eq!(err.to_string(), "reading the config failed: disk on fire");
/// assert_eq!(format!("{err:?}"), "Other(reading the config failed: disk on fire)");
/// assert!(format!("{err:#?}").starts_with("Other("));
/// ```
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error (connection reset, broken pipe, refused, …).
    #[error(transparent)]
    Io(Arc<io::Error>),

    /// A TLS protocol or certificate error reported by rustls.
    #[cfg(feature = "tls")]
    #[error("tls error: {0}")]
    Tls(#[source] rustls::Error),

    /// A user callback panicked; the connection it belonged to was closed.
    #[error("protocol callback {callback}() panicked: {message}")]
    CallbackPanicked {
        /// The callback that panicked, e.g. `data_received`.
        callback: &'static str,
        /// The panic payload, when it was a string.
        message: String,
    },

    /// An argument was invalid (asyncio raises `ValueError` or `TypeError` here).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The operation is not valid in the object's current state
    /// (asyncio's `InvalidStateError` and `RuntimeError`).
    #[error("invalid state: {0}")]
    InvalidState(String),

    /// The operation is not supported by this transport (asyncio's `NotImplementedError`).
    #[error("not supported: {0}")]
    Unsupported(&'static str),

    /// A time limit ran out; the text says which.
    #[error("timed out: {0}")]
    Timeout(&'static str),

    /// The operation was cancelled; the message is the one given to `cancel`.
    #[error("cancelled{}", .0.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Cancelled(Option<String>),

    /// The write buffer went over the transport's hard limit, so the connection
    /// was aborted (the peer did not read fast enough).
    #[error("write buffer exceeded its hard limit of {limit} bytes")]
    WriteBufferFull {
        /// The limit that was exceeded.
        limit: usize,
    },

    /// A stream read hit EOF before it could complete (asyncio's `IncompleteReadError`):
    /// `readexactly` got fewer bytes than asked, or `readuntil` found no separator.
    #[error("{} bytes read on a total of {} expected bytes", .partial.len(), .expected.map_or_else(|| "undefined".to_owned(), |n| n.to_string()))]
    IncompleteRead {
        /// Everything that was read before EOF.
        partial: bytes::Bytes,
        /// How many bytes were expected; `None` for `readuntil`.
        expected: Option<usize>,
    },

    /// A stream read would exceed the reader's limit (asyncio's `LimitOverrunError`,
    /// and the `ValueError` of `readline`).
    #[error("{message}")]
    LimitOverrun {
        /// Says whether the separator was found (`...is found...`) or not (`...not found...`).
        message: &'static str,
        /// How many bytes had to be consumed to get past the problem.
        consumed: usize,
    },

    /// The transport or server is closed.
    #[error("{0} is closed")]
    Closed(&'static str),

    /// Zero-copy `sendfile(2)` cannot be used here (a TLS stream, a pipe, a
    /// stream of another library, or a file the kernel cannot send from), and
    /// the caller refused the fallback (asyncio's `SendfileNotAvailableError`).
    #[error("sendfile is not available: {0}")]
    SendfileNotAvailable(&'static str),

    /// A file transfer stopped part-way: `sent` bytes of the file went out
    /// before `source` ended it (the transport closed, the peer reset, a
    /// read of the file failed). The file's position was set past them.
    #[error("sendfile stopped after {sent} bytes: {source}")]
    SendfileInterrupted {
        /// Bytes of the file handed to the transport before the failure.
        sent: u64,
        /// What stopped the transfer.
        source: Box<Error>,
    },

    /// Several failures at once: every address tried by `create_connection`
    /// failed (one error per address), or children of a `TaskGroup` failed
    /// (asyncio's `ExceptionGroup`).
    #[error("multiple exceptions: {}", join(.0))]
    MultipleErrors(Vec<Error>),

    /// `Queue::put_nowait` on a full queue (asyncio's `QueueFull`).
    #[error("queue is full")]
    QueueFull,

    /// `Queue::get_nowait` on an empty queue (asyncio's `QueueEmpty`).
    #[error("queue is empty")]
    QueueEmpty,

    /// The queue was shut down (asyncio's `QueueShutDown`).
    #[error("queue is shut down")]
    QueueShutDown,

    /// A user-defined failure, for futures and tasks that fail with an application error.
    #[error("{}", Chain(&**.0))]
    Other(Arc<dyn std::error::Error + Send + Sync>),
}

/// Displays an error followed by each cause its text does not already
/// contain, joined by `: `.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(err) = cause {
            let next = err.to_string();
            if !next.is_empty() && !text.contains(&next) {
                text.push_str(": ");
                text.push_str(&next);
            }
            cause = err.source();
        }
        f.write_str(&text)
    }
}

impl Error {
    /// The variant's name, for `Debug`.
    fn variant(&self) -> &'static str {
        match self {
            Error::Io(_) => "Io",
            #[cfg(feature = "tls")]
            Error::Tls(_) => "Tls",
            Error::CallbackPanicked { .. } => "CallbackPanicked",
            Error::InvalidArgument(_) => "InvalidArgument",
            Error::InvalidState(_) => "InvalidState",
            Error::Unsupported(_) => "Unsupported",
            Error::Timeout(_) => "Timeout",
            Error::Cancelled(_) => "Cancelled",
            Error::WriteBufferFull { .. } => "WriteBufferFull",
            Error::IncompleteRead { .. } => "IncompleteRead",
            Error::LimitOverrun { .. } => "LimitOverrun",
            Error::Closed(_) => "Closed",
            Error::SendfileNotAvailable(_) => "SendfileNotAvailable",
            Error::SendfileInterrupted { .. } => "SendfileInterrupted",
            Error::MultipleErrors(_) => "MultipleErrors",
            Error::QueueFull => "QueueFull",
            Error::QueueEmpty => "QueueEmpty",
            Error::QueueShutDown => "QueueShutDown",
            Error::Other(_) => "Other",
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return write!(f, "{}({})", self.variant(), Chain(self));
        }
        match self {
            Error::Io(e) => f.debug_tuple("Io").field(e).finish(),
            #[cfg(feature = "tls")]
            Error::Tls(e) => f.debug_tuple("Tls").field(e).finish(),
            Error::CallbackPanicked { callback, message } => f
                .debug_struct("CallbackPanicked")
                .field("callback", callback)
                .field("message", message)
                .finish(),
            Error::InvalidArgument(m) => f.debug_tuple("InvalidArgument").field(m).finish(),
            Error::InvalidState(m) => f.debug_tuple("InvalidState").field(m).finish(),
            Error::Unsupported(m) => f.debug_tuple("Unsupported").field(m).finish(),
            Error::Timeout(m) => f.debug_tuple("Timeout").field(m).finish(),
            Error::Cancelled(m) => f.debug_tuple("Cancelled").field(m).finish(),
            Error::WriteBufferFull { limit } => f
                .debug_struct("WriteBufferFull")
                .field("limit", limit)
                .finish(),
            Error::IncompleteRead { partial, expected } => f
                .debug_struct("IncompleteRead")
                .field("partial", partial)
                .field("expected", expected)
                .finish(),
            Error::LimitOverrun { message, consumed } => f
                .debug_struct("LimitOverrun")
                .field("message", message)
                .field("consumed", consumed)
                .finish(),
            Error::Closed(what) => f.debug_tuple("Closed").field(what).finish(),
            Error::SendfileNotAvailable(why) => {
                f.debug_tuple("SendfileNotAvailable").field(why).finish()
            }
            Error::SendfileInterrupted { sent, source } => f
                .debug_struct("SendfileInterrupted")
                .field("sent", sent)
                .field("source", source)
                .finish(),
            Error::MultipleErrors(errors) => f.debug_tuple("MultipleErrors").field(errors).finish(),
            Error::QueueFull => f.write_str("QueueFull"),
            Error::QueueEmpty => f.write_str("QueueEmpty"),
            Error::QueueShutDown => f.write_str("QueueShutDown"),
            Error::Other(e) => f.debug_tuple("Other").field(e).finish(),
        }
    }
}

fn join(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        // tokio-rustls reports TLS failures (bad records, alerts, certificates)
        // as `io::Error`s wrapping the rustls error: give them back their kind.
        #[cfg(feature = "tls")]
        if let Some(tls) = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Error::Tls(tls.clone());
        }
        Error::Io(Arc::new(err))
    }
}

impl From<io::ErrorKind> for Error {
    fn from(kind: io::ErrorKind) -> Self {
        Error::from(io::Error::from(kind))
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(err: rustls::Error) -> Self {
        Error::Tls(err)
    }
}

impl Error {
    /// Wraps any error as [`Error::Other`].
    ///
    /// # Examples
    ///
    /// ```
    /// let err = aioproto::Error::other(std::fmt::Error);
    /// assert_eq!(err.to_string(), "an error occurred when formatting an argument");
    /// ```
    pub fn other<E: std::error::Error + Send + Sync + 'static>(err: E) -> Self {
        Error::Other(Arc::new(err))
    }

    /// Builds an [`Error::InvalidArgument`] from anything printable.
    pub fn invalid_argument(msg: impl fmt::Display) -> Self {
        Error::InvalidArgument(msg.to_string())
    }

    /// Builds an [`Error::InvalidState`] from anything printable.
    pub fn invalid_state(msg: impl fmt::Display) -> Self {
        Error::InvalidState(msg.to_string())
    }

    /// The underlying I/O error kind, if this is an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io(err) => Some(err.kind()),
            _ => None,
        }
    }

    /// The raw OS error code (`errno`), if this is an I/O error that has one.
    ///
    /// Also found when the OS error is wrapped with context (e.g. the address
    /// a bind failed on): the wrapped error's source chain is searched.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io(err) => err.raw_os_error().or_else(|| {
                let mut source: Option<&(dyn std::error::Error + 'static)> = err
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static));
                while let Some(e) = source {
                    if let Some(code) = e
                        .downcast_ref::<io::Error>()
                        .and_then(io::Error::raw_os_error)
                    {
                        return Some(code);
                    }
                    source = e.source();
                }
                None
            }),
            _ => None,
        }
    }

    /// True for [`Error::Timeout`] and I/O time-outs.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_)) || self.io_kind() == Some(io::ErrorKind::TimedOut)
    }

    /// True for [`Error::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::Cancelled(_))
    }

    /// True for [`Error::Closed`] and for I/O errors that mean the peer went away
    /// (reset, aborted, broken pipe); also for an
    /// [`Error::SendfileInterrupted`] that one of those stopped.
    pub fn is_closed(&self) -> bool {
        if let Error::SendfileInterrupted { source, .. } = self {
            return source.is_closed();
        }
        matches!(self, Error::Closed(_))
            || matches!(
                self.io_kind(),
                Some(
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                )
            )
    }

    /// True for [`Error::CallbackPanicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, Error::CallbackPanicked { .. })
    }

    /// Converts the error into an `io::Error`, for `AsyncRead`/`AsyncWrite` adaptors.
    pub fn into_io(self) -> io::Error {
        match self {
            Error::Io(err) => Arc::try_unwrap(err)
                .unwrap_or_else(|shared| io::Error::new(shared.kind(), shared.to_string())),
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, self),
            other => io::Error::other(other),
        }
    }
}

#[cfg(test)]
mod tests;
