//! [`RelayEnd`]: one side of a splice, a duplex transport or a read and a
//! write transport paired up.

use std::fmt;

use crate::error::{Error, Result};
use crate::transport::Transport;

use super::state::LostHook;

/// One transport of an end, and who must hear when it ends.
pub(crate) struct Part {
    pub(crate) transport: Transport,
    pub(crate) on_lost: Option<LostHook>,
}

impl Part {
    pub(crate) fn plain(transport: Transport) -> Self {
        Part {
            transport,
            on_lost: None,
        }
    }
}

/// One side of a [`splice`](super::splice): where the relay reads the bytes
/// it sends to the other side, and where it writes what comes back.
///
/// A socket (TCP, TLS, Unix) is both: `RelayEnd::from(transport)`. A pair of
/// pipes is [`split`](Self::split) (read from one, write to the other), and a
/// child process's stdout and stdin are [`subprocess`](Self::subprocess).
///
/// # Examples
///
/// ```
/// # fn f(socket: aioproto::Transport, stdout: aioproto::Transport, stdin: aioproto::Transport)
/// #     -> aioproto::Result<()> {
/// use aioproto::{RelayEnd, splice};
///
/// // The socket's bytes go into `stdin`; what `stdout` says goes back.
/// let relay = splice(&socket, RelayEnd::split(&stdout, &stdin))?;
/// println!("{relay:?}");
/// # Ok(()) }
/// ```
pub struct RelayEnd {
    pub(crate) read: Part,
    pub(crate) write: Part,
}

impl RelayEnd {
    /// An end that is read from `read` and written to `write`, two different
    /// transports (a read pipe and a write pipe, say).
    pub fn split(read: &Transport, write: &Transport) -> Self {
        RelayEnd {
            read: Part::plain(read.clone()),
            write: Part::plain(write.clone()),
        }
    }

    /// A child process as an end: the relay writes to its stdin and reads
    /// its stdout; stderr stays with the subprocess protocol.
    ///
    /// The subprocess protocol no longer gets `pipe_data_received` for
    /// stdout nor `pause_writing`/`resume_writing` for stdin (the relay
    /// takes those), but it still gets `pipe_connection_lost` for both (with
    /// the pipe's own error), `process_exited` and `connection_lost`, so
    /// [`wait_closed`](crate::SubprocessTransport::wait_closed) works as
    /// before.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if stdin or stdout is not a pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use aioproto::{RelayEnd, SubprocessOptions, SubprocessProtocol, subprocess_exec};
    ///
    /// struct Quiet;
    /// impl SubprocessProtocol for Quiet {}
    ///
    /// # async fn f(socket: aioproto::Transport) -> aioproto::Result<()> {
    /// let (child, _) = subprocess_exec(|| Quiet, "cat", Vec::<&str>::new(),
    ///     &SubprocessOptions::new()).await?;
    /// let relay = aioproto::splice(&socket, RelayEnd::subprocess(&child)?)?;
    /// relay.finished().await;
    /// child.wait_closed().await;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn subprocess(child: &crate::SubprocessTransport) -> Result<Self> {
        let part = |fd: i32, name: &str| {
            child
                .pipe_end(fd)
                .map(|(transport, end)| Part {
                    transport,
                    on_lost: Some(Box::new(move |exc| end.lost(exc)) as LostHook),
                })
                .ok_or_else(|| Error::invalid_argument(format!("the child's {name} is not a pipe")))
        };
        Ok(RelayEnd {
            read: part(1, "stdout")?,
            write: part(0, "stdin")?,
        })
    }

    /// The end's transports: the one it is read from, the one it is written to.
    pub(crate) fn into_parts(self) -> (Part, Part) {
        (self.read, self.write)
    }

    /// Refuses an end whose read side cannot read or whose write side cannot write.
    pub(crate) fn check(&self) -> Result<()> {
        check_source(&self.read.transport)?;
        check_sink(&self.write.transport)
    }
}

pub(crate) fn check_source(transport: &Transport) -> Result<()> {
    if transport.extra().caps.readable {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "a relay cannot read from a write-only transport",
        ))
    }
}

pub(crate) fn check_sink(transport: &Transport) -> Result<()> {
    if transport.extra().caps.writable {
        Ok(())
    } else {
        Err(Error::invalid_argument(
            "a relay cannot write to a read-only transport",
        ))
    }
}

impl From<Transport> for RelayEnd {
    /// A duplex transport (a socket): read and written.
    fn from(transport: Transport) -> Self {
        RelayEnd::from(&transport)
    }
}

impl From<&Transport> for RelayEnd {
    /// A duplex transport (a socket): read and written.
    fn from(transport: &Transport) -> Self {
        RelayEnd::split(transport, transport)
    }
}

impl fmt::Debug for RelayEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayEnd")
            .field("read", &self.read.transport)
            .field("write", &self.write.transport)
            .finish()
    }
}
