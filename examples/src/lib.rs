//! Shared plumbing for the example binaries: the command-line flags every
//! server and client shares (clap derive, following the contract in
//! docs/DESIGN.md), logging set-up, the `listening on` line, and shutdown signals.
//!
//! Each binary declares its own `#[derive(Parser)]` struct and flattens the
//! shared groups into it:
//!
//! - [`ServerFlags`]: `--host`, `--port`, the TLS group [`ServerTlsFlags`]
//!   (`--tls`, `--cert`, `--key`, `--client-ca`), and the server settings
//!   (`--max-connections`, `--handshake-timeout`, `--grace`, `--workers`),
//!   each in exactly one place: a field of [`ServerFlags`] and a line of
//!   [`ServerFlags::options`] (or [`ServerFlags::server_tls`]).
//! - [`ListenFlags`]: `--host` and `--port` alone, for servers without TLS.
//! - [`ClientTlsFlags`]: `--tls`, `--ca`, `--cert`, `--key`, `--server-name`.
//!
//! Every server has its own default port, so `--port` gets its default when
//! the command line is parsed: use [`parse_server_args`], not `Parser::parse`.

pub mod chat;

use std::fmt;
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use aioproto::{ClientTls, Server, ServerOptions, ServerTls};
use clap::{CommandFactory, Parser};

/// Every example binary allocates with jemalloc. A server holding many idle
/// connections makes two 128-byte-aligned blocks for each (tokio's task cell
/// and its `ScheduledIo`). glibc's malloc carves each aligned block out of a
/// larger free one and keeps the cut-off ends in bins that a connection's
/// other, small blocks seldom fit: about 340 B of RSS per idle connection on
/// top of the 920 B it allocates. jemalloc serves aligned blocks from its size
/// classes, with nothing cut off (see DESIGN.md's idle RSS table).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Where a server listens: `--host` and `--port`.
#[derive(clap::Args, Debug, Clone)]
pub struct ListenFlags {
    /// Address to listen on.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks any free port.
    // The default differs per binary; parse_server_args sets it.
    #[arg(long, value_name = "PORT", required = false)]
    pub port: u16,
}

/// The server TLS flags of the contract: `--tls --cert F --key F [--client-ca F]`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerTlsFlags {
    /// Serve TLS (needs --cert and --key).
    #[arg(long)]
    pub tls: bool,
    /// Server certificate chain (PEM), e.g. certs/server.pem.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Server private key (PEM), e.g. certs/server.key.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
}

impl ServerTlsFlags {
    /// The TLS settings these flags describe, or `None` without TLS.
    ///
    /// `enabled` says whether a flag that turns TLS on was given (`--tls`, or
    /// a binary's own such as `--starttls`); `enabling` names those flags for
    /// the error when it was not (e.g. `"--tls or --starttls"`).
    ///
    /// # Errors
    ///
    /// A [`UsageError`] for a TLS file flag without TLS, a missing `--cert`
    /// or `--key`, or files that do not make a valid TLS configuration.
    pub fn server_tls(
        &self,
        enabled: bool,
        enabling: &str,
    ) -> Result<Option<ServerTls>, UsageError> {
        if !enabled {
            for (name, value) in [
                ("cert", &self.cert),
                ("key", &self.key),
                ("client-ca", &self.client_ca),
            ] {
                if value.is_some() {
                    return Err(UsageError(format!("--{name} needs {enabling}")));
                }
            }
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Err(UsageError(format!(
                "{enabling} needs --cert FILE and --key FILE"
            )));
        };
        let mut builder = ServerTls::builder(cert, key);
        if let Some(ca) = &self.client_ca {
            builder.client_ca(ca);
        }
        let tls = builder
            .build()
            .map_err(|e| UsageError(format!("TLS settings: {e}")))?;
        Ok(Some(tls))
    }
}

/// The most worker threads `--workers` accepts.
pub const MAX_WORKERS: usize = 1024;

/// The flags every TCP server shares: where to listen, TLS, limits, shutdown
/// and workers.
///
/// Settings that apply to every server go here, and into [`options`](Self::options).
#[derive(clap::Args, Debug, Clone)]
pub struct ServerFlags {
    #[command(flatten)]
    pub listen: ListenFlags,
    #[command(flatten)]
    pub tls: ServerTlsFlags,
    /// Abort a connection that moved no byte either way for SECS seconds (0: never).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub idle_timeout: u64,
    /// Stop accepting while N connections are open (TLS handshakes
    /// included); the next clients wait in the listen backlog, none is
    /// refused. Default: no limit.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<NonZeroUsize>,
    /// TLS servers: give up on a TLS handshake after SECS seconds (a decimal
    /// number above 0). Ignored without TLS.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_timeout)]
    pub handshake_timeout: Duration,
    /// On SIGINT or SIGTERM: stop accepting, ask every client to close
    /// (flushing what it was sent), and abort the clients still open after
    /// SECS seconds (a decimal number, 0 or more); then exit 0.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_grace)]
    pub grace: Duration,
    /// Serve on N worker threads, each with its own event loop and its own
    /// SO_REUSEPORT listening socket on the same address (1 to 1024); 1 runs
    /// everything on the main thread.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_workers)]
    pub workers: usize,
}

/// Parses a number of seconds: finite, 0 or more (`zero_ok`) or above 0.
fn parse_seconds(value: &str, zero_ok: bool) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 || (secs == 0.0 && !zero_ok) {
        return Err(if zero_ok {
            "must be a number of seconds, 0 or more".to_owned()
        } else {
            "must be a number of seconds above 0".to_owned()
        });
    }
    Duration::try_from_secs_f64(secs).map_err(|_| "too many seconds".to_owned())
}

/// `--handshake-timeout`: seconds above 0.
///
/// # Errors
///
/// A message for clap when `value` is not a finite number above 0.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use aioproto_examples::parse_timeout;
///
/// assert_eq!(parse_timeout("2.5"), Ok(Duration::from_millis(2500)));
/// assert!(parse_timeout("0").is_err());
/// ```
pub fn parse_timeout(value: &str) -> Result<Duration, String> {
    parse_seconds(value, false)
}

/// `--grace`: seconds, 0 or more.
///
/// # Errors
///
/// A message for clap when `value` is not a finite number, 0 or more.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use aioproto_examples::parse_grace;
///
/// assert_eq!(parse_grace("0"), Ok(Duration::ZERO));
/// assert!(parse_grace("-1").is_err());
/// assert!(parse_grace("inf").is_err());
/// ```
pub fn parse_grace(value: &str) -> Result<Duration, String> {
    parse_seconds(value, true)
}

/// `--workers`: 1 to [`MAX_WORKERS`].
///
/// # Errors
///
/// A message for clap when `value` is not a whole number in that range.
///
/// # Examples
///
/// ```
/// use aioproto_examples::parse_workers;
///
/// assert_eq!(parse_workers("4"), Ok(4));
/// assert!(parse_workers("0").is_err());
/// ```
pub fn parse_workers(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {MAX_WORKERS}")),
    }
}

impl ServerFlags {
    /// `--host`.
    pub fn host(&self) -> &str {
        &self.listen.host
    }

    /// `--port`.
    pub fn port(&self) -> u16 {
        self.listen.port
    }

    /// `--grace`.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The [`ServerOptions`] these flags ask for, without TLS (servers that
    /// serve TLS add [`server_tls`](Self::server_tls) where they need it).
    pub fn options(&self) -> ServerOptions {
        let mut options = ServerOptions::new();
        if self.idle_timeout > 0 {
            options.idle_timeout(std::time::Duration::from_secs(self.idle_timeout));
        }
        options.workers(self.workers);
        if let Some(max) = self.max_connections {
            options.max_connections(max.get());
        }
        options
    }

    /// The TLS settings of [`ServerTlsFlags::server_tls`], with
    /// `--handshake-timeout`.
    ///
    /// # Errors
    ///
    /// As [`ServerTlsFlags::server_tls`].
    pub fn server_tls(
        &self,
        enabled: bool,
        enabling: &str,
    ) -> Result<Option<ServerTls>, UsageError> {
        let Some(mut tls) = self.tls.server_tls(enabled, enabling)? else {
            return Ok(None);
        };
        tls.handshake_timeout(self.handshake_timeout)
            .map_err(|e| UsageError(format!("--handshake-timeout: {e}")))?;
        Ok(Some(tls))
    }

    /// [`options`](Self::options) with TLS when `--tls` was given.
    ///
    /// # Errors
    ///
    /// As [`ServerTlsFlags::server_tls`].
    pub fn options_with_tls(&self) -> Result<ServerOptions, UsageError> {
        let mut options = self.options();
        if let Some(tls) = self.server_tls(self.tls.tls, "--tls")? {
            options.tls(tls);
        }
        Ok(options)
    }
}

/// The client TLS flags of the contract: `--tls --ca F [--cert F --key F] [--server-name N]`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClientTlsFlags {
    /// Speak TLS (needs --ca).
    #[arg(long)]
    pub tls: bool,
    /// Trust server certificates signed by this CA (PEM), e.g. certs/ca.pem.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM), for servers that ask for one (with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM), with --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Check the server certificate against this name instead of HOST.
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
}

impl ClientTlsFlags {
    /// The TLS settings these flags describe, or `None` without TLS.
    ///
    /// `enabled` and `enabling` as in [`ServerTlsFlags::server_tls`].
    ///
    /// # Errors
    ///
    /// A [`UsageError`] for a TLS flag without TLS, a missing `--ca`, or files
    /// that do not make a valid TLS configuration.
    pub fn client_tls(
        &self,
        enabled: bool,
        enabling: &str,
    ) -> Result<Option<ClientTls>, UsageError> {
        if !enabled {
            let given = [
                ("ca", self.ca.is_some()),
                ("cert", self.cert.is_some()),
                ("key", self.key.is_some()),
                ("server-name", self.server_name.is_some()),
            ];
            if let Some((name, _)) = given.iter().find(|(_, given)| *given) {
                return Err(UsageError(format!("--{name} needs {enabling}")));
            }
            return Ok(None);
        }
        let Some(ca) = &self.ca else {
            return Err(UsageError(format!("{enabling} needs --ca FILE")));
        };
        let mut builder = ClientTls::builder();
        builder.ca_file(ca);
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            builder.client_cert(cert, key);
        }
        let mut tls = builder
            .build()
            .map_err(|e| UsageError(format!("TLS settings: {e}")))?;
        if let Some(name) = &self.server_name {
            tls.server_name(name)
                .map_err(|e| UsageError(format!("--server-name {name}: {e}")))?;
        }
        Ok(Some(tls))
    }
}

/// A command-line mistake found after parsing; [`usage_exit`] reports it.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Parses the command line of a server: `T` flattens [`ServerFlags`] or
/// [`ListenFlags`], and `--port` defaults to `default_port`.
///
/// `--help` prints the help and exits 0; a mistake prints clap's message and
/// exits 2.
pub fn parse_server_args<T: Parser>(default_port: &'static str) -> T {
    parse_server_args_with::<T>(default_port, &[])
}

/// [`parse_server_args`] for a server whose defaults differ from the shared
/// ones: each `(field, value)` sets the default of the flag of that field
/// name (e.g. `("idle_timeout", "60")`), so `--help` shows the server's own.
pub fn parse_server_args_with<T: Parser>(
    default_port: &'static str,
    defaults: &[(&'static str, &'static str)],
) -> T {
    let mut command = T::command().mut_arg("port", |arg| arg.default_value(default_port));
    for &(field, value) in defaults {
        command = command.mut_arg(field, |arg| arg.default_value(value));
    }
    let mut matches = command.get_matches_mut();
    T::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.format(&mut command).exit())
}

/// Prints `err` the way clap prints its own mistakes (with the usage line)
/// and exits with status 2.
pub fn usage_exit<T: CommandFactory>(err: impl fmt::Display) -> ! {
    T::command()
        .error(clap::error::ErrorKind::ValueValidation, err)
        .exit()
}

/// Parses the `--scale F` option of the tutorial programs: a finite number
/// above 0.
pub fn parse_scale(value: &str) -> Result<f64, String> {
    let scale: f64 = value.parse().map_err(|e| format!("{e}"))?;
    if !(scale.is_finite() && scale > 0.0) {
        return Err("must be a number above 0".to_owned());
    }
    Ok(scale)
}

/// Formats seconds the way the tutorial prints them: `10`, `0.5`, `0.025`.
pub fn format_seconds(seconds: f64) -> String {
    let s = format!("{seconds:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// The `tracing` target of the one line a server logs on exit with its
/// counters (shown by default: see [`init_logging`]).
pub const STATS_TARGET: &str = "server_stats";

/// Logs to stderr; `RUST_LOG` overrides the default: warnings, and the
/// servers' exit line with their counters (info, target [`STATS_TARGET`]).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,server_stats=info"));
    // Colours only on a terminal, so logs piped into files and demos stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

/// Prints the one line the contract promises once a server accepts, and flushes it.
pub fn announce(addr: impl fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// Runs `main_future` on a single-threaded tokio runtime, asyncio's model
/// (callbacks never run at the same time; the benchmarks pin servers to one
/// core), then exits the process: 0 on success; on an error, prints
/// `PROGRAM: error` to stderr and exits 1.
///
/// The explicit exit means a thread still blocked on stdin (a client whose
/// work ended while its stdin stays open) cannot keep the program alive.
///
/// A server started with `--workers N` (N > 1) serves its connections on N
/// threads of its own, each with its own current-thread runtime; this one
/// then only waits for the signal and runs the shutdown (and a Redis room's
/// link to Redis).
pub fn run_single_threaded<F, E>(program: &str, main_future: F) -> !
where
    F: std::future::Future<Output = Result<(), E>>,
    E: fmt::Display,
{
    run_on(program, RuntimeKind::Current, main_future)
}

/// Which runtime a server runs its connections on (`echo_server --runtime`).
///
/// ```
/// use aioproto_examples::RuntimeKind;
/// use clap::ValueEnum;
///
/// assert_eq!(RuntimeKind::from_str("loop-multi", false), Ok(RuntimeKind::LoopMulti));
/// assert_eq!(RuntimeKind::default(), RuntimeKind::Current);
/// ```
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    /// One current-thread tokio runtime: asyncio's model, the benchmarks' setting.
    #[default]
    Current,
    /// A multi-thread tokio runtime, one worker per core: what `#[tokio::main]` builds.
    Multi,
    /// A multi-thread `aioproto::EventLoop` (`EventLoop::builder().multi_thread(true)`).
    LoopMulti,
}

/// Runs `main_future` on the runtime `kind` names, then exits the process
/// as [`run_single_threaded`] does.
///
/// ```no_run
/// use aioproto_examples::{RuntimeKind, run_on};
///
/// run_on("demo", RuntimeKind::Multi, async { Ok::<(), std::io::Error>(()) });
/// ```
pub fn run_on<F, E>(program: &str, kind: RuntimeKind, main_future: F) -> !
where
    F: std::future::Future<Output = Result<(), E>>,
    E: fmt::Display,
{
    let outcome = match kind {
        RuntimeKind::Current | RuntimeKind::Multi => {
            let mut builder = match kind {
                RuntimeKind::Multi => tokio::runtime::Builder::new_multi_thread(),
                _ => tokio::runtime::Builder::new_current_thread(),
            };
            let runtime = match builder.enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("{program}: cannot start the tokio runtime: {e}");
                    std::process::exit(1);
                }
            };
            let outcome = runtime.block_on(main_future);
            // Dropping the runtime cancels the tasks still spawned; never wait long
            // for blocking work (tokio's own stdin reader would wait for a line).
            runtime.shutdown_timeout(Duration::from_millis(100));
            outcome.map_err(|e| e.to_string())
        }
        RuntimeKind::LoopMulti => {
            let event_loop = match aioproto::EventLoop::builder().multi_thread(true).build() {
                Ok(event_loop) => event_loop,
                Err(e) => {
                    eprintln!("{program}: cannot start the event loop: {e}");
                    std::process::exit(1);
                }
            };
            match event_loop.run_until_complete(main_future) {
                Ok(outcome) => outcome.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    let _ = std::io::stdout().flush();
    match outcome {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(1);
        }
    }
}

/// Installs SIGINT and SIGTERM handlers now and returns a future that
/// resolves when either signal arrives.
///
/// Call it before printing `listening on`: a signal sent right after that
/// line must find the handlers in place, not the default action (which would
/// end the process with a signal status instead of exit code 0).
///
/// # Errors
///
/// When a handler cannot be installed.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// The default `--grace`: how long [`shutdown`] lets clients flush before
/// aborting them.
pub const GRACE: Duration = Duration::from_secs(10);

/// Shuts every server down with [`Server::shutdown`] under one deadline
/// (stop accepting, ask every client to close, abort the clients still open
/// after `grace`, wait until every connection is gone), then logs each
/// server's counters ([`Server::stats`]) as one info line (target
/// [`STATS_TARGET`]) on stderr.
pub async fn shutdown(servers: &[&Server], grace: Duration) {
    // Named before the shutdown: a closed server lists no address.
    let names: Vec<String> = servers.iter().map(|server| server_name(server)).collect();
    let mut all = tokio::task::JoinSet::new();
    for server in servers {
        let server = (*server).clone();
        all.spawn(async move { server.shutdown(grace).await });
    }
    while all.join_next().await.is_some() {}
    for (server, name) in servers.iter().zip(names) {
        tracing::info!(target: STATS_TARGET, "stopped {name}: {}", server.stats());
    }
}

/// A server's addresses (or socket paths), for the exit line.
fn server_name(server: &Server) -> String {
    let mut names: Vec<String> = server.local_addrs().iter().map(|a| a.to_string()).collect();
    names.extend(server.local_paths().iter().map(|p| p.display().to_string()));
    names.join(" ")
}

/// Reads lines from this process's stdin on a plain thread and sends each,
/// newline included (one is added to a last line without one), down the
/// returned channel, which closes at EOF or on a read error.
///
/// Not `tokio::io::stdin()`: that reads on tokio's blocking pool, and a
/// runtime does not shut down while a read is pending, so a client whose
/// connection ended would hang until the user pressed Enter. A plain thread
/// blocked in `read` does not stop the process from exiting.
pub fn stdin_lines() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    use std::io::BufRead;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut line = Vec::new();
                match stdin.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if !line.ends_with(b"\n") {
                            line.push(b'\n');
                        }
                        if tx.blocking_send(line).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    if let Err(e) = spawned {
        // Without the thread the channel is closed at once: stdin reads as empty.
        tracing::warn!(error = %e, "cannot start the stdin thread");
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Parser};

    #[derive(Parser, Debug)]
    struct Server {
        #[command(flatten)]
        server: ServerFlags,
    }

    fn parse(args: &[&str]) -> Result<Server, clap::Error> {
        let mut command = Server::command().mut_arg("port", |a| a.default_value("8888"));
        let mut matches = command
            .try_get_matches_from_mut(std::iter::once("server").chain(args.iter().copied()))?;
        Server::from_arg_matches_mut(&mut matches)
    }

    #[test]
    fn server_flags_defaults_and_values() {
        let s = parse(&[]).unwrap();
        assert_eq!((s.server.host(), s.server.port()), ("127.0.0.1", 8888));
        let s = parse(&[
            "--port",
            "0",
            "--host=::1",
            "--tls",
            "--cert",
            "c",
            "--key",
            "k",
        ])
        .unwrap();
        assert_eq!((s.server.host(), s.server.port()), ("::1", 0));
        assert!(s.server.tls.tls);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(parse(&["--port", "x"]).is_err());
        assert!(parse(&["--port", "65536"]).is_err());
        assert!(parse(&["--tls=yes"]).is_err());
        assert!(parse(&["stray"]).is_err());
    }

    #[test]
    fn tls_file_flags_need_tls() {
        let s = parse(&["--cert", "c"]).unwrap();
        let err = s.server.tls.server_tls(false, "--tls").unwrap_err();
        assert_eq!(err.to_string(), "--cert needs --tls");
        let s = parse(&["--tls", "--cert", "c"]).unwrap();
        let err = s.server.tls.server_tls(true, "--tls").unwrap_err();
        assert_eq!(err.to_string(), "--tls needs --cert FILE and --key FILE");
    }

    #[test]
    fn scale_must_be_positive_and_finite() {
        assert_eq!(parse_scale("0.5"), Ok(0.5));
        for bad in ["0", "-1", "inf", "NaN", "x"] {
            assert!(parse_scale(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seconds_format_like_the_tutorial() {
        assert_eq!(format_seconds(10.0), "10");
        assert_eq!(format_seconds(0.5), "0.5");
        assert_eq!(format_seconds(0.025), "0.025");
    }
}
