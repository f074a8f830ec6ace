use super::handshake::Step;
use super::stats::{Counters, Gone};
use crate::transport::start::Ending;

#[test]
fn every_ending_has_its_own_counter() {
    let counters = Counters::default();
    counters.accepted(1);
    counters.accepted(3);
    counters.accepted(2);
    for gone in [
        Gone::Ended(Ending::Clean),
        Gone::Ended(Ending::Clean),
        Gone::Ended(Ending::Failed),
        Gone::Ended(Ending::HardLimit),
        Gone::Ended(Ending::Timeout),
        Gone::CutByShutdown,
        Gone::HandshakeFailed(Step::Tls),
        Gone::HandshakeFailed(Step::ProxyHeader),
        Gone::HandshakeFailed(Step::ProxyHeader),
    ] {
        counters.gone(gone);
    }
    counters.accept_error();
    let stats = counters.snapshot(4, 1);
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.peak_open, 3);
    assert_eq!((stats.open, stats.tls_handshaking), (4, 1));
    assert_eq!(stats.closed_cleanly, 2);
    assert_eq!(stats.closed_with_error, 1);
    assert_eq!(stats.aborted_hard_limit, 1);
    assert_eq!(stats.timed_out, 1);
    assert_eq!(stats.aborted_by_shutdown, 1);
    assert_eq!(stats.tls_handshakes_failed, 1);
    assert_eq!(stats.proxy_header_rejected, 2);
    assert_eq!(stats.accept_errors, 1);
}

#[test]
fn byte_counters_add_up() {
    let counters = Counters::default();
    counters.add_read(10);
    counters.add_read(5);
    counters.add_written(7);
    let stats = counters.snapshot(0, 0);
    assert_eq!((stats.bytes_read, stats.bytes_written), (15, 7));
}

#[test]
fn stats_display_is_one_line_of_pairs() {
    let counters = Counters::default();
    counters.accepted(1);
    let line = counters.snapshot(1, 0).to_string();
    assert_eq!(
        line,
        "accepted=1 open=1 tls_handshaking=0 peak_open=1 closed_cleanly=0 closed_with_error=0 \
         tls_handshakes_failed=0 proxy_header_rejected=0 aborted_hard_limit=0 timed_out=0 \
         aborted_by_shutdown=0 accept_errors=0 bytes_read=0 bytes_written=0"
    );
    assert!(!line.contains('\n'));
}

#[cfg(feature = "tls")]
mod handshake_log {
    use std::time::Duration;

    use crate::net::server::handshake_log::{Summary, Verdict, Warning};
    use tokio::time::Instant;

    const INTERVAL: Duration = Duration::from_secs(10);

    #[test]
    fn first_failure_warns_then_one_summary_per_interval() {
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let mut summary = Summary::new(INTERVAL);
        assert_eq!(summary.record(at(0), "e0"), Verdict::WarnNow);
        assert_eq!(summary.record(at(1), "e1"), Verdict::FlushAt(at(10_000)));
        for i in 2..500 {
            assert_eq!(summary.record(at(i), &format!("e{i}")), Verdict::Quiet);
        }
        assert_eq!(
            summary.flush(at(10_000)),
            Some(Warning {
                count: 499,
                over: INTERVAL,
                last_error: "e499".to_owned()
            })
        );
        // The next failure falls in the interval after that warning.
        assert_eq!(
            summary.record(at(12_000), "x"),
            Verdict::FlushAt(at(20_000))
        );
        assert_eq!(summary.flush(at(20_000)).map(|w| w.count), Some(1));
        // A quiet interval later, a failure warns at once again.
        assert_eq!(summary.flush(at(30_000)), None);
        assert_eq!(summary.record(at(40_000), "y"), Verdict::WarnNow);
    }

    #[test]
    fn a_flush_with_nothing_pending_says_nothing() {
        let mut summary = Summary::new(INTERVAL);
        assert_eq!(summary.flush(Instant::now()), None);
    }
}
