//! Pipe transports against asyncio's behaviour: spec cases T46–T49.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aioproto::{BaseProtocol, Error, Protocol, Transport, connect_read_pipe, connect_write_pipe};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

/// Records every callback as a short string, asyncio test style.
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
    data: Arc<Mutex<Vec<u8>>>,
    done: watch::Sender<bool>,
    transport: Option<Transport>,
    eof_result: bool,
}

struct Handle {
    events: Arc<Mutex<Vec<String>>>,
    data: Arc<Mutex<Vec<u8>>>,
    done: watch::Receiver<bool>,
}

impl Handle {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
    fn data(&self) -> Vec<u8> {
        self.data.lock().unwrap().clone()
    }
    async fn wait_lost(&mut self) {
        timeout(LIMIT, self.done.wait_for(|d| *d))
            .await
            .expect("connection_lost in time")
            .unwrap();
    }
    async fn wait_data(&self, len: usize) {
        timeout(LIMIT, async {
            while self.data.lock().unwrap().len() < len {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("data in time");
    }
}

fn recorder(eof_result: bool) -> (Recorder, Handle) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let data = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = watch::channel(false);
    (
        Recorder {
            events: events.clone(),
            data: data.clone(),
            done: tx,
            transport: None,
            eof_result,
        },
        Handle {
            events,
            data,
            done: rx,
        },
    )
}

impl Recorder {
    fn push(&self, event: impl Into<String>) {
        self.events.lock().unwrap().push(event.into());
    }
}

impl BaseProtocol for Recorder {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
        self.push("cm");
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        match exc {
            None => self.push("cl"),
            Some(e) => self.push(format!("cl:{:?}", e.io_kind())),
        }
        self.done.send_replace(true);
    }
    fn pause_writing(&mut self) {
        self.push("pause");
    }
    fn resume_writing(&mut self) {
        self.push("resume");
    }
}

impl Protocol for Recorder {
    fn data_received(&mut self, data: Bytes) {
        self.data.lock().unwrap().extend_from_slice(&data);
    }
    fn eof_received(&mut self) -> bool {
        self.push("eof");
        self.eof_result
    }
}

/// T46: data, then EOF gives eof_received and connection_lost(None) even when
/// eof_received returns true.
#[tokio::test]
async fn read_pipe_data_eof_close() {
    for eof_result in [false, true] {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let (proto, mut handle) = recorder(eof_result);
        let (transport, _) = connect_read_pipe(|| proto, reader).unwrap();
        assert_eq!(handle.events(), ["cm"]);
        assert!(transport.extra().pipe_fd.is_some());
        assert!(transport.is_reading());
        writer.write_all(b"1").unwrap();
        writer.write_all(b"2345").unwrap();
        handle.wait_data(5).await;
        assert_eq!(handle.data(), b"12345");
        drop(writer);
        handle.wait_lost().await;
        assert_eq!(handle.events(), ["cm", "eof", "cl"]);
        assert!(transport.is_closing());
    }
}

/// T47: close() on an open read pipe; pause/resume semantics.
#[tokio::test]
async fn read_pipe_close_and_pause() {
    let (reader, mut writer) = std::io::pipe().unwrap();
    let (proto, mut handle) = recorder(false);
    let (transport, _) = connect_read_pipe(|| proto, reader).unwrap();
    transport.pause_reading();
    transport.pause_reading(); // idempotent
    assert!(!transport.is_reading());
    writer.write_all(b"abc").unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(handle.data().is_empty(), "no data while paused");
    transport.resume_reading();
    transport.resume_reading();
    handle.wait_data(3).await;
    transport.close();
    assert!(transport.is_closing());
    handle.wait_lost().await;
    assert_eq!(handle.events(), ["cm", "cl"]);
    // On a closed pipe both are no-ops.
    transport.pause_reading();
    transport.resume_reading();
    assert!(!transport.is_reading());
}

/// T47: a pty master reads like a pipe; the slave closing is EOF.
#[tokio::test]
async fn read_pty_output() {
    let pty = nix::pty::openpty(None, None).unwrap();
    // Raw mode so the line discipline passes bytes through unchanged.
    let mut termios = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
    nix::sys::termios::cfmakeraw(&mut termios);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &termios).unwrap();
    let (proto, mut handle) = recorder(false);
    let (_transport, _) = connect_read_pipe(|| proto, pty.master).unwrap();
    let mut slave = std::fs::File::from(pty.slave);
    slave.write_all(b"1").unwrap();
    slave.write_all(b"2345").unwrap();
    handle.wait_data(5).await;
    assert_eq!(handle.data(), b"12345");
    drop(slave);
    handle.wait_lost().await;
    assert_eq!(handle.events(), ["cm", "eof", "cl"]);
}

/// Regular files cannot be pipe transports.
#[tokio::test]
async fn regular_file_is_rejected() {
    let file = std::fs::File::open("/proc/self/exe").unwrap();
    let (proto, _handle) = recorder(false);
    let Err(err) = connect_read_pipe(|| proto, file) else {
        panic!("a regular file was accepted");
    };
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

/// /dev/null is a character device that epoll refuses: a clear error, no panic.
#[tokio::test]
async fn dev_null_is_rejected() {
    let file = std::fs::File::open("/dev/null").unwrap();
    let (proto, _handle) = recorder(false);
    let Err(err) = connect_read_pipe(|| proto, file) else {
        panic!("/dev/null was accepted");
    };
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

/// T48: writes arrive in order; the reader closing an idle pipe gives
/// connection_lost(None) with no local close; later writes are dropped.
#[tokio::test]
async fn write_pipe_delivery_and_reader_gone() {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let (proto, mut handle) = recorder(false);
    let (transport, _) = connect_write_pipe(|| proto, writer).unwrap();
    assert!(transport.can_write_eof());
    assert_eq!(transport.get_write_buffer_limits(), (16384, 65536));
    transport.write("1");
    transport.write("2345");
    let mut buf = [0u8; 5];
    tokio::task::spawn_blocking(move || {
        reader.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"12345");
        drop(reader);
    })
    .await
    .unwrap();
    handle.wait_lost().await;
    assert_eq!(handle.events(), ["cm", "cl"]);
    for _ in 0..6 {
        transport.write("dropped");
    }
    assert_eq!(transport.get_write_buffer_size(), 0);
}

/// T48 with a socketpair in place of a pipe.
#[tokio::test]
async fn write_pipe_over_socketpair() {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let (proto, mut handle) = recorder(false);
    let (transport, _) = connect_write_pipe(|| proto, ours).unwrap();
    transport.write("hello");
    let mut theirs_reader = theirs;
    let got = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 5];
        theirs_reader.read_exact(&mut buf).unwrap();
        buf
    })
    .await
    .unwrap();
    assert_eq!(&got, b"hello");
    handle.wait_lost().await;
    assert_eq!(handle.events(), ["cm", "cl"]);
}

/// T49: close() flushes 200 KB to a slow reader before connection_lost(None).
#[tokio::test]
async fn write_pipe_close_flushes() {
    for use_write_eof in [false, true] {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let (proto, mut handle) = recorder(false);
        let (transport, _) = connect_write_pipe(|| proto, writer).unwrap();
        transport.write(vec![b'x'; 200_000]);
        if use_write_eof {
            transport.write_eof().unwrap();
        } else {
            transport.close();
        }
        assert!(transport.is_closing());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!handle.events().iter().any(|e| e.starts_with("cl")));
        let n = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            reader.read_to_end(&mut all).unwrap();
            all.len()
        })
        .await
        .unwrap();
        assert_eq!(n, 200_000);
        handle.wait_lost().await;
        assert_eq!(handle.events(), ["cm", "pause", "resume", "cl"]);
    }
}

/// T49: abort() drops the buffer and gives connection_lost(None).
#[tokio::test]
async fn write_pipe_abort_drops() {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let (proto, mut handle) = recorder(false);
    let (transport, _) = connect_write_pipe(|| proto, writer).unwrap();
    transport.write(vec![b'x'; 1_000_000]);
    tokio::task::yield_now().await;
    transport.abort();
    handle.wait_lost().await;
    assert_eq!(handle.events().last().unwrap(), "cl");
    let n = tokio::task::spawn_blocking(move || {
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        all.len()
    })
    .await
    .unwrap();
    assert!(n < 1_000_000, "abort dropped the rest ({n} bytes arrived)");
}

/// T49: with ~1 MB pending, the reader closing gives pause_writing and then
/// connection_lost(BrokenPipe).
#[tokio::test]
async fn write_pipe_broken_with_pending_data() {
    let (reader, writer) = std::io::pipe().unwrap();
    let (proto, mut handle) = recorder(false);
    let (transport, _) = connect_write_pipe(|| proto, writer).unwrap();
    transport.write(vec![b'x'; 1_000_000]);
    timeout(LIMIT, async {
        while !handle.events().contains(&"pause".to_string()) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert!(transport.get_write_buffer_size() > 0);
    drop(reader);
    handle.wait_lost().await;
    assert_eq!(handle.events(), ["cm", "pause", "cl:Some(BrokenPipe)"]);
}

/// tokio's own pipe types are accepted; transports work on a multi-thread runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_pipe_types_on_multi_thread_runtime() {
    let (tx, rx) = tokio::net::unix::pipe::pipe().unwrap();
    let (rproto, mut rhandle) = recorder(false);
    let (wproto, mut whandle) = recorder(false);
    connect_read_pipe(|| rproto, rx).unwrap();
    let (wt, _) = connect_write_pipe(|| wproto, tx).unwrap();
    let writer = wt.clone();
    tokio::spawn(async move {
        for i in 0..100u8 {
            writer.write(vec![i; 1000]);
            tokio::task::yield_now().await;
        }
        writer.close();
    });
    whandle.wait_lost().await;
    rhandle.wait_lost().await;
    let data = rhandle.data();
    assert_eq!(data.len(), 100_000);
    assert!(
        data.chunks(1000)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == i as u8))
    );
}

/// A FIFO reader/writer pair (mkfifo), both ends as transports.
#[tokio::test]
async fn fifo_reader_writer_pair() {
    let dir = std::env::temp_dir().join(format!("aioproto-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fifo");
    let _ = std::fs::remove_file(&path);
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // O_NONBLOCK read open succeeds with no writer; then the writer can open.
    let read_end = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let write_end = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let (rproto, mut rhandle) = recorder(false);
    let (wproto, mut whandle) = recorder(false);
    connect_read_pipe(|| rproto, read_end).unwrap();
    let (wt, _) = connect_write_pipe(|| wproto, write_end).unwrap();
    let payload: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    wt.write(payload.clone());
    wt.close();
    whandle.wait_lost().await;
    rhandle.wait_lost().await;
    assert_eq!(rhandle.data(), payload);
    assert_eq!(rhandle.events(), ["cm", "eof", "cl"]);
    assert_eq!(whandle.events(), ["cm", "pause", "resume", "cl"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

use std::os::unix::fs::OpenOptionsExt;
