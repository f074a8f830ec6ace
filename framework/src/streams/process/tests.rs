use super::*;

fn reader(limit: usize) -> ProcessReader {
    ProcessReader {
        shared: ReaderShared::new(limit),
    }
}

#[tokio::test]
async fn read_returns_buffered_then_eof() {
    let r = reader(64);
    r.shared.feed(Bytes::from_static(b"hello"));
    assert_eq!(r.read(3).await.unwrap(), "hel");
    assert_eq!(r.read(100).await.unwrap(), "lo");
    r.shared.finish(None);
    assert_eq!(r.read(100).await.unwrap(), "");
    assert!(r.at_eof());
    assert_eq!(r.read(0).await.unwrap(), "");
}

#[tokio::test]
async fn readline_splits_lines_and_keeps_tail() {
    let r = reader(64);
    r.shared.feed(Bytes::from_static(b"a\nbc"));
    r.shared.feed(Bytes::from_static(b"d\ntail"));
    r.shared.finish(None);
    assert_eq!(r.readline().await.unwrap(), "a\n");
    assert_eq!(r.readline().await.unwrap(), "bcd\n");
    assert_eq!(r.readline().await.unwrap(), "tail");
    assert_eq!(r.readline().await.unwrap(), "");
}

#[tokio::test]
async fn readline_over_limit_is_an_error() {
    let r = reader(4);
    r.shared.feed(Bytes::from_static(b"0123456789"));
    assert!(matches!(r.readline().await, Err(Error::InvalidArgument(_))));
}

#[tokio::test]
async fn read_exact_reports_short_reads() {
    let r = reader(64);
    r.shared.feed(Bytes::from_static(b"abc"));
    assert_eq!(r.read_exact(2).await.unwrap(), "ab");
    r.shared.finish(None);
    let err = r.read_exact(5).await.unwrap_err();
    assert_eq!(err.io_kind(), Some(io::ErrorKind::UnexpectedEof));
}

#[tokio::test]
async fn a_waiting_read_wakes_on_data() {
    let r = reader(64);
    let r2 = r.clone();
    let task = tokio::spawn(async move { r2.read(10).await });
    tokio::task::yield_now().await;
    r.shared.feed(Bytes::from_static(b"late"));
    assert_eq!(task.await.unwrap().unwrap(), "late");
}

#[tokio::test]
async fn read_error_comes_after_the_data() {
    let r = reader(64);
    r.shared.feed(Bytes::from_static(b"x"));
    r.shared
        .finish(Some(io::Error::from(io::ErrorKind::BrokenPipe).into()));
    assert_eq!(r.read(10).await.unwrap(), "x");
    assert!(r.read(10).await.is_err());
}
