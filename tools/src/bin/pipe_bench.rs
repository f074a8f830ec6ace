//! Subprocess pipe throughput: aioproto's `subprocess_exec` against plain
//! `tokio::process`, in the same run, on the same single-threaded runtime.
//!
//! ```text
//! pipe_bench [--mib N] [--rounds R]
//! ```
//!
//! Two workloads: `cat` (we write N MiB to its stdin and read them back from its
//! stdout, both at once) and `head -c N /dev/zero` (we only read). Prints the best
//! MiB/s of each implementation over R rounds (alternating, so noise hits both)
//! and the ratio aioproto / tokio (the target is >= 0.9).

use std::time::{Duration, Instant};

use aioproto::{Stdio, SubprocessOptions, SubprocessProtocol, SubprocessTransport, Transport};
use aioproto_tools::parse_count;
use bytes::Bytes;
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The same allocator as the example binaries it is measured against (see
/// `aioproto_examples`' docs), so allocator differences stay out of the ratios.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const CHUNK: usize = 256 * 1024;

/// Feeds stdin while it is not paused; counts what comes back.
struct Pump {
    total: usize,
    sent: usize,
    got: usize,
    paused: bool,
    chunk: Bytes,
    stdin: Option<Transport>,
}

impl Pump {
    fn pump(&mut self) {
        let Some(stdin) = &self.stdin else { return };
        while !self.paused && self.sent < self.total {
            let n = CHUNK.min(self.total - self.sent);
            self.sent += n;
            stdin.write(self.chunk.slice(..n));
            // The driver pauses us right after this callback; stop at the mark.
            if stdin.get_write_buffer_size() > stdin.get_write_buffer_limits().1 {
                break;
            }
        }
        if self.sent >= self.total {
            stdin.close();
        }
    }
}

impl SubprocessProtocol for Pump {
    fn connection_made(&mut self, transport: &SubprocessTransport) {
        self.stdin = transport.get_pipe_transport(0);
        self.pump();
    }
    fn pause_writing(&mut self) {
        self.paused = true;
    }
    fn resume_writing(&mut self) {
        self.paused = false;
        self.pump();
    }
    fn pipe_data_received(&mut self, _fd: i32, data: Bytes) {
        self.got += data.len();
    }
}

async fn aioproto_run(total: usize, through_cat: bool) -> Duration {
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let mut options = SubprocessOptions::new();
    options.stderr(Stdio::Inherit);
    let start = Instant::now();
    let factory = move || Pump {
        total,
        sent: 0,
        got: 0,
        paused: false,
        chunk,
        stdin: None,
    };
    let (transport, pump) = if through_cat {
        aioproto::subprocess_exec(factory, "cat", Vec::<&str>::new(), &options).await
    } else {
        options.stdin(Stdio::Null);
        let n = total.to_string();
        aioproto::subprocess_exec(factory, "head", ["-c", &n, "/dev/zero"], &options).await
    }
    .expect("start the child");
    transport.wait_closed().await;
    let elapsed = start.elapsed();
    assert_eq!(pump.lock().unwrap().got, total, "aioproto lost bytes");
    elapsed
}

async fn tokio_run(total: usize, through_cat: bool) -> Duration {
    use std::process::Stdio as S;
    let start = Instant::now();
    let mut command = if through_cat {
        let mut c = tokio::process::Command::new("cat");
        c.stdin(S::piped());
        c
    } else {
        let mut c = tokio::process::Command::new("head");
        c.args(["-c", &total.to_string(), "/dev/zero"])
            .stdin(S::null());
        c
    };
    let mut child = command.stdout(S::piped()).spawn().expect("start the child");
    let writer = child.stdin.take().map(|mut stdin| {
        tokio::spawn(async move {
            let chunk = vec![b'x'; CHUNK];
            let mut sent = 0;
            while sent < total {
                let n = CHUNK.min(total - sent);
                stdin.write_all(&chunk[..n]).await.expect("write stdin");
                sent += n;
            }
        })
    });
    let mut stdout = child.stdout.take().expect("stdout");
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    loop {
        let n = stdout.read(&mut buf).await.expect("read stdout");
        if n == 0 {
            break;
        }
        got += n;
    }
    if let Some(writer) = writer {
        writer.await.expect("writer task");
    }
    child.wait().await.expect("wait");
    let elapsed = start.elapsed();
    assert_eq!(got, total, "tokio lost bytes");
    elapsed
}

fn mib_per_s(total: usize, d: Duration) -> f64 {
    total as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

/// Subprocess pipe throughput: aioproto's `subprocess_exec` against plain
/// `tokio::process`, in the same run (through `cat`, and from `head -c`).
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// MiB to move per run.
    #[arg(long, value_name = "N", default_value = "256", value_parser = parse_count)]
    mib: usize,
    /// Rounds per implementation (the best is kept).
    #[arg(long, value_name = "R", default_value = "3", value_parser = parse_count)]
    rounds: usize,
}

fn main() {
    let Cli { mib, rounds } = Cli::parse();
    let total = mib * 1024 * 1024;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("| workload ({mib} MiB) | aioproto MiB/s | tokio::process MiB/s | ratio |");
    println!("|---|---|---|---|");
    for (name, through_cat) in [("through cat", true), ("from head -c", false)] {
        let (mut best_a, mut best_t) = (Duration::MAX, Duration::MAX);
        for _ in 0..rounds {
            best_t = best_t.min(runtime.block_on(tokio_run(total, through_cat)));
            best_a = best_a.min(runtime.block_on(aioproto_run(total, through_cat)));
        }
        let (a, t) = (mib_per_s(total, best_a), mib_per_s(total, best_t));
        println!("| {name} | {a:.0} | {t:.0} | {:.2} |", a / t);
    }
}
