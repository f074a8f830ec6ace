//! Ending a server's connections: [`Server::close_clients`],
//! [`Server::abort_clients`] and [`Server::shutdown`] with its grace period.

use std::time::Duration;

use tokio::task::AbortHandle;
use tracing::Instrument;

use super::{Server, ServerInner};
use crate::transport::Transport;
use crate::util::lock;

/// How far a [`Server::shutdown`] has got. Only ever moves forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    /// Connections were asked to close, flushing; waiting for them.
    Closing,
    /// The grace period is over: whatever is left is aborted.
    Aborting,
}

/// What the server asks of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ask {
    /// Flush, then close.
    Close,
    /// Drop the buffer and close now.
    Abort,
}

impl Server {
    /// Closes every live connection gracefully (flush, then close), and ends
    /// every TLS handshake (and PROXY header read) still in progress.
    ///
    /// A connection still in its handshake has no protocol yet and nothing to
    /// flush: its socket is closed and no callback runs, as in asyncio. Does
    /// not stop accepting; see [`close`](Self::close) and
    /// [`shutdown`](Self::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// # use aioproto::{BaseProtocol, Protocol, ServerOptions, create_server};
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let server = create_server(|| Quiet, "127.0.0.1", 0, &ServerOptions::new()).await?;
    /// server.close();
    /// server.close_clients();
    /// server.wait_closed().await;
    /// # Ok(()) }
    /// ```
    pub fn close_clients(&self) {
        self.end_clients(Ask::Close);
    }

    /// Aborts every live connection, dropping unsent data, and ends every TLS
    /// handshake still in progress (no callback runs for those).
    ///
    /// The connections end with `connection_lost(None)` on their driver tasks,
    /// including TLS connections waiting for the peer's close_notify.
    ///
    /// # Examples
    ///
    /// ```
    /// # use aioproto::{BaseProtocol, Protocol, ServerOptions, create_server};
    /// # struct Quiet;
    /// # impl BaseProtocol for Quiet {}
    /// # impl Protocol for Quiet {}
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let server = create_server(|| Quiet, "127.0.0.1", 0, &ServerOptions::new()).await?;
    /// server.close();
    /// server.abort_clients();
    /// server.wait_closed().await;
    /// # Ok(()) }
    /// ```
    pub fn abort_clients(&self) {
        self.end_clients(Ask::Abort);
    }

    /// Shuts the server down within `grace`: stops accepting, asks every
    /// client to close, aborts whatever is left when `grace` runs out, and
    /// resolves when every connection is gone.
    ///
    /// In order:
    ///
    /// 1. [`close`](Self::close): the listening sockets close, new clients are
    ///    refused.
    /// 2. [`close_clients`](Self::close_clients): every connection flushes what
    ///    was written to it and closes (a TLS connection sends close_notify and
    ///    waits for the peer's); TLS handshakes still in progress end at once.
    ///    A connection that finishes its handshake meanwhile is closed as soon
    ///    as its `connection_made` has run.
    /// 3. If connections are still open after `grace` (a client that does not
    ///    read, a TLS peer that never answers close_notify), they are aborted:
    ///    their unsent data is dropped and `connection_lost(None)` runs.
    /// 4. Resolves once every `connection_lost` has run ([`wait_closed`](Self::wait_closed)).
    ///
    /// With well-behaved clients it resolves as soon as they are closed, long
    /// before `grace`; otherwise it takes `grace` plus the time each driver
    /// needs to see the abort (a callback that never returns holds its
    /// connection open). Connections cut by step 3, and handshakes ended by
    /// step 2, are counted in
    /// [`ServerStats::aborted_by_shutdown`](crate::ServerStats::aborted_by_shutdown).
    /// Calling it again, say with a shorter `grace`, is fine: each call
    /// aborts at its own deadline. With [`ServerOptions::workers`](crate::ServerOptions::workers)
    /// every worker goes through these steps together, under one deadline,
    /// and it resolves once every worker thread has stopped.
    ///
    /// # Cancel safety
    ///
    /// Nothing happens until the future is first polled. Dropping it after
    /// that leaves steps 1 and 2 in effect (the server is closed and the
    /// connections go on closing) but cancels the deadline: nothing is
    /// aborted. Call `shutdown` again, or [`abort_clients`](Self::abort_clients),
    /// to finish.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use aioproto::{BaseProtocol, Protocol, ServerOptions, Transport, create_server};
    /// use tokio::io::AsyncReadExt;
    ///
    /// struct Hello;
    /// impl BaseProtocol for Hello {
    ///     fn connection_made(&mut self, t: &Transport) {
    ///         t.write("hello\n");
    ///     }
    /// }
    /// impl Protocol for Hello {}
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> aioproto::Result<()> {
    /// let server = create_server(|| Hello, "127.0.0.1", 0, &ServerOptions::new()).await?;
    /// let mut client = tokio::net::TcpStream::connect(server.local_addrs()[0]).await?;
    /// let mut greeting = [0; 6];
    /// client.read_exact(&mut greeting).await?;
    ///
    /// // The client reads, so it is closed at once and nothing is aborted.
    /// server.shutdown(Duration::from_secs(10)).await;
    /// let mut rest = Vec::new();
    /// client.read_to_end(&mut rest).await?;
    /// assert!(rest.is_empty());
    /// assert_eq!(server.stats().closed_cleanly, 1);
    /// assert_eq!(server.stats().aborted_by_shutdown, 0);
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&self, grace: Duration) {
        let span = self.group.span.clone();
        self.shutdown_within(grace).instrument(span).await;
    }

    /// Closes or aborts every connection of every shard; returns how many there were.
    fn end_clients(&self, ask: Ask) -> usize {
        self.shards()
            .iter()
            .map(|shard| shard.end_clients(ask))
            .sum()
    }

    /// Moves every shard's shutdown on to `phase`.
    fn enter(&self, phase: Phase) {
        for shard in self.shards() {
            shard.enter(phase);
        }
    }

    async fn shutdown_within(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now().checked_add(grace);
        self.close();
        self.enter(Phase::Closing);
        let asked = self.end_clients(Ask::Close);
        tracing::debug!(connections = asked, ?grace, "shutting down");
        let Some(deadline) = deadline else {
            // A grace too long to represent: no deadline.
            self.wait_closed().await;
            return;
        };
        if tokio::time::timeout_at(deadline, self.wait_closed())
            .await
            .is_ok()
        {
            return;
        }
        self.enter(Phase::Aborting);
        let left = self.end_clients(Ask::Abort);
        tracing::info!(
            connections = left,
            ?grace,
            "shutdown grace period over; aborting the connections left"
        );
        self.wait_closed().await;
    }
}

impl ServerInner {
    /// Moves the shutdown on to `phase`, unless it is further already.
    fn enter(&self, phase: Phase) {
        let mut state = lock(&self.state);
        state.shutdown = state.shutdown.max(Some(phase));
    }

    /// Closes or aborts every live connection and ends every TLS handshake in
    /// progress; returns how many there were. During a shutdown, an abort
    /// marks each connection as cut by it.
    fn end_clients(&self, ask: Ask) -> usize {
        let (transports, handshakes): (Vec<Transport>, Vec<AbortHandle>) = {
            let mut state = lock(&self.state);
            let cut = state.shutdown.is_some() && ask == Ask::Abort;
            let transports = state
                .connections
                .values_mut()
                .map(|c| {
                    c.cut_by_shutdown |= cut;
                    c.transport.clone()
                })
                .collect();
            let handshakes = state
                .handshakes
                .values_mut()
                .filter_map(|h| {
                    h.asked.get_or_insert(ask);
                    h.abort.clone()
                })
                .collect();
            (transports, handshakes)
        };
        // Outside the lock: an aborted task's guard takes it.
        let count = transports.len() + handshakes.len();
        for transport in transports {
            match ask {
                Ask::Close => transport.close(),
                Ask::Abort => transport.abort(),
            }
        }
        for handshake in handshakes {
            handshake.abort();
        }
        count
    }
}
