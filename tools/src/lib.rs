//! Small shared helpers for the benchmark and certificate tools.

use std::io::Write;

pub mod bench_results;

/// Prints `listening on ADDR` and flushes, as every server in the workspace does.
pub fn announce(addr: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// The accept loop of the raw tokio baselines: a single-threaded runtime
/// (or, with `multi_thread`, the multi-thread one `#[tokio::main]` builds), a
/// listener on `127.0.0.1:port`, SIGTERM/SIGINT handlers in place before the
/// `listening on` line, TCP_NODELAY on each accepted stream, and
/// `on_accept(stream)` for each (it spawns the connection's task). Returns
/// `Ok(())` on a signal.
///
/// # Errors
///
/// The runtime, the bind, the signal handlers or an accept failed.
pub fn serve_raw(
    port: u16,
    multi_thread: bool,
    on_accept: impl Fn(tokio::net::TcpStream),
) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        announce(listener.local_addr()?);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = accepted?;
                    stream.set_nodelay(true)?;
                    on_accept(stream);
                }
                _ = term.recv() => return Ok(()),
                _ = int.recv() => return Ok(()),
            }
        }
    })
}

/// Parses a count or size given as a whole number or in exponent form
/// (`10000`, `1e4`), as the bench scripts pass them.
pub fn parse_count(value: &str) -> Result<usize, String> {
    if let Ok(n) = value.parse::<usize>() {
        return Ok(n);
    }
    let x: f64 = value.parse().map_err(|e| format!("{e}"))?;
    if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x <= usize::MAX as f64) {
        return Err("must be a whole number of 0 or more".to_owned());
    }
    Ok(x as usize)
}

/// Parses seconds: a finite number of 0 or more (`3`, `0.5`).
pub fn parse_seconds(value: &str) -> Result<f64, String> {
    let x: f64 = value.parse().map_err(|e| format!("{e}"))?;
    if !(x.is_finite() && x >= 0.0) {
        return Err("must be a number of seconds, 0 or more".to_owned());
    }
    Ok(x)
}

/// The TLS acceptor of the raw tokio-rustls baselines: `cert` (a PEM chain)
/// and `key` (PEM), ring provider, safe default versions, no client auth.
///
/// # Errors
///
/// When a file cannot be read or does not make a valid configuration.
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, Box<dyn std::error::Error + Send + Sync>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_seconds() {
        assert_eq!(parse_count("10000"), Ok(10000));
        assert_eq!(parse_count("1e4"), Ok(10000));
        assert!(parse_count("-1").is_err());
        assert!(parse_count("1.5").is_err());
        assert_eq!(parse_seconds("0.5"), Ok(0.5));
        assert!(parse_seconds("inf").is_err());
        assert!(parse_seconds("-1").is_err());
    }
}
