//! Replies: what `data_received` writes while nothing is queued leaves from
//! the driver when the callback returns, not through the write buffer
//! (`transport/replies.rs`). Over real loopback sockets: the order against a
//! writer on another thread, a reply the socket takes only part of, a reply
//! over the high-water mark, and a close right after the reply.

mod support;

use support::*;
use tokio::io::AsyncReadExt;

/// Reads exactly `n` bytes (bounded).
async fn read_n(stream: &mut tokio::net::TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    with_timeout(stream.read_exact(&mut buf))
        .await
        .expect("read");
    buf
}

/// A reply kept for the driver, then a write from another thread while the
/// callback runs, then another reply: the peer gets them in the order the
/// writes were made. The thread's write goes to the buffer, so the driver
/// must put the kept reply in front of it.
#[tokio::test]
async fn a_reply_keeps_its_place_before_a_write_from_another_thread() {
    init_tracing();
    let (server, addr, _logs) = recording_server(|log| {
        Events::new(log).on_data(|t, _| {
            t.write("A");
            // Not sent yet, so counted.
            assert_eq!(t.get_write_buffer_size(), 1);
            let other = t.clone();
            std::thread::spawn(move || other.write("B")).join().unwrap();
            t.write("C");
        })
    })
    .await;
    let mut client = raw_connect(addr).await;
    for round in 0..3 {
        raw_write(&mut client, b"go").await;
        assert_eq!(read_n(&mut client, 3).await, b"ABC", "round {round}");
    }
    server.close();
}

/// A reply far larger than a socket buffer, within a raised high-water
/// mark: the socket takes part of it, the rest is queued in front, and the
/// peer gets every byte in order once it reads.
#[tokio::test]
async fn a_reply_the_socket_takes_only_part_of_arrives_whole() {
    init_tracing();
    const LEN: usize = 3 * 1024 * 1024;
    let reply: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let expected = reply.clone();
    let (server, addr, mut logs) = recording_server(move |log| {
        let reply = reply.clone();
        Events::new(log)
            .on_made(|t| {
                t.set_write_buffer_limits(Some(8 * 1024 * 1024), None)
                    .unwrap()
            })
            .on_data(move |t, _| {
                t.write(reply.clone());
                // Whatever the socket did not take is queued now.
                t.write("!");
            })
    })
    .await;
    let std_client = small_buffer_socket(addr);
    std_client.set_nonblocking(true).unwrap();
    let mut client = tokio::net::TcpStream::from_std(std_client).unwrap();
    let log = next_log(&mut logs).await;
    log.wait_for("cm").await;
    raw_write(&mut client, b"go").await;
    let got = read_n(&mut client, LEN + 1).await;
    assert!(got[..LEN] == expected[..], "the reply arrived out of order");
    assert_eq!(got[LEN], b'!');
    server.close();
}

/// A reply over the high-water mark goes through the buffer, so the
/// protocol is told to pause and then to resume, as for any write (16 MiB:
/// more than the kernel's socket buffers take, so some stays queued).
#[tokio::test]
async fn a_reply_over_the_high_water_mark_pauses_the_protocol() {
    init_tracing();
    const BIG: usize = 16 * 1024 * 1024;
    let (server, addr, mut logs) = recording_server(|log| {
        Events::new(log)
            .on_made(|t| t.set_write_buffer_limits(Some(1024), None).unwrap())
            .on_data(|t, _| t.write(vec![b'x'; BIG]))
    })
    .await;
    let std_client = small_buffer_socket(addr);
    std_client.set_nonblocking(true).unwrap();
    let mut client = tokio::net::TcpStream::from_std(std_client).unwrap();
    let log = next_log(&mut logs).await;
    raw_write(&mut client, b"go").await;
    with_timeout(log.wait_for("pw")).await;
    assert!(read_n(&mut client, BIG).await.iter().all(|&b| b == b'x'));
    with_timeout(log.wait_for("rw")).await;
    server.close();
}

/// `close()` right after the reply, in the same callback: the reply goes
/// first, then the clean close.
#[tokio::test]
async fn a_close_after_the_reply_sends_the_reply_first() {
    init_tracing();
    let (server, addr, mut logs) = recording_server(|log| {
        Events::new(log).on_data(|t, data| {
            t.write(data.clone());
            t.close();
        })
    })
    .await;
    let mut client = raw_connect(addr).await;
    raw_write(&mut client, b"last words").await;
    let mut got = Vec::new();
    with_timeout(client.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"last words");
    let log = next_log(&mut logs).await;
    assert!(with_timeout(log.wait_lost()).await.is_none());
    server.close();
}

/// A reply can skip the lock only while nobody else has taken it since the
/// driver's last pass: a `close()` or `write_eof()` made between two writes
/// of one callback must turn the second away (as asyncio drops a write
/// after `close()`), so the peer gets the first and then the end.
#[tokio::test]
async fn a_write_after_close_or_write_eof_in_the_same_callback_is_dropped() {
    init_tracing();
    for end in ["close", "write_eof"] {
        let (server, addr, _logs) = recording_server(move |log| {
            Events::new(log).on_data(move |t, _| {
                t.write("A");
                match end {
                    "close" => t.close(),
                    _ => t.write_eof().unwrap(),
                }
                t.write("B");
            })
        })
        .await;
        let mut client = raw_connect(addr).await;
        // The driver's first pass, before it reads this, leaves the state
        // quiet: "A" skips the lock, "B" must not.
        raw_write(&mut client, b"go").await;
        let mut got = Vec::new();
        with_timeout(client.read_to_end(&mut got)).await.unwrap();
        assert_eq!(got, b"A", "after {end}()");
        server.close();
    }
}
