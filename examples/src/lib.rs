//! Shared plumbing for the example binaries: a small command-line parser that
//! follows the contract in DESIGN.md, logging set-up, and shutdown signals.

pub mod chat;

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

/// Parsed command line: `--flag value` options, `--switch` flags, and positionals.
#[derive(Debug, Default)]
pub struct Args {
    options: HashMap<String, String>,
    switches: Vec<String>,
    /// Arguments that are not options, in order (everything after `--` too).
    pub positional: Vec<String>,
}

/// A command-line mistake; `main` prints it with the usage and exits 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl Args {
    /// Parses `std::env::args()`; `with_value` names the options that take a value,
    /// `switches` the ones that do not. Anything else starting with `--` is an error.
    pub fn parse(with_value: &[&str], switches: &[&str]) -> Result<Args, UsageError> {
        Self::parse_from(std::env::args().skip(1), with_value, switches)
    }

    /// Like [`parse`](Self::parse) over any iterator (for tests).
    pub fn parse_from(
        args: impl IntoIterator<Item = String>,
        with_value: &[&str],
        switches: &[&str],
    ) -> Result<Args, UsageError> {
        let mut out = Args::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--" {
                out.positional.extend(args.by_ref());
                break;
            }
            let Some(name) = arg.strip_prefix("--") else {
                out.positional.push(arg);
                continue;
            };
            let (name, inline) = match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (name, None),
            };
            if with_value.contains(&name) {
                let value = match inline {
                    Some(v) => v,
                    None => args
                        .next()
                        .ok_or_else(|| UsageError(format!("--{name} needs a value")))?,
                };
                out.options.insert(name.to_owned(), value);
            } else if switches.contains(&name) && inline.is_none() {
                out.switches.push(name.to_owned());
            } else {
                return Err(UsageError(format!("unknown option --{name}")));
            }
        }
        Ok(out)
    }

    /// The value of `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// The value of `--name` parsed, or `default`.
    pub fn parsed<T: FromStr>(&self, name: &str, default: T) -> Result<T, UsageError>
    where
        T::Err: fmt::Display,
    {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e| UsageError(format!("--{name} {v}: {e}"))),
        }
    }

    /// The value of `--name`, or an error saying it is required.
    pub fn required(&self, name: &str) -> Result<&str, UsageError> {
        self.value(name)
            .ok_or_else(|| UsageError(format!("--{name} is required")))
    }

    /// Whether `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }
}

/// The `--scale F` option of the tutorial programs: a finite number > 0 that
/// multiplies every sleep (default 1).
pub fn scale(args: &Args) -> Result<f64, UsageError> {
    let scale: f64 = args.parsed("scale", 1.0)?;
    if !(scale.is_finite() && scale > 0.0) {
        return Err(UsageError(format!(
            "--scale {scale}: must be a number above 0"
        )));
    }
    Ok(scale)
}

/// Formats seconds the way the tutorial prints them: `10`, `0.5`, `0.025`.
pub fn format_seconds(seconds: f64) -> String {
    let s = format!("{seconds:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// Reads the contract's server TLS flags, `--cert F --key F [--client-ca F]`.
///
/// `enabled` says whether a flag that turns TLS on was given; `enabling`
/// names those flags for the error when it was not (e.g. `"--tls or --starttls"`).
/// Returns `None` without TLS.
///
/// # Errors
///
/// A [`UsageError`] for a TLS file flag without TLS, a missing `--cert` or
/// `--key`, or files that do not make a valid TLS configuration.
pub fn server_tls_from_args(
    args: &Args,
    enabled: bool,
    enabling: &str,
) -> Result<Option<aioproto::ServerTls>, UsageError> {
    if !enabled {
        for name in ["cert", "key", "client-ca"] {
            if args.value(name).is_some() {
                return Err(UsageError(format!("--{name} needs {enabling}")));
            }
        }
        return Ok(None);
    }
    let mut builder = aioproto::ServerTls::builder(args.required("cert")?, args.required("key")?);
    if let Some(ca) = args.value("client-ca") {
        builder.client_ca(ca);
    }
    let tls = builder
        .build()
        .map_err(|e| UsageError(format!("TLS settings: {e}")))?;
    Ok(Some(tls))
}

/// Prints `err` and the usage to stderr, then exits with status 2.
pub fn usage_exit(usage: &str, err: &dyn fmt::Display) -> ! {
    eprintln!("error: {err}\nusage: {usage}");
    std::process::exit(2)
}

/// Logs to stderr; `RUST_LOG` overrides the default `warn` level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
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
/// core). On an error, prints `PROGRAM: error` to stderr and exits with status 1.
pub fn run_single_threaded<F, E>(program: &str, main_future: F)
where
    F: std::future::Future<Output = Result<(), E>>,
    E: fmt::Display,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{program}: cannot start the tokio runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(main_future) {
        eprintln!("{program}: {e}");
        std::process::exit(1);
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, UsageError> {
        Args::parse_from(
            args.iter().map(|s| s.to_string()),
            &["port", "host"],
            &["tls"],
        )
    }

    #[test]
    fn options_switches_and_positionals() {
        let args = parse(&[
            "--port",
            "0",
            "--tls",
            "a",
            "--host=::1",
            "--",
            "--not-an-option",
        ])
        .unwrap();
        assert_eq!(args.parsed::<u16>("port", 1).unwrap(), 0);
        assert_eq!(args.value("host"), Some("::1"));
        assert!(args.flag("tls"));
        assert_eq!(args.positional, ["a", "--not-an-option"]);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--port"]).is_err());
        assert!(
            parse(&["--port", "x"])
                .unwrap()
                .parsed::<u16>("port", 1)
                .is_err()
        );
        assert!(parse(&["--tls=yes"]).is_err());
    }
}
