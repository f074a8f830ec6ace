use std::io;

use bytes::Bytes;

use super::*;
use crate::transport::Transport;
use crate::transport::protocol::{BaseProtocol, Protocol};

/// Echoes, keeps the transport open on EOF when asked, and writes a lot on "flood".
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
    keep_open: bool,
}

impl BaseProtocol for Echo {
    fn connection_made(&mut self, t: &Transport) {
        self.transport = Some(t.clone());
    }
}

impl Protocol for Echo {
    fn data_received(&mut self, data: Bytes) {
        let t = self.transport.as_ref().unwrap();
        if data.as_ref() == b"flood" {
            t.write(vec![b'x'; 100_000]);
        } else {
            t.write(data);
        }
    }
    fn eof_received(&mut self) -> bool {
        self.keep_open
    }
}

#[tokio::test]
async fn feed_echo_and_eof_close() {
    let (proto, log) = Recorder::new(Echo::default());
    let (conn, _) = TestConnection::start(proto);
    conn.feed("ab");
    conn.feed("cd");
    conn.settle().await;
    assert_eq!(conn.written(), "abcd");
    assert!(!conn.is_closed());
    conn.feed_eof();
    conn.wait_closed().await;
    assert_eq!(
        log.events(),
        vec![
            Event::ConnectionMade,
            Event::DataReceived(Bytes::from("ab")),
            Event::DataReceived(Bytes::from("cd")),
            Event::EofReceived,
            Event::ConnectionLost(None),
        ]
    );
    log.check_order().unwrap();
}

#[tokio::test]
async fn eof_keep_open_allows_writes_and_write_eof() {
    let (conn, proto) = TestConnection::start(Echo {
        keep_open: true,
        ..Echo::default()
    });
    conn.feed_eof();
    conn.settle().await;
    assert!(!conn.is_closed());
    let t = proto.lock().unwrap().transport.clone().unwrap();
    t.write("late reply");
    t.write_eof().unwrap();
    conn.settle().await;
    assert_eq!(conn.take_written(), "late reply");
    assert!(conn.eof_written());
    t.close();
    conn.wait_closed().await;
}

#[tokio::test]
async fn blocked_peer_pauses_and_resumes_writing() {
    let (proto, log) = Recorder::new(Echo::default());
    let (conn, _) = TestConnection::start(proto);
    conn.block_writes();
    conn.feed("flood");
    conn.settle().await;
    assert_eq!(log.events().last(), Some(&Event::PauseWriting));
    assert_eq!(conn.transport().get_write_buffer_size(), 100_000);
    conn.allow_writes(50_000);
    conn.settle().await;
    assert_eq!(
        log.events().last(),
        Some(&Event::PauseWriting),
        "70 KiB left is above low"
    );
    conn.unblock_writes();
    conn.settle().await;
    assert_eq!(log.events().last(), Some(&Event::ResumeWriting));
    assert_eq!(conn.written().len(), 100_000);
    log.check_order().unwrap();
}

#[tokio::test]
async fn connection_loss_reaches_connection_lost() {
    let (proto, log) = Recorder::new(Echo::default());
    let (conn, _) = TestConnection::start(proto);
    conn.lose_connection(io::ErrorKind::ConnectionReset);
    conn.wait_closed().await;
    match log.events().last() {
        Some(Event::ConnectionLost(Some(text))) => assert!(text.contains("simulated")),
        other => panic!("unexpected {other:?}"),
    }
    log.check_order().unwrap();
}

#[tokio::test]
async fn pause_reading_holds_data_back() {
    let (proto, log) = Recorder::new(Silent);
    let (conn, _) = TestConnection::start(proto);
    conn.transport().pause_reading();
    conn.feed("held");
    conn.settle().await;
    assert_eq!(log.events(), vec![Event::ConnectionMade]);
    conn.transport().resume_reading();
    conn.settle().await;
    assert_eq!(log.data(), "held");
}

#[test]
fn check_order_rejects_bad_sequences() {
    let log = EventLog::default();
    log.push(Event::DataReceived(Bytes::new()));
    assert!(log.check_order().is_err());
    let log = EventLog::default();
    for e in [
        Event::ConnectionMade,
        Event::ConnectionLost(None),
        Event::EofReceived,
    ] {
        log.push(e);
    }
    assert!(
        log.check_order()
            .unwrap_err()
            .contains("after connection_lost")
    );
    let log = EventLog::default();
    for e in [Event::ConnectionMade, Event::ResumeWriting] {
        log.push(e);
    }
    assert!(log.check_order().is_err());
}

struct PanicsOnMade;
impl BaseProtocol for PanicsOnMade {
    fn connection_made(&mut self, _: &Transport) {
        panic!("boom");
    }
}
impl Protocol for PanicsOnMade {}

#[tokio::test]
async fn panic_in_connection_made_ends_the_connection() {
    let (proto, log) = Recorder::new(PanicsOnMade);
    let (conn, _) = TestConnection::start(proto);
    assert!(conn.is_closed());
    match log.events().last() {
        Some(Event::ConnectionLost(Some(text))) => assert!(text.contains("boom")),
        other => panic!("unexpected {other:?}"),
    }
}
