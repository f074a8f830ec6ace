use bytes::Bytes;

use super::*;

fn buffer(high: usize, low: usize) -> WriteBuffer {
    WriteBuffer::new(Limits { low, high })
}

#[test]
fn limits_follow_asyncio_defaults() {
    assert_eq!(
        Limits::default(),
        Limits {
            low: 16384,
            high: 65536
        }
    );
    assert_eq!(
        Limits::new(Some(100), None, DEFAULT_HIGH_WATER).unwrap(),
        Limits { low: 25, high: 100 }
    );
    assert_eq!(
        Limits::new(None, Some(10), DEFAULT_HIGH_WATER).unwrap(),
        Limits { low: 10, high: 40 }
    );
    let err = Limits::new(Some(0), Some(1), DEFAULT_HIGH_WATER).unwrap_err();
    assert!(err.to_string().contains("must be >= low"), "{err}");
}

#[test]
fn equal_to_high_does_not_pause_over_high_pauses_once() {
    let mut buf = buffer(4, 1);
    buf.push(Bytes::from_static(b"1234"));
    assert_eq!(buf.flow_event(), None);
    buf.push(Bytes::from_static(b"5"));
    assert_eq!(buf.flow_event(), Some(FlowEvent::Pause));
    buf.push(Bytes::from_static(b"6"));
    assert_eq!(buf.flow_event(), None, "pause is not repeated");
    buf.consume(4);
    assert_eq!(buf.len(), 2);
    assert_eq!(buf.flow_event(), None, "still above low");
    buf.consume(1);
    assert_eq!(buf.flow_event(), Some(FlowEvent::Resume));
    assert_eq!(buf.flow_event(), None, "resume is not repeated");
}

#[test]
fn new_limits_are_evaluated_against_the_current_size() {
    let mut buf = buffer(1024, 128);
    buf.push(Bytes::from(vec![0u8; 512]));
    assert_eq!(buf.flow_event(), None);
    buf.set_limits(Limits {
        low: 128,
        high: 256,
    });
    assert_eq!(buf.flow_event(), Some(FlowEvent::Pause));
    buf.set_limits(Limits {
        low: 600,
        high: 1024,
    });
    assert_eq!(buf.flow_event(), Some(FlowEvent::Resume));
}

#[test]
fn consume_splits_chunks_and_keeps_size_exact() {
    let mut buf = buffer(100, 25);
    buf.push(Bytes::from_static(b"abc"));
    buf.push(Bytes::new());
    buf.push(Bytes::from_static(b"defg"));
    assert_eq!(buf.len(), 7);
    buf.consume(4);
    assert_eq!(buf.len(), 3);
    let queued = buf.with_io_slices(|slices| slices.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0], b"efg");
    buf.clear();
    assert!(buf.is_empty());
}

#[test]
fn pause_and_resume_strictly_alternate() {
    let mut buf = buffer(10, 2);
    let mut events = Vec::new();
    for round in 0..50usize {
        if round % 3 == 0 {
            buf.push(Bytes::from(vec![0u8; 12]));
        } else {
            let n = buf.len().min(4);
            buf.consume(n);
        }
        events.extend(buf.flow_event());
    }
    for pair in events.windows(2) {
        assert_ne!(pair[0], pair[1], "{events:?}");
    }
    assert_eq!(events.first(), Some(&FlowEvent::Pause));
}

#[test]
fn datagrams_keep_empty_messages_and_boundaries() {
    let mut buf = buffer(4, 1);
    buf.push_datagram(Bytes::from_static(b""));
    buf.push_datagram(Bytes::from_static(b"abcde"));
    assert_eq!(buf.chunk_count(), 2);
    assert_eq!(buf.len(), 5);
    assert_eq!(buf.flow_event(), Some(FlowEvent::Pause));
    assert_eq!(buf.pop_front().unwrap(), Bytes::new());
    assert_eq!(buf.front().unwrap(), &Bytes::from_static(b"abcde"));
    assert_eq!(buf.pop_front().unwrap().len(), 5);
    assert_eq!(buf.len(), 0);
    assert_eq!(buf.flow_event(), Some(FlowEvent::Resume));
    assert!(buf.pop_front().is_none());
}

/// What a write took of the chunks is cut off; the rest goes in front of
/// what was queued, in order.
#[test]
fn push_front_unsent_keeps_the_unsent_part_in_front() {
    let mut buf = buffer(1024, 256);
    buf.push(Bytes::from_static(b"later"));
    let chunks = [
        Bytes::from_static(b"abc"),
        Bytes::from_static(b"defg"),
        Bytes::from_static(b"hi"),
    ];
    buf.push_front_unsent(&chunks, 5);
    assert_eq!(buf.len(), 4 + 5);
    let queued = buf.with_io_slices(|slices| slices.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
    assert_eq!(queued, [&b"fg"[..], b"hi", b"later"]);

    let mut all_sent = buffer(1024, 256);
    all_sent.push_front_unsent(&chunks, 9);
    assert!(all_sent.is_empty());
}
