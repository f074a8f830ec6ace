//! Failed handshake steps in the log (a TLS handshake, a PROXY protocol
//! header): each one at debug level, and at most one warning per interval
//! and step that sums them up.
//!
//! A server on the internet sees port scanners, plaintext clients and clients
//! that give up mid-handshake all day; one warning each floods the log (500
//! failures once wrote 100 KB of warnings). The first failure after a quiet
//! interval warns at once; later ones in the same interval are counted and
//! summed up in one warning when it ends. Each step has its own summary, so
//! a flood of one kind does not hide the other.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::Instrument;

use super::handshake::Step;
use crate::error::Error;
use crate::util::lock;

/// The shortest time between two warnings about failed handshakes.
pub(crate) const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);

/// Counts failed handshakes and decides when to warn; knows no clock or task.
#[derive(Debug)]
pub(crate) struct Summary {
    interval: Duration,
    last_warning: Option<Instant>,
    /// Failures not yet in a warning.
    pending: u64,
    last_error: String,
    flush_scheduled: bool,
}

/// What to do about a failure [`Summary::record`] just counted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Warn now about this failure.
    WarnNow,
    /// Stay quiet, and call [`Summary::flush`] at this instant.
    FlushAt(Instant),
    /// Stay quiet: a flush is already due.
    Quiet,
}

/// What a warning about failed handshakes says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Warning {
    /// Failures since the last warning.
    pub(crate) count: u64,
    /// How long ago the last warning was.
    pub(crate) over: Duration,
    /// The error of the latest failure.
    pub(crate) last_error: String,
}

impl Summary {
    pub(crate) fn new(interval: Duration) -> Summary {
        Summary {
            interval,
            last_warning: None,
            pending: 0,
            last_error: String::new(),
            flush_scheduled: false,
        }
    }

    /// Counts one failure at `now`.
    pub(crate) fn record(&mut self, now: Instant, error: &str) -> Verdict {
        match self.last_warning {
            Some(at) if now < at + self.interval => {
                self.pending += 1;
                self.last_error.clear();
                self.last_error.push_str(error);
                if std::mem::replace(&mut self.flush_scheduled, true) {
                    Verdict::Quiet
                } else {
                    Verdict::FlushAt(at + self.interval)
                }
            }
            _ => {
                // Nothing can be pending: a due flush would have been scheduled.
                self.last_warning = Some(now);
                Verdict::WarnNow
            }
        }
    }

    /// The warning due at `now` for the failures counted since the last one, if any.
    pub(crate) fn flush(&mut self, now: Instant) -> Option<Warning> {
        self.flush_scheduled = false;
        if self.pending == 0 {
            return None;
        }
        let over = self.last_warning.map_or(self.interval, |at| now - at);
        self.last_warning = Some(now);
        Some(Warning {
            count: std::mem::take(&mut self.pending),
            over,
            last_error: std::mem::take(&mut self.last_error),
        })
    }
}

/// A server's log of failed handshake steps. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct HandshakeFailures {
    tls: Arc<Mutex<Summary>>,
    proxy: Arc<Mutex<Summary>>,
}

impl HandshakeFailures {
    pub(crate) fn new() -> HandshakeFailures {
        let summary = || Arc::new(Mutex::new(Summary::new(SUMMARY_INTERVAL)));
        HandshakeFailures {
            tls: summary(),
            proxy: summary(),
        }
    }

    /// Logs one failed `step` of connection `id`: at debug level in the
    /// current (connection) span, and in a warning in `server_span` now or
    /// when the interval ends.
    pub(crate) fn failed(&self, step: Step, id: u64, error: &Error, server_span: &tracing::Span) {
        let what = step.failure();
        tracing::debug!(id, error = %error, "{what}; connection dropped");
        let message = error.to_string();
        let summary = match step {
            Step::ProxyHeader => &self.proxy,
            Step::Tls => &self.tls,
        };
        let verdict = lock(summary).record(Instant::now(), &message);
        match verdict {
            Verdict::WarnNow => server_span.in_scope(|| {
                tracing::warn!(
                    "{what}: {message}; connection dropped \
                     (further failures are summed up at most every {}s)",
                    SUMMARY_INTERVAL.as_secs()
                );
            }),
            Verdict::FlushAt(at) => {
                let summary = summary.clone();
                let flush = async move {
                    tokio::time::sleep_until(at).await;
                    let warning = lock(&summary).flush(Instant::now());
                    if let Some(w) = warning {
                        tracing::warn!(
                            "{} {} in the last {}s; last error: {}",
                            w.count,
                            step.failures(w.count),
                            w.over.as_secs_f64().round(),
                            w.last_error
                        );
                    }
                };
                tokio::spawn(flush.instrument(server_span.clone()));
            }
            Verdict::Quiet => {}
        }
    }
}
