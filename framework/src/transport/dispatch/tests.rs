use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::{Handler, IntoHandler};
use crate::transport::protocol::{BaseProtocol, Protocol};

/// Counts the bytes it is handed; the count is shared with the test.
struct Counting(Arc<AtomicUsize>);

impl BaseProtocol for Counting {}

impl Protocol for Counting {
    fn data_received(&mut self, data: Bytes) {
        self.0.fetch_add(data.len(), Ordering::Relaxed);
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
