//! The accept loop and the registry: admitting connections under the limits,
//! the handshake tasks, and counting every connection in and out.
//!
//! ```text
//!  accept loop --(room under max_connections / max_tls_handshakes?)--> accept()
//!     |  no room: wait on `changed` (a connection or handshake ended)
//!     v
//!  no steps: register + start_connection
//!  steps (PROXY header, TLS): handshakes[id] + task(handshake::run)
//!        |  ok: register(id) + start_connection
//!        |  failed: count by step, log (rate-limited)
//!        |  aborted (close/abort_clients, shutdown)
//!  on_finish(Ending) --> unregister, count, notify `changed`
//! ```
//!
//! A connection keeps one id from accept to end, handshake included. The
//! registry lock is never held while a transport is closed or a task aborted.
//!
//! With workers, each worker's shard runs this loop on its own runtime; the
//! limits are checked against the gauges every worker shares (`Pool`), and
//! in hand-off mode one shard's loop hands what it accepts to the workers
//! (`LoopMode::HandOff`) while each worker's loop takes them from its channel
//! (`LoopMode::Receive`).

use std::fmt;
use std::io;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::Socket;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use super::handshake::{self, Failed, Ready};
use super::shutdown::{Ask, Phase};
use super::stats::Gone;
use super::workers::{Handed, HandoffReceiver};
use super::{ServerInner, ServerState};
use crate::net::tcp::tcp_io;
use crate::transport::io::StreamIo;
use crate::transport::start::{
    ConnectionConfig, Ending, MadeOn, OnFinish, Settings, start_connection,
};
use crate::transport::{ExtraInfo, SocketOptions, Transport};
use crate::util::{catch_panic, lock};

/// How long the accept loop waits after running out of file descriptors or memory.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(250);

/// A live connection in the server's registry.
pub(super) struct Connection {
    pub(super) transport: Transport,
    /// Aborted during a shutdown: a clean end counts as cut by the shutdown.
    pub(super) cut_by_shutdown: bool,
}

/// A connection in its handshake steps, in the server's registry.
#[derive(Default)]
pub(super) struct Handshake {
    /// Ends the handshake's task; `None` until the task is spawned.
    pub(super) abort: Option<AbortHandle>,
    /// What the server asked of it (`close_clients`, `abort_clients`), in case
    /// it finishes before the abort takes effect.
    pub(super) asked: Option<Ask>,
}

/// Which limit keeps the accept loop from taking another connection. With
/// workers the limits are the whole server's: the gauges every worker shares.
fn full(server: &ServerInner, state: &ServerState) -> Option<&'static str> {
    let (open, handshaking) = match &server.pool {
        Some(pool) => pool.load(),
        None => (state.open(), state.handshakes.len()),
    };
    if server
        .options
        .max_connections
        .is_some_and(|max| open >= max)
    {
        return Some("max_connections");
    }
    #[cfg(feature = "tls")]
    if server.options.tls.is_some() && handshaking >= server.options.max_tls_handshakes {
        return Some("max_tls_handshakes");
    }
    #[cfg(not(feature = "tls"))]
    let _ = handshaking;
    None
}

impl ServerInner {
    /// Waits until the limits leave room for one more connection. Only the
    /// accept loop adds connections, so the room lasts until it accepts.
    async fn wait_for_room(&self) {
        let mut paused = false;
        loop {
            // With workers, a connection ending on any worker makes room.
            let changed = match &self.pool {
                Some(pool) => pool.room.notified(),
                None => self.changed.notified(),
            };
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let state = lock(&self.state);
                match full(self, &state) {
                    None => break,
                    Some(limit) if !paused => {
                        paused = true;
                        tracing::debug!(
                            limit,
                            open = state.open(),
                            handshaking = state.handshakes.len(),
                            "limit reached; accepting paused"
                        );
                    }
                    Some(_) => {}
                }
            }
            changed.await;
        }
        if paused {
            tracing::debug!("accepting resumed");
        }
    }

    /// Takes the next connection id and counts one more connection accepted;
    /// the caller puts it in the registry under the same lock.
    fn admit(&self, state: &mut ServerState) -> u64 {
        let id = state.next_connection_id;
        state.next_connection_id += state.id_step;
        // With workers, the accept loop reserved its room in the shared gauges.
        self.counters.accepted(state.open() + 1);
        id
    }

    /// A connection left the registry (`handshake`: from the handshakes):
    /// the gauges every worker shares follow.
    fn left(&self, handshake: bool) {
        if let Some(pool) = &self.pool {
            pool.closed(handshake);
        }
    }

    /// Sets up one accepted TCP connection.
    fn on_accept(self: &Arc<Self>, stream: TcpStream) {
        let wanted = SocketOptions {
            nodelay: self.options.nodelay,
            keepalive: self.options.keepalive,
        };
        let (io, extra, socket_options) = tcp_io(stream, wanted);
        self.on_accepted(io, extra, Some(socket_options));
    }

    /// Sets up a connection another worker's acceptor handed over (its room
    /// already reserved in the shared gauges).
    fn on_handed(self: &Arc<Self>, handed: Handed) {
        let registered = match handed {
            Handed::Tcp(stream) => TcpStream::from_std(stream).map(|s| self.on_accept(s)),
            #[cfg(feature = "unix")]
            Handed::Unix(stream) => {
                tokio::net::UnixStream::from_std(stream).map(|s| self.on_accept_unix(s))
            }
        };
        if let Err(e) = registered {
            self.release();
            self.counters.accept_error();
            tracing::debug!(error = %e, "a handed-over connection could not be registered; dropped");
        }
    }

    /// Sets up one accepted Unix connection.
    #[cfg(feature = "unix")]
    fn on_accept_unix(self: &Arc<Self>, stream: tokio::net::UnixStream) {
        let (io, extra) = crate::net::unix::unix_io(stream);
        self.on_accepted(io, extra, None);
    }

    /// Starts the connection, or its handshake steps if the server has any.
    fn on_accepted<I: StreamIo>(
        self: &Arc<Self>,
        io: I,
        extra: ExtraInfo,
        socket_options: Option<SocketOptions>,
    ) {
        if self.has_handshake() {
            self.start_handshake(io.into_boxed(), extra, socket_options);
        } else {
            self.start(None, io, Transport::new(extra, socket_options), None);
        }
    }

    /// Whether accepted connections go through handshake steps (a PROXY
    /// protocol header, TLS) before their protocol is made.
    pub(super) fn has_handshake(&self) -> bool {
        handshake::has_steps(&self.options)
    }

    /// Registers the connection (a new one, or the one whose handshake had
    /// `handshake_id`) and starts it; `connection_made` runs on its driver.
    fn start<I: StreamIo>(
        self: &Arc<Self>,
        handshake_id: Option<u64>,
        io: I,
        transport: Transport,
        shutdown_timeout: Option<Duration>,
    ) {
        // The factory is user code on the accept loop: a panic in it must not
        // end the loop (nor the worker), only this connection.
        let handler = match catch_panic("protocol factory", || (self.make_handler)()) {
            Ok(handler) => handler,
            Err(e) => return self.factory_failed(handshake_id, &transport, &e),
        };
        let (id, on_finish) = self.register(handshake_id, &transport);
        if handshake_id.is_none() {
            tracing::debug!(id, peer = %Peer(transport.extra()), "accepted");
        }
        let settings = Settings {
            counters: Some(self.counters.clone()),
            ..self.options.connection.clone()
        };
        let config = ConnectionConfig::new(MadeOn::Driver)
            .with_shutdown_timeout(shutdown_timeout)
            .with_on_finish(Some(on_finish))
            .with_settings(settings);
        // Cannot fail: nothing runs on this side of the spawn.
        let _ = start_connection(io, handler, transport, config);
    }

    /// The protocol factory panicked for a new connection: the socket is
    /// dropped (closed), the connection counted as ended with an error, and
    /// the server goes on.
    fn factory_failed(
        &self,
        handshake_id: Option<u64>,
        transport: &Transport,
        error: &crate::Error,
    ) {
        let id = {
            let mut state = lock(&self.state);
            let id = match handshake_id {
                Some(id) => {
                    if state.handshakes.remove(&id).is_none() {
                        return; // ended by the server meanwhile, and counted
                    }
                    id
                }
                None => self.admit(&mut state),
            };
            self.left(handshake_id.is_some());
            self.counters.gone(Gone::Ended(Ending::Failed));
            id
        };
        tracing::error!(id, peer = %Peer(transport.extra()), error = %error, "protocol factory failed; connection dropped");
        self.notify_changed();
    }

    /// Puts a connection in the registry and returns its id and the hook that
    /// takes it out again. A connection that starts while the server is
    /// shutting down, or whose handshake the server asked to end but that
    /// finished first, is closed or aborted at once.
    fn register(
        self: &Arc<Self>,
        handshake_id: Option<u64>,
        transport: &Transport,
    ) -> (u64, OnFinish) {
        let (id, ask) = {
            let mut state = lock(&self.state);
            let (id, asked) = match handshake_id {
                Some(id) => {
                    let handshake = state.handshakes.remove(&id);
                    if handshake.is_some() {
                        // Still open, no longer a handshake.
                        if let Some(pool) = &self.pool {
                            pool.handshake_done();
                        }
                    }
                    (id, handshake.and_then(|h| h.asked))
                }
                None => (self.admit(&mut state), None),
            };
            let ask = match state.shutdown {
                Some(Phase::Aborting) => Some(Ask::Abort),
                Some(Phase::Closing) => Some(asked.unwrap_or(Ask::Close)),
                None => asked,
            };
            let connection = Connection {
                transport: transport.clone(),
                cut_by_shutdown: state.shutdown.is_some() && ask == Some(Ask::Abort),
            };
            state.connections.insert(id, connection);
            (id, ask)
        };
        match ask {
            Some(Ask::Close) => transport.close(),
            Some(Ask::Abort) => transport.abort(),
            None => {}
        }
        let server = Arc::downgrade(self);
        let on_finish: OnFinish = Box::new(move |ending| {
            if let Some(server) = server.upgrade() {
                server.finished(id, ending);
            }
        });
        (id, on_finish)
    }

    /// Connection `id` ended (its `connection_lost` ran): unregisters and counts it.
    fn finished(&self, id: u64, ending: Ending) {
        let gone = {
            let mut state = lock(&self.state);
            let removed = state.connections.remove(&id);
            if removed.is_some() {
                self.left(false);
            }
            let cut = removed.is_some_and(|c| c.cut_by_shutdown);
            let gone = match ending {
                Ending::Clean if cut => Gone::CutByShutdown,
                ending => Gone::Ended(ending),
            };
            // Under the lock, so whoever sees the connection gone (wait_closed) sees it counted.
            self.counters.gone(gone);
            gone
        };
        tracing::debug!(id, ending = gone.name(), "connection closed");
        self.notify_changed();
    }

    /// Registers a connection's handshake steps and runs them on a task of
    /// their own, which the server can end; the connection starts when they
    /// succeed.
    fn start_handshake(
        self: &Arc<Self>,
        io: Box<dyn StreamIo>,
        extra: ExtraInfo,
        socket_options: Option<SocketOptions>,
    ) {
        use tracing::Instrument;

        let id = {
            let mut state = lock(&self.state);
            let id = self.admit(&mut state);
            state.handshakes.insert(id, Handshake::default());
            id
        };
        let steps = handshake::describe(&self.options);
        tracing::debug!(id, peer = %Peer(&extra), "accepted; {steps} started");
        let span = crate::transport::start::connection_span(&extra);
        let handshake = handshake::run(&self.options, io, extra);
        let guard = HandshakeGuard {
            server: self.clone(),
            id,
        };
        let task = async move {
            let server = &guard.server;
            match handshake.await {
                Ok(Ready {
                    io,
                    extra,
                    shutdown_timeout,
                }) => {
                    let transport = Transport::new(extra, socket_options);
                    // The connection's span goes under the server's, as a plain one's.
                    server
                        .span
                        .in_scope(|| server.start(Some(id), io, transport, shutdown_timeout));
                }
                Err(failed) => server.handshake_failed(id, &failed),
            }
            drop(guard);
        };
        let task = tokio::spawn(task.instrument(span));
        self.attach_handshake(id, task.abort_handle());
    }

    /// Keeps the abort handle of handshake `id`, or uses it at once if the
    /// server asked the handshake to end before it was spawned.
    fn attach_handshake(&self, id: u64, handle: AbortHandle) {
        let end_now = {
            let mut state = lock(&self.state);
            let shutting_down = state.shutdown.is_some();
            match state.handshakes.get_mut(&id) {
                // Already over.
                None => false,
                Some(h) if h.asked.is_some() || shutting_down => true,
                Some(h) => {
                    h.abort = Some(handle.clone());
                    false
                }
            }
        };
        if end_now {
            handle.abort();
        }
    }

    /// A step of handshake `id` failed: unregisters, counts and logs it.
    fn handshake_failed(&self, id: u64, failed: &Failed) {
        let known = {
            let mut state = lock(&self.state);
            let known = state.handshakes.remove(&id).is_some();
            if known {
                self.left(true);
                self.counters.gone(Gone::HandshakeFailed(failed.step));
            }
            known
        };
        if known {
            self.handshake_failures
                .failed(failed.step, id, &failed.error, &self.span);
        }
    }
}

/// Owned by a handshake task: when the task ends, however it ends (done,
/// failed, or aborted by the server), takes the handshake out of the registry
/// and wakes `changed`. Finding it still there means the task was aborted.
struct HandshakeGuard {
    server: Arc<ServerInner>,
    id: u64,
}

impl Drop for HandshakeGuard {
    fn drop(&mut self) {
        let ended = {
            let mut state = lock(&self.server.state);
            let gone = if state.shutdown.is_some() {
                Gone::CutByShutdown
            } else {
                Gone::Ended(Ending::Clean)
            };
            let ended = state.handshakes.remove(&self.id).map(|_| gone);
            if let Some(gone) = ended {
                self.server.left(true);
                self.server.counters.gone(gone);
            }
            ended
        };
        if let Some(gone) = ended {
            tracing::debug!(
                id = self.id,
                ending = gone.name(),
                "handshake ended by the server"
            );
        }
        self.server.notify_changed();
    }
}

/// The peer of a connection, for the log.
struct Peer<'a>(&'a ExtraInfo);

impl fmt::Display for Peer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.peername, &self.0.peer_path) {
            (Some(addr), _) => addr.fmt(f),
            (None, Some(path)) => path.display().fmt(f),
            (None, None) => f.write_str("unnamed"),
        }
    }
}

/// A listening socket of either kind, or a worker's hand-off channel.
pub(super) enum Listener {
    Tcp(TcpListener),
    #[cfg(feature = "unix")]
    Unix(tokio::net::UnixListener),
    /// Connections another worker's acceptor accepted for this one.
    Handoff(HandoffReceiver),
}

/// A connection a [`Listener`] accepted.
pub(super) enum Accepted {
    Tcp(TcpStream),
    #[cfg(feature = "unix")]
    Unix(tokio::net::UnixStream),
    Handed(Handed),
}

impl Listener {
    /// Turns a bound (and listening) socket into the matching tokio listener.
    pub(super) fn from_socket(socket: Socket) -> io::Result<Listener> {
        #[cfg(feature = "unix")]
        if socket.local_addr()?.is_unix() {
            let std_listener = std::os::unix::net::UnixListener::from(socket);
            return Ok(Listener::Unix(tokio::net::UnixListener::from_std(
                std_listener,
            )?));
        }
        Ok(Listener::Tcp(TcpListener::from_std(socket.into())?))
    }

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<Accepted>> {
        match self {
            Listener::Tcp(l) => l.poll_accept(cx).map_ok(|(s, _)| Accepted::Tcp(s)),
            #[cfg(feature = "unix")]
            Listener::Unix(l) => l.poll_accept(cx).map_ok(|(s, _)| Accepted::Unix(s)),
            Listener::Handoff(rx) => rx.poll_recv(cx).map(|handed| match handed {
                Some(handed) => Ok(Accepted::Handed(handed)),
                // Every sender gone: the server is closing; nothing more comes.
                None => Err(io::ErrorKind::NotConnected.into()),
            }),
        }
    }

    pub(super) fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            #[cfg(feature = "unix")]
            Listener::Unix(_) => None,
            Listener::Handoff(_) => None,
        }
    }

    #[cfg(feature = "unix")]
    pub(super) fn local_path(&self) -> Option<std::path::PathBuf> {
        match self {
            Listener::Tcp(_) | Listener::Handoff(_) => None,
            Listener::Unix(l) => l.local_addr().ok()?.as_pathname().map(Into::into),
        }
    }
}

/// Polls every listener still open, starting after the one that accepted
/// last, so a busy socket cannot starve the others. `None` once all are closed.
fn poll_accept_any(
    listeners: &[Weak<Listener>],
    next: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<Option<io::Result<Accepted>>> {
    let count = listeners.len();
    let mut open = false;
    for i in 0..count {
        let at = (*next + i) % count;
        let Some(listener) = listeners[at].upgrade() else {
            continue;
        };
        open = true;
        if let Poll::Ready(accepted) = listener.poll_accept(cx) {
            *next = (at + 1) % count;
            return Poll::Ready(Some(accepted));
        }
    }
    if open {
        Poll::Pending
    } else {
        Poll::Ready(None)
    }
}

/// What an accept loop does with what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LoopMode {
    /// Serve it here (the usual case; each worker with `SO_REUSEPORT`).
    Serve,
    /// Hand it to the next worker in turn (the one acceptor of hand-off mode).
    HandOff,
    /// Serve what the acceptor handed over; it checked the limits already.
    Receive,
}

/// Accepts on every listener of the server while the limits leave room, until
/// the listeners are closed. Holds them only weakly, so
/// [`Server::close`](super::Server::close) closes the sockets at once.
///
/// Holds the server itself strongly: dropping every [`Server`](super::Server)
/// handle does not stop it (as documented, and as in asyncio); only `close()` does.
pub(super) async fn accept_loop(
    listeners: Vec<Weak<Listener>>,
    server: Arc<ServerInner>,
    mode: LoopMode,
) {
    let mut next = 0;
    loop {
        // At a limit, accept() is not called: the kernel's backlog holds the
        // next clients, and nobody is reset. Handed-over connections had
        // room reserved by the acceptor.
        if mode != LoopMode::Receive {
            server.wait_for_room().await;
        }
        let accepted = std::future::poll_fn(|cx| poll_accept_any(&listeners, &mut next, cx)).await;
        if mode != LoopMode::Receive && matches!(accepted, Some(Ok(_))) {
            // With workers: room under the limits, taken after the accept so
            // two workers cannot both take the last place.
            server.reserve().await;
        }
        match accepted {
            None => return,
            Some(Ok(accepted)) if mode == LoopMode::HandOff => server.hand_off(accepted),
            Some(Ok(Accepted::Tcp(stream))) => server.on_accept(stream),
            #[cfg(feature = "unix")]
            Some(Ok(Accepted::Unix(stream))) => server.on_accept_unix(stream),
            Some(Ok(Accepted::Handed(handed))) => server.on_handed(handed),
            Some(Err(_)) if mode == LoopMode::Receive => return,
            Some(Err(e)) if is_resource_exhaustion(&e) => {
                server.counters.accept_error();
                // Out of descriptors or memory: wait for connections to end rather than spin.
                tracing::error!(error = %e, "accept failed; retrying in {ACCEPT_RETRY_DELAY:?}");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
            }
            Some(Err(e)) => {
                server.counters.accept_error();
                tracing::debug!(error = %e, "accept failed; continuing");
            }
        }
    }
}

fn is_resource_exhaustion(err: &io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        err.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
    )
}
