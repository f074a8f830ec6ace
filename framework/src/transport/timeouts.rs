//! Connection time limits: idle, read-idle and write-stall (Twisted's
//! `TimeoutMixin`, python/asyncio#96), kept by the stream driver.
//!
//! # No per-byte cost
//!
//! A connection with no time limit configured has no [`Timeouts`] at all. One
//! with limits keeps:
//!
//! * when bytes last moved, one [`Instant`] per direction, taken once per
//!   driver poll that moved bytes (not per byte, not per callback);
//! * since when the write buffer has held bytes that did not move (the
//!   write-stall window), updated at the same moments;
//! * one boxed [`Sleep`], created the first time a deadline exists and never
//!   reset on activity. When it fires, the driver works out the real
//!   deadlines from the instants above: if one has passed, that limit is
//!   reached; if activity moved them, the sleep is reset to the earliest and
//!   polled again. So a busy connection resets its timer about once per
//!   limit, not once per read.
//!
//! The deadline can only move earlier when a write-stall window opens (the
//! buffer was drained and now is not); that one event resets the sleep at once
//! if the stall deadline comes first.
//!
//! # What counts
//!
//! | limit | reached when | counts as activity |
//! |---|---|---|
//! | idle | no byte read and none written for `d` | any byte read from or written to the stream |
//! | read-idle | no byte read for `d` (not after the peer's EOF: nothing more can come) | a byte read |
//! | write-stall | the write buffer held bytes and none of them were written for `d` | a byte written; a drained buffer closes the window |
//!
//! "Written" means handed to the stream (the kernel, or rustls for TLS), so
//! bytes queued in the write buffer are not activity until they leave it; for
//! TLS the bytes are plaintext.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Which time limit a connection reached; passed to
/// [`BaseProtocol::timeout_reached`](crate::BaseProtocol::timeout_reached).
///
/// The limits are set on [`ServerOptions`](crate::ServerOptions) and
/// [`ConnectOptions`](crate::ConnectOptions):
/// [`idle_timeout`](crate::ServerOptions::idle_timeout),
/// [`read_idle_timeout`](crate::ServerOptions::read_idle_timeout) and
/// [`write_stall_timeout`](crate::ServerOptions::write_stall_timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// No byte was read and none was written for the idle timeout.
    Idle,
    /// No byte was read for the read-idle timeout.
    ReadIdle,
    /// The write buffer held data and none of it was written for the
    /// write-stall timeout: the peer stopped reading.
    WriteStall,
}

impl TimeoutKind {
    /// The text of the [`Error::Timeout`](crate::Error::Timeout) a connection
    /// ends with when the protocol does not handle the limit.
    pub(crate) fn message(self) -> &'static str {
        match self {
            TimeoutKind::Idle => "idle timeout: no data in either direction",
            TimeoutKind::ReadIdle => "read idle timeout: no data received",
            TimeoutKind::WriteStall => "write stall timeout: the write buffer did not drain",
        }
    }
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Idle => "idle",
            TimeoutKind::ReadIdle => "read idle",
            TimeoutKind::WriteStall => "write stall",
        })
    }
}

/// The time limits of one connection, as the options set them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimeoutConfig {
    pub(crate) idle: Option<Duration>,
    pub(crate) read_idle: Option<Duration>,
    pub(crate) write_stall: Option<Duration>,
}

impl TimeoutConfig {
    /// No limit set: the driver keeps no timer at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.idle.is_none() && self.read_idle.is_none() && self.write_stall.is_none()
    }
}

/// Checks a time limit given to an options setter.
///
/// # Panics
///
/// If `timeout` is zero.
pub(crate) fn check_limit(what: &str, timeout: Option<Duration>) -> Option<Duration> {
    assert!(
        timeout.is_none_or(|d| !d.is_zero()),
        "{what} must be positive (use None for no limit)"
    );
    timeout
}

/// `d` after `base`; a limit too long for the clock is a century, which is never.
fn after(base: Instant, d: Duration) -> Instant {
    base.checked_add(d)
        .unwrap_or_else(|| base + Duration::from_secs(100 * 365 * 86_400))
}

/// What moved during one driver poll, reported to [`Timeouts::record`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Moved {
    /// Bytes were read (or the peer's EOF arrived).
    pub(crate) read: bool,
    /// Bytes were written to the stream.
    pub(crate) wrote: bool,
}

/// The driver's clock for one connection's time limits; see the
/// [module docs](self).
pub(crate) struct Timeouts {
    config: TimeoutConfig,
    last_read: Instant,
    last_write: Instant,
    /// Since when the write buffer has held bytes none of which were written;
    /// `None` while it is drained.
    stalled_since: Option<Instant>,
    /// The peer sent EOF: the read-idle limit no longer applies.
    read_closed: bool,
    /// Fires at or before the earliest deadline; `None` until one exists.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timeouts {
    /// The limits of `config`, counted from now; `None` without any limit.
    pub(crate) fn new(config: TimeoutConfig) -> Option<Timeouts> {
        if config.is_empty() {
            return None;
        }
        let now = Instant::now();
        Some(Timeouts {
            config,
            last_read: now,
            last_write: now,
            stalled_since: None,
            read_closed: false,
            sleep: None,
        })
    }

    /// The limits as the options set them (for a `start_tls` upgrade).
    pub(crate) fn config(&self) -> TimeoutConfig {
        self.config
    }

    /// Records one poll's activity: what moved, and whether the write buffer
    /// (or the stream under it) still holds bytes. Reads the clock only when
    /// something changed.
    pub(crate) fn record(&mut self, moved: Moved, pending_writes: bool, read_eof: bool) {
        self.read_closed = read_eof;
        let opens_window = pending_writes && self.stalled_since.is_none();
        if !(moved.read || moved.wrote || opens_window) {
            if !pending_writes {
                self.stalled_since = None;
            }
            return;
        }
        let now = Instant::now();
        if moved.read {
            self.last_read = now;
        }
        if moved.wrote {
            self.last_write = now;
        }
        self.stalled_since = match (pending_writes, moved.wrote) {
            (false, _) => None,
            (true, true) => Some(now),
            (true, false) => self.stalled_since.or(Some(now)),
        };
        if opens_window && let Some(stall) = self.config.write_stall {
            // The one way a deadline moves earlier: make the sleep fire in time.
            let deadline = after(now, stall);
            if let Some(sleep) = &mut self.sleep
                && deadline < sleep.deadline()
            {
                sleep.as_mut().reset(deadline);
            }
        }
    }

    /// A protocol handled `kind` and keeps the connection: that limit counts
    /// again from now.
    pub(crate) fn restart(&mut self, kind: TimeoutKind) {
        let now = Instant::now();
        match kind {
            TimeoutKind::Idle => {
                self.last_read = now;
                self.last_write = now;
            }
            TimeoutKind::ReadIdle => self.last_read = now,
            TimeoutKind::WriteStall => {
                if self.stalled_since.is_some() {
                    self.stalled_since = Some(now);
                }
            }
        }
    }

    /// Each applicable limit with its deadline.
    fn deadlines(&self) -> impl Iterator<Item = (TimeoutKind, Instant)> {
        let idle = self.config.idle.map(|d| {
            (
                TimeoutKind::Idle,
                after(self.last_read.max(self.last_write), d),
            )
        });
        let read_idle = self
            .config
            .read_idle
            .filter(|_| !self.read_closed)
            .map(|d| (TimeoutKind::ReadIdle, after(self.last_read, d)));
        let stall = self
            .config
            .write_stall
            .zip(self.stalled_since)
            .map(|(d, since)| (TimeoutKind::WriteStall, after(since, d)));
        [idle, read_idle, stall].into_iter().flatten()
    }

    /// The limit reached now, if any; otherwise arms the sleep for the
    /// earliest deadline (registering `cx`'s waker) and returns `Pending`.
    pub(crate) fn poll_reached(&mut self, cx: &mut Context<'_>) -> Poll<TimeoutKind> {
        loop {
            let Some((_, deadline)) = self.deadlines().min_by_key(|&(_, at)| at) else {
                // No deadline now (a drained buffer with only a write-stall
                // limit): the sleep, if any, is left unpolled.
                return Poll::Pending;
            };
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if sleep.is_elapsed() && sleep.deadline() != deadline {
                // Fired early earlier on: aim it at the real deadline.
                sleep.as_mut().reset(deadline);
            }
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            if let Some((kind, _)) = self
                .deadlines()
                .filter(|&(_, at)| at <= now)
                .min_by_key(|&(_, at)| at)
            {
                return Poll::Ready(kind);
            }
            // Activity moved every deadline past this one: go again with the
            // earliest, which resets the sleep.
            let earliest = self.deadlines().map(|(_, at)| at).min();
            if let (Some(at), Some(sleep)) = (earliest, &mut self.sleep) {
                sleep.as_mut().reset(at);
            }
        }
    }
}

#[cfg(test)]
mod tests;
