//! The one way a stream connection starts.
//!
//! Every stream connection (accepted by a server, connected by
//! `create_connection`, an accepted socket handed in, a Unix socket, a pipe, a
//! subprocess pipe, a connection upgraded by `start_tls`, the in-memory test
//! connection) goes through [`start_connection`] with one [`ConnectionConfig`].
//! Per-connection settings therefore have exactly one place to go: a field
//! here, read by the driver.
//!
//! ```text
//!  net/ (accept, connect, pipe, tls handshake) -- io + Transport + ConnectionConfig
//!        |
//!        v
//!  start_connection: settings (backpressure hold), reading pause, start_tls
//!        |           forwarding, connection_made (caller or driver), span
//!        v
//!  StreamDriver (spawned)  -->  connection_lost, then on_finish
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::Instrument;

use crate::error::{Error, Result};
use crate::net::server::stats::Counters;
use crate::transport::Transport;
use crate::transport::dispatch::{Handler, IntoHandler};
use crate::transport::driver::StreamDriver;
use crate::transport::extra::ExtraInfo;
use crate::transport::io::StreamIo;
use crate::transport::timeouts::TimeoutConfig;

/// Who calls `connection_made`, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MadeOn {
    /// The caller of [`start_connection`], before it returns, so a failure
    /// (a panic) is the caller's error: `create_connection` and pipes, which
    /// return only after `connection_made` ran.
    Caller,
    /// The driver task, first thing: accepted connections, whose accept loop
    /// must not run user code.
    Driver,
    /// Nobody: the protocol was told already (an upgrade by `start_tls`, or a
    /// subprocess pipe whose subprocess protocol got the one `connection_made`).
    Already,
}

/// Runs once after `connection_lost` (a server unregisters the connection
/// and counts how it ended).
pub(crate) type OnFinish = Box<dyn FnOnce(Ending) + Send>;

/// How a connection ended, as its owner counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// `connection_lost(None)`: closed or aborted by either side, cleanly.
    Clean,
    /// Aborted for going over the write buffer's hard limit.
    HardLimit,
    /// Ended by a time limit (a handshake, a TLS shutdown, an idle timeout).
    Timeout,
    /// Any other error.
    Failed,
}

impl Ending {
    /// How a connection that ends with `outcome` is counted.
    pub(crate) fn of(outcome: Option<&Error>) -> Ending {
        match outcome {
            None => Ending::Clean,
            Some(Error::WriteBufferFull { .. }) => Ending::HardLimit,
            Some(e) if e.is_timeout() => Ending::Timeout,
            Some(_) => Ending::Failed,
        }
    }
}

/// A connection's settings from its options ([`ServerOptions`](crate::ServerOptions),
/// [`ConnectOptions`](crate::ConnectOptions), which keep one each): what the
/// driver enforces. Handed on to the upgraded transport by `start_tls`.
///
/// `Default` is the neutral setting of pipes, the in-memory test connection
/// and [`ConnectOptions`](crate::ConnectOptions) (no hold, no limit, no
/// counters); [`server_default`](Self::server_default) is what
/// [`ServerOptions`](crate::ServerOptions) starts from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    /// Stop reading while the write buffer is over its high-water mark.
    pub(crate) pause_reading_on_backpressure: bool,
    /// Idle, read-idle and write-stall limits.
    pub(crate) timeouts: TimeoutConfig,
    /// A server's counters, for the bytes this connection moves.
    pub(crate) counters: Option<Arc<Counters>>,
}

impl Settings {
    /// A server's defaults: the backpressure hold on, no time limit.
    pub(crate) fn server_default() -> Self {
        Settings {
            pause_reading_on_backpressure: true,
            ..Settings::default()
        }
    }
}

/// Everything about one connection that is not the transport's state.
pub(crate) struct ConnectionConfig {
    /// Who calls `connection_made`.
    pub(crate) made_on: MadeOn,
    /// Upper bound on the graceful-close work of the io (TLS close_notify).
    pub(crate) shutdown_timeout: Option<Duration>,
    /// Run once after `connection_lost`; handed on with the stream by a detach.
    pub(crate) on_finish: Option<OnFinish>,
    /// The transport this connection replaces (`start_tls`): from the start,
    /// its handle writes to and closes this one.
    pub(crate) upgrade_of: Option<Transport>,
    /// Start with reading paused (an upgrade keeps the old transport's pause).
    pub(crate) reading_paused: bool,
    /// The settings from the options; the default (no backpressure hold, no
    /// time limit, no counters) is for pipes and the in-memory test connection.
    pub(crate) settings: Settings,
}

impl ConnectionConfig {
    /// A connection with no extra settings, `connection_made` run as `made_on` says.
    pub(crate) fn new(made_on: MadeOn) -> Self {
        ConnectionConfig {
            made_on,
            shutdown_timeout: None,
            on_finish: None,
            upgrade_of: None,
            reading_paused: false,
            settings: Settings::default(),
        }
    }

    /// Enforces `settings` (from the options) on the connection.
    pub(crate) fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Bounds the io's graceful close (TLS close_notify) by `timeout`.
    pub(crate) fn with_shutdown_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Runs `on_finish` once after `connection_lost`.
    pub(crate) fn with_on_finish(mut self, on_finish: Option<OnFinish>) -> Self {
        self.on_finish = on_finish;
        self
    }
}

/// Starts driving `io` for `handler` on `transport`.
///
/// With [`MadeOn::Caller`], `connection_made` runs here; if it fails, the
/// connection ends at once (`connection_lost` runs, then `on_finish`) and its
/// error is returned. Otherwise the driver is spawned on the current tokio
/// runtime, inside the connection's span, and the transport returned.
///
/// # Errors
///
/// Only with [`MadeOn::Caller`]: the error `connection_made` ended with.
pub(crate) fn start_connection<I: StreamIo>(
    io: I,
    handler: Handler,
    transport: Transport,
    mut config: ConnectionConfig,
) -> Result<Transport> {
    transport
        .lock()
        .set_pause_reading_on_backpressure(config.settings.pause_reading_on_backpressure);
    if std::mem::take(&mut config.reading_paused) {
        transport.pause_reading();
    }
    if let Some(old) = config.upgrade_of.take() {
        // Before the driver can run a callback that writes through the old
        // handle; a close() or abort() made during the upgrade is done now.
        old.forward_to(&transport);
    }
    if config.made_on == MadeOn::Caller {
        config.made_on = MadeOn::Already;
        if let Err(e) = handler.base().connection_made(&transport) {
            StreamDriver::new(io, handler, transport, config).finish(Some(e.clone()));
            return Err(e);
        }
    }
    let driver = StreamDriver::new(io, handler, transport.clone(), config);
    let span = connection_span(transport.extra());
    // A span nobody listens to (debug logging off, the usual case) is not
    // carried: its 40 bytes would count in every idle connection's task.
    if span.is_disabled() {
        tokio::spawn(driver);
    } else {
        tokio::spawn(driver.instrument(span));
    }
    Ok(transport)
}

/// Makes the protocol with `factory`, then [`start_connection`]; returns the
/// transport and the user's shared reference to the protocol.
///
/// # Errors
///
/// As [`start_connection`].
pub(crate) fn start_protocol<I, F, P, M>(
    io: I,
    transport: Transport,
    factory: F,
    config: ConnectionConfig,
) -> Result<(Transport, Arc<Mutex<P>>)>
where
    I: StreamIo,
    F: FnOnce() -> P,
    P: IntoHandler<M>,
{
    let (protocol, handler) = factory().into_handler();
    let transport = start_connection(io, handler, transport, config)?;
    Ok((transport, protocol))
}

/// The span every event of one connection is logged in, naming its peer.
pub(crate) fn connection_span(extra: &ExtraInfo) -> tracing::Span {
    match (extra.peername, &extra.peer_path) {
        (Some(peer), _) => tracing::debug_span!("conn", peer = %peer),
        (None, Some(path)) => tracing::debug_span!("conn", peer = %path.display()),
        (None, None) => tracing::debug_span!("conn"),
    }
}
