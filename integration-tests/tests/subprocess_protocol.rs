//! subprocess_exec / subprocess_shell with a SubprocessProtocol: spec cases
//! T50–T57, big outputs, signals and reaping.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aioproto::{
    Error, Stdio, SubprocessOptions, SubprocessProtocol, SubprocessTransport, subprocess_exec,
    subprocess_shell,
};
use bytes::Bytes;
use nix::sys::signal::Signal;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Made,
    Data(i32, Vec<u8>),
    PipeLost(i32, Option<std::io::ErrorKind>),
    Exited(Option<i32>),
    Lost,
}

/// Records callbacks; keeps the transport from connection_made.
#[derive(Default)]
struct Rec {
    events: Vec<Ev>,
    out: [Vec<u8>; 3],
    transport: Option<SubprocessTransport>,
}

impl SubprocessProtocol for Rec {
    fn connection_made(&mut self, transport: &SubprocessTransport) {
        assert!(self.events.is_empty());
        self.transport = Some(transport.clone());
        self.events.push(Ev::Made);
    }
    fn pipe_data_received(&mut self, fd: i32, data: Bytes) {
        assert_eq!(self.events.first(), Some(&Ev::Made));
        assert!(!self.events.contains(&Ev::Lost));
        self.out[fd as usize].extend_from_slice(&data);
        // Merge adjacent chunks so the event list stays small.
        match self.events.last_mut() {
            Some(Ev::Data(last_fd, bytes)) if *last_fd == fd => bytes.extend_from_slice(&data),
            _ => self.events.push(Ev::Data(fd, data.to_vec())),
        }
    }
    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
        assert!(!self.events.contains(&Ev::Lost));
        self.events
            .push(Ev::PipeLost(fd, exc.and_then(|e| e.io_kind())));
    }
    fn process_exited(&mut self) {
        let rc = self.transport.as_ref().and_then(|t| t.returncode());
        self.events.push(Ev::Exited(rc));
    }
    fn connection_lost(&mut self, exc: Option<Error>) {
        assert!(exc.is_none());
        self.events.push(Ev::Lost);
        self.transport = None;
    }
}

fn events(p: &Arc<Mutex<Rec>>) -> Vec<Ev> {
    p.lock().unwrap().events.clone()
}

fn out(p: &Arc<Mutex<Rec>>, fd: usize) -> Vec<u8> {
    p.lock().unwrap().out[fd].clone()
}

async fn closed(t: &SubprocessTransport) {
    timeout(LIMIT, t.wait_closed())
        .await
        .expect("connection_lost in time");
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    timeout(LIMIT, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

const ECHO_PY: &str = "import sys\nwhile True:\n    d = sys.stdin.buffer.read1(4096)\n    if not d: break\n    sys.stdout.buffer.write(d); sys.stdout.buffer.flush()\n";

/// T50: interactive echo child; close() kills it; connection_lost last.
#[tokio::test]
async fn interactive_echo_and_close_kills() {
    let (t, p) = subprocess_exec(
        Rec::default,
        "python3",
        ["-c", ECHO_PY],
        &SubprocessOptions::new(),
    )
    .await
    .unwrap();
    assert!(t.pid() > 0);
    assert_eq!(t.returncode(), None);
    let stdin = t.get_pipe_transport(0).unwrap();
    stdin.write("Python ");
    until("first echo", || out(&p, 1) == b"Python ").await;
    stdin.write("The Winner");
    until("second echo", || out(&p, 1) == b"Python The Winner").await;
    t.close();
    assert!(t.is_closing());
    closed(&t).await;
    assert_eq!(t.returncode(), Some(-(Signal::SIGKILL as i32)));
    assert_eq!(events(&p).last(), Some(&Ev::Lost));
    // close() again, after the end: nothing happens.
    t.close();
}

/// T51: closing stdin ends `cat`-like children; every pipe loss precedes connection_lost.
#[tokio::test]
async fn shell_stdin_close_ends_child() {
    let (t, p) = subprocess_shell(Rec::default, "echo Python", &SubprocessOptions::new())
        .await
        .unwrap();
    t.get_pipe_transport(0).unwrap().close();
    assert_eq!(timeout(LIMIT, t.wait()).await.unwrap().unwrap(), 0);
    closed(&t).await;
    let ev = events(&p);
    let lost_at = ev.iter().position(|e| *e == Ev::Lost).unwrap();
    assert_eq!(lost_at, ev.len() - 1);
    for fd in 0..3 {
        assert!(ev[..lost_at].contains(&Ev::PipeLost(fd, None)), "{ev:?}");
    }
    assert_eq!(out(&p, 1), b"Python\n");
    assert_eq!(out(&p, 2), b"");
}

/// T52: exit code with no pipes; close() after the end; a new process group.
#[tokio::test]
async fn exit_code_without_pipes() {
    for new_group in [false, true] {
        let mut options = SubprocessOptions::new();
        options
            .stdin(Stdio::Null)
            .stdout(Stdio::Null)
            .stderr(Stdio::Null)
            .new_process_group(new_group);
        let (t, p) = subprocess_shell(Rec::default, "exit 7", &options)
            .await
            .unwrap();
        for fd in 0..3 {
            assert!(t.get_pipe_transport(fd).is_none());
        }
        assert_eq!(timeout(LIMIT, t.wait()).await.unwrap().unwrap(), 7);
        closed(&t).await;
        assert_eq!(events(&p), [Ev::Made, Ev::Exited(Some(7)), Ev::Lost]);
        t.close();
        assert_eq!(t.returncode(), Some(7));
    }
}

/// T53: kill, terminate and SIGHUP give -9, -15, -1; after the end every
/// signal fails with ESRCH and returncode keeps its value.
#[tokio::test]
async fn signals_and_post_exit_errors() {
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    for (how, expected) in [("kill", -9), ("terminate", -15), ("hup", -1)] {
        let (t, _p) = subprocess_exec(Rec::default, "sleep", ["30"], &options)
            .await
            .unwrap();
        match how {
            "kill" => t.kill().unwrap(),
            "terminate" => t.terminate().unwrap(),
            _ => t.send_signal(Signal::SIGHUP as i32).unwrap(),
        }
        assert_eq!(timeout(LIMIT, t.wait()).await.unwrap().unwrap(), expected);
        closed(&t).await;
        for err in [
            t.kill(),
            t.terminate(),
            t.send_signal(Signal::SIGHUP as i32),
        ] {
            assert_eq!(err.unwrap_err().raw_os_error(), Some(nix::libc::ESRCH));
        }
        assert_eq!(t.returncode(), Some(expected));
    }
}

/// T53: a signal racing with the child's own exit never corrupts its status.
#[tokio::test]
async fn signal_race_with_exit() {
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    let (t, _p) = subprocess_exec(Rec::default, "true", Vec::<&str>::new(), &options)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    // Exited, perhaps not processed yet: either ESRCH or (if still running) Ok.
    if let Err(e) = t.send_signal(Signal::SIGHUP as i32) {
        assert_eq!(e.raw_os_error(), Some(nix::libc::ESRCH));
    }
    let rc = timeout(LIMIT, t.wait()).await.unwrap().unwrap();
    assert!(rc == 0 || rc == -1, "{rc}");
    assert_ne!(rc, 255);
}

/// Invalid signal numbers are rejected.
#[tokio::test]
async fn invalid_signal_number() {
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    let (t, _p) = subprocess_exec(Rec::default, "sleep", ["30"], &options)
        .await
        .unwrap();
    assert!(matches!(
        t.send_signal(12345),
        Err(Error::InvalidArgument(_))
    ));
    t.close();
    closed(&t).await;
}

const OUT_ERR_PY: &str = "import sys\nd = sys.stdin.read()\nsys.stdout.write('OUT:' + d); sys.stdout.flush()\nsys.stderr.write('ERR:' + d); sys.stderr.flush()\n";

/// T54: stderr separate, and merged into stdout.
#[tokio::test]
async fn stderr_separate_and_merged() {
    let (t, p) = subprocess_exec(
        Rec::default,
        "python3",
        ["-c", OUT_ERR_PY],
        &SubprocessOptions::new(),
    )
    .await
    .unwrap();
    let stdin = t.get_pipe_transport(0).unwrap();
    stdin.write("test");
    stdin.close();
    assert_eq!(timeout(LIMIT, t.wait()).await.unwrap().unwrap(), 0);
    closed(&t).await;
    assert_eq!(out(&p, 1), b"OUT:test");
    assert!(out(&p, 2).starts_with(b"ERR:test"));

    let mut options = SubprocessOptions::new();
    options.stderr(Stdio::Stdout);
    let (t, p) = subprocess_exec(Rec::default, "python3", ["-c", OUT_ERR_PY], &options)
        .await
        .unwrap();
    assert!(t.get_pipe_transport(2).is_none());
    let stdin = t.get_pipe_transport(0).unwrap();
    stdin.write("test");
    stdin.close();
    assert_eq!(timeout(LIMIT, t.wait()).await.unwrap().unwrap(), 0);
    closed(&t).await;
    assert!(out(&p, 1).starts_with(b"OUT:testERR:test"));
    assert_eq!(out(&p, 2), b"");
}

const CLOSE_CLIENT_PY: &str = "import sys\nwhile True:\n    d = sys.stdin.buffer.read1(4096)\n    if not d: break\n    try:\n        sys.stdout.buffer.write(b'OUT:' + d); sys.stdout.buffer.flush()\n    except OSError as e:\n        sys.stderr.write('ERR:' + type(e).__name__); sys.stderr.flush()\n";

/// T55: closing our stdout reader breaks the child's writes.
#[tokio::test]
async fn closing_stdout_reader_breaks_child_writes() {
    let (t, p) = subprocess_exec(
        Rec::default,
        "python3",
        ["-c", CLOSE_CLIENT_PY],
        &SubprocessOptions::new(),
    )
    .await
    .unwrap();
    let stdin = t.get_pipe_transport(0).unwrap();
    stdin.write("test");
    until("OUT:test", || out(&p, 1) == b"OUT:test").await;
    t.get_pipe_transport(1).unwrap().close();
    until("pipe 1 lost", || {
        events(&p).contains(&Ev::PipeLost(1, None))
    })
    .await;
    stdin.write("xxx");
    until("ERR", || out(&p, 2) == b"ERR:BrokenPipeError").await;
    t.close();
    closed(&t).await;
    assert_eq!(t.returncode(), Some(-9));
}

/// T56: the exact event set, per-fd order, and a grandchild holding stdout.
#[tokio::test]
async fn event_set_and_grandchild() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null);
    let (t, p) = subprocess_shell(Rec::default, "printf stdout; printf stderr >&2", &options)
        .await
        .unwrap();
    closed(&t).await;
    let ev = events(&p);
    assert_eq!(ev.first(), Some(&Ev::Made));
    assert_eq!(ev.last(), Some(&Ev::Lost));
    let mut middle = ev[1..ev.len() - 1].to_vec();
    for fd in [1, 2] {
        let data = middle
            .iter()
            .position(|e| matches!(e, Ev::Data(f, _) if *f == fd));
        let lost = middle.iter().position(|e| *e == Ev::PipeLost(fd, None));
        assert!(data.unwrap() < lost.unwrap(), "{ev:?}");
    }
    middle.sort_by_key(|e| format!("{e:?}"));
    assert_eq!(
        middle,
        [
            Ev::Data(1, b"stdout".to_vec()),
            Ev::Data(2, b"stderr".to_vec()),
            Ev::Exited(Some(0)),
            Ev::PipeLost(1, None),
            Ev::PipeLost(2, None),
        ]
    );

    // A grandchild keeps stdout open: wait() and process_exited come at the
    // child's exit, pipe 1's loss and connection_lost only at the grandchild's.
    let (t, p) = subprocess_shell(Rec::default, "echo early; (sleep 1; echo late) &", &options)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    assert_eq!(timeout(LIMIT, t.wait()).await.unwrap().unwrap(), 0);
    assert!(started.elapsed() < Duration::from_millis(900));
    let ev = events(&p);
    assert!(ev.contains(&Ev::Exited(Some(0))));
    assert!(
        !ev.contains(&Ev::PipeLost(1, None)) && !ev.contains(&Ev::Lost),
        "{ev:?}"
    );
    closed(&t).await;
    assert_eq!(out(&p, 1), b"early\nlate\n");
    assert_eq!(events(&p).last(), Some(&Ev::Lost));
}

/// T57: close() kills a long-running child, which is then reaped.
#[tokio::test]
async fn close_kills_running_child() {
    let (t, p) = subprocess_exec(Rec::default, "sleep", ["30"], &SubprocessOptions::new())
        .await
        .unwrap();
    t.close();
    timeout(Duration::from_secs(5), t.wait_closed())
        .await
        .unwrap();
    assert_eq!(t.returncode(), Some(-9));
    assert!(events(&p).contains(&Ev::Exited(Some(-9))));
    assert!(!is_zombie(t.pid()));
}

/// T57: argument validation.
#[tokio::test]
async fn argument_validation() {
    let options = SubprocessOptions::new();
    let r = subprocess_exec(Rec::default, "", ["x"], &options).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    let r = subprocess_exec(Rec::default, "echo", ["a\0b"], &options).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    let r = subprocess_shell(Rec::default, "", &options).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    let mut bad = SubprocessOptions::new();
    bad.stdin(Stdio::Stdout);
    let r = subprocess_exec(Rec::default, "true", Vec::<&str>::new(), &bad).await;
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    let r = subprocess_exec(
        Rec::default,
        "/nonexistent/program",
        Vec::<&str>::new(),
        &options,
    )
    .await;
    assert_eq!(
        r.err().and_then(|e| e.io_kind()),
        Some(std::io::ErrorKind::NotFound)
    );
}

/// env, env_clear and current_dir reach the child.
#[tokio::test]
async fn env_and_cwd() {
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .env_clear()
        .env("AIOPROTO_X", "42")
        .current_dir("/tmp");
    let (t, p) = subprocess_exec(
        Rec::default,
        "/bin/sh",
        ["-c", "echo $AIOPROTO_X; pwd; echo ${HOME:-nohome}"],
        &options,
    )
    .await
    .unwrap();
    closed(&t).await;
    assert_eq!(out(&p, 1), b"42\n/tmp\nnohome\n");
}

/// A child killed by a signal reports it as a negative return code.
#[tokio::test]
async fn child_killed_by_signal_reports_it() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null);
    let (t, p) = subprocess_shell(Rec::default, "kill -TERM $$", &options)
        .await
        .unwrap();
    assert_eq!(timeout(LIMIT, t.wait()).await.unwrap().unwrap(), -15);
    closed(&t).await;
    assert!(events(&p).contains(&Ev::Exited(Some(-15))));
}

/// 10 MiB on stdout and 10 MiB on stderr at once: no deadlock, every byte.
#[tokio::test]
async fn ten_mib_on_both_outputs() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null);
    let script = "import os, sys\nchunk = b'o' * 65536\nerr = b'e' * 65536\nfor _ in range(160):\n    os.write(1, chunk) if True else None\n    sys.stderr.buffer.write(err); sys.stderr.buffer.flush()\n";
    let (t, p) = subprocess_exec(Rec::default, "python3", ["-c", script], &options)
        .await
        .unwrap();
    closed(&t).await;
    assert_eq!(t.returncode(), Some(0));
    let (o, e) = (out(&p, 1), out(&p, 2));
    assert_eq!(o.len(), 10 * 1024 * 1024);
    assert_eq!(e.len(), 10 * 1024 * 1024);
    assert!(o.iter().all(|&b| b == b'o') && e.iter().all(|&b| b == b'e'));
}

/// Writing 10 MiB into `cat` while reading its output: flow control on stdin.
#[tokio::test]
async fn stream_through_cat_with_flow_control() {
    #[derive(Default)]
    struct Pump {
        sent: usize,
        got: usize,
        paused: bool,
        pauses: usize,
        stdin: Option<aioproto::Transport>,
    }
    const TOTAL: usize = 10 * 1024 * 1024;
    impl Pump {
        fn pump(&mut self) {
            let chunk = Bytes::from_static(&[7u8; 65536]);
            while !self.paused && self.sent < TOTAL {
                self.sent += chunk.len();
                self.stdin.as_ref().unwrap().write(chunk.clone());
            }
            if self.sent >= TOTAL {
                self.stdin.as_ref().unwrap().close();
            }
        }
    }
    impl SubprocessProtocol for Pump {
        fn connection_made(&mut self, t: &SubprocessTransport) {
            self.stdin = t.get_pipe_transport(0);
            self.pump();
        }
        fn pause_writing(&mut self) {
            self.paused = true;
            self.pauses += 1;
        }
        fn resume_writing(&mut self) {
            self.paused = false;
            self.pump();
        }
        fn pipe_data_received(&mut self, _fd: i32, data: Bytes) {
            self.got += data.len();
        }
    }
    let (t, p) = subprocess_exec(
        Pump::default,
        "cat",
        Vec::<&str>::new(),
        &SubprocessOptions::new(),
    )
    .await
    .unwrap();
    closed(&t).await;
    let p = p.lock().unwrap();
    assert_eq!(p.got, TOTAL);
    assert!(p.pauses > 0);
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Zombie children of this test process (any thread).
fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split(' ');
        let state = fields.next();
        let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
        if state == Some("Z") && ppid == Some(me) {
            out.push(pid);
        }
    }
    out
}

/// 200 short-lived children, some closed early, some dropped: no zombie remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_children_no_zombies() {
    let mut handles = Vec::new();
    for i in 0..200 {
        let mut options = SubprocessOptions::new();
        options.stdin(Stdio::Null);
        let cmd = if i % 10 == 0 { "sleep 30" } else { "echo hi" };
        let (t, _p) = subprocess_shell(Rec::default, cmd, &options).await.unwrap();
        if i % 10 == 0 {
            t.close();
        }
        handles.push(t);
    }
    for t in &handles {
        closed(t).await;
        assert!(t.returncode().is_some());
    }
    drop(handles);
    // Reaping happened before wait_closed resolved; give the kernel no excuse.
    until("no zombies", || zombie_children().is_empty()).await;
}

/// A panic in connection_made fails the call; the child is killed and reaped
/// and the protocol hears nothing more.
#[tokio::test]
async fn connection_made_panic_kills_child() {
    struct Boom;
    impl SubprocessProtocol for Boom {
        fn connection_made(&mut self, transport: &SubprocessTransport) {
            PID.store(transport.pid(), std::sync::atomic::Ordering::SeqCst);
            panic!("boom");
        }
        fn process_exited(&mut self) {
            panic!("no callback after a failed start");
        }
    }
    static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let r = subprocess_exec(|| Boom, "sleep", ["30"], &SubprocessOptions::new()).await;
    assert!(matches!(r, Err(Error::CallbackPanicked { .. })));
    let pid = PID.load(std::sync::atomic::Ordering::SeqCst);
    until("the child is reaped", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
                // A recycled pid belongs to someone else; ours is gone.
                !s.contains("(sleep)")
            })
    })
    .await;
}

/// A panic in pipe_data_received ends that pipe with the panic; the rest goes on.
#[tokio::test]
async fn pipe_callback_panic_ends_that_pipe() {
    #[derive(Default)]
    struct Picky {
        lost: Vec<(i32, bool)>,
        exited: bool,
    }
    impl SubprocessProtocol for Picky {
        fn pipe_data_received(&mut self, fd: i32, _data: Bytes) {
            if fd == 2 {
                panic!("no stderr please");
            }
        }
        fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
            self.lost.push((fd, exc.is_some_and(|e| e.is_panic())));
        }
        fn process_exited(&mut self) {
            self.exited = true;
        }
    }
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null);
    let (t, p) = subprocess_shell(Picky::default, "echo out; echo err >&2", &options)
        .await
        .unwrap();
    closed(&t).await;
    let p = p.lock().unwrap_or_else(|e| e.into_inner());
    assert!(p.exited);
    assert!(p.lost.contains(&(2, true)), "{:?}", p.lost);
    assert!(p.lost.contains(&(1, false)), "{:?}", p.lost);
}

/// Dropping every handle of a running child leaves it running; it is still
/// reaped when it exits (no zombie), and its output is still drained.
#[tokio::test]
async fn dropped_handles_still_reap() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null);
    let (t, p) = subprocess_shell(Rec::default, "sleep 0.1; echo bye", &options)
        .await
        .unwrap();
    let pid = t.pid();
    let weak = Arc::downgrade(&p);
    drop((t, p));
    until("the child is reaped", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
    .await;
    assert!(!is_zombie(pid));
    // Once everything ended, the protocol was released (no reference cycle).
    until("the protocol is freed", || weak.strong_count() == 0).await;
}
