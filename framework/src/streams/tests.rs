use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::testing::TestConnection;

fn reader(limit: usize, chunks: &[&'static str], eof: bool) -> StreamReader {
    let r = StreamReader::new(limit).unwrap();
    for c in chunks {
        r.feed_data(*c);
    }
    if eof {
        r.feed_eof();
    }
    r
}

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), f)
        .await
        .expect("timed out")
}

#[test]
fn zero_limit_is_rejected() {
    assert!(matches!(
        StreamReader::new(0),
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn readline_limit_drops_only_the_long_line_when_newline_buffered() {
    // T60: the newline was in the buffer: only that line goes.
    let r = reader(3, &["line1\nline2\n"], false);
    let err = r.readline().await.unwrap_err();
    assert!(matches!(err, Error::LimitOverrun { .. }), "{err}");
    assert_eq!(r.readexactly(6).await.unwrap(), "line2\n");
}

#[tokio::test]
async fn readline_limit_clears_buffer_without_newline() {
    let r = reader(3, &["li", "ne1"], false);
    assert!(r.readline().await.is_err());
    assert_eq!(r.buffered(), 0);
}

#[tokio::test]
async fn readline_limit_is_inclusive() {
    // T60: limit 7 accepts 7 bytes before the newline, not 8.
    let r = reader(7, &["1234567\n"], false);
    assert_eq!(r.readline().await.unwrap(), "1234567\n");
    let r = reader(7, &["12345678\n"], false);
    assert!(r.readline().await.is_err());
}

#[tokio::test]
async fn readuntil_overrun_keeps_data_and_names_the_case() {
    let r = reader(3, &["some dataAA"], false);
    match r.readuntil(b"AAA").await {
        Err(Error::LimitOverrun { message, .. }) => assert!(message.contains("not found")),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.buffered(), 11);
    r.feed_data("A");
    match r.readuntil(b"AAA").await {
        Err(Error::LimitOverrun { message, consumed }) => {
            assert!(message.contains("is found"));
            assert_eq!(consumed, 9);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.buffered(), 12);
}

#[tokio::test]
async fn readuntil_at_eof_is_incomplete_with_everything() {
    let r = reader(64, &["some", "data"], true);
    match r.readuntil(b"\n").await {
        Err(e @ Error::IncompleteRead { .. }) => {
            assert_eq!(
                e.to_string(),
                "8 bytes read on a total of undefined expected bytes"
            );
            let Error::IncompleteRead { partial, expected } = e else {
                unreachable!()
            };
            assert_eq!(partial, "somedata");
            assert_eq!(expected, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.buffered(), 0);
}

#[tokio::test]
async fn readexactly_eof_and_zero() {
    let r = reader(64, &["012345678901234567"], true);
    assert_eq!(r.readexactly(0).await.unwrap(), "");
    let err = r.readexactly(36).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "18 bytes read on a total of 36 expected bytes"
    );
    assert_eq!(r.buffered(), 0);
}

#[tokio::test]
async fn readexactly_spans_chunks_and_ignores_limit() {
    let r = reader(2, &["ab", "cd", "ef"], false);
    assert_eq!(r.readexactly(5).await.unwrap(), "abcde");
    assert_eq!(r.readexactly(1).await.unwrap(), "f");
}

#[tokio::test]
async fn readuntil_multiple_separators() {
    let r = reader(64, &["line 1\nline 2\r"], false);
    let seps: &[&[u8]] = &[b"\r", b"\n"];
    assert_eq!(r.readuntil_any(seps).await.unwrap(), "line 1\n");
    assert_eq!(r.readuntil_any(seps).await.unwrap(), "line 2\r");
    let r = reader(64, &["ABCDEFG"], false);
    assert_eq!(r.readuntil_any(&[b"DEF", b"BCDE"]).await.unwrap(), "ABCDE");
    assert!(matches!(
        r.readuntil(b"").await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn separator_split_across_chunks() {
    let r = reader(64, &["ab\r", "\ncd"], false);
    assert_eq!(r.readuntil(b"\r\n").await.unwrap(), "ab\r\n");
    assert_eq!(r.read(10).await.unwrap(), "cd");
}

#[tokio::test]
async fn line_inside_one_chunk_is_zero_copy() {
    let r = StreamReader::new(64).unwrap();
    let chunk = Bytes::from_static(b"one\ntwo\n");
    r.feed_data(chunk.clone());
    let line = r.readline().await.unwrap();
    assert_eq!(line.as_ptr(), chunk.as_ptr());
}

#[tokio::test]
async fn read_edge_cases() {
    // T61
    let r = reader(64, &["line1", "line2"], false);
    assert_eq!(r.read(0).await.unwrap(), "");
    assert_eq!(r.read(5).await.unwrap(), "line1");
    assert_eq!(r.read(3).await.unwrap(), "lin");
    r.feed_eof();
    assert!(!r.at_eof());
    assert_eq!(r.read_all().await.unwrap(), "e2");
    assert!(r.at_eof());
    assert_eq!(r.read(10).await.unwrap(), "");
    let r = reader(64, &["partial"], true);
    assert_eq!(r.readline().await.unwrap(), "partial");
    assert_eq!(r.readline().await.unwrap(), "");
    let r = reader(64, &["a\nb\n"], true);
    let mut lines = Vec::new();
    while let Some(line) = r.next_line().await.unwrap() {
        lines.push(line);
    }
    assert_eq!(lines, ["a\n", "b\n"]);
}

#[tokio::test]
async fn read_all_with_tiny_limit() {
    // T61: read(-1) with limit=1 still returns everything.
    let r = StreamReader::new(1).unwrap();
    let feeder = r.clone();
    let task = tokio::spawn(async move { r.read_all().await });
    for part in ["d", "a", "t", "a"] {
        feeder.feed_data(part);
        tokio::task::yield_now().await;
    }
    feeder.feed_eof();
    assert_eq!(bounded(task).await.unwrap().unwrap(), "data");
}

#[tokio::test]
async fn two_waiting_reads_is_an_error() {
    let r = StreamReader::new(64).unwrap();
    let (a, b) = tokio::join!(r.readline(), async {
        tokio::task::yield_now().await;
        let second = r.readline().await;
        r.feed_data("x\n");
        second
    });
    assert_eq!(a.unwrap(), "x\n");
    let err = b.unwrap_err();
    assert!(err.to_string().contains("already waiting"), "{err}");
}

#[tokio::test]
async fn cancelled_read_frees_the_waiting_slot() {
    let r = StreamReader::new(64).unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(10), r.readline()).await;
    assert!(cancelled.is_err());
    r.feed_data("ok\n");
    assert_eq!(r.readline().await.unwrap(), "ok\n");
}

#[tokio::test]
async fn exception_fails_reads() {
    let r = reader(64, &["data"], false);
    r.set_exception(Error::Closed("test"));
    assert!(matches!(r.read(1).await, Err(Error::Closed(_))));
}

fn streams(
    conn: &TestConnection,
    protocol: &Mutex<StreamReaderProtocol>,
) -> (StreamReader, StreamWriter) {
    let p = protocol.lock().unwrap();
    (p.reader(), p.writer(conn.transport()))
}

#[tokio::test]
async fn backpressure_pauses_above_twice_the_limit() {
    let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(4).unwrap());
    let (r, _w) = streams(&conn, &protocol);
    conn.feed("12345");
    conn.feed("6789");
    conn.feed("more");
    conn.settle().await;
    assert!(!conn.transport().is_reading(), "9 > 2*4 bytes buffered");
    assert_eq!(r.buffered(), 9);
    assert_eq!(r.readexactly(5).await.unwrap(), "12345");
    assert!(conn.transport().is_reading(), "resumed at <= limit");
    conn.settle().await;
    assert_eq!(r.readexactly(8).await.unwrap(), "6789more");
}

#[tokio::test]
async fn reading_more_than_the_pause_point_resumes() {
    let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(2).unwrap());
    let (r, _w) = streams(&conn, &protocol);
    for part in ["aaa", "bbb", "ccc"] {
        conn.feed(part);
    }
    assert_eq!(bounded(r.readexactly(9)).await.unwrap(), "aaabbbccc");
}

#[tokio::test]
async fn many_drain_waiters_wake_on_resume() {
    let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(64).unwrap());
    let (_r, w) = streams(&conn, &protocol);
    let w = Arc::new(w);
    conn.block_writes();
    w.write(vec![0u8; 100_000]);
    conn.settle().await;
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move { w.drain().await })
        })
        .collect();
    conn.settle().await;
    assert!(waiters.iter().all(|t| !t.is_finished()));
    conn.unblock_writes();
    for t in waiters {
        bounded(t).await.unwrap().unwrap();
    }
    assert_eq!(conn.written().len(), 100_000);
}

#[tokio::test]
async fn drain_waiters_get_the_connection_error() {
    let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(64).unwrap());
    let (_r, w) = streams(&conn, &protocol);
    conn.block_writes();
    w.write(vec![0u8; 100_000]);
    let drain = w.drain();
    tokio::pin!(drain);
    assert!(futures_poll_once(drain.as_mut()).await.is_none());
    conn.lose_connection(std::io::ErrorKind::BrokenPipe);
    let err = bounded(drain).await.unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::BrokenPipe));
    let err = w.wait_closed().await.unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::BrokenPipe));
}

async fn futures_poll_once<F: Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut f).poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test]
async fn close_write_drain_is_connection_reset() {
    // T62
    let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(64).unwrap());
    let (r, w) = streams(&conn, &protocol);
    w.close();
    assert!(w.is_closing());
    w.write("data");
    let err = bounded(w.drain()).await.unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionReset));
    bounded(w.wait_closed()).await.unwrap();
    assert!(r.at_eof());
    assert_eq!(r.read_all().await.unwrap(), "");
}

#[tokio::test]
async fn eof_keeps_the_write_side_open() {
    // T62 half-close, on the in-memory transport.
    let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(64).unwrap());
    let (r, w) = streams(&conn, &protocol);
    conn.feed("request");
    conn.feed_eof();
    assert_eq!(r.read_all().await.unwrap(), "request");
    w.write("reply");
    w.write_eof().unwrap();
    conn.settle().await;
    assert_eq!(conn.written(), "reply");
    assert!(conn.eof_written());
    drop(w);
    bounded(conn.wait_closed()).await;
}

#[tokio::test]
async fn async_read_and_write_traits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (conn, protocol) = TestConnection::start(StreamReaderProtocol::new(64).unwrap());
    let (mut r, mut w) = streams(&conn, &protocol);
    conn.feed("hello ");
    conn.feed("world");
    conn.feed_eof();
    let mut s = String::new();
    bounded(AsyncReadExt::read_to_string(&mut r, &mut s))
        .await
        .unwrap();
    assert_eq!(s, "hello world");
    w.write_all(b"via AsyncWrite").await.unwrap();
    w.flush().await.unwrap();
    w.shutdown().await.unwrap();
    conn.settle().await;
    assert_eq!(conn.written(), "via AsyncWrite");
    assert!(conn.eof_written());
}
