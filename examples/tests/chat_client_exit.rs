//! `chat_client` exits within a second of `/quit`, of the server closing the
//! connection, or of the end of its stdin, even while its stdin stays open
//! (tokio's own stdin reader would keep the runtime alive until a line came).
//! Real `chat_server` and `chat_client` binaries over loopback.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{LineClient, TIMEOUT, start_server, within};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// The contract: the client is gone this soon after its connection ended.
const EXIT_BOUND: Duration = Duration::from_secs(1);

struct ChatClient {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl ChatClient {
    /// Starts `chat_client HOST PORT` with a stdin pipe the test holds open.
    fn start(addr: std::net::SocketAddr) -> ChatClient {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chat_client"))
            .args([addr.ip().to_string(), addr.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start chat_client");
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        ChatClient {
            child,
            stdin,
            stdout,
        }
    }

    async fn type_line(&mut self, line: &str) {
        within(
            TIMEOUT,
            "write stdin",
            self.stdin.write_all(format!("{line}\n").as_bytes()),
        )
        .await
        .expect("write stdin");
    }

    async fn line(&mut self) -> String {
        within(TIMEOUT, "a line from chat_client", self.stdout.next_line())
            .await
            .expect("read")
            .expect("chat_client stdout ended")
    }

    /// Joins as `nick` and waits until the server confirms it.
    async fn join(&mut self, nick: &str) {
        self.type_line(nick).await;
        self.type_line("/who").await;
        let line = self.line().await;
        assert!(line.starts_with("* online: "), "{line}");
    }

    /// Waits at most [`EXIT_BOUND`] for the exit; returns the status code.
    async fn exits(&mut self, after: &str) -> Option<i32> {
        let start = Instant::now();
        let status = within(EXIT_BOUND, after, self.child.wait())
            .await
            .expect("wait");
        eprintln!("chat_client exited {:?} after {after}", start.elapsed());
        status.code()
    }
}

#[tokio::test]
async fn exits_after_quit_while_stdin_stays_open() {
    let server = start_server(env!("CARGO_BIN_EXE_chat_server"), &["--port", "0"]).await;
    let mut client = ChatClient::start(server.addr);
    client.join("alice").await;
    client.type_line("/quit").await;
    assert_eq!(client.exits("/quit").await, Some(0));
    drop(client.stdin);
    server.stop().await;
}

#[tokio::test]
async fn exits_when_the_server_closes_while_stdin_stays_open() {
    let server = start_server(env!("CARGO_BIN_EXE_chat_server"), &["--port", "0"]).await;
    // A refused nickname: the server sends an error line and closes.
    let mut taken = LineClient::connect(server.addr).await;
    assert!(taken.ask("bob\n/who").await.starts_with("* online: "));
    let mut client = ChatClient::start(server.addr);
    client.type_line("bob").await;
    assert_eq!(client.line().await, "! error: nickname taken");
    assert_eq!(client.exits("the server closed").await, Some(0));

    // The whole server goes away (SIGTERM closes every client).
    let mut client = ChatClient::start(server.addr);
    client.join("carol").await;
    server.stop().await;
    assert_eq!(client.exits("the server stopped").await, Some(0));
    drop(taken);
}

#[tokio::test]
async fn exits_at_the_end_of_stdin() {
    let server = start_server(env!("CARGO_BIN_EXE_chat_server"), &["--port", "0"]).await;
    let mut watcher = LineClient::connect(server.addr).await;
    assert!(watcher.ask("watcher\n/who").await.starts_with("* online: "));
    let mut client = ChatClient::start(server.addr);
    client.join("dave").await;
    assert_eq!(watcher.line().await.as_deref(), Some("* dave joined"));
    client.type_line("last words").await;
    drop(client.stdin);
    assert_eq!(watcher.line().await.as_deref(), Some("dave: last words"));
    let start = Instant::now();
    let status = within(EXIT_BOUND, "EOF on stdin", client.child.wait())
        .await
        .expect("wait");
    eprintln!("chat_client exited {:?} after EOF", start.elapsed());
    assert_eq!(status.code(), Some(0));
    assert_eq!(watcher.line().await.as_deref(), Some("* dave left"));
    server.stop().await;
}
