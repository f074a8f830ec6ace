//! Interoperability: the aioproto TLS echo server with `openssl s_client` and
//! Python's `ssl` module as clients. Each test prints a note and passes when its
//! tool is not installed.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::pki::*;
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Whether `program --version`-style probing finds the tool.
async fn installed(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// `openssl s_client` verifies our certificate against the CA, sends a line
/// and reads the echo.
#[tokio::test]
async fn openssl_s_client_echo() {
    init_tracing();
    if !installed("openssl", "version").await {
        println!("note: openssl is not installed; skipping the s_client interop check");
        return;
    }
    let pki = Pki::new();
    let (server, addr, mut logs) = tls_recording_server(pki.server_tls("server"), |log| {
        Events::new(log).on_data(|t, d| t.write(d.clone()))
    })
    .await;
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(addr.to_string())
        .args([
            "-servername",
            "localhost",
            "-verify_return_error",
            "-quiet",
            "-no_ign_eof",
            "-CAfile",
        ])
        .arg(pki.ca())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello openssl\n").await.unwrap();
    stdin.flush().await.unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let echoed = with_timeout(lines.next_line()).await.unwrap();
    assert_eq!(echoed.as_deref(), Some("hello openssl"));
    let log = next_log(&mut logs).await;
    let transport = server.connections().pop().expect("the s_client connection");
    let info = transport.tls().unwrap();
    assert_eq!(info.server_name.as_deref(), Some("localhost"));
    drop(stdin); // with -no_ign_eof, s_client closes on stdin EOF
    let status = with_timeout_of(Duration::from_secs(10), child.wait()).await;
    assert!(status.is_ok());
    log.wait_lost().await;
    server.close();
}

const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    s.sendall(b"hello python")
    got = b""
    while len(got) < 12:
        chunk = s.recv(100)
        if not chunk:
            break
        got += chunk
    version = s.version()
    s.unwrap()  # close_notify both ways
    print(got.decode(), version, sep="|")
"#;

/// Python's `ssl` module: verified handshake, echo, and a clean `unwrap()`
/// (our close_notify answers Python's), so the server sees `cl(None)`.
#[tokio::test]
async fn python_ssl_echo_and_unwrap() {
    init_tracing();
    if !installed("python3", "--version").await {
        println!("note: python3 is not installed; skipping the Python ssl interop check");
        return;
    }
    let pki = Pki::new();
    let (server, addr, mut logs) = tls_recording_server(pki.server_tls("server"), |log| {
        Events::new(log).on_data(|t, d| t.write(d.clone()))
    })
    .await;
    let output = with_timeout(
        Command::new("python3")
            .arg("-c")
            .arg(PYTHON_CLIENT)
            .arg(addr.port().to_string())
            .arg(pki.ca())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "hello python|TLSv1.3");
    let log = next_log(&mut logs).await;
    assert!(
        log.wait_lost().await.is_none(),
        "a clean close_notify exchange"
    );
    assert_eq!(log.trace(), ["cm", "dr", "eof", "cl(None)"]);
    server.close();
}
