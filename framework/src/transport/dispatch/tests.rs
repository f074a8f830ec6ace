use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::{Handler, IntoHandler};
use crate::transport::protocol::{BaseProtocol, BufferedProtocol, Protocol};

/// Counts the bytes it is handed; the count is shared with the test.
struct Counting(Arc<AtomicUsize>);

impl BaseProtocol for Counting {}

impl Protocol for Counting {
    fn data_received(&mut self, data: Bytes) {
        self.0.fetch_add(data.len(), Ordering::Relaxed);
    }
}

/// A buffered protocol with a 2-byte buffer that keeps what it was given.
struct Keeping {
    buf: [u8; 2],
    got: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl BaseProtocol for Keeping {}

impl BufferedProtocol for Keeping {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        &mut self.buf
    }
    fn buffer_updated(&mut self, nbytes: usize) {
        self.got
            .lock()
            .unwrap()
            .extend_from_slice(&self.buf[..nbytes]);
    }
}

#[test]
fn a_server_protocol_is_alone_and_a_shared_one_is_not() {
    let count = Arc::new(AtomicUsize::new(0));
    assert!(matches!(
        Counting(count.clone()).into_lone_handler(),
        Handler::Alone(_)
    ));
    let (_user, handler) = Counting(count).into_handler();
    assert!(matches!(handler, Handler::Stream(_)));
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keeping = || Keeping {
        buf: [0; 2],
        got: got.clone(),
    };
    // A buffered one is in an `Arc` of its own: nobody else holds it.
    let Handler::Buffered(mut alone) = keeping().into_lone_handler() else {
        panic!("not a buffered handler");
    };
    assert!(Arc::get_mut(&mut alone).is_some());
    let (_user, handler) = keeping().into_handler();
    assert!(matches!(handler, Handler::Buffered(_)));
}

#[test]
fn a_lone_buffered_protocol_reads_into_its_buffer_and_is_one_protocol_when_shared() {
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut handler = Keeping {
        buf: [0; 2],
        got: got.clone(),
    }
    .into_lone_handler();
    // One read: the protocol's 2-byte buffer takes at most 2 bytes.
    let mut read = |buf: &mut [u8]| {
        buf.copy_from_slice(b"ab");
        Some(Ok(2))
    };
    assert!(matches!(handler.read_into(&mut read), Ok(Some(Ok(2)))));
    // A read that would block reports nothing to the protocol.
    assert!(matches!(
        handler.read_into(&mut |_: &mut [u8]| None),
        Ok(None)
    ));
    let (for_driver, kept) = handler.shared();
    assert!(matches!(for_driver, Handler::Buffered(_)));
    for_driver.deliver(Bytes::from_static(b"cde")).unwrap();
    kept.deliver(Bytes::from_static(b"f")).unwrap();
    assert_eq!(&got.lock().unwrap()[..], b"abcdef");
}

#[test]
fn a_lone_protocol_gets_its_data_and_goes_on_after_a_panic() {
    struct Panicky(Arc<AtomicUsize>);
    impl BaseProtocol for Panicky {}
    impl Protocol for Panicky {
        fn data_received(&mut self, data: Bytes) {
            assert_ne!(&data[..], b"boom", "data_received exploded");
            self.0.fetch_add(data.len(), Ordering::Relaxed);
        }
    }
    let count = Arc::new(AtomicUsize::new(0));
    let mut handler = Panicky(count.clone()).into_lone_handler();
    handler.data_received(Bytes::from_static(b"ab")).unwrap();
    // The panic is the callback's error; the protocol is still there for
    // the callbacks that follow (`connection_lost`).
    assert!(handler.data_received(Bytes::from_static(b"boom")).is_err());
    handler.data_received(Bytes::from_static(b"c")).unwrap();
    handler.base().connection_lost(None);
    assert_eq!(count.load(Ordering::Relaxed), 3);
}

#[test]
fn a_lone_protocol_shared_for_a_hand_over_is_one_protocol() {
    let count = Arc::new(AtomicUsize::new(0));
    let (mut for_driver, kept) = Counting(count.clone()).into_lone_handler().shared();
    assert!(matches!(for_driver, Handler::Stream(_)));
    for_driver.data_received(Bytes::from_static(b"ab")).unwrap();
    kept.deliver(Bytes::from_static(b"cde")).unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 5);
}
