//! The `file_server` binary over real sockets: files served exactly (plain
//! and TLS, through symlinks that stay inside the root), and every refusal of
//! its contract (not found, forbidden, bad request, an over-long line), the
//! request timeout, usage errors and a clean exit on SIGTERM.

#[path = "support/certs.rs"]
mod certs;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use certs::Certs;
use support::{TIMEOUT, run, start_server, within};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const BIN: &str = env!("CARGO_BIN_EXE_file_server");

/// A served root and, beside it, a directory outside it, removed on drop.
struct Tree {
    base: PathBuf,
    big: Vec<u8>,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Tree {
    fn new() -> Tree {
        let base = std::env::temp_dir().join(format!(
            "aioproto-file-server-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("a.txt"), "hello file\n").unwrap();
        std::fs::write(root.join("sub/b.txt"), "in a subdirectory\n").unwrap();
        let big: Vec<u8> = (0..3 * 1024 * 1024 + 11)
            .map(|i: usize| (i * 13 + i / 509) as u8)
            .collect();
        std::fs::write(root.join("big.bin"), &big).unwrap();
        std::fs::write(outside.join("secret"), "not for you\n").unwrap();
        std::os::unix::fs::symlink("sub/b.txt", root.join("inside")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("outside")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("outdir")).unwrap();
        std::os::unix::fs::symlink("../../outside/secret", root.join("sub/up")).unwrap();
        Tree { base, big }
    }

    fn root(&self) -> String {
        self.base.join("root").display().to_string()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Sends `request` and reads until the server closes; `Err` if the close
/// was not clean (a reset, or TLS without close_notify).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> std::io::Result<Vec<u8>> {
    stream.write_all(request).await?;
    let mut answer = Vec::new();
    within(TIMEOUT, "the answer", stream.read_to_end(&mut answer)).await?;
    Ok(answer)
}

async fn get(addr: SocketAddr, request: &str) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.unwrap();
    exchange(stream, request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{request:?}: not a clean close: {e}"))
}

async fn started(root: &str, more: &[&str]) -> support::Server {
    let mut args = vec!["--root", root, "--port", "0"];
    args.extend_from_slice(more);
    start_server(BIN, &args).await
}

#[tokio::test]
async fn serves_files_and_refuses_the_rest() {
    let tree = Tree::new();
    let server = started(&tree.root(), &[]).await;
    let addr = server.addr;
    assert_eq!(get(addr, "GET a.txt\n").await, b"hello file\n");
    assert_eq!(get(addr, "GET a.txt\r\n").await, b"hello file\n");
    assert_eq!(get(addr, "GET ./sub/b.txt\n").await, b"in a subdirectory\n");
    assert!(
        get(addr, "GET big.bin\n").await == tree.big,
        "big.bin exactly"
    );
    // A symlink that resolves inside the root is served.
    assert_eq!(get(addr, "GET inside\n").await, b"in a subdirectory\n");
    for (request, answer) in [
        ("GET missing\n", "! error: not found\n"),
        ("GET sub/missing\n", "! error: not found\n"),
        ("GET a.txt/x\n", "! error: not found\n"),
        ("GET sub\n", "! error: not found\n"),
        ("GET .\n", "! error: not found\n"),
        ("GET /etc/passwd\n", "! error: forbidden\n"),
        ("GET ../outside/secret\n", "! error: forbidden\n"),
        ("GET sub/../../outside/secret\n", "! error: forbidden\n"),
        ("GET sub/../a.txt\n", "! error: forbidden\n"),
        ("GET outside\n", "! error: forbidden\n"),
        ("GET outdir/secret\n", "! error: forbidden\n"),
        ("GET sub/up\n", "! error: forbidden\n"),
        ("HELLO\n", "! error: bad request\n"),
        ("GET\n", "! error: bad request\n"),
        ("GET \n", "! error: bad request\n"),
        ("get a.txt\n", "! error: bad request\n"),
        ("GET a\0b\n", "! error: bad request\n"),
        ("\n", "! error: bad request\n"),
    ] {
        assert_eq!(
            String::from_utf8_lossy(&get(addr, request).await),
            answer,
            "{request:?}"
        );
    }
    // A line of exactly 4 KiB is a request; one byte more is refused as soon
    // as it arrived, with no newline ever sent.
    let long_name = format!("GET {}\n", "x".repeat(4096 - 4));
    assert_eq!(get(addr, &long_name).await, b"! error: not found\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&[b'G'; 4097]).await.unwrap();
    let mut answer = Vec::new();
    within(TIMEOUT, "the refusal", stream.read_to_end(&mut answer))
        .await
        .expect("a clean close");
    assert_eq!(answer, b"! error: bad request\n");
    server.stop().await;
}

#[tokio::test]
async fn serves_over_tls_and_ends_with_close_notify() {
    let tree = Tree::new();
    let certs = Certs::new();
    let tls_args = certs.server_args();
    let tls_args: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    let server = started(&tree.root(), &tls_args).await;
    for (request, answer) in [
        ("GET big.bin\n", tree.big.clone()),
        ("GET missing\n", b"! error: not found\n".to_vec()),
    ] {
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let tls = certs.connect(tcp).await;
        // read_to_end fails on a TLS stream that ends without close_notify.
        let got = exchange(tls, request.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("{request:?}: not a clean TLS close: {e}"));
        assert!(got == answer, "{request:?}: {} bytes", got.len());
    }
    server.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_request_timeout() {
    let tree = Tree::new();
    let server = started(&tree.root(), &["--request-timeout", "0.2"]).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let mut answer = Vec::new();
    within(TIMEOUT, "the close", stream.read_to_end(&mut answer))
        .await
        .expect("closed cleanly");
    assert_eq!(answer, b"");
    server.stop().await;
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let tree = Tree::new();
    let missing = Path::new(&tree.root()).join("nope").display().to_string();
    let file = Path::new(&tree.root()).join("a.txt").display().to_string();
    for args in [
        vec![],
        vec!["--root", missing.as_str()],
        vec!["--root", file.as_str()],
        vec!["--root", "/", "--request-timeout", "0"],
        vec!["--root", "/", "--cert", "c.pem"],
        vec!["--root", "/", "--bogus"],
    ] {
        let (status, stdout, stderr) = run(BIN, &args).await;
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stdout.contains("listening on"), "{args:?}");
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
    }
    let (status, stdout, _) = run(BIN, &["--help"]).await;
    assert_eq!(status.code(), Some(0));
    for flag in [
        "--root",
        "--request-timeout",
        "--idle-timeout",
        "--max-connections",
    ] {
        assert!(stdout.contains(flag), "--help lacks {flag}");
    }
    assert!(stdout.contains("[default: 60]") && stdout.contains("[default: 1024]"));
}

#[tokio::test]
async fn exits_0_on_sigterm_and_sigint_with_workers_too() {
    let tree = Tree::new();
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGINT,
    ] {
        let server = started(&tree.root(), &["--workers", "2"]).await;
        assert_eq!(get(server.addr, "GET a.txt\n").await, b"hello file\n");
        server.stop_with(signal).await;
    }
}
