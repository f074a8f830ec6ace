//! Small shared helpers for the benchmark and certificate tools.

use std::io::Write;

/// Prints `listening on ADDR` and flushes, as every server in the workspace does.
pub fn announce(addr: impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
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
