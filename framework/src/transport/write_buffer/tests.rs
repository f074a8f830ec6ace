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
    buf.follow_marks();
    assert!(!buf.is_paused(), "at the high mark");
    buf.push(Bytes::from_static(b"5"));
    buf.follow_marks();
    assert!(buf.is_paused(), "over the high mark");
    buf.push(Bytes::from_static(b"6"));
    buf.follow_marks();
    assert!(buf.is_paused());
    buf.consume(4);
    assert_eq!(buf.len(), 2);
    buf.follow_marks();
    assert!(buf.is_paused(), "still above low");
    buf.consume(1);
    buf.follow_marks();
    assert!(!buf.is_paused(), "back at the low mark");
    buf.push(Bytes::from_static(b"78"));
    buf.follow_marks();
    assert!(!buf.is_paused(), "under the high mark again: no pause");
}

#[test]
fn new_limits_are_evaluated_against_the_current_size() {
    let mut buf = buffer(1024, 128);
    buf.push(Bytes::from(vec![0u8; 512]));
    buf.follow_marks();
    assert!(!buf.is_paused());
    buf.set_limits(Limits {
        low: 128,
        high: 256,
    });
    buf.follow_marks();
    assert!(buf.is_paused());
    buf.set_limits(Limits {
        low: 600,
        high: 1024,
    });
    buf.follow_marks();
    assert!(!buf.is_paused());
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

/// The pause follows the marks with hysteresis: it starts only over the high
/// mark, ends only at the low one, and between them stays as it was.
#[test]
fn pause_follows_the_marks_with_hysteresis() {
    let (high, low) = (10, 2);
    let mut buf = buffer(high, low);
    let (mut pauses, mut resumes) = (0, 0);
    for round in 0..50usize {
        // 12 (over high), 7, 2 (at low), 0, then again.
        if round % 4 == 0 {
            buf.push(Bytes::from(vec![0u8; 12]));
        } else {
            let n = buf.len().min(5);
            buf.consume(n);
        }
        let was_paused = buf.is_paused();
        buf.follow_marks();
        let len = buf.len();
        match (was_paused, buf.is_paused()) {
            (false, true) => {
                assert!(len > high, "paused at {len}");
                pauses += 1;
            }
            (true, false) => {
                assert!(len <= low, "resumed at {len}");
                resumes += 1;
            }
            (false, false) => assert!(len <= high, "not paused at {len}"),
            (true, true) => assert!(len > low, "still paused at {len}"),
        }
    }
    assert!(
        pauses > 1 && resumes > 1,
        "{pauses} pauses, {resumes} resumes"
    );
}

#[test]
fn datagrams_keep_empty_messages_and_boundaries() {
    let mut buf = buffer(20, 13);
    buf.push_datagram(Bytes::from_static(b""));
    buf.push_datagram(Bytes::from_static(b"abcde"));
    assert_eq!(buf.chunk_count(), 2);
    assert_eq!(
        buf.len(),
        5 + 2 * DATAGRAM_OVERHEAD,
        "asyncio's 8 bytes a datagram"
    );
    buf.follow_marks();
    assert!(buf.is_paused());
    assert_eq!(buf.pop_front().unwrap(), Bytes::new());
    assert_eq!(buf.len(), 5 + DATAGRAM_OVERHEAD);
    assert_eq!(buf.front().unwrap(), &Bytes::from_static(b"abcde"));
    assert_eq!(buf.pop_front().unwrap().len(), 5);
    assert_eq!(buf.len(), 0);
    buf.follow_marks();
    assert!(!buf.is_paused());
    assert!(buf.pop_front().is_none());
}

/// Empty datagrams alone reach the high-water mark: a flood of them cannot
/// queue without the protocol hearing `pause_writing`.
#[test]
fn empty_datagrams_fill_the_buffer_too() {
    let mut buf = buffer(64, 16);
    for _ in 0..8 {
        buf.push_datagram(Bytes::new());
    }
    buf.follow_marks();
    assert!(!buf.is_paused(), "8 x 8 bytes is the mark, not over it");
    buf.push_datagram(Bytes::new());
    buf.follow_marks();
    assert!(buf.is_paused());
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

/// Short chunks queued behind others are copied together: a buffer behind
/// a peer that does not read holds its bytes, not the read buffers they
/// were cut from (`ChunkQueue`).
#[test]
fn short_chunks_queued_behind_others_hold_no_read_buffer() {
    let read_buffer = Bytes::from(vec![b'r'; 128 * 1024]);
    let mut b = buffer(usize::MAX, 0);
    for i in 0..1000 {
        b.push(read_buffer.slice(i..=i));
    }
    assert_eq!(b.len(), 1000);
    assert_eq!(b.chunk_count(), 1, "one owned part");
    let part = b.front().expect("queued");
    let shared = read_buffer.as_ptr_range();
    assert!(!shared.contains(&part.as_ptr()), "a copy, not a slice");
    // Bytes a write did not take go back in front, copied as well once
    // something else is queued.
    b.push_front_unsent(&[read_buffer.slice(..10)], 4);
    assert_eq!(b.len(), 1006);
    assert!(!shared.contains(&b.front().expect("queued").as_ptr()));
    b.with_io_slices(|slices| {
        assert_eq!(slices.len(), 2);
        assert_eq!(&slices[0][..], b"rrrrrr");
    });
}
