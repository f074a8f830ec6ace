//! `remove_signal_handler` (and `close`) give a signal its default action
//! back. The signal would end the test process, so each case runs in a child:
//! this test binary again, asked to run one test with `AIOPROTO_SIGNAL_CHILD`
//! set, whose exit status the parent checks.

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aioproto::EventLoop;
use nix::sys::signal::{Signal, kill};
use nix::unistd::getpid;

const CHILD: &str = "AIOPROTO_SIGNAL_CHILD";

/// Runs test `name` of this binary in a child with [`CHILD`] set; its exit code.
fn child_exit_code(name: &str) -> Option<i32> {
    let exe = std::env::current_exe().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut child = tokio::process::Command::new(exe)
            .args([name, "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD, "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let status = tokio::time::timeout(support::TIMEOUT, child.wait())
            .await
            .expect("child did not exit in time")
            .unwrap();
        status.code()
    })
}

/// In the child: handles `sig` once through the loop, removes the handler
/// with `remove`, then raises `sig` again and waits (bounded) to be ended.
fn handle_then_restore(sig: Signal, remove: impl FnOnce(&EventLoop)) {
    let lp = EventLoop::new().unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let handled = lp.create_future::<()>();
    let h = handled.clone();
    lp.add_signal_handler(sig as i32, move || {
        c.fetch_add(1, Ordering::SeqCst);
        let _ = h.set_result(());
    })
    .unwrap();
    lp.run_until_complete(async {
        kill(getpid(), sig).unwrap();
        tokio::time::timeout(support::TIMEOUT, handled).await
    })
    .unwrap()
    .expect("the handler ran")
    .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    remove(&lp);
    kill(getpid(), sig).unwrap();
    // The default action ends the process; exiting normally means it did not.
    let (_tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = rx.recv_timeout(Duration::from_secs(10));
    std::process::exit(0);
}

#[test]
fn child_sigusr1_after_remove() {
    if std::env::var_os(CHILD).is_some() {
        handle_then_restore(Signal::SIGUSR1, |lp| {
            assert!(lp.remove_signal_handler(Signal::SIGUSR1 as i32).unwrap());
        });
    }
}

#[test]
fn child_sigusr2_after_close() {
    if std::env::var_os(CHILD).is_some() {
        handle_then_restore(Signal::SIGUSR2, |lp| lp.close().unwrap());
    }
}

#[test]
fn child_sigusr1_while_another_loop_keeps_a_handler() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let keeper = EventLoop::new().unwrap();
    let got = keeper.create_future::<()>();
    let g = got.clone();
    keeper
        .add_signal_handler(Signal::SIGUSR1 as i32, move || {
            let _ = g.set_result(());
        })
        .unwrap();
    let other = EventLoop::new().unwrap();
    other
        .add_signal_handler(Signal::SIGUSR1 as i32, || {})
        .unwrap();
    assert!(other.remove_signal_handler(Signal::SIGUSR1 as i32).unwrap());
    let waiter = std::thread::spawn(move || {
        keeper.run_until_complete(async { tokio::time::timeout(support::TIMEOUT, got).await })
    });
    kill(getpid(), Signal::SIGUSR1).unwrap();
    let delivered = matches!(waiter.join(), Ok(Ok(Ok(Ok(())))));
    std::process::exit(if delivered { 0 } else { 1 });
}

#[test]
fn removing_the_last_handler_restores_the_default_action() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    // Killed by SIGUSR1's default action: the process ends with 128 + 10.
    assert_eq!(
        child_exit_code("child_sigusr1_after_remove"),
        Some(128 + Signal::SIGUSR1 as i32)
    );
}

#[test]
fn closing_the_loop_restores_the_default_action() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    assert_eq!(
        child_exit_code("child_sigusr2_after_close"),
        Some(128 + Signal::SIGUSR2 as i32)
    );
}

#[test]
fn a_handler_on_another_loop_keeps_the_signal_caught() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    assert_eq!(
        child_exit_code("child_sigusr1_while_another_loop_keeps_a_handler"),
        Some(0),
        "the keeper's handler still gets it and the child survives"
    );
}
