//! `add_reader`/`add_writer`/`remove_reader`/`remove_writer` over real
//! descriptors: Unix socket pairs, pipes and a regular file.

mod support;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aioproto::{EventLoop, Future, get_running_loop};
use support::{run_loop, with_timeout};

/// Awaits a task, future or any awaitable, bounded by the test timeout.
async fn within<F: std::future::IntoFuture>(f: F) -> F::Output {
    with_timeout(f.into_future()).await
}

fn pair() -> (UnixStream, Arc<UnixStream>) {
    let (a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    (a, Arc::new(b))
}

#[test]
fn reader_is_level_triggered_until_drained() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (mut a, b) = pair();
        let got = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(AtomicUsize::new(0));
        let all = Future::<()>::new();
        let (r, g, c, done) = (b.clone(), got.clone(), calls.clone(), all.clone());
        // Reads one byte per call: the rest keeps the descriptor readable, so
        // the callback must come again without any new data.
        lp.add_reader(&*b, move || {
            c.fetch_add(1, Ordering::SeqCst);
            let mut one = [0u8; 1];
            if let Ok(1) = (&*r).read(&mut one) {
                let mut g = g.lock().unwrap();
                g.push(one[0]);
                if g.len() == 3 {
                    let _ = done.set_result(());
                }
            }
        })
        .unwrap();
        a.write_all(b"abc").unwrap();
        within(all).await.unwrap();
        assert_eq!(*got.lock().unwrap(), b"abc");
        assert!(lp.remove_reader(b.as_raw_fd()));
        assert!(
            !lp.remove_reader(b.as_raw_fd()),
            "second remove finds nothing"
        );

        // A new reader on the same descriptor sees the new data; by the time it
        // has run, the removed one would have been called too.
        let before = calls.load(Ordering::SeqCst);
        a.write_all(b"more").unwrap();
        let barrier = Future::<()>::new();
        let bar = barrier.clone();
        lp.add_reader(&*b, move || {
            let _ = bar.set_result(());
        })
        .unwrap();
        within(barrier).await.unwrap();
        assert!(lp.remove_reader(b.as_raw_fd()));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before,
            "removed: no more calls"
        );
    });
}

#[test]
fn adding_again_replaces_the_callback() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (mut a, b) = pair();
        let first = Arc::new(AtomicUsize::new(0));
        let f = first.clone();
        lp.add_reader(&*b, move || {
            f.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        let second = Future::<Vec<u8>>::new();
        let (r, s) = (b.clone(), second.clone());
        lp.add_reader(&*b, move || {
            let mut buf = [0u8; 16];
            let n = (&*r).read(&mut buf).unwrap_or(0);
            let _ = s.set_result(buf[..n].to_vec());
        })
        .unwrap();
        a.write_all(b"x").unwrap();
        assert_eq!(within(second).await.unwrap(), b"x");
        assert_eq!(
            first.load(Ordering::SeqCst),
            0,
            "the replaced callback never ran"
        );
        assert!(lp.remove_reader(b.as_raw_fd()));
    });
}

#[test]
fn writer_runs_while_writable_and_stops_when_removed_from_its_callback() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (mut a, b) = pair();
        let calls = Arc::new(AtomicUsize::new(0));
        let finished = Future::<()>::new();
        let (w, c, l2, done) = (b.clone(), calls.clone(), lp.clone(), finished.clone());
        // asyncio's pattern: write from the writer callback, remove it when done.
        lp.add_writer(&*b, move || {
            let n = c.fetch_add(1, Ordering::SeqCst) + 1;
            (&*w).write_all(format!("{n};").as_bytes()).unwrap();
            if n == 3 {
                assert!(l2.remove_writer(w.as_raw_fd()));
                let _ = done.set_result(());
            }
        })
        .unwrap();
        within(finished).await.unwrap();
        // Another writer on the same descriptor runs; the removed one does not.
        let barrier = Future::<()>::new();
        let bar = barrier.clone();
        lp.add_writer(&*b, move || {
            let _ = bar.set_result(());
        })
        .unwrap();
        within(barrier).await.unwrap();
        assert!(lp.remove_writer(b.as_raw_fd()));
        assert_eq!(calls.load(Ordering::SeqCst), 3, "no call after the removal");
        let mut buf = [0u8; 16];
        let n = a.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"1;2;3;");
    });
}

#[test]
fn reader_and_writer_on_one_descriptor_are_independent() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (mut a, b) = pair();
        let readable = Future::<()>::new();
        let writable = Future::<()>::new();
        let (r, w) = (readable.clone(), writable.clone());
        lp.add_reader(&*b, move || {
            let _ = r.set_result(());
        })
        .unwrap();
        lp.add_writer(&*b, move || {
            let _ = w.set_result(());
        })
        .unwrap();
        within(writable).await.unwrap();
        assert!(lp.remove_writer(b.as_raw_fd()));
        assert!(!readable.done(), "nothing to read yet");
        a.write_all(b"!").unwrap();
        within(readable).await.unwrap();
        assert!(lp.remove_reader(b.as_raw_fd()));
    });
}

#[test]
fn pipes_work_and_regular_files_are_refused() {
    run_loop(async {
        let lp = get_running_loop().unwrap();
        let (rx, tx) = nix::unistd::pipe().unwrap();
        let got = Future::<()>::new();
        let g = got.clone();
        lp.add_reader(&rx, move || {
            let _ = g.set_result(());
        })
        .unwrap();
        nix::unistd::write(&tx, b"p").unwrap();
        within(got).await.unwrap();
        assert!(lp.remove_reader(rx.as_raw_fd()));

        let file = std::fs::File::open("/proc/self/status")
            .or_else(|_| std::fs::File::open("/etc/hosts"))
            .unwrap();
        let err = lp.add_reader(&file, || {}).unwrap_err();
        assert!(err.io_kind().is_some(), "{err}");
    });
}

#[test]
fn a_panicking_callback_is_reported_and_the_reader_stays() {
    let lp = EventLoop::new().unwrap();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let rep = reports.clone();
    lp.set_exception_handler(Some(Arc::new(move |_: &EventLoop, ctx| {
        rep.lock().unwrap().push(ctx.message.clone());
    })));
    let (mut a, b) = pair();
    let calls = Arc::new(AtomicUsize::new(0));
    let twice = lp.create_future::<()>();
    let (r, c, t) = (b.clone(), calls.clone(), twice.clone());
    lp.add_reader(&*b, move || {
        let mut one = [0u8; 1];
        let _ = (&*r).read(&mut one);
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("first call fails");
        }
        let _ = t.set_result(());
    })
    .unwrap();
    a.write_all(b"12").unwrap();
    lp.run_until_complete(async { within(twice).await })
        .unwrap()
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        reports.lock().unwrap()[0].starts_with("Exception in callback"),
        "{:?}",
        reports.lock().unwrap()
    );
    lp.close().unwrap();
    assert!(!lp.remove_reader(b.as_raw_fd()), "close removed it");
}
