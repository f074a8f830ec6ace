//! A real `redis-server` for one test: its own free port, no persistence, a
//! temp directory, stopped by pid (SIGKILL) on [`RedisServer::kill`] and on
//! drop.
//!
//! Include with `#[path = "support/redis.rs"] mod redis_server;`. When no
//! `redis-server` is installed, [`RedisServer::start`] prints why and returns
//! `None` so the test can skip; under `CI=true` it panics instead, so CI never
//! skips these tests silently (`.ci/run` installs redis-server).
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long redis-server may take to say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// One redis-server child process.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

impl RedisServer {
    /// Starts redis-server on a free port and waits until it accepts
    /// connections. `None` (with a note on stderr) if redis-server is not
    /// installed, unless `CI=true`.
    ///
    /// # Panics
    ///
    /// If redis-server is missing under `CI=true`, or fails to start.
    pub async fn start() -> Option<RedisServer> {
        let installed = std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            if under_ci() {
                panic!(
                    "redis-server is not installed, and CI=true forbids skipping the Redis tests"
                );
            }
            eprintln!(
                "SKIPPED: redis-server is not installed (apt-get install redis-server); \
                 under CI=true this test fails instead"
            );
            return None;
        }
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("aioproto-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the redis temp dir");
        let mut server = RedisServer {
            child: None,
            port,
            dir,
        };
        server.spawn().await;
        Some(server)
    }

    async fn spawn(&mut self) {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn redis-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Ready to accept connections") {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(ready, Ok(true)),
            "redis-server on port {} did not become ready",
            self.port
        );
        // Keep reading so a chatty server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
    }

    /// The port it listens on (kept across [`restart`](Self::restart)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL by pid) and waits until it is gone.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Starts a fresh, empty server on the same port (after [`kill`](Self::kill)).
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
