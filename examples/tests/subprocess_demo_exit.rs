//! `subprocess_demo` forwards its stdin to the child and exits once the child
//! is done, even while its own stdin stays open.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{TIMEOUT, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

async fn run_with_open_stdin(args: &[&str], input: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_subprocess_demo"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start subprocess_demo");
    let mut stdin = child.stdin.take().expect("piped");
    within(TIMEOUT, "write stdin", stdin.write_all(input.as_bytes()))
        .await
        .expect("write stdin");
    let mut stdout = child.stdout.take().expect("piped");
    let mut out = String::new();
    // The output ends when subprocess_demo exits; stdin is still open then.
    within(
        TIMEOUT,
        "subprocess_demo to finish",
        stdout.read_to_string(&mut out),
    )
    .await
    .expect("read stdout");
    let status = within(Duration::from_secs(1), "the exit", child.wait())
        .await
        .expect("wait");
    drop(stdin);
    (status.code(), out)
}

#[tokio::test]
async fn exits_when_the_child_is_done_while_stdin_stays_open() {
    let (code, out) =
        run_with_open_stdin(&["--", "sh", "-c", "echo hi; echo oops >&2; exit 3"], "").await;
    assert_eq!(code, Some(0));
    assert_eq!(out, "out: hi\nerr: oops\nexit: 3\n");
}

#[tokio::test]
async fn forwards_stdin_lines_to_the_child() {
    let (code, out) = run_with_open_stdin(&["head", "-n", "2"], "one\ntwo\nthree\n").await;
    assert_eq!(code, Some(0));
    assert_eq!(out, "out: one\nout: two\nexit: 0\n");
}
