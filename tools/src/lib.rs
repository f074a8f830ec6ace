//! Small shared helpers for the benchmark and certificate tools.

use std::io::Write;

/// Reads `--port P` from the command line (the only option the baseline servers take).
///
/// Exits with status 2 and a message on a malformed port.
pub fn port_arg(default: u16) -> u16 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--port") {
        Some(i) => match args.get(i + 1).map(|p| p.parse::<u16>()) {
            Some(Ok(port)) => port,
            _ => {
                eprintln!("error: --port needs a number from 0 to 65535");
                std::process::exit(2)
            }
        },
        None => default,
    }
}

/// Prints `listening on ADDR` and flushes, as every server in the workspace does.
pub fn announce(addr: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}
