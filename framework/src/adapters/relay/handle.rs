//! [`Relay`]: the handle a [`pipe`](super::pipe) or [`splice`](super::splice)
//! returns, and what it reports.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;

use super::state::Shared;

/// Counters of a relay, so far or at its end.
///
/// # Examples
///
/// ```
/// # async fn f(relay: aioproto::Relay) {
/// let stats = relay.stats();
/// println!("{} bytes forwarded, {} back, paused {} times",
///     stats.a_to_b, stats.b_to_a, stats.backpressure_pauses);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Bytes read from the first end (`from` of a pipe, `a` of a splice) and
    /// written to the other.
    pub a_to_b: u64,
    /// Bytes read from the second end and written to the first (0 for a pipe).
    pub b_to_a: u64,
    /// How many times a source's reading was paused because its sink was over
    /// its write buffer's high-water mark.
    pub backpressure_pauses: u64,
    /// The largest write buffer a sink had right after a relay write took it
    /// over its high-water mark (0 if none did): at most that mark plus one
    /// read.
    pub peak_write_buffer: usize,
}

/// How a relay ended: its counters, and the first error of either side.
///
/// # Examples
///
/// ```
/// # async fn f(relay: aioproto::Relay) {
/// let outcome = relay.finished().await;
/// match &outcome.error {
///     None => println!("clean: {} bytes each way", outcome.stats.a_to_b),
///     Some(err) => println!("failed: {err}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayOutcome {
    /// The counters at the end.
    pub stats: RelayStats,
    /// `None` when every transport ended cleanly; otherwise the first error
    /// one of them ended with (the others were then aborted).
    pub error: Option<Error>,
}

/// A running relay between transports, returned by [`pipe`](super::pipe),
/// [`splice`](super::splice) and [`connect_and_splice`](super::connect_and_splice).
///
/// The relay runs on the transports' own driver tasks whether or not the
/// handle is kept: dropping every `Relay` leaves it running. Cloning is
/// cheap; every clone sees the same relay.
///
/// # Examples
///
/// ```
/// # async fn f(client: aioproto::Transport, upstream: aioproto::Transport) -> aioproto::Result<()> {
/// let relay = aioproto::splice(&client, &upstream)?;
/// let outcome = relay.finished().await;
/// println!("{:?}", outcome.stats);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Relay {
    pub(crate) shared: Arc<Shared>,
}

impl Relay {
    /// Waits until every transport of the relay has ended
    /// (`connection_lost` ran for each) and returns how it went.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: it only observes the relay.
    pub async fn finished(&self) -> RelayOutcome {
        let mut rx = self.shared.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or_else(|| self.unfinished()),
            // The sender lives in `shared`, which this handle keeps alive.
            Err(_) => self.unfinished(),
        }
    }

    fn unfinished(&self) -> RelayOutcome {
        RelayOutcome {
            stats: self.shared.stats(),
            error: Some(Error::Closed("relay")),
        }
    }

    /// True once every transport of the relay has ended.
    pub fn is_finished(&self) -> bool {
        self.shared.is_finished()
    }

    /// The counters so far.
    pub fn stats(&self) -> RelayStats {
        self.shared.stats()
    }

    /// Closes every transport of the relay gracefully: each flushes what it
    /// was given, then ends. Idempotent.
    pub fn close(&self) {
        self.shared.shut(false);
    }

    /// Aborts every transport of the relay: buffered bytes are dropped.
    /// Idempotent.
    pub fn abort(&self) {
        self.shared.shut(true);
    }
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("stats", &self.stats())
            .field("finished", &self.is_finished())
            .finish()
    }
}
