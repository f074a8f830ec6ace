//! The timeout clock on tokio's paused clock: deadlines, lazy resets, restarts.

use std::task::{Context, Poll};
use std::time::Duration;

use super::*;

fn config(idle: Option<u64>, read_idle: Option<u64>, write_stall: Option<u64>) -> TimeoutConfig {
    TimeoutConfig {
        idle: idle.map(Duration::from_secs),
        read_idle: read_idle.map(Duration::from_secs),
        write_stall: write_stall.map(Duration::from_secs),
    }
}

/// Polls once with a no-op waker.
fn poll(t: &mut Timeouts) -> Option<TimeoutKind> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match t.poll_reached(&mut cx) {
        Poll::Ready(kind) => Some(kind),
        Poll::Pending => None,
    }
}

/// Advances the paused clock by `d`, then polls.
async fn after_secs(t: &mut Timeouts, secs: u64) -> Option<TimeoutKind> {
    tokio::time::advance(Duration::from_secs(secs)).await;
    poll(t)
}

const READ: Moved = Moved {
    read: true,
    wrote: false,
};
const WROTE: Moved = Moved {
    read: false,
    wrote: true,
};
const NOTHING: Moved = Moved {
    read: false,
    wrote: false,
};

#[test]
fn no_limit_no_clock() {
    assert!(Timeouts::new(TimeoutConfig::default()).is_none());
}

#[tokio::test(start_paused = true)]
async fn idle_fires_after_d_and_is_reset_by_io() {
    let mut t = Timeouts::new(config(Some(10), None, None)).unwrap();
    assert_eq!(poll(&mut t), None);
    assert_eq!(after_secs(&mut t, 6).await, None);
    t.record(READ, false, false);
    assert_eq!(
        after_secs(&mut t, 6).await,
        None,
        "the read at 6 s moved it to 16 s"
    );
    t.record(WROTE, false, false);
    assert_eq!(
        after_secs(&mut t, 9).await,
        None,
        "the write at 12 s moved it to 22 s"
    );
    assert_eq!(after_secs(&mut t, 1).await, Some(TimeoutKind::Idle));
}

#[tokio::test(start_paused = true)]
async fn read_idle_ignores_writes_and_stops_at_eof() {
    let mut t = Timeouts::new(config(None, Some(5), None)).unwrap();
    assert_eq!(after_secs(&mut t, 3).await, None);
    t.record(WROTE, false, false);
    assert_eq!(after_secs(&mut t, 2).await, Some(TimeoutKind::ReadIdle));
    t.restart(TimeoutKind::ReadIdle);
    assert_eq!(after_secs(&mut t, 4).await, None, "restarted at 5 s");
    t.record(NOTHING, false, true);
    assert_eq!(
        after_secs(&mut t, 100).await,
        None,
        "after EOF nothing can arrive"
    );
}

#[tokio::test(start_paused = true)]
async fn write_stall_counts_only_while_the_buffer_holds_bytes() {
    let mut t = Timeouts::new(config(None, None, Some(4))).unwrap();
    assert_eq!(after_secs(&mut t, 100).await, None, "drained: no deadline");
    t.record(NOTHING, true, false); // window opens at 100 s
    assert_eq!(after_secs(&mut t, 3).await, None);
    t.record(WROTE, true, false); // progress at 103 s
    assert_eq!(after_secs(&mut t, 3).await, None);
    t.record(NOTHING, false, false); // drained at 106 s
    assert_eq!(after_secs(&mut t, 10).await, None);
    t.record(NOTHING, true, false); // stuck from 116 s
    assert_eq!(after_secs(&mut t, 4).await, Some(TimeoutKind::WriteStall));
}

#[tokio::test(start_paused = true)]
async fn an_opening_stall_window_pulls_the_sleep_earlier() {
    let mut t = Timeouts::new(config(Some(60), None, Some(2))).unwrap();
    assert_eq!(poll(&mut t), None, "armed for the idle deadline, 60 s");
    t.record(NOTHING, true, false);
    assert_eq!(after_secs(&mut t, 2).await, Some(TimeoutKind::WriteStall));
}

#[tokio::test(start_paused = true)]
async fn the_earliest_reached_limit_is_reported() {
    let mut t = Timeouts::new(config(Some(3), Some(3), None)).unwrap();
    assert_eq!(after_secs(&mut t, 1).await, None);
    t.record(WROTE, false, false);
    // Read-idle (from 0 s) comes before idle (from the write at 1 s).
    assert_eq!(after_secs(&mut t, 2).await, Some(TimeoutKind::ReadIdle));
}

#[tokio::test(start_paused = true)]
async fn huge_limits_do_not_overflow() {
    let mut t = Timeouts::new(TimeoutConfig {
        idle: Some(Duration::MAX),
        ..TimeoutConfig::default()
    })
    .unwrap();
    assert_eq!(poll(&mut t), None);
    assert_eq!(after_secs(&mut t, 1).await, None);
}

#[test]
#[should_panic(expected = "must be positive")]
fn zero_limits_are_refused() {
    check_limit("idle_timeout", Some(Duration::ZERO));
}
