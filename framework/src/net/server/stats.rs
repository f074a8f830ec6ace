//! A server's counters: [`ServerStats`] (the public snapshot) and the atomics
//! behind it.
//!
//! Every counter is a relaxed `AtomicU64` bumped where the server already does
//! the work (an accept, the end of a connection), so counting costs nothing on
//! the data path. To add a counter: a field in [`Counters`], the same field in
//! [`ServerStats`] with its docs, a line in [`Counters::snapshot`] and a pair
//! in the `Display` impl, and a line in [`ServerStats::merge`] (which sums
//! workers; it names every field, so a new one does not compile until it is
//! summed). Each worker of a server has its own `Counters`, so no counter is
//! written by two threads. The server holds its counters in an `Arc`, which
//! reaches every connection's driver through its config
//! (`Settings::counters`): the byte counters get one relaxed `fetch_add` per
//! read and per flush that moved bytes, a few per 64 KiB.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::handshake::Step;
use crate::transport::start::Ending;

/// A snapshot of a server's counters, from [`Server::stats`](crate::Server::stats).
///
/// Every connection the server accepted is, at any moment, either open or
/// counted in exactly one of the ending counters, so
///
/// ```text
/// accepted == open + closed_cleanly + closed_with_error + tls_handshakes_failed
///                  + proxy_header_rejected + aborted_hard_limit + timed_out
///                  + aborted_by_shutdown
/// ```
///
/// (the snapshot is taken counter by counter, so a connection that ends while
/// it is taken may be missing from both sides). `Display` writes every field
/// on one line of `key=value` pairs, for a log line on exit.
///
/// # Examples
///
/// ```
/// use aioproto::{BaseProtocol, Protocol, ServerOptions, create_server};
///
/// struct Quiet;
/// impl BaseProtocol for Quiet {}
/// impl Protocol for Quiet {}
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> aioproto::Result<()> {
/// let server = create_server(|| Quiet, "127.0.0.1", 0, &ServerOptions::new()).await?;
/// let stats = server.stats();
/// assert_eq!(stats.accepted, 0);
/// println!("{stats}"); // accepted=0 open=0 tls_handshaking=0 peak_open=0 ...
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections accepted from the listening sockets, since the server started.
    pub accepted: u64,
    /// Connections open now: accepted, `connection_lost` not run yet. Includes
    /// the TLS handshakes in progress.
    pub open: u64,
    /// Connections not yet past their handshake steps now (part of `open`):
    /// in their TLS handshake, or reading their PROXY protocol header
    /// ([`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol)).
    pub tls_handshaking: u64,
    /// The most connections that were open at once.
    pub peak_open: u64,
    /// Connections whose `connection_lost` got `None`: closed by either side,
    /// or aborted by [`abort`](crate::Transport::abort) or
    /// [`Server::abort_clients`](crate::Server::abort_clients) (asyncio's
    /// clean local close). A TLS handshake ended by `close_clients` or
    /// `abort_clients` counts here too.
    pub closed_cleanly: u64,
    /// Connections that ended with an error not counted below (a reset, a
    /// peer gone without TLS close_notify, a panicking callback).
    pub closed_with_error: u64,
    /// TLS handshakes that failed or timed out; no protocol was made for them.
    pub tls_handshakes_failed: u64,
    /// Connections closed because they did not start with a valid PROXY
    /// protocol header ([`ServerOptions::proxy_protocol`](crate::ServerOptions::proxy_protocol)):
    /// a malformed or unaccepted header, data that is not one, an end of
    /// stream or the header timeout before it was complete. No protocol was
    /// made for them.
    pub proxy_header_rejected: u64,
    /// Connections aborted for going over their write buffer's hard limit.
    pub aborted_hard_limit: u64,
    /// Connections ended by a time limit once open: the idle, read-idle or
    /// write-stall timeout (unless the protocol's `timeout_reached` kept the
    /// connection), or a TLS close_notify wait past the shutdown timeout. A
    /// handshake timeout counts in `tls_handshakes_failed` instead.
    pub timed_out: u64,
    /// Connections and TLS handshakes that [`Server::shutdown`](crate::Server::shutdown)
    /// had to cut: still open when its grace period ran out, or still in
    /// their handshake when it began.
    pub aborted_by_shutdown: u64,
    /// `accept()` calls that failed (out of file descriptors, a connection
    /// reset before it was accepted).
    pub accept_errors: u64,
    /// Bytes read from every connection, since the server started: what the
    /// protocols were given (plaintext, for TLS). Counted once per read.
    pub bytes_read: u64,
    /// Bytes written to every connection, since the server started: what
    /// left the write buffers (plaintext, for TLS; not counting what an
    /// abort dropped). Counted once per flush.
    pub bytes_written: u64,
}

impl fmt::Display for ServerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "accepted={} open={} tls_handshaking={} peak_open={} closed_cleanly={} \
             closed_with_error={} tls_handshakes_failed={} proxy_header_rejected={} \
             aborted_hard_limit={} timed_out={} aborted_by_shutdown={} accept_errors={} bytes_read={} \
             bytes_written={}",
            self.accepted,
            self.open,
            self.tls_handshaking,
            self.peak_open,
            self.closed_cleanly,
            self.closed_with_error,
            self.tls_handshakes_failed,
            self.proxy_header_rejected,
            self.aborted_hard_limit,
            self.timed_out,
            self.aborted_by_shutdown,
            self.accept_errors,
            self.bytes_read,
            self.bytes_written,
        )
    }
}

impl ServerStats {
    /// Adds `other`'s counters and gauges to these (one worker's to the
    /// server's total). `peak_open` is summed too, an upper bound; the server
    /// replaces it with the true peak over its workers.
    pub(crate) fn merge(&mut self, other: &ServerStats) {
        let ServerStats {
            accepted,
            open,
            tls_handshaking,
            peak_open,
            closed_cleanly,
            closed_with_error,
            tls_handshakes_failed,
            proxy_header_rejected,
            aborted_hard_limit,
            timed_out,
            aborted_by_shutdown,
            accept_errors,
            bytes_read,
            bytes_written,
        } = *other;
        self.accepted += accepted;
        self.open += open;
        self.tls_handshaking += tls_handshaking;
        self.peak_open += peak_open;
        self.closed_cleanly += closed_cleanly;
        self.closed_with_error += closed_with_error;
        self.tls_handshakes_failed += tls_handshakes_failed;
        self.proxy_header_rejected += proxy_header_rejected;
        self.aborted_hard_limit += aborted_hard_limit;
        self.timed_out += timed_out;
        self.aborted_by_shutdown += aborted_by_shutdown;
        self.accept_errors += accept_errors;
        self.bytes_read += bytes_read;
        self.bytes_written += bytes_written;
    }
}

/// The live counters of one server. The gauges (`open`, `tls_handshaking`)
/// are not here: the server's registry knows them exactly.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    peak_open: AtomicU64,
    closed_cleanly: AtomicU64,
    closed_with_error: AtomicU64,
    tls_handshakes_failed: AtomicU64,
    proxy_header_rejected: AtomicU64,
    aborted_hard_limit: AtomicU64,
    timed_out: AtomicU64,
    aborted_by_shutdown: AtomicU64,
    accept_errors: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
}

/// Why a connection the server knew of is gone, as [`Counters`] sorts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gone {
    /// The connection ended on its own (or by a local close or abort).
    Ended(Ending),
    /// Shutdown cut it (past the grace period, or mid-handshake).
    CutByShutdown,
    /// A handshake step failed or timed out: its TLS handshake, or its
    /// PROXY protocol header.
    HandshakeFailed(Step),
}

impl Gone {
    /// How the log names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Gone::Ended(Ending::Clean) => "clean",
            Gone::Ended(Ending::Failed) => "error",
            Gone::Ended(Ending::HardLimit) => "hard limit",
            Gone::Ended(Ending::Timeout) => "timeout",
            Gone::CutByShutdown => "cut by shutdown",
            Gone::HandshakeFailed(Step::Tls) => "TLS handshake failed",
            Gone::HandshakeFailed(Step::ProxyHeader) => "PROXY header rejected",
        }
    }
}

impl Counters {
    /// One connection accepted, which makes `open` connections open.
    pub(crate) fn accepted(&self, open: usize) {
        self.accepted.fetch_add(1, Relaxed);
        self.peak_open.fetch_max(open as u64, Relaxed);
    }

    /// A connection's driver read `n` bytes (one read).
    pub(crate) fn add_read(&self, n: usize) {
        self.bytes_read.fetch_add(n as u64, Relaxed);
    }

    /// A connection's driver wrote `n` bytes (one flush).
    pub(crate) fn add_written(&self, n: usize) {
        self.bytes_written.fetch_add(n as u64, Relaxed);
    }

    /// One `accept()` failed.
    pub(crate) fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Relaxed);
    }

    /// One connection is gone.
    pub(crate) fn gone(&self, why: Gone) {
        let counter = match why {
            Gone::Ended(Ending::Clean) => &self.closed_cleanly,
            Gone::Ended(Ending::Failed) => &self.closed_with_error,
            Gone::Ended(Ending::HardLimit) => &self.aborted_hard_limit,
            Gone::Ended(Ending::Timeout) => &self.timed_out,
            Gone::CutByShutdown => &self.aborted_by_shutdown,
            Gone::HandshakeFailed(Step::Tls) => &self.tls_handshakes_failed,
            Gone::HandshakeFailed(Step::ProxyHeader) => &self.proxy_header_rejected,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// The counters now, with the gauges the caller read from the registry.
    pub(crate) fn snapshot(&self, open: usize, tls_handshaking: usize) -> ServerStats {
        ServerStats {
            accepted: self.accepted.load(Relaxed),
            open: open as u64,
            tls_handshaking: tls_handshaking as u64,
            peak_open: self.peak_open.load(Relaxed),
            closed_cleanly: self.closed_cleanly.load(Relaxed),
            closed_with_error: self.closed_with_error.load(Relaxed),
            tls_handshakes_failed: self.tls_handshakes_failed.load(Relaxed),
            proxy_header_rejected: self.proxy_header_rejected.load(Relaxed),
            aborted_hard_limit: self.aborted_hard_limit.load(Relaxed),
            timed_out: self.timed_out.load(Relaxed),
            aborted_by_shutdown: self.aborted_by_shutdown.load(Relaxed),
            accept_errors: self.accept_errors.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
        }
    }
}
