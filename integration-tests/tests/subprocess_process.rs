//! The high-level Process (create_subprocess_exec/shell): spec cases T58 and T59.

use std::time::Duration;

use aioproto::{Stdio, SubprocessOptions, create_subprocess_exec, create_subprocess_shell};
use bytes::Bytes;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

fn no_args() -> Vec<&'static str> {
    Vec::new()
}

fn out_only() -> SubprocessOptions {
    let mut options = SubprocessOptions::new();
    options.stderr(Stdio::Inherit);
    options
}

/// T58: cat with stdin and stdout pipes: write, drain, close, read, wait.
#[tokio::test]
async fn stdin_stdout_through_cat() {
    let proc = create_subprocess_exec("cat", no_args(), &out_only())
        .await
        .unwrap();
    let stdin = proc.stdin.as_ref().unwrap();
    stdin.write("some data");
    stdin.drain().await.unwrap();
    stdin.close();
    let data = timeout(LIMIT, proc.stdout.as_ref().unwrap().read_to_end())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(data, "some data");
    assert_eq!(timeout(LIMIT, proc.wait()).await.unwrap().unwrap(), 0);
}

/// T58: communicate with and without input.
#[tokio::test]
async fn communicate_with_and_without_input() {
    let mut proc = create_subprocess_exec("cat", no_args(), &out_only())
        .await
        .unwrap();
    let (out, err) = timeout(
        LIMIT,
        proc.communicate(Some(Bytes::from_static(b"some data"))),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(out.unwrap(), "some data");
    assert!(err.is_none());
    assert_eq!(proc.returncode(), Some(0));

    let mut proc = create_subprocess_exec("cat", no_args(), &out_only())
        .await
        .unwrap();
    let (out, _) = timeout(LIMIT, proc.communicate(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.unwrap(), "");
}

/// communicate() moves megabytes both ways at once without deadlocking.
#[tokio::test]
async fn communicate_large_both_ways() {
    let script = "import sys\nd = sys.stdin.buffer.read()\nsys.stdout.buffer.write(d)\nsys.stderr.buffer.write(d[::-1])\n";
    let mut proc = create_subprocess_exec("python3", ["-c", script], &SubprocessOptions::new())
        .await
        .unwrap();
    let input: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let (out, err) = timeout(LIMIT, proc.communicate(Some(input.clone().into())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.unwrap(), input);
    let mut reversed = input;
    reversed.reverse();
    assert_eq!(err.unwrap(), reversed);
}

/// T58: ten concurrent wait() calls all see the same code; shell exit codes.
#[tokio::test]
async fn concurrent_wait_and_shell_exit_code() {
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    let proc = std::sync::Arc::new(
        create_subprocess_exec("sh", ["-c", "sleep 0.1; exit 3"], &options)
            .await
            .unwrap(),
    );
    let mut waits = Vec::new();
    for _ in 0..10 {
        let proc = proc.clone();
        waits.push(tokio::spawn(async move { proc.wait().await.unwrap() }));
    }
    for w in waits {
        assert_eq!(timeout(LIMIT, w).await.unwrap().unwrap(), 3);
    }
    let proc = create_subprocess_shell("exit 7", &options).await.unwrap();
    assert_eq!(timeout(LIMIT, proc.wait()).await.unwrap().unwrap(), 7);
}

/// T58: cancelling a wait() leaves the child alone; kill + wait still works.
#[tokio::test]
async fn cancelled_wait_leaves_child_alone() {
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null);
    let proc = create_subprocess_exec("sleep", ["30"], &options)
        .await
        .unwrap();
    assert!(
        timeout(Duration::from_millis(50), proc.wait())
            .await
            .is_err()
    );
    assert_eq!(proc.returncode(), None);
    proc.kill().unwrap();
    assert_eq!(timeout(LIMIT, proc.wait()).await.unwrap().unwrap(), -9);
}

/// T58: DEVNULL for each stream.
#[tokio::test]
async fn devnull_streams() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null).stderr(Stdio::Null);
    let mut proc = create_subprocess_shell("cat; echo done; echo e >&2", &options)
        .await
        .unwrap();
    assert!(proc.stdin.is_none() && proc.stderr.is_none());
    let (out, err) = timeout(LIMIT, proc.communicate(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.unwrap(), "done\n");
    assert!(err.is_none());

    let mut options = SubprocessOptions::new();
    options.stdout(Stdio::Null).stderr(Stdio::Null);
    let mut proc = create_subprocess_exec("cat", no_args(), &options)
        .await
        .unwrap();
    let (out, _) = timeout(LIMIT, proc.communicate(Some("x".into())))
        .await
        .unwrap()
        .unwrap();
    assert!(out.is_none());
    assert_eq!(proc.returncode(), Some(0));

    let mut proc = create_subprocess_exec("true", no_args(), &options)
        .await
        .unwrap();
    let err = proc.communicate(None).await;
    assert!(err.is_ok());
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null);
    let mut proc = create_subprocess_exec("true", no_args(), &options)
        .await
        .unwrap();
    assert!(proc.communicate(Some("x".into())).await.is_err());
}

/// T59: a child that never reads stdin: drain() fails with a broken pipe or
/// reset, communicate() swallows it.
#[tokio::test]
async fn broken_stdin_pipe() {
    let big = Bytes::from(vec![b'x'; 4 * 1024 * 1024]);
    let proc = create_subprocess_exec("true", no_args(), &out_only())
        .await
        .unwrap();
    let stdin = proc.stdin.as_ref().unwrap();
    stdin.write(big.clone());
    let err = timeout(LIMIT, stdin.drain()).await.unwrap().unwrap_err();
    assert!(
        matches!(
            err.io_kind(),
            Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
        ),
        "{err}"
    );
    assert_eq!(timeout(LIMIT, proc.wait()).await.unwrap().unwrap(), 0);

    let mut proc = create_subprocess_exec("true", no_args(), &out_only())
        .await
        .unwrap();
    let (out, _) = timeout(LIMIT, proc.communicate(Some(big)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.unwrap(), "");
    assert_eq!(proc.returncode(), Some(0));
}

/// T59: with limit=10, 21 bytes on stdout pause and resume the pipe, and
/// communicate() returns all of them.
#[tokio::test]
async fn small_limit_pauses_and_resumes() {
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stderr(Stdio::Inherit)
        .limit(10)
        .unwrap();
    let mut proc = create_subprocess_shell("printf 0123456789; printf 0123456789x", &options)
        .await
        .unwrap();
    let pipe = proc.stdout.as_ref().unwrap().transport().unwrap();
    timeout(LIMIT, async {
        while pipe.is_reading() && !pipe.is_closing() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap();
    assert!(!pipe.is_reading(), "21 > 2 * limit paused the pipe");
    let (out, _) = timeout(LIMIT, proc.communicate(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.unwrap(), "0123456789".to_owned() + "0123456789x");
}

/// T59: 256 KiB from a child that exits is fully readable afterwards.
#[tokio::test]
async fn read_stdout_after_exit() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null).stderr(Stdio::Inherit);
    let proc = create_subprocess_exec("head", ["-c", "262144", "/dev/zero"], &options)
        .await
        .unwrap();
    let stdout = proc.stdout.as_ref().unwrap();
    let mut total = 0;
    loop {
        let chunk = timeout(LIMIT, stdout.read(65536)).await.unwrap().unwrap();
        if chunk.is_empty() {
            break;
        }
        total += chunk.len();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(total, 262144);
    assert_eq!(timeout(LIMIT, proc.wait()).await.unwrap().unwrap(), 0);
}

/// readline over a child's output.
#[tokio::test]
async fn readline_lines() {
    let mut options = SubprocessOptions::new();
    options.stdin(Stdio::Null).stderr(Stdio::Inherit);
    let proc = create_subprocess_shell("echo one; echo two; printf three", &options)
        .await
        .unwrap();
    let stdout = proc.stdout.as_ref().unwrap();
    let mut lines = Vec::new();
    loop {
        let line = timeout(LIMIT, stdout.readline()).await.unwrap().unwrap();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    assert_eq!(lines, ["one\n", "two\n", "three"]);
    assert!(stdout.at_eof());
}

/// Stdio::from_fd: a child's stdout goes into a file the parent opened
/// (asyncio's `stdout=f`).
#[tokio::test]
async fn stdout_can_go_to_a_file() {
    let path = std::env::temp_dir().join(format!("aioproto-child-out-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stdout(Stdio::from_fd(file))
        .stderr(Stdio::Null);
    let proc = create_subprocess_exec("sh", ["-c", "echo into the file"], &options)
        .await
        .unwrap();
    let status = timeout(Duration::from_secs(10), proc.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "into the file\n");
    let _ = std::fs::remove_file(&path);
}

/// pass_fd: the child inherits a descriptor at its number (asyncio's
/// `pass_fds`), and the parent's copy is close-on-exec again afterwards.
#[tokio::test]
async fn pass_fd_keeps_a_descriptor_open_in_the_child() {
    use std::io::Read;
    use std::os::fd::AsRawFd;

    let (mut reader, writer) = std::io::pipe().unwrap();
    let number = writer.as_raw_fd();
    let mut options = SubprocessOptions::new();
    options
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null)
        .pass_fd(writer);
    // dash redirects only fds 0-9; the /proc path reaches any inherited one.
    let script = format!("echo passed > /proc/self/fd/{number}");
    let proc = create_subprocess_exec("sh", ["-c", script.as_str()], &options)
        .await
        .unwrap();
    let status = timeout(Duration::from_secs(10), proc.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 0, "the child could write to fd {number}");
    drop(options); // our copy of the write end
    let mut got = String::new();
    reader.read_to_string(&mut got).unwrap();
    assert_eq!(got, "passed\n");
}
