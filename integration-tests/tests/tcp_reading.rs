//! Read flow control and peer resets over TCP (spec cases T11, T12;
//! contract item 5).

mod support;

use std::io::ErrorKind;
use std::time::Duration;

use support::*;

/// T11: `pause_reading()` inside `connection_made` holds all data until
/// `resume_reading()`; data sent meanwhile arrives as a single `dr` after it.
/// Pausing twice and resuming twice is fine.
#[tokio::test]
async fn t11_pause_reading_in_connection_made_holds_data_until_resume() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(|log| {
        Events::new(log).on_made(|t| {
            t.pause_reading();
            t.pause_reading();
            assert!(!t.is_reading());
        })
    })
    .await;
    let mut client = raw_connect(addr).await;
    let log = next_log(&mut rx).await;
    raw_write(&mut client, b"early").await;
    // Negative check: while paused nothing may be delivered.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.events(), ["cm"]);

    let transport = server.connections().pop().unwrap();
    transport.resume_reading();
    transport.resume_reading();
    assert!(transport.is_reading());
    log.wait_data(5).await;
    assert_eq!(log.data(), b"early");
    assert_eq!(
        log.events(),
        ["cm", "dr"],
        "one data_received with everything"
    );

    // After close, is_reading is false and resume does nothing.
    transport.close();
    assert!(!transport.is_reading());
    transport.resume_reading();
    assert!(!transport.is_reading());
    assert!(log.wait_lost().await.is_none());
    assert_eq!(read_to_eof(&mut client).await, b"");
    server.close();
}

/// T11 / contract 5: `pause_reading()` called inside `data_received` stops
/// delivery at once (no further `dr`, even as the peer keeps sending); a
/// later resume delivers the rest, none lost.
#[tokio::test]
async fn t11_pause_reading_inside_data_received_stops_delivery() {
    init_tracing();
    let (server, addr, mut rx) =
        recording_server(|log| Events::new(log).on_data(|t, _| t.pause_reading())).await;
    let mut client = raw_connect(addr).await;
    let log = next_log(&mut rx).await;
    raw_write(&mut client, b"first").await;
    log.wait_for("dr").await;
    let transport = server.connections().pop().unwrap();
    assert!(!transport.is_reading());
    raw_write(&mut client, b"second").await;
    raw_write(&mut client, b"third").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(log.count("dr"), 1, "no data_received while paused");

    // Each resume lets exactly one delivery through (the callback pauses again).
    let mut rounds = 0;
    while log.data().len() < b"firstsecondthird".len() {
        let before = log.count("dr");
        transport.resume_reading();
        log.wait_until("next dr", |l| l.count("dr") > before).await;
        rounds += 1;
        assert!(rounds < 20);
    }
    assert_eq!(log.data(), b"firstsecondthird");
    drop(client);
    transport.resume_reading();
    assert!(log.wait_lost().await.is_none());
    server.close();
}

/// T11: pausing from another task while data flows: once `pause_reading()`
/// returns and the in-flight callback (if any) is done, no `dr` arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t11_pause_reading_from_another_task() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(Events::new).await;
    let mut client = raw_connect(addr).await;
    let log = next_log(&mut rx).await;
    log.wait_for("cm").await; // the server registers a connection before connection_made
    let transport = server.connections().pop().unwrap();
    raw_write(&mut client, b"a").await;
    log.wait_data(1).await;
    transport.pause_reading();
    let seen = log.count("dr");
    for _ in 0..10 {
        raw_write(&mut client, b"more").await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // At most a callback already in progress when pause_reading was called.
    assert!(log.count("dr") <= seen + 1, "{:?}", log.events());
    let frozen = log.count("dr");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(log.count("dr"), frozen);
    transport.resume_reading();
    log.wait_data(41).await;
    transport.close();
    log.wait_lost().await;
    server.close();
}

/// T12: a peer reset (SO_LINGER 0) gives `connection_lost(ConnectionReset)`
/// with no `eof_received`.
#[tokio::test]
async fn t12_peer_reset_gives_connection_lost_error_without_eof() {
    init_tracing();
    let (server, addr, mut rx) = recording_server(Events::new).await;
    let mut client = raw_connect(addr).await;
    let log = next_log(&mut rx).await;
    raw_write(&mut client, b"data").await;
    log.wait_data(4).await;
    reset(client);
    let lost = log.wait_lost().await.expect("a reset is an error");
    assert_eq!(lost.io_kind(), Some(ErrorKind::ConnectionReset), "{lost}");
    assert!(lost.is_closed());
    assert_eq!(log.count("eof"), 0);
    assert_eq!(log.trace()[..2], ["cm", "dr"]);
    assert_eq!(log.trace().len(), 3);
    server.close();
}
