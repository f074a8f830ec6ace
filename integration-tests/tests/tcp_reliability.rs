//! Reliability: many concurrent connections, a peer that never reads, a peer
//! that resets mid-write, and an accept loop that runs out of file
//! descriptors (issue 3 "Reliability tests"; contract items 4 and 9).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aioproto::{ServerOptions, create_server};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Raises the soft RLIMIT_NOFILE to the hard limit, so a test can open
/// thousands of sockets.
fn raise_fd_limit() -> u64 {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    }
    hard
}

/// 1,000 connections echo concurrently; every byte comes back, in order, on
/// its own connection, and the server ends with no live connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_connections_echo_without_loss() {
    init_tracing();
    const CONNS: usize = 1000;
    const BYTES: usize = 16 * 1024;
    let limit = raise_fd_limit();
    assert!(
        limit >= 2 * CONNS as u64 + 64,
        "RLIMIT_NOFILE hard limit {limit} too low"
    );
    let mut options = ServerOptions::new();
    options.backlog(2048);
    let server = create_server(Echo::default, "127.0.0.1", 0, &options)
        .await
        .unwrap();
    let addr = server.local_addrs()[0];

    let mut clients = tokio::task::JoinSet::new();
    for id in 0..CONNS {
        clients.spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (mut rd, mut wr) = stream.into_split();
            let payload: Vec<u8> = (0..BYTES).map(|i| (i * 7 + id) as u8).collect();
            let expected = payload.clone();
            let writer = tokio::spawn(async move {
                for chunk in payload.chunks(4096) {
                    wr.write_all(chunk).await.unwrap();
                }
                wr.shutdown().await.unwrap();
            });
            let mut echoed = Vec::with_capacity(BYTES);
            rd.read_to_end(&mut echoed).await.unwrap();
            writer.await.unwrap();
            assert!(
                echoed == expected,
                "connection {id} got {} bytes",
                echoed.len()
            );
        });
    }
    with_timeout_of(Duration::from_secs(60), async {
        while let Some(done) = clients.join_next().await {
            done.unwrap();
        }
    })
    .await;
    server.close();
    with_timeout(server.wait_closed()).await;
    assert_eq!(server.connection_count(), 0);
}

/// A client that never reads: the server protocol (which stops producing on
/// `pause_writing`) is paused, its buffer stays near the high-water mark
/// instead of growing, and once the client reads everything arrives and
/// `resume_writing` follows.
#[tokio::test]
async fn client_that_never_reads_pauses_the_server_and_memory_stays_bounded() {
    init_tracing();
    const CHUNK: usize = 16 * 1024;
    let produced = Arc::new(AtomicUsize::new(0));
    let max_buffered = Arc::new(AtomicUsize::new(0));
    let paused = Arc::new(AtomicBool::new(false));
    let (p, m, pa) = (produced.clone(), max_buffered.clone(), paused.clone());
    let (server, addr, mut rx) = recording_server(move |log| {
        let (p, m, pa, pa2, pa3) = (p.clone(), m.clone(), pa.clone(), pa.clone(), pa.clone());
        let log2 = log.clone();
        Events::new(log)
            .on_pause(move |_| pa2.store(true, Ordering::SeqCst))
            .on_resume(move |_| pa3.store(false, Ordering::SeqCst))
            .on_made(move |t| {
                // A producer that respects flow control, as a well-behaved server does.
                let (t, p, m, pa, log) =
                    (t.clone(), p.clone(), m.clone(), pa.clone(), log2.clone());
                tokio::spawn(async move {
                    while !t.is_closing() {
                        if pa.load(Ordering::SeqCst) {
                            let resumes = log.count("rw");
                            log.wait_until("resume", |l| {
                                l.count("rw") > resumes || l.lost_count() > 0
                            })
                            .await;
                            continue;
                        }
                        t.write(vec![0xAB; CHUNK]);
                        p.fetch_add(CHUNK, Ordering::SeqCst);
                        m.fetch_max(t.get_write_buffer_size(), Ordering::SeqCst);
                        tokio::task::yield_now().await;
                    }
                });
            })
    })
    .await;
    let client = small_buffer_socket(addr);
    let log = next_log(&mut rx).await;
    log.wait_for("pw").await;
    let at_pause = produced.load(Ordering::SeqCst);
    // Negative check: while paused, production stops and the buffer stays put.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(paused.load(Ordering::SeqCst));
    assert!(produced.load(Ordering::SeqCst) <= at_pause + CHUNK);
    let high = 64 * 1024;
    let max = max_buffered.load(Ordering::SeqCst);
    assert!(max <= high + 2 * CHUNK, "buffer grew to {max}");

    // The client reads: the server resumes, keeps producing; stop it and count.
    let mut client = tokio::net::TcpStream::from_std({
        client.set_nonblocking(true).unwrap();
        client
    })
    .unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    while log.count("rw") == 0 || got < 4 * 1024 * 1024 {
        let n = with_timeout(client.read(&mut buf)).await.unwrap();
        assert!(n > 0);
        assert!(buf[..n].iter().all(|&b| b == 0xAB));
        got += n;
    }
    server.connections().pop().unwrap().close();
    got += read_to_eof(&mut client).await.len();
    assert!(log.wait_lost().await.is_none());
    assert_eq!(got, produced.load(Ordering::SeqCst), "no byte lost");
    assert!(
        max_buffered.load(Ordering::SeqCst) <= high + 2 * CHUNK,
        "bounded throughout"
    );
    server.close();
}

/// A peer that resets while the server is in the middle of a large write
/// gives `connection_lost(Some(err))` (reset or broken pipe), never a panic or
/// a clean close.
#[tokio::test]
async fn peer_reset_during_a_large_write_is_an_error() {
    init_tracing();
    let (server, addr, mut rx) =
        recording_server(|log| Events::new(log).on_made(|t| t.write(vec![1u8; 64 * 1024 * 1024])))
            .await;
    let mut client = raw_connect(addr).await;
    let log = next_log(&mut rx).await;
    let _ = read_exact(&mut client, 64 * 1024).await;
    log.wait_for("pw").await;
    reset(client);
    let err = log.wait_lost().await.expect("a reset is a failure");
    assert!(err.is_closed(), "{err:?}");
    assert_eq!(log.lost_count(), 1);
    assert_eq!(log.count("eof"), 0);
    server.close();
    with_timeout(server.wait_closed()).await;
}

const EMFILE_CHILD: &str = "AIOPROTO_TEST_EMFILE_CHILD";

/// Child mode of [`accept_loop_survives_running_out_of_file_descriptors`]: an
/// echo server whose process may open only a few more descriptors.
fn emfile_child() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("aioproto=error")
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = create_server(Echo::default, "127.0.0.1", 0, &ServerOptions::new())
            .await
            .unwrap();
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        // Room for three accepted connections, then accept() fails with EMFILE.
        setrlimit(Resource::RLIMIT_NOFILE, open + 3, hard).unwrap();
        println!("PORT {}", server.local_addrs()[0].port());
        std::io::stdout().flush().unwrap();
        // The parent kills us; this bound only guards against a lost parent.
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

fn round_trip(stream: &mut std::net::TcpStream, msg: &[u8], wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(msg).unwrap();
    let mut buf = vec![0u8; msg.len()];
    stream.read_exact(&mut buf).is_ok() && buf == msg
}

/// Contract 9: the accept loop survives EMFILE. A child process (this test
/// binary re-run in child mode) serves echo with a tiny RLIMIT_NOFILE; once
/// its descriptors run out, a further connection waits in the backlog. When
/// the earlier connections close, the server accepts it and echoes, and new
/// connections work again.
#[test]
fn accept_loop_survives_running_out_of_file_descriptors() {
    if std::env::var_os(EMFILE_CHILD).is_some() {
        emfile_child();
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "accept_loop_survives_running_out_of_file_descriptors",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EMFILE_CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stderr = child.stderr.take().unwrap();
    let child = Kill(child);
    let port = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child exited early"
        );
        // libtest prints "test <name> ... " on the same line first.
        if let Some((_, port)) = line.trim().split_once("PORT ") {
            break port.parse::<u16>().unwrap();
        }
    };
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    // Open connections until one is not served: the server is out of descriptors.
    let mut served = Vec::new();
    let mut waiting = None;
    for i in 0..20 {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        if round_trip(
            &mut c,
            format!("hello {i}").as_bytes(),
            Duration::from_millis(700),
        ) {
            served.push(c);
        } else {
            waiting = Some(c);
            break;
        }
    }
    let mut waiting = waiting.expect("the server ran out of descriptors");
    assert!(!served.is_empty(), "some connections were served first");

    // Free the server's descriptors: it must come back to the waiting connection.
    drop(served);
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 7];
    waiting
        .read_exact(&mut buf[..])
        .expect("the waiting connection is served after descriptors free up");
    assert!(buf.starts_with(b"hello "));
    let mut fresh = std::net::TcpStream::connect(addr).unwrap();
    assert!(round_trip(&mut fresh, b"again", Duration::from_secs(10)));

    drop(child);
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    assert!(
        log.contains("accept failed"),
        "the child logged EMFILE: {log}"
    );
}
