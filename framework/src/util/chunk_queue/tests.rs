use bytes::Bytes;

use super::{ChunkQueue, KEEP_FROM};

/// Whether `a` is a view of `b`'s memory (not a copy).
fn same_memory(a: &[u8], b: &[u8]) -> bool {
    a.as_ptr() == b.as_ptr()
}

fn contents(queue: &ChunkQueue) -> Vec<u8> {
    queue.parts().flatten().copied().collect()
}

/// A chunk cut from a larger buffer that something else still holds, as
/// the drivers' chunks are cut from their thread's read buffer.
fn cut(text: &str) -> (Bytes, Bytes) {
    let mut whole = bytes::BytesMut::with_capacity(1024);
    whole.extend_from_slice(text.as_bytes());
    whole.extend_from_slice(b"...the rest of the read buffer");
    let whole = whole.freeze();
    (whole.slice(..text.len()), whole)
}

#[test]
fn the_first_chunk_is_kept_as_it_came() {
    let mut queue = ChunkQueue::default();
    let (chunk, _buffer) = cut("x");
    queue.push_back(chunk.clone());
    assert!(same_memory(queue.front().unwrap(), &chunk));
    assert_eq!(queue.len(), 1);
}

#[test]
fn short_chunks_behind_others_join_one_owned_part() {
    let mut queue = ChunkQueue::default();
    let (first, buffer) = cut("first ");
    queue.push_back(first);
    let later: Vec<(Bytes, Bytes)> = (0..100).map(|i| cut(&format!("{i},"))).collect();
    for (chunk, _) in &later {
        queue.push_back(chunk.clone());
    }
    // One part for everything: no byte holds a buffer (or a slice) of its own.
    assert_eq!(queue.part_count(), 1);
    let part = queue.front().unwrap();
    assert!(
        !same_memory(part, &buffer),
        "the first chunk was copied as the second joined it"
    );
    assert!(later.iter().all(|(_, buffer)| !same_memory(part, buffer)));
    let mut expected = b"first ".to_vec();
    for (chunk, _) in &later {
        expected.extend_from_slice(chunk);
    }
    assert_eq!(contents(&queue), expected);
    assert_eq!(queue.len(), expected.len());
}

#[test]
fn a_whole_read_is_kept_as_it_came_behind_others() {
    let mut queue = ChunkQueue::default();
    queue.push_back(Bytes::from_static(b"a"));
    queue.push_back(Bytes::from_static(b"b"));
    let whole = Bytes::from(vec![7u8; KEEP_FROM]);
    queue.push_back(whole.clone());
    let (c, _buffer) = cut("c");
    queue.push_back(c.clone());
    assert_eq!(queue.part_count(), 3, "ab, the whole read, c");
    assert!(same_memory(queue.part(1).unwrap(), &whole));
    assert!(
        !same_memory(queue.part(2).unwrap(), &c),
        "copied behind a whole read"
    );
    let mut expected = b"ab".to_vec();
    expected.extend_from_slice(&whole);
    expected.push(b'c');
    assert_eq!(contents(&queue), expected);
}

#[test]
fn taking_from_the_front_keeps_the_order() {
    let mut queue = ChunkQueue::default();
    for chunk in ["ab", "cd", "ef", "gh"] {
        queue.push_back(cut(chunk).0);
    }
    assert_eq!(queue.take_front(1), "a");
    assert_eq!(queue.take_front(3), "bcd");
    queue.push_back(Bytes::from_static(b"ij"));
    queue.advance(2);
    assert_eq!(contents(&queue), b"ghij");
    assert_eq!(queue.len(), 4);
    queue.advance(usize::MAX);
    assert!(queue.is_empty());
    assert_eq!(queue.take_front(1), "");
}

#[test]
fn pushing_to_the_front_copies_behind_nothing_else() {
    let mut queue = ChunkQueue::default();
    let (rest, _buffer) = cut("rest");
    queue.push_front(rest.clone());
    assert!(same_memory(queue.front().unwrap(), &rest), "alone: kept");
    let (first, _buffer) = cut("first ");
    queue.push_front(first.clone());
    assert!(
        !same_memory(queue.front().unwrap(), &first),
        "ahead of another: copied"
    );
    assert_eq!(contents(&queue), b"first rest");
    assert_eq!(queue.take_front(100), "first ");
    assert_eq!(queue.take_front(100), "rest");
    assert!(queue.is_empty());
}

#[test]
fn whole_messages_stay_apart_and_empty_ones_count() {
    let mut queue = ChunkQueue::default();
    let (first, _b1) = cut("one");
    queue.push_back_whole(first.clone(), 8);
    queue.push_back_whole(Bytes::new(), 8);
    let (third, _b3) = cut("three");
    queue.push_back_whole(third.clone(), 8);
    assert_eq!(queue.part_count(), 3);
    assert_eq!(
        queue.len(),
        3 + 5 + 3 * 8,
        "each message counts its overhead"
    );
    assert!(same_memory(queue.front().unwrap(), &first));
    assert!(
        !same_memory(queue.part(2).unwrap(), &third),
        "copied behind others"
    );
    assert_eq!(queue.pop_front_whole(8).unwrap(), "one");
    assert_eq!(queue.pop_front_whole(8).unwrap(), "");
    assert!(!queue.is_empty(), "a datagram is queued");
    assert_eq!(queue.len(), 5 + 8);
    assert_eq!(queue.pop_front_whole(8).unwrap(), "three");
    assert!(queue.is_empty());
    assert_eq!(queue.len(), 0);
}

#[test]
fn draining_and_clearing_empty_the_queue() {
    let mut queue = ChunkQueue::default();
    for chunk in ["x", "y", "z"] {
        queue.push_back(Bytes::from_static(chunk.as_bytes()));
    }
    let mut out = Vec::new();
    queue.drain_into(&mut out);
    assert_eq!(out, vec![Bytes::from_static(b"xyz")]);
    assert!(queue.is_empty());
    queue.push_back(Bytes::from_static(b"p"));
    queue.clear();
    assert_eq!((queue.len(), queue.part_count()), (0, 0));
    assert_eq!(queue.front(), None);
}
