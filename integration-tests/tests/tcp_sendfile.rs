//! `Transport::sendfile` (asyncio's `loop.sendfile`): zero-copy over TCP and
//! Unix sockets, the chunked fallback over TLS, pipes and foreign streams,
//! offset/count and the file position, the order with earlier writes, reading
//! paused meanwhile, writes refused meanwhile, and how closed, aborted and
//! reset transports end a transfer.

mod support;

use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use aioproto::{
    BaseProtocol, Error, Protocol, ServerOptions, Transport, connect_stream, connect_write_pipe,
    create_unix_connection, create_unix_server,
};
use support::pki::*;
use support::*;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// A file of `len` bytes whose content depends on the position, in a fresh
/// temporary directory removed on drop.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
    bytes: Vec<u8>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl TempFile {
    fn new(len: usize) -> TempFile {
        let dir = std::env::temp_dir().join(format!(
            "aioproto-sendfile-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data.bin");
        // Not periodic at any power of two, so a misplaced chunk shows.
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
        File::create(&path).unwrap().write_all(&bytes).unwrap();
        TempFile { dir, path, bytes }
    }

    fn open(&self) -> File {
        File::open(&self.path).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const MIB: usize = 1024 * 1024;

/// One accepted connection of a TCP server, its client, and a file.
///
/// The server's protocol records into `log` and answers any data with
/// "after" (see `tcp_reading_paused_and_writes_refused_during_transfer`).
struct Fixture {
    file: TempFile,
    server: aioproto::Server,
    transport: Transport,
    log: Arc<Log>,
    client: tokio::net::TcpStream,
}

/// A TCP server (with these options) whose connections record into a log,
/// answer any data with "after", and hand their transport to the test.
async fn transport_server(
    options: &ServerOptions,
) -> (
    aioproto::Server,
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<Arc<Log>>,
    mpsc::UnboundedReceiver<Transport>,
) {
    let (tx, transports) = mpsc::unbounded_channel();
    let (server, addr, logs) = recording_server_with(options, move |log| {
        let tx = tx.clone();
        Events::new(log)
            .on_made(move |t| {
                let _ = tx.send(t.clone());
            })
            .on_data(|t, _| t.write("after"))
    })
    .await;
    (server, addr, logs, transports)
}

/// A fresh server, a client (with a 4 KiB receive buffer when `slow`), and a
/// file of `len` bytes.
async fn connected(len: usize, slow: bool) -> Fixture {
    init_tracing();
    let (server, addr, mut logs, mut transports) = transport_server(&ServerOptions::new()).await;
    let client = if slow {
        slow_reader(addr)
    } else {
        raw_connect(addr).await
    };
    Fixture {
        file: TempFile::new(len),
        server,
        transport: next_transport(&mut transports).await,
        log: next_log(&mut logs).await,
        client,
    }
}

/// A client with a 4 KiB receive buffer, so a transfer blocks on it soon.
fn slow_reader(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = small_buffer_socket(addr);
    socket.set_nonblocking(true).unwrap();
    tokio::net::TcpStream::from_std(socket).unwrap()
}

/// Reads a stream to its end.
async fn read_all<R: tokio::io::AsyncRead + Unpin>(mut reader: R) -> Vec<u8> {
    let mut buf = Vec::new();
    with_timeout(reader.read_to_end(&mut buf)).await.unwrap();
    buf
}

/// Sends `file` from `offset` to its end over `transport` and closes it,
/// while `peer` reads to the end; returns what `sendfile` returned and what
/// the peer read.
async fn send_and_close<R: tokio::io::AsyncRead + Unpin>(
    transport: &Transport,
    file: &File,
    offset: u64,
    peer: R,
) -> (aioproto::Result<u64>, Vec<u8>) {
    tokio::join!(
        async {
            let sent = transport.sendfile(file, offset, None).await;
            transport.close();
            sent
        },
        read_all(peer)
    )
}

async fn next_transport(rx: &mut mpsc::UnboundedReceiver<Transport>) -> Transport {
    with_timeout(rx.recv()).await.expect("a connection")
}

/// Polls `fut` once, so a `sendfile` call has registered its transfer
/// before the test goes on (the call does that on its first poll).
async fn poll_once<F: Future>(fut: std::pin::Pin<&mut F>) {
    let mut fut = fut;
    std::future::poll_fn(|cx| {
        assert!(
            fut.as_mut().poll(cx).is_pending(),
            "the transfer waits for the peer"
        );
        Poll::Ready(())
    })
    .await;
}

/// A whole file over TCP by zero-copy `sendfile(2)`: `sendfile_zero_copy`
/// succeeds only on the native path, so this proves it is the one taken.
#[tokio::test]
async fn tcp_whole_file_zero_copy() {
    let mut fx = connected(3 * MIB + 17, false).await;
    let f = fx.file.open();
    let (sent, received) = tokio::join!(
        async {
            let sent = fx.transport.sendfile_zero_copy(&f, 0, None).await;
            fx.transport.close();
            sent
        },
        read_all(&mut fx.client)
    );
    assert_eq!(
        sent.expect("zero-copy sendfile"),
        fx.file.bytes.len() as u64
    );
    assert!(received == fx.file.bytes, "the client got the file exactly");
    assert_eq!(
        (&f).stream_position().unwrap(),
        fx.file.bytes.len() as u64,
        "the file position ends past the bytes sent, as asyncio"
    );
    fx.server.close();
}

/// offset and count pick the range; a count past the end sends what is
/// there; an offset at the end sends nothing; count 0 and a directory are
/// invalid arguments.
#[tokio::test]
async fn tcp_offset_and_count() {
    let mut fx = connected(MIB, false).await;
    let f = fx.file.open();
    let dir = File::open(&fx.file.dir).unwrap();
    let transport = &fx.transport;
    let (outcomes, received) = tokio::join!(
        async {
            let a = transport.sendfile(&f, 1000, Some(5000)).await;
            let position = (&f).stream_position().unwrap();
            let b = transport.sendfile(&f, MIB as u64 - 10, Some(500)).await;
            let c = transport.sendfile(&f, MIB as u64, None).await;
            let d = transport.sendfile(&f, 0, Some(0)).await;
            let e = transport.sendfile(&dir, 0, None).await;
            transport.close();
            (a, position, b, c, d, e)
        },
        read_all(&mut fx.client)
    );
    let (a, position, b, c, d, e) = outcomes;
    assert_eq!(a.unwrap(), 5000);
    assert_eq!(position, 6000, "position = offset + sent");
    assert_eq!(b.unwrap(), 10, "a count past the end sends the rest");
    assert_eq!(c.unwrap(), 0, "nothing after the end");
    assert!(matches!(d, Err(Error::InvalidArgument(_))), "{d:?}");
    assert!(matches!(e, Err(Error::InvalidArgument(_))), "{e:?}");
    let mut expected = fx.file.bytes[1000..6000].to_vec();
    expected.extend_from_slice(&fx.file.bytes[MIB - 10..]);
    assert!(received == expected, "the ranges arrived in order");
    fx.server.close();
}

/// Bytes written before `sendfile` arrive before the file, and writes after
/// it returns come after it.
#[tokio::test]
async fn tcp_earlier_writes_go_first() {
    let mut fx = connected(2 * MIB, false).await;
    // More than the high-water mark, so the buffer is not empty when the
    // call starts and has to be drained first.
    let header = vec![b'h'; 300 * 1024];
    let f = fx.file.open();
    let transport = &fx.transport;
    let (sent, received) = tokio::join!(
        async {
            transport.write(header.clone());
            let sent = transport.sendfile(&f, 0, None).await;
            transport.write("trailer");
            transport.close();
            sent
        },
        read_all(&mut fx.client)
    );
    assert_eq!(sent.unwrap(), 2 * MIB as u64);
    let mut expected = header.clone();
    expected.extend_from_slice(&fx.file.bytes);
    expected.extend_from_slice(b"trailer");
    assert!(received == expected, "header, file, trailer, in that order");
    fx.server.close();
}

/// While a file is being sent the protocol gets no data, and a write from
/// elsewhere is dropped (it would land inside the file); afterwards reading
/// resumes and the data sent meanwhile is delivered.
///
/// The protocol answers data with "after": were it called during the
/// transfer, that write would be refused (or land inside the file), so the
/// client getting the file and then "after" shows it ran after the transfer.
#[tokio::test]
async fn tcp_reading_paused_and_writes_refused_during_transfer() {
    let mut fx = connected(8 * MIB, true).await;
    let transport = &fx.transport;
    // The protocol pauses itself; the client's "ping" waits in the kernel.
    transport.pause_reading();
    raw_write(&mut fx.client, b"ping").await;
    let f = fx.file.open();
    let mut call = pin!(transport.sendfile(&f, 0, None));
    poll_once(call.as_mut()).await;
    // Resuming now would read "ping" at once, were the transfer not pausing
    // reading itself; and this write would land inside the file.
    transport.resume_reading();
    transport.write("X");
    let (sent, received) =
        tokio::join!(call, with_timeout(read_exact(&mut fx.client, 8 * MIB + 5)));
    assert_eq!(sent.unwrap(), 8 * MIB as u64);
    assert!(
        received[..8 * MIB] == fx.file.bytes[..],
        "the file exactly, no stray write in it"
    );
    assert_eq!(
        &received[8 * MIB..],
        b"after",
        "data_received ran after the transfer"
    );
    assert_eq!(fx.log.data(), b"ping");
    assert!(transport.is_reading());
    fx.server.close();
}

/// A user's own pause_reading stays in force after the transfer.
#[tokio::test]
async fn tcp_user_pause_kept_after_transfer() {
    let mut fx = connected(64 * 1024, false).await;
    let transport = &fx.transport;
    transport.pause_reading();
    let f = fx.file.open();
    let (sent, received) = tokio::join!(
        transport.sendfile(&f, 0, None),
        with_timeout(read_exact(&mut fx.client, 64 * 1024))
    );
    assert_eq!(sent.unwrap(), 64 * 1024);
    assert!(received == fx.file.bytes);
    assert!(!transport.is_reading(), "the user's pause is left in force");
    raw_write(&mut fx.client, b"later").await;
    transport.resume_reading();
    fx.log.wait_data(5).await;
    assert_eq!(fx.log.data(), b"later");
    fx.server.close();
}

/// A closing or closed transport refuses; a second concurrent call is an
/// invalid state; a close or an abort during the transfer stops it with a
/// "closed" error that carries the bytes sent.
#[tokio::test]
async fn tcp_closed_and_interrupted() {
    for stop in ["close", "abort"] {
        let mut fx = connected(8 * MIB, true).await;
        let f = fx.file.open();
        let transport = &fx.transport;
        let mut call = pin!(transport.sendfile(&f, 0, None));
        poll_once(call.as_mut()).await;
        let second = transport.sendfile(&f, 0, None).await;
        assert!(matches!(second, Err(Error::InvalidState(_))), "{second:?}");
        // Some bytes went out and the transfer is blocked on the client.
        let (outcome, ()) = tokio::join!(call, async {
            let _ = with_timeout(read_exact(&mut fx.client, 1000)).await;
            match stop {
                "close" => transport.close(),
                _ => transport.abort(),
            }
        });
        match outcome {
            Err(Error::SendfileInterrupted { sent, ref source }) => {
                assert!(sent > 0 && sent < 8 * MIB as u64, "{stop}: sent {sent}");
                assert!(source.is_closed(), "{stop}: {source}");
            }
            other => panic!("{stop}: expected SendfileInterrupted, got {other:?}"),
        }
        assert!(outcome.unwrap_err().is_closed());
        let after = transport.sendfile(&f, 0, None).await;
        assert!(matches!(after, Err(Error::Closed(_))), "{stop}: {after:?}");
        fx.server.close();
    }
}

/// The peer resetting the connection mid-transfer ends the call with a
/// "closed" error and the connection with the reset.
#[tokio::test]
async fn tcp_peer_reset_during_transfer() {
    let fx = connected(8 * MIB, true).await;
    let f = fx.file.open();
    let mut client = fx.client;
    let (outcome, ()) = tokio::join!(fx.transport.sendfile(&f, 0, None), async {
        let _ = with_timeout(read_exact(&mut client, 1000)).await;
        reset(client);
    });
    let err = outcome.expect_err("the reset stops the transfer");
    assert!(err.is_closed(), "{err}");
    let lost = fx
        .log
        .wait_lost()
        .await
        .expect("the connection ends with an error");
    assert!(lost.is_closed(), "{lost}");
    fx.server.close();
}

/// Behind a PROXY protocol header sent in one write with the request (the
/// header's read may take request bytes too, which the stream then replays
/// first), the send is still zero-copy.
#[tokio::test]
async fn tcp_zero_copy_behind_a_proxy_header() {
    init_tracing();
    let mut options = ServerOptions::new();
    options.proxy_protocol(aioproto::ProxyProtocol::any());
    let (server, addr, mut logs, mut transports) = transport_server(&options).await;
    let mut client = raw_connect(addr).await;
    raw_write(
        &mut client,
        b"PROXY TCP4 192.0.2.1 192.0.2.2 1111 2222\r\nGET x\n",
    )
    .await;
    let transport = next_transport(&mut transports).await;
    let log = next_log(&mut logs).await;
    log.wait_data(6).await;
    let file = TempFile::new(MIB);
    let f = file.open();
    let (sent, received) = tokio::join!(
        async {
            let sent = transport.sendfile_zero_copy(&f, 0, None).await;
            transport.close();
            sent
        },
        read_all(&mut client)
    );
    assert_eq!(sent.expect("zero-copy behind PROXY"), MIB as u64);
    assert_eq!(&received[..5], b"after", "the protocol's answer to GET x");
    assert!(received[5..] == file.bytes, "then the file");
    server.close();
}

/// Over a Unix socket, zero-copy too.
#[tokio::test]
async fn unix_whole_file_zero_copy() {
    init_tracing();
    let file = TempFile::new(3 * MIB);
    let path = file.dir.join("sock");
    let (tx, mut transports) = mpsc::unbounded_channel();
    struct Hand(mpsc::UnboundedSender<Transport>);
    impl BaseProtocol for Hand {
        fn connection_made(&mut self, transport: &Transport) {
            let _ = self.0.send(transport.clone());
        }
    }
    impl Protocol for Hand {}
    let server = create_unix_server(move || Hand(tx.clone()), &path, &ServerOptions::new())
        .await
        .unwrap();
    let mut client = tokio::net::UnixStream::connect(&path).await.unwrap();
    let transport = next_transport(&mut transports).await;
    let f = file.open();
    let (sent, received) = tokio::join!(
        async {
            let sent = transport.sendfile_zero_copy(&f, 0, None).await;
            transport.close();
            sent
        },
        read_all(&mut client)
    );
    assert_eq!(sent.unwrap(), 3 * MIB as u64);
    assert!(received == file.bytes);
    // And the client side of a Unix connection.
    let (client_transport, _) = create_unix_connection(|| Hand(mpsc::unbounded_channel().0), &path)
        .await
        .unwrap();
    let _accepted = next_transport(&mut transports).await;
    let part = client_transport
        .sendfile_zero_copy(&f, 10, Some(100))
        .await
        .unwrap();
    assert_eq!(part, 100);
    server.close();
}

/// Over TLS the fallback sends the file exactly; refusing the fallback is a
/// clear `SendfileNotAvailable`, with nothing sent.
#[tokio::test]
async fn tls_fallback_and_refused_zero_copy() {
    init_tracing();
    let file = TempFile::new(3 * MIB + 5);
    let pki = Pki::new();
    let mut options = ServerOptions::new();
    options.tls(pki.server_tls("server"));
    let (server, addr, _logs, mut transports) = transport_server(&options).await;
    let client_log = Log::new();
    let (client, _) = with_timeout(connect_tls_recording(
        &client_log,
        "localhost",
        addr.port(),
        pki.client_tls(),
    ))
    .await
    .unwrap();
    let transport = next_transport(&mut transports).await;
    let f = file.open();
    let refused = transport.sendfile_zero_copy(&f, 0, None).await;
    assert!(
        matches!(refused, Err(Error::SendfileNotAvailable(_))),
        "{refused:?}"
    );
    assert_eq!((&f).stream_position().unwrap(), 0, "nothing was sent");
    let sent = with_timeout(transport.sendfile(&f, 0, None)).await;
    assert_eq!(sent.unwrap(), file.bytes.len() as u64);
    transport.close();
    assert_eq!(client_log.wait_lost().await.map(|e| e.to_string()), None);
    assert!(client_log.data() == file.bytes, "the client got the file");
    client.close();
    server.close();
}

/// Over a write pipe the fallback sends the file; a reader thread checks it.
#[tokio::test]
async fn pipe_fallback() {
    init_tracing();
    let file = TempFile::new(2 * MIB + 3);
    let (mut reader, writer) = std::io::pipe().unwrap();
    let reading = std::thread::spawn(move || {
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf).unwrap();
        buf
    });
    let log = Log::new();
    let (transport, _) = connect_write_pipe(|| Events::new(&log), writer).unwrap();
    let f = file.open();
    let refused = transport.sendfile_zero_copy(&f, 0, None).await;
    assert!(matches!(refused, Err(Error::SendfileNotAvailable(_))));
    let sent = with_timeout(transport.sendfile(&f, 0, None)).await;
    assert_eq!(sent.unwrap(), file.bytes.len() as u64);
    transport.close();
    assert_eq!(log.wait_lost().await.map(|e| e.to_string()), None);
    let received = with_timeout(tokio::task::spawn_blocking(move || reading.join().unwrap()))
        .await
        .unwrap();
    assert!(received == file.bytes, "the pipe got the file");
}

/// Over a foreign tokio stream (`connect_stream`), the fallback too.
#[tokio::test]
async fn foreign_stream_fallback() {
    init_tracing();
    let file = TempFile::new(MIB + 1);
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let log = Log::new();
    let (transport, _) = connect_stream(|| Events::new(&log), ours).unwrap();
    let f = file.open();
    let (sent, received) = send_and_close(&transport, &f, 1, &mut theirs).await;
    assert_eq!(sent.unwrap(), MIB as u64);
    assert!(received == file.bytes[1..]);
}

/// The fallback's own chunks go over the high-water mark, but the protocol
/// hears no `pause_writing`/`resume_writing` of them: asyncio lends the
/// transport to a protocol of its own for the transfer. A protocol paused
/// by its own writes before the call hears `resume_writing` once the
/// transfer has drained the buffer.
#[tokio::test]
async fn fallback_keeps_its_flow_control_from_the_protocol() {
    init_tracing();
    let file = TempFile::new(MIB + 7);
    let (ours, mut theirs) = tokio::io::duplex(16 * 1024);
    let log = Log::new();
    let (transport, _) = connect_stream(|| Events::new(&log), ours).unwrap();
    let f = file.open();
    let (sent, received) = send_and_close(&transport, &f, 0, &mut theirs).await;
    assert_eq!(sent.unwrap(), file.bytes.len() as u64);
    assert!(received == file.bytes);
    assert_eq!(log.wait_lost().await.map(|e| e.to_string()), None);
    assert_eq!(log.count("pw"), 0, "{:?}", log.events());
    assert_eq!(log.count("rw"), 0, "{:?}", log.events());

    // Paused by its own writes first: resumed once, after the transfer.
    let (ours, mut theirs) = tokio::io::duplex(16 * 1024);
    let log = Log::new();
    let (transport, _) = connect_stream(|| Events::new(&log), ours).unwrap();
    transport.write(vec![b'w'; 256 * 1024]);
    with_timeout(log.wait_for("pw")).await;
    let (sent, received) = send_and_close(&transport, &f, 0, &mut theirs).await;
    assert_eq!(sent.unwrap(), file.bytes.len() as u64);
    assert_eq!(received.len(), 256 * 1024 + file.bytes.len());
    assert!(received[256 * 1024..] == file.bytes);
    assert_eq!(log.wait_lost().await.map(|e| e.to_string()), None);
    assert_eq!(
        (log.count("pw"), log.count("rw")),
        (1, 1),
        "{:?}",
        log.events()
    );
}
