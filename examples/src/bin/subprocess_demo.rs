//! Runs a command under a `SubprocessProtocol`: forwards this program's stdin to
//! the child, prints the child's output lines as `out: …` / `err: …`, then
//! `exit: CODE`. See docs/DESIGN.md.
//!
//! ```text
//! subprocess_demo -- CMD ARGS...
//! ```
//!
//! Our stdin is read through a read-pipe transport (`connect_read_pipe`) when it
//! is a pipe, FIFO or terminal; a regular file or `/dev/null` cannot be polled,
//! so it is then read by a blocking thread instead. Exits 0 once the child was
//! run (whatever its status), 1 if it could not be started, 2 on a usage error.

use std::io::{Read, Write};
use std::os::fd::AsFd;

use aioproto::{
    BaseProtocol, Error, Protocol, SubprocessOptions, SubprocessProtocol, SubprocessTransport,
    Transport, connect_read_pipe, subprocess_exec,
};
use aioproto_examples::{init_logging, usage_exit};
use bytes::{Bytes, BytesMut};
use clap::Parser;

/// Runs CMD ARGS... as a child process: forwards this program's stdin to the
/// child, prints the child's output lines as `out: ...` / `err: ...`, then
/// `exit: CODE`.
///
/// Exits 0 once the child was run (whatever its status), 1 if it could not be
/// started. Put `--` before CMD when ARGS start with `-`.
#[derive(Parser, Debug)]
#[command(name = env!("CARGO_BIN_NAME"), version)]
struct Cli {
    /// The program to run, then its arguments.
    #[arg(value_name = "CMD", required = true, trailing_var_arg = true)]
    command: Vec<String>,
}

/// Prints the child's output line by line, prefixed by the stream's name.
#[derive(Default)]
struct Printer {
    partial: [BytesMut; 3],
}

impl Printer {
    fn print_lines(&mut self, fd: i32, flush: bool) {
        let prefix = if fd == 2 { "err" } else { "out" };
        let buf = &mut self.partial[fd as usize];
        let mut out = std::io::stdout().lock();
        while let Some(at) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(at + 1);
            let text = String::from_utf8_lossy(&line[..at]);
            let _ = writeln!(out, "{prefix}: {}", text.trim_end_matches('\r'));
        }
        if flush && !buf.is_empty() {
            let _ = writeln!(out, "{prefix}: {}", String::from_utf8_lossy(buf));
            buf.clear();
        }
        let _ = out.flush();
    }
}

impl SubprocessProtocol for Printer {
    fn pipe_data_received(&mut self, fd: i32, data: Bytes) {
        self.partial[fd as usize].extend_from_slice(&data);
        self.print_lines(fd, false);
    }

    fn pipe_connection_lost(&mut self, fd: i32, exc: Option<Error>) {
        if fd > 0 {
            self.print_lines(fd, true);
        }
        if let Some(e) = exc {
            eprintln!("subprocess_demo: pipe {fd}: {e}");
        }
    }
}

/// Forwards what arrives on our stdin to the child's stdin; EOF closes it.
struct Forward {
    child_stdin: Transport,
}

impl BaseProtocol for Forward {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.child_stdin.close();
    }
}

impl Protocol for Forward {
    fn data_received(&mut self, data: Bytes) {
        self.child_stdin.write(data);
    }
}

fn main() {
    init_logging();
    let cli = Cli::parse();
    let Some((program, rest)) = cli.command.split_first() else {
        usage_exit::<Cli>("CMD is required");
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("subprocess_demo: cannot start the tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    let outcome = runtime.block_on(run(program, rest));
    // The thread reading a regular-file stdin may still be blocked: exit
    // without waiting for it (see run_single_threaded).
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match outcome {
        Ok(code) => {
            println!("exit: {code}");
            let _ = std::io::stdout().flush();
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("subprocess_demo: {program}: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(program: &str, args: &[String]) -> aioproto::Result<i32> {
    let options = SubprocessOptions::new();
    let (transport, _printer) = subprocess_exec(Printer::default, program, args, &options).await?;
    let stdin_pipe = transport
        .get_pipe_transport(0)
        .ok_or_else(|| Error::invalid_state("the child's stdin is not a pipe"))?;
    forward_stdin(&transport, stdin_pipe)?;
    let code = transport.wait().await?;
    transport.wait_closed().await;
    Ok(code)
}

/// Starts copying our stdin to the child.
fn forward_stdin(transport: &SubprocessTransport, child_stdin: Transport) -> aioproto::Result<()> {
    let ours = std::io::stdin().as_fd().try_clone_to_owned()?;
    let forward = Forward {
        child_stdin: child_stdin.clone(),
    };
    match connect_read_pipe(move || forward, ours) {
        Ok((reader, _)) => {
            // Stop reading our stdin once the child is gone.
            let transport = transport.clone();
            tokio::spawn(async move {
                transport.wait_closed().await;
                reader.close();
            });
        }
        Err(Error::InvalidArgument(_)) => {
            // A regular file or /dev/null: no readiness to wait for, read it on a thread.
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin().lock();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => child_stdin.write_slice(&buf[..n]),
                    }
                }
                child_stdin.close();
            });
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
